/**
 * A synthetic `lspci -vvvnnD` text of a large GPU server, for the import benchmark. The machine
 * is built from identical units, each under its own Root Port:
 *
 * ```
 * root port ── switch upstream port ─┬─ downstream port ── GPU
 *                                    ├─ downstream port ── GPU
 *                                    ├─ downstream port ── NIC (2 functions)
 *                                    └─ downstream port ── NVMe
 * ```
 *
 * Eight units share a host bridge (root bus) and two host bridges a NUMA node; when a domain's 256
 * buses are used up the next domain begins. Every record carries the capability blocks a real
 * `lspci -vvv` prints (Express with DevCap/DevCtl/LnkCap/LnkSta/…2, Power Management, MSI(-X),
 * AER, ACS on ports), copied in form from real output. Nothing is random: values vary with the
 * unit number, so the same `lines` always gives the same text.
 */

/** Buses one unit uses: root port secondary, switch internal bus, four downstream secondaries. */
const BUSES_PER_UNIT = 6;
const UNITS_PER_HOST_BRIDGE = 8;

const hex = (value: number, digits: number) => value.toString(16).padStart(digits, "0");

interface Place {
  readonly domain: number;
  readonly bus: number;
  readonly device: number;
  readonly fn: number;
}

const address = (p: Place) => `${hex(p.domain, 4)}:${hex(p.bus, 2)}:${hex(p.device, 2)}.${p.fn}`;

function common(numa: number, group: number, irq: number, mem: boolean): string[] {
  return [
    `\tControl: I/O- Mem${mem ? "+" : "-"} BusMaster+ SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx+`,
    "\tStatus: Cap+ 66MHz- UDF- FastB2B- ParErr- DEVSEL=fast >TAbort- <TAbort- <MAbort- >SERR- <PERR- INTx-",
    "\tLatency: 0, Cache Line Size: 64 bytes",
    `\tInterrupt: pin A routed to IRQ ${irq}`,
    `\tNUMA node: ${numa}`,
    `\tIOMMU group: ${group}`,
  ];
}

function bridgeWindows(primary: number, secondary: number, subordinate: number): string[] {
  return [
    `\tBus: primary=${hex(primary, 2)}, secondary=${hex(secondary, 2)}, subordinate=${hex(subordinate, 2)}, sec-latency=0`,
    "\tI/O behind bridge: [disabled] [16-bit]",
    `\tMemory behind bridge: ${hex(0xc0000000 + secondary * 0x100000, 8)}-${hex(0xc00fffff + secondary * 0x100000, 8)} [size=1M] [32-bit]`,
    `\tPrefetchable memory behind bridge: ${hex(secondary, 4)}00000000-${hex(secondary, 4)}ffffffff [size=4G] [64-bit]`,
    "\tSecondary status: 66MHz- FastB2B- ParErr- DEVSEL=fast >TAbort- <TAbort- <MAbort- <SERR- <PERR-",
    "\tBridgeCtl: Parity- SERR+ NoISA- VGA- VGA16- MAbort- >Reset- FastB2B-",
    "\t\tPriDiscTmr- SecDiscTmr- DiscTmrStat- DiscTmrSERREn-",
  ];
}

const SPEED = ["", "2.5GT/s", "5GT/s", "8GT/s", "16GT/s", "32GT/s"];

