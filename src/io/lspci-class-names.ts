/**
 * Class names as `lspci` prints them without `-nn` (the class and subclass lines of `pci.ids`,
 * the PCI ID Repository, https://pci-ids.ucw.cz/), so that a class code can be recovered from
 * the name. lspci prints the subclass name when it knows one, otherwise the base-class name,
 * otherwise `Class cccc`; a base-class name therefore says nothing about the subclass.
 */

/** One line per name: four hex digits (class and subclass) or two (a base class), a space, the name. */
const TABLE = `00 Unclassified device
0000 Non-VGA unclassified device
0001 VGA compatible unclassified device
0005 Image coprocessor
01 Mass storage controller
0100 SCSI storage controller
0101 IDE interface
01	0  ISA Compatibility mode-only controller
01	0  PCI native mode-only controller
01	0  ISA Compatibility mode controller, supports both channels switched to PCI native mode
01	0  PCI native mode controller, supports both channels switched to ISA compatibility mode
01	8  ISA Compatibility mode-only controller, supports bus mastering
01	8  PCI native mode-only controller, supports bus mastering
01	8  ISA Compatibility mode controller, supports both channels switched to PCI native mode, supports bus mastering
01	8  PCI native mode controller, supports both channels switched to ISA compatibility mode, supports bus mastering
0102 Floppy disk controller
0103 IPI bus controller
0104 RAID bus controller
0105 ATA controller
01	2  ADMA single stepping
01	3  ADMA continuous operation
0106 SATA controller
01	0  Vendor specific
01	0  AHCI 1.0
01	0  Serial Storage Bus
0107 Serial Attached SCSI controller
01	0  Serial Storage Bus
0108 Non-Volatile memory controller
01	0  NVMHCI
01	0  NVM Express
0109 Universal Flash Storage controller
01	0  Vendor specific
01	0  UFSHCI
0180 Mass storage controller
02 Network controller
0200 Ethernet controller
0201 Token ring network controller
0202 FDDI network controller
0203 ATM network controller
0204 ISDN controller
0205 WorldFip controller
0206 PICMG controller
0207 Infiniband controller
0208 Fabric controller
0280 Network controller
03 Display controller
0300 VGA compatible controller
03	0  VGA controller
03	0  8514 controller
0301 XGA compatible controller
0302 3D controller
0380 Display controller
04 Multimedia controller
0400 Multimedia video controller
0401 Multimedia audio controller
0402 Computer telephony device
0403 Audio device
0480 Multimedia controller
05 Memory controller
0500 RAM memory
0501 FLASH memory
0502 CXL
05	0  CXL Memory Device - vendor specific
05	1  CXL Memory Device (CXL 2.x)
0580 Memory controller
06 Bridge
0600 Host bridge
0601 ISA bridge
0602 EISA bridge
0603 MicroChannel bridge
0604 PCI bridge
06	0  Normal decode
06	0  Subtractive decode
0605 PCMCIA bridge
0606 NuBus bridge
0607 CardBus bridge
0608 RACEway bridge
06	0  Transparent mode
06	0  Endpoint mode
0609 Semi-transparent PCI-to-PCI bridge
06	4  Primary bus towards host CPU
06	8  Secondary bus towards host CPU
060a InfiniBand to PCI host bridge
0680 Bridge
07 Communication controller
0700 Serial controller
07	0  8250
07	0  16450
07	0  16550
07	0  16650
07	0  16750
07	0  16850
07	0  16950
0701 Parallel controller
07	0  SPP
07	0  BiDir
07	0  ECP
07	0  IEEE1284
07	f  IEEE1284 Target
0702 Multiport serial controller
0703 Modem
07	0  Generic
07	0  Hayes/16450
07	0  Hayes/16550
07	0  Hayes/16650
07	0  Hayes/16750
0704 GPIB controller
0705 Smard Card controller
0780 Communication controller
08 Generic system peripheral
0800 PIC
08	0  8259
08	0  ISA PIC
08	0  EISA PIC
08	1  IO-APIC
08	2  IO(X)-APIC
0801 DMA controller
08	0  8237
08	0  ISA DMA
08	0  EISA DMA
0802 Timer
08	0  8254
08	0  ISA Timer
08	0  EISA Timers
08	0  HPET
0803 RTC
08	0  Generic
08	0  ISA RTC
0804 PCI Hot-plug controller
0805 SD Host controller
0806 IOMMU
0880 System peripheral
0899 Timing Card
08	0  TAP Timing Card
09 Input device controller
0900 Keyboard controller
0901 Digitizer Pen
0902 Mouse controller
0903 Scanner controller
0904 Gameport controller
09	0  Generic
09	1  Extended
0980 Input device controller
0a Docking station
0a00 Generic Docking Station
0a80 Docking Station
0b Processor
0b00 386
0b01 486
0b02 Pentium
0b10 Alpha
0b20 Power PC
0b30 MIPS
0b40 Co-processor
0c Serial bus controller
0c00 FireWire (IEEE 1394)
0c	0  Generic
0c	1  OHCI
0c01 ACCESS Bus
0c02 SSA
0c03 USB controller
0c	0  UHCI
0c	1  OHCI
0c	2  EHCI
0c	3  XHCI
0c	4  USB4 Host Interface
0c	8  Unspecified
0c	f  USB Device
0c04 Fibre Channel
0c05 SMBus
0c06 InfiniBand
0c07 IPMI Interface
0c	0  SMIC
0c	0  KCS
0c	0  BT (Block Transfer)
0c08 SERCOS interface
0c09 CANBUS
0c80 Serial bus controller
0d Wireless controller
0d00 IRDA controller
0d01 Consumer IR controller
0d10 RF controller
0d11 Bluetooth
0d12 Broadband
0d20 802.1a controller
0d21 802.1b controller
0d80 Wireless controller
0e Intelligent controller
0e00 I2O
0f Satellite communications controller
0f01 Satellite TV controller
0f02 Satellite audio communication controller
0f03 Satellite voice communication controller
0f04 Satellite data communication controller
10 Encryption controller
1000 Network and computing encryption device
1010 Entertainment encryption device
1080 Encryption controller
11 Signal processing controller
1100 DPIO module
1101 Performance counters
1110 Communication synchronizer
1120 Signal processing management
1180 Signal processing controller
12 Processing accelerators
1200 Processing accelerators
1201 SNIA Smart Data Accelerator Interface (SDXI) controller
13 Non-Essential Instrumentation
40 Coprocessor
ff Unassigned class`;

/** What a class name tells: the 16-bit class (base and subclass), or only the base class. */
export type ClassFromName = { readonly classCode16: number; readonly exact: true } | { readonly base: number; readonly exact: false };

const BY_NAME = new Map<string, ClassFromName>();
for (const line of TABLE.split("\n")) {
  const code = line.slice(0, line.indexOf(" "));
  const name = line.slice(code.length + 1);
  const value = Number.parseInt(code, 16);
  // A subclass entry wins over a base class of the same name ("Mass storage controller" is both 01 and 0180).
  if (code.length === 4) BY_NAME.set(name, { classCode16: value, exact: true });
  else if (!BY_NAME.has(name)) BY_NAME.set(name, { base: value, exact: false });
}

/**
 * Looks up a class name as lspci prints it (`"SATA controller"`, `"Class 0c80"`).
 * @returns the class it names, or undefined for a name `pci.ids` does not know.
 */
export function classFromName(name: string): ClassFromName | undefined {
  const numeric = /^Class ([0-9a-fA-F]{4})$/.exec(name);
  if (numeric) return { classCode16: Number.parseInt(numeric[1] as string, 16), exact: true };
  return BY_NAME.get(name);
}