function express(type: string, opts: { mps: number; mrrs: number; capGen: number; gen: number; width: number; flr?: boolean; port: number }): string[] {
  const endpoint = opts.flr !== undefined;
  const downgraded = opts.gen < opts.capGen ? " (downgraded)" : "";
  return [
    `\tCapabilities: [68] Express (v2) ${type}, MSI 00`,
    `\t\tDevCap:\tMaxPayload ${Math.max(opts.mps, 512)} bytes, PhantFunc 0${endpoint ? ", Latency L0s unlimited, L1 <64us" : ""}`,
    `\t\t\tExtTag+ RBE+${endpoint ? ` FLReset${opts.flr ? "+" : "-"} SlotPowerLimit 75W` : ""}`,
    "\t\tDevCtl:\tCorrErr+ NonFatalErr+ FatalErr+ UnsupReq-",
    `\t\t\tRlxdOrd+ ExtTag+ PhantFunc- AuxPwr- NoSnoop+${endpoint ? " FLReset-" : ""}`,
    `\t\t\tMaxPayload ${opts.mps} bytes, MaxReadReq ${opts.mrrs} bytes`,
    "\t\tDevSta:\tCorrErr- NonFatalErr- FatalErr- UnsupReq- AuxPwr- TransPend-",
    `\t\tLnkCap:\tPort #${opts.port}, Speed ${SPEED[opts.capGen]}, Width x16, ASPM not supported`,
    "\t\t\tClockPM- Surprise- LLActRep+ BwNot+ ASPMOptComp+",
    "\t\tLnkCtl:\tASPM Disabled; RCB 64 bytes, Disabled- CommClk+",
    "\t\t\tExtSynch- ClockPM- AutWidDis- BWInt- AutBWInt-",
    `\t\tLnkSta:\tSpeed ${SPEED[opts.gen]}${downgraded}, Width x${opts.width}${opts.width < 16 ? " (downgraded)" : ""}`,
    "\t\t\tTrErr- Train- SlotClk+ DLActive+ BWMgmt- ABWMgmt-",
    "\t\tDevCap2: Completion Timeout: Range ABCD, TimeoutDis+ NROPrPrP- LTR-",
    "\t\t\t 10BitTagComp+ 10BitTagReq- OBFF Not Supported, ExtFmt- EETLPPrefix-",
    "\t\t\t EmergencyPowerReduction Not Supported, EmergencyPowerReductionInit-",
    "\t\t\t FRS- TPHComp- ExtTPHComp-",
    "\t\t\t AtomicOpsCap: 32bit+ 64bit+ 128bitCAS+",
    "\t\tDevCtl2: Completion Timeout: 50us to 50ms, TimeoutDis- LTR- 10BitTagReq- OBFF Disabled,",
    "\t\t\t AtomicOpsCtl: ReqEn+",
    `\t\tLnkCap2: Supported Link Speeds: 2.5-${SPEED[opts.capGen]}, Crosslink- Retimer+ 2Retimers+ DRS-`,
    `\t\tLnkCtl2: Target Link Speed: ${SPEED[opts.capGen]}, EnterCompliance- SpeedDis-`,
    "\t\t\t Transmit Margin: Normal Operating Range, EnterModifiedCompliance- ComplianceSOS-",
    "\t\t\t Compliance Preset/De-emphasis: -6dB de-emphasis, 0dB preshoot",
    "\t\tLnkSta2: Current De-emphasis Level: -6dB, EqualizationComplete+ EqualizationPhase1+",
    "\t\t\t EqualizationPhase2+ EqualizationPhase3+ LinkEqualizationRequest-",
    "\t\t\t Retimer- 2Retimers- CrosslinkRes: unsupported",
  ];
}

const POWER = [
  "\tCapabilities: [40] Power Management version 3",
  "\t\tFlags: PMEClk- DSI- D1- D2- AuxCurrent=0mA PME(D0+,D1-,D2-,D3hot+,D3cold+)",
  "\t\tStatus: D0 NoSoftRst+ PME-Enable- DSel=0 DScale=0 PME-",
];

const MSI = [
  "\tCapabilities: [48] MSI: Enable+ Count=1/1 Maskable+ 64bit+",
  "\t\tAddress: 00000000fee00000  Data: 0000",
  "\t\tMasking: 00000000  Pending: 00000000",
];

const AER = [
  "\tCapabilities: [100 v2] Advanced Error Reporting",
  "\t\tUESta:\tDLP- SDES- TLP- FCP- CmpltTO- CmpltAbrt- UnxCmplt- RxOF- MalfTLP- ECRC- UnsupReq- ACSViol-",
  "\t\tUEMsk:\tDLP- SDES- TLP- FCP- CmpltTO- CmpltAbrt- UnxCmplt- RxOF- MalfTLP- ECRC- UnsupReq+ ACSViol-",
  "\t\tUESvrt:\tDLP+ SDES+ TLP- FCP+ CmpltTO- CmpltAbrt- UnxCmplt- RxOF+ MalfTLP+ ECRC- UnsupReq- ACSViol-",
  "\t\tCESta:\tRxErr- BadTLP- BadDLLP- Rollover- Timeout- AdvNonFatalErr-",
  "\t\tCEMsk:\tRxErr- BadTLP- BadDLLP- Rollover- Timeout- AdvNonFatalErr+",
  "\t\tAERCap:\tFirst Error Pointer: 00, ECRCGenCap+ ECRCGenEn- ECRCChkCap+ ECRCChkEn-",
  "\t\t\tMultHdrRecCap- MultHdrRecEn- TLPPfxPres- HdrLogCap-",
  "\t\tHeaderLog: 00000000 00000000 00000000 00000000",
];

function acs(cap: string, ctl: string): string[] {
  return ["\tCapabilities: [148 v1] Access Control Services", `\t\tACSCap:\t${cap}`, `\t\tACSCtl:\t${ctl}`];
}

/** A port's ACS, as the kernel leaves it with the IOMMU on (SV, RR, CR, UF set) [kernel.md §a.3]. */
const PORT_ACS = acs(
  "SrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl+ DirectTrans+",
  "SrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-",
);

/** A multi-function endpoint's ACS (no upstream forwarding), likewise enabled. */
const FUNCTION_ACS = acs(
  "SrcValid- TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd- EgressCtrl+ DirectTrans-",
  "SrcValid- TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd- EgressCtrl- DirectTrans-",
);

function bar(index: number, base: number, sizeText: string, kind: "64p" | "64" | "32"): string {
  const type = kind === "32" ? "32-bit, non-prefetchable" : kind === "64p" ? "64-bit, prefetchable" : "64-bit, non-prefetchable";
  return `\tRegion ${index}: Memory at ${base.toString(16)} (${type}) [size=${sizeText}]`;
}

function header(p: Place, text: string): string {
  return `${address(p)} ${text}`;
}

/** The records of one unit, in lspci's order (by bus, then device and function). */
function unit(u: number, domain: number, rootBus: number, slot: number, firstBus: number, numa: number): string[][] {
  const [rp, up, ...ds] = [firstBus, firstBus + 1, firstBus + 2, firstBus + 3, firstBus + 4, firstBus + 5];
  const group = u * 8;
  // One TiB of 64-bit space per unit, so that every BAR is naturally aligned.
  const window = 0x3800_0000_0000 + u * 2 ** 40;
  const gen = 3 + (u % 2);
  const gpuGen = u % 5 === 0 ? 1 : gen;
  const records: string[][] = [];
  records.push([
    header(
      { domain, bus: rootBus, device: slot, fn: 0 },
      "PCI bridge [0604]: Intel Corporation Sky Lake-E PCI Express Root Port A [8086:2030] (rev 04) (prog-if 00 [Normal decode])",
    ),
    "\tSubsystem: Intel Corporation Device [8086:0000]",
    ...common(numa, group, 30 + u, true),
    ...bridgeWindows(rootBus, rp, ds[3] as number),
    "\tCapabilities: [40] Subsystem: Intel Corporation Device [8086:0000]",
    ...MSI,
    ...express("Root Port (Slot+)", { mps: 256, mrrs: 128, capGen: gen, gen, width: 16, port: 5 + (slot % 4) }),
    ...POWER,
    ...AER,
    ...PORT_ACS,
    "\tKernel driver in use: pcieport",
  ]);
  records.push([
    header(
      { domain, bus: rp, device: 0, fn: 0 },
      "PCI bridge [0604]: Broadcom / LSI PEX890xx PCIe Gen 5 Switch [1000:c030] (rev b0) (prog-if 00 [Normal decode])",
    ),
    ...common(numa, group + 1, 40 + u, true),
    bar(0, 0xd0000000 + (u % 256) * 0x40000, "256K", "32"),
    ...bridgeWindows(rp, up, ds[3] as number),
    ...POWER,
    ...MSI,
    ...express("Upstream Port", { mps: 256, mrrs: 128, capGen: gen, gen, width: 16, port: 0 }),
    ...AER,
    "\tKernel driver in use: pcieport",
  ]);
  ds.forEach((secondary, i) => {
    records.push([
      header(
        { domain, bus: up, device: i, fn: 0 },
        "PCI bridge [0604]: Broadcom / LSI PEX890xx PCIe Gen 5 Switch [1000:c030] (rev b0) (prog-if 00 [Normal decode])",
      ),
      ...common(numa, group + 2 + i, 50 + u, true),
      ...bridgeWindows(up, secondary, secondary),
      ...POWER,
      ...MSI,
      ...express("Downstream Port (Slot+)", { mps: 256, mrrs: 128, capGen: gen, gen: i < 2 ? gpuGen : gen, width: i === 3 ? 4 : 16, port: i }),
      ...AER,
      ...PORT_ACS,
      "\tKernel driver in use: pcieport",
    ]);
  });
  [0, 1].forEach((i) => {
    records.push([
      header({ domain, bus: ds[i] as number, device: 0, fn: 0 }, "3D controller [0302]: NVIDIA Corporation GH100 [H100 PCIe] [10de:2331] (rev a1)"),
      "\tSubsystem: NVIDIA Corporation Device [10de:1626]",
      ...common(numa, group + 6, 60 + u, true),
      bar(0, window + 0x1000000 * (i + 1), "16M", "64"),
      bar(2, window + 0x1000000000 * (i + 1), "64G", "64p"),
      bar(4, window + 0x1000000000 * (i + 1) + 0x800000000, "32M", "64p"),
      ...POWER,
      ...MSI,
      ...express("Endpoint", { mps: 256, mrrs: 512, capGen: 5, gen: gpuGen, width: 16, flr: true, port: 0 }),
      ...AER,
      "\tKernel driver in use: nvidia",
    ]);
  });
  [0, 1].forEach((fn) => {
    records.push([
      header({ domain, bus: ds[2] as number, device: 0, fn }, "Infiniband controller [0207]: Mellanox Technologies MT2910 Family [ConnectX-7] [15b3:1021]"),
      "\tSubsystem: Mellanox Technologies Device [15b3:0041]",
      ...common(numa, group + 7, 70 + u + fn, true),
      bar(0, window + 0x3000000000 + fn * 0x2000000, "32M", "64p"),
      ...express("Endpoint", { mps: 256, mrrs: 4096, capGen: gen, gen, width: 16, flr: true, port: 0 }),
      ...POWER,
      "\tCapabilities: [9c] MSI-X: Enable+ Count=64 Masked-",
      "\t\tVector table: BAR=0 offset=00002000",
      "\t\tPBA: BAR=0 offset=00003000",
      ...AER,
      ...FUNCTION_ACS,
      "\tKernel driver in use: mlx5_core",
    ]);
  });
  records.push([
    header(
      { domain, bus: ds[3] as number, device: 0, fn: 0 },
      "Non-Volatile memory controller [0108]: Samsung Electronics Co Ltd NVMe SSD Controller PM174X [144d:a826] (prog-if 02 [NVM Express])",
    ),
    "\tSubsystem: Samsung Electronics Co Ltd Device [144d:aa0a]",
    ...common(numa, group + 8, 80 + u, true),
    bar(0, 0xe0000000 + (u % 512) * 0x10000, "32K", "32"),
    ...POWER,
    ...express("Endpoint", { mps: 256, mrrs: 512, capGen: 4, gen: 4, width: 4, flr: true, port: 0 }),
    "\tCapabilities: [b0] MSI-X: Enable+ Count=130 Masked-",
    "\t\tVector table: BAR=0 offset=00003000",
    "\t\tPBA: BAR=0 offset=00002000",
    ...AER,
    "\tKernel driver in use: nvme",
    "\tKernel modules: nvme",
  ]);
  return records;
}

/** The host bridge's own function (00.0 on its root bus), as a Sky Lake-E server shows it. */
function hostBridgeRecord(domain: number, rootBus: number, numa: number, group: number): string[] {
  return [
    header(
      { domain, bus: rootBus, device: 0, fn: 0 },
      "System peripheral [0880]: Intel Corporation Sky Lake-E MM/Vt-d Configuration Registers [8086:2024] (rev 04)",
    ),
    "\tSubsystem: Intel Corporation Device [8086:0000]",
    ...common(numa, group, 0, false),
    "\tCapabilities: [40] Express (v2) Root Complex Integrated Endpoint, MSI 00",
    "\t\tDevCap:\tMaxPayload 128 bytes, PhantFunc 0",
    "\t\t\tExtTag- RBE- FLReset-",
    "\t\tDevCtl:\tCorrErr- NonFatalErr- FatalErr- UnsupReq-",
    "\t\t\tRlxdOrd- ExtTag- PhantFunc- AuxPwr- NoSnoop-",
    "\t\t\tMaxPayload 128 bytes, MaxReadReq 128 bytes",
    "\t\tDevSta:\tCorrErr- NonFatalErr- FatalErr- UnsupReq- AuxPwr- TransPend-",
  ];
}

/**
 * A deterministic `lspci -vvvnnD` text of about `lines` lines: whole units are added until the
 * count is reached, so the text is at most one unit (about 650 lines) longer, and never shorter
 * than one host bridge with one unit.
 * @param lines the wanted number of lines.
 * @returns the text, ending with a newline; the same `lines` always gives the same text.
 */
export function synthLspciVerbose(lines: number): string {
  const records: string[][] = [];
  let count = 0;
  let domain = 0;
  let nextBus = 0;
  let rootBus = 0;
  let unitsOnBridge = UNITS_PER_HOST_BRIDGE;
  let bridges = 0;
  for (let u = 0; u === 0 || count < lines; u++) {
    if (unitsOnBridge === UNITS_PER_HOST_BRIDGE) {
      if (nextBus + 1 + BUSES_PER_UNIT * UNITS_PER_HOST_BRIDGE > 256) {
        domain++;
        nextBus = 0;
      }
      rootBus = nextBus++;
      unitsOnBridge = 0;
      const record = hostBridgeRecord(domain, rootBus, Math.floor(bridges / 2) % 8, u * 8 + 7);
      bridges++;
      records.push(record);
      count += record.length + 1;
    }
    for (const record of unit(u, domain, rootBus, 2 + unitsOnBridge, nextBus, Math.floor((bridges - 1) / 2) % 8)) {
      records.push(record);
      count += record.length + 1;
    }
    nextBus += BUSES_PER_UNIT;
    unitsOnBridge++;
  }
  // lspci lists functions in address order; the fixed-width address heads every record.
  records.sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));
  return `${records.map((record) => record.join("\n")).join("\n\n")}\n`;
}
