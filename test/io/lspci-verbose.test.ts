import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type LspciRecord, looksLikeLspciVerbose, parseLspciVerbose } from "../../src/io/lspci-verbose.js";
import { formatBdf } from "../../src/pci/ids.js";
import { FIXTURES } from "../support/fixtures.js";

const ASUS = readFileSync(`${FIXTURES}/lspci-asus-p9x79-e-ws-2x-pex8747/lspci-vvnn.txt`, "utf8");
const GIGABYTE = readFileSync(`${FIXTURES}/lspci-gigabyte-g1-sniper-5-pex8747/lspci-vvnn.txt`, "utf8");

function records(text: string): readonly LspciRecord[] {
  const result = parseLspciVerbose(text, "v.txt");
  if (!result.ok) throw new Error(`${result.error.line}: ${result.error.message}`);
  return result.records;
}

/** One record from a header and its indented lines (tabs written as "→"). */
function one(header: string, ...lines: string[]): LspciRecord {
  const text = [header, ...lines.map((line) => line.replaceAll("→", "\t"))].join("\n");
  const [record] = records(`${text}\n`);
  if (!record) throw new Error("no record");
  return record;
}

const CONTROL = "→Control: I/O- Mem+ BusMaster+ SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx+";

describe("parseLspciVerbose: function headers", () => {
  const hex = (n: number | undefined, w: number) => (n === undefined ? "-" : n.toString(16).padStart(w, "0"));
  const cases: Array<[string, string]> = [
    // -vvvnnD, with a bracketed name, rev and prog-if
    [
      "0000:00:1f.2 SATA controller [0106]: Intel Corporation 8 Series/C220 Series Chipset Family 6-port SATA Controller 1 [AHCI mode] [8086:8c02] (rev 04) (prog-if 01 [AHCI 1.0])",
      "0000:00:1f.2 010601 id 8086:8c02 Intel Corporation 8 Series/C220 Series Chipset Family 6-port SATA Controller 1 [AHCI mode]",
    ],
    // a prog-if name with parentheses
    [
      "00:05.4 PIC [0800]: Intel Corporation Xeon E7 v2/Xeon E5 v2/Core i7 IOAPIC [8086:0e2c] (rev 04) (prog-if 20 [IO(X)-APIC])",
      "0000:00:05.4 080020 id 8086:0e2c Intel Corporation Xeon E7 v2/Xeon E5 v2/Core i7 IOAPIC",
    ],
    // -n only
    ["00:02.0 0300: 8086:0412 (rev 06)", "0000:00:02.0 030000 id 8086:0412 -"],
    // plain -vvv: the class comes from its name
    [
      "00:02.0 VGA compatible controller: Intel Corporation Xeon E3-1200 v3/4th Gen Core Processor Integrated Graphics Controller (rev 06) (prog-if 00 [VGA controller])",
      "0000:00:02.0 030000 name -:- Intel Corporation Xeon E3-1200 v3/4th Gen Core Processor Integrated Graphics Controller",
    ],
    // a subclass pci.ids lacks prints the base-class name and the id even without -nn; an unknown base class prints as "Class cccc"
    ["0000:00:01.0 Processor [0bff]: Intel Corporation Device 0bff", "0000:00:01.0 0bff00 id -:- Intel Corporation Device 0bff"],
    ["0000:00:02.0 Class 1f00: Device 1234:5678", "0000:00:02.0 1f0000 name 1234:5678 -"],
    ["0000:00:02.0 Class [1f00]: Device [1234:5678]", "0000:00:02.0 1f0000 id 1234:5678 Device"],
    // a base-class name without subclass, and a name pci.ids does not know
    ["00:03.0 Processor: Vendor X Device Y", "0000:00:03.0 0b8000 base-name -:- Vendor X Device Y"],
    ["00:03.0 Quantum entangler: Vendor X Device Y", "0000:00:03.0 - unknown -:- Vendor X Device Y"],
    // VMD domains have five hex digits
    [
      "10000:e1:00.0 Non-Volatile memory controller [0108]: Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983 [144d:a808] (prog-if 02 [NVM Express])",
      "10000:e1:00.0 010802 id 144d:a808 Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983",
    ],
    [
      "00:01.0 Unassigned class [ffff]: Red Hat, Inc. Virtio 1.0 memory balloon [1af4:1045] (rev 01)",
      "0000:00:01.0 ffff00 id 1af4:1045 Red Hat, Inc. Virtio 1.0 memory balloon",
    ],
  ];
  it.each(cases)("%s", (header, expected) => {
    const r = one(header, CONTROL);
    expect(`${formatBdf(r.bdf)} ${hex(r.classCode, 6)} ${r.classSource} ${hex(r.vendor, 4)}:${hex(r.device, 4)} ${r.description ?? "-"}`).toBe(expected);
  });
});

describe("parseLspciVerbose: BARs", () => {
  const cases: Array<[string, string]> = [
    ["Region 0: Memory at fa000000 (32-bit, non-prefetchable) [size=16M]", "0 mem32 np assigned fa000000 16777216"],
    ["Region 1: Memory at 3bf000000000 (64-bit, prefetchable) [size=32G]", "1 mem64 p assigned 3bf000000000 34359738368"],
    ["Region 5: I/O ports at e000 [size=128]", "5 io np assigned e000 128"],
    ["Region 0: Memory at f7080000 (32-bit, non-prefetchable) [disabled] [size=16K]", "0 mem32 np disabled f7080000 16384"],
    ["Region 4: I/O ports at <unassigned> [disabled]", "4 io np unassigned - -"],
    ["Region 2: Memory at <unassigned> (32-bit, prefetchable)", "2 mem32 p unassigned - -"],
    ["Region 0: Memory at <ignored> (64-bit, non-prefetchable) [size=1M]", "0 mem64 np unassigned - 1048576"],
    ["Region 0: Memory at 380000000000 (64-bit, prefetchable) [virtual] [size=2T]", "0 mem64 p virtual 380000000000 2199023255552"],
    ["Region 3: Memory at 000c0000 (low-1M, non-prefetchable) [size=128K]", "3 mem32 np assigned 000c0000 131072"],
    ["Region 0: Memory at 4000000000 (64-bit, non-prefetchable) [enhanced] [size=512K]", "0 mem64 np assigned 4000000000 524288"],
    ["Region 0: Memory at f7100000 (32-bit, non-prefetchable)", "0 mem32 np assigned f7100000 -"],
  ];
  it.each(cases)("%s", (line, expected) => {
    const bar = one("00:01.0 VGA compatible controller [0300]: X [10de:1005]", CONTROL, `→${line}`).bars[0];
    expect(bar && `${bar.index} ${bar.type} ${bar.prefetchable ? "p" : "np"} ${bar.state} ${bar.addressHex ?? "-"} ${bar.size ?? "-"}`).toBe(expected);
  });

  it("ignores the expansion ROM and bridge windows, with or without [size=]", () => {
    const r = one(
      "00:01.0 PCI bridge [0604]: Intel Corporation Root Port [8086:0c01]",
      CONTROL,
      "→Bus: primary=00, secondary=01, subordinate=04, sec-latency=0",
      "→I/O behind bridge: 0000e000-0000efff",
      "→Memory behind bridge: f6000000-f71fffff",
      "→Prefetchable memory behind bridge: 00000000e8000000-00000000f1ffffff",
      "→Expansion ROM at 000c0000 [disabled] [size=128K]",
    );
    expect([r.bars, r.bus]).toEqual([[], { primary: 0, secondary: 1, subordinate: 4, line: 3 }]);
  });
});

/** The capability facts of one record, compactly. */
function capabilities(r: LspciRecord): string {
  const c = r.caps;
  const link = (l: typeof c.linkCap) => (l ? `${l.speed}/gen${l.gen ?? "?"}/x${l.width}` : "-");
  return [
    `express=${c.express?.type ?? "-"}`,
    `cap=${link(c.linkCap)}`,
    `sta=${link(c.linkSta)}`,
    `mps=${c.mps ?? "-"}`,
    `mrrs=${c.mrrs ?? "-"}`,
    `flr=${c.flr ?? "-"}`,
    `pm=${c.powerManagement ? (c.powerManagement.state ?? "?") : "-"}`,
    `acs=${c.acs ? `${c.acs.cap?.join("") ?? "?"}/${c.acs.ctl?.join("") ?? "?"}` : "-"}`,
    `denied=${c.deniedLine !== undefined}`,
  ].join(" ");
}

describe("parseLspciVerbose: capabilities", () => {
  it("reads a modern Express endpoint: FLReset from DevCap (not DevCtl's), sizes from DevCtl's third line, a downgraded LnkSta", () => {
    const r = one(
      "04:00.0 3D controller [0302]: NVIDIA Corporation GV100GL [Tesla V100 PCIe 16GB] [10de:1db4]",
      CONTROL,
      "→Capabilities: [40] Express (v2) Endpoint, MSI 00",
      "→→DevCap:→MaxPayload 512 bytes, PhantFunc 0, Latency L0s unlimited, L1 <64us",
      "→→→ExtTag- AttnBtn- AttnInd- PwrInd- RBE- FLReset+ SlotPowerLimit 0W",
      "→→DevCtl:→CorrErr- NonFatalErr- FatalErr- UnsupReq-",
      "→→→RlxdOrd- ExtTag- PhantFunc- AuxPwr- NoSnoop- FLReset-",
      "→→→MaxPayload 256 bytes, MaxReadReq 512 bytes",
      "→→LnkCap:→Port #1, Speed 16GT/s, Width x16, ASPM not supported",
      "→→→ClockPM- Surprise- LLActRep- BwNot- ASPMOptComp-",
      "→→LnkSta:→Speed 2.5GT/s (downgraded), Width x8 (downgraded)",
      "→→→TrErr- Train- SlotClk- DLActive- BWMgmt- ABWMgmt-",
      "→Capabilities: [80] Power Management version 3",
      "→→Flags: PMEClk- DSI- D1- D2- AuxCurrent=0mA PME(D0-,D1-,D2-,D3hot-,D3cold-)",
      "→→Status: D3 NoSoftRst- PME-Enable- DSel=0 DScale=0 PME-",
    );
    expect(capabilities(r)).toBe("express=endpoint cap=16GT/s/gen4/x16 sta=2.5GT/s/gen1/x8 mps=256 mrrs=512 flr=true pm=D3hot acs=- denied=false");
  });

  it("reads the old dialect: 'Report errors:' DevCtl, LnkSta flags on the same line, FLReset glued to the next word, '#19' capabilities", () => {
    const r = one(
      "01:00.0 PCI bridge [0604]: PLX Technology, Inc. PEX 8747 [10b5:8747] (rev ba) (prog-if 00 [Normal decode])",
      CONTROL,
      "→Bus: primary=01, secondary=02, subordinate=04, sec-latency=0",
      "→Capabilities: [68] Express (v2) Upstream Port, MSI 00",
      "→→DevCap:→MaxPayload 2048 bytes, PhantFunc 0, Latency L0s <64ns, L1 <1us",
      "→→→ExtTag- AttnBtn- AttnInd- PwrInd- RBE+ FLReset-SlotPowerLimit 75.000W",
      "→→DevCtl:→Report errors: Correctable- Non-Fatal- Fatal- Unsupported-",
      "→→→RlxdOrd- ExtTag- PhantFunc- AuxPwr- NoSnoop+",
      "→→→MaxPayload 256 bytes, MaxReadReq 128 bytes",
      "→→LnkCap:→Port #0, Speed 8GT/s, Width x16, ASPM not supported, Latency L0 <4us, L1 <4us",
      "→→LnkSta:→Speed 2.5GT/s, Width x0, TrErr- Train- SlotClk- DLActive- BWMgmt- ABWMgmt-",
      "→Capabilities: [10c v1] #19",
      "→Capabilities: [e00 v1] #12",
      "→Capabilities: [f24 v1] Access Control Services",
      "→→ACSCap:→SrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl+ DirectTrans+",
      "→→ACSCtl:→SrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-",
    );
    expect(capabilities(r)).toBe(
      "express=upstream-port cap=8GT/s/gen3/x16 sta=2.5GT/s/gen1/x0 mps=256 mrrs=128 flr=false pm=- acs=SVTBRRCRUFECDT/SVRRCRUF denied=false",
    );
  });

  it("names every Express port type lspci prints", () => {
    const types = [
      "Root Port (Slot+)",
      "Upstream Port",
      "Downstream Port (Slot-)",
      "Endpoint",
      "Legacy Endpoint",
      "Root Complex Integrated Endpoint",
      "Root Complex Event Collector",
      "PCI-Express to PCI/PCI-X Bridge",
      "PCI/PCI-X to PCI-Express Bridge",
      "Unknown type 11",
    ];
    const read = types.map((type) => one("00:01.0 X [0604]: Y [1234:5678]", `→Capabilities: [40] Express (v2) ${type}, MSI 00`).caps.express?.type);
    expect(read).toEqual([
      "root-port",
      "upstream-port",
      "downstream-port",
      "endpoint",
      "legacy-endpoint",
      "rc-integrated-endpoint",
      "rc-event-collector",
      "pcie-to-pci-bridge",
      "pci-to-pcie-bridge",
      "unknown",
    ]);
    // lspci -v prints no version
    expect(one("00:01.0 X [0604]: Y [1234:5678]", "→Capabilities: [40] Express Root Port (Slot+), MSI 00").caps.express?.type).toBe("root-port");
  });

  it("reads every link speed, 'Speed unknown', and FLR of a conventional function from PCI Advanced Features", () => {
    const speeds = ["2.5GT/s", "5GT/s", "8GT/s", "16GT/s", "32GT/s", "64GT/s", "unknown", "2.5Gb/s"].map(
      (speed) =>
        one("00:01.0 X [0200]: Y [1234:5678]", "→Capabilities: [40] Express (v2) Endpoint, MSI 00", `→→LnkCap:→Port #0, Speed ${speed}, Width x4, ASPM L1`).caps
          .linkCap?.gen,
    );
    expect(speeds).toEqual([1, 2, 3, 4, 5, 6, undefined, 1]);
    const af = one(
      "00:19.0 Ethernet controller [0200]: Intel I217-V [8086:153b]",
      "→Capabilities: [e0] PCI Advanced Features",
      "→→AFCap: TP+ FLR+",
      "→→AFCtrl: FLR-",
    );
    expect(af.caps.flr).toBe(true);
  });

  it("marks capabilities that lspci could not read without root, and reads the header lines it still shows", () => {
    const r = one(
      "0000:00:02.0 PCI bridge [0604]: Intel Corporation Sky Lake-E PCI Express Root Port B [8086:2031] (prog-if 00 [Normal decode])",
      CONTROL,
      "→NUMA node: 1",
      "→IOMMU group: 12",
      "→Bus: primary=00, secondary=05, subordinate=05, sec-latency=0",
      "→Capabilities: <access denied>",
    );
    expect([capabilities(r), r.numaNode, r.iommuGroup, r.memoryEnabled, r.bus?.secondary]).toEqual([
      "express=- cap=- sta=- mps=- mrrs=- flr=- pm=- acs=- denied=true",
      1,
      12,
      true,
      5,
    ]);
  });

  it("keeps Status lines of other blocks apart: the PCI status, a slot's Status, and Power Management's", () => {
    const r = one(
      "00:1c.0 PCI bridge [0604]: Intel Root Port [8086:8c10]",
      CONTROL,
      "→Status: Cap+ 66MHz- UDF- FastB2B- ParErr- DEVSEL=fast",
      "→Capabilities: [40] Express (v2) Root Port (Slot+), MSI 00",
      "→→SltSta:→Status: AttnBtn- PowerFlt- MRL- CmdCplt- PresDet+ Interlock-",
      "→Capabilities: [a0] Power Management version 3",
      "→→Status: D0 NoSoftRst- PME-Enable- DSel=0 DScale=0 PME-",
    );
    expect(r.caps.powerManagement?.state).toBe("D0");
  });
});

describe("parseLspciVerbose: the fixtures", () => {
  it("reads every function of both machines", () => {
    expect(records(ASUS).map((r) => formatBdf(r.bdf).slice(5))).toEqual(
      "00:00.0 00:01.0 00:02.0 00:03.0 00:05.0 00:05.2 00:05.4 00:11.0 00:16.0 00:1a.0 00:1b.0 00:1c.0 00:1c.1 00:1c.2 00:1c.3 00:1c.4 00:1c.6 00:1c.7 00:1d.0 00:1e.0 00:1f.0 00:1f.2 00:1f.3 01:00.0 02:08.0 02:10.0 03:00.0 05:00.0 06:00.0 07:08.0 07:10.0 0b:00.0 0c:00.0 0d:00.0 0e:00.0 0f:00.0 10:00.0 11:00.0".split(
        " ",
      ),
    );
    expect(records(GIGABYTE).map((r) => formatBdf(r.bdf).slice(5))).toEqual(
      "00:00.0 00:01.0 00:14.0 00:16.0 00:19.0 00:1a.0 00:1b.0 00:1c.0 00:1c.4 00:1c.6 00:1d.0 00:1f.0 00:1f.2 00:1f.3 01:00.0 02:08.0 02:10.0 04:00.0 04:00.1 05:00.0 07:00.0".split(
        " ",
      ),
    );
  });

  it("reads the PLX switch ports of the old-dialect machine", () => {
    const plx = records(GIGABYTE).filter((r) => r.vendor === 0x10b5);
    expect(plx.map((r) => `${formatBdf(r.bdf).slice(5)} ${capabilities(r)}`)).toEqual([
      "01:00.0 express=upstream-port cap=8GT/s/gen3/x16 sta=8GT/s/gen3/x16 mps=256 mrrs=128 flr=false pm=D0 acs=- denied=false",
      "02:08.0 express=downstream-port cap=8GT/s/gen3/x16 sta=2.5GT/s/gen1/x0 mps=256 mrrs=128 flr=false pm=D0 acs=SVTBRRCRUFECDT/ denied=false",
      "02:10.0 express=downstream-port cap=8GT/s/gen3/x16 sta=2.5GT/s/gen1/x16 mps=256 mrrs=128 flr=false pm=D0 acs=SVTBRRCRUFECDT/ denied=false",
    ]);
  });
});

describe("parseLspciVerbose: malformed lines fail on their line, naming the expected form", () => {
  const header = "00:01.0 PCI bridge [0604]: Intel Root Port [8086:0c01]";
  const cases: Array<[string, string[], number, string]> = [
    ["no header", ["→Control: Mem+"], 1, "expected a function header such as '00:1f.2 SATA controller [0106]: …' before this indented line"],
    ["a truncated header", ["00:01.0 PCI bri"], 1, "expected '<class>: <vendor> <device>' after the address"],
    ["a header with device 20", ["00:20.0 X [0200]: Y [1234:5678]"], 1, "expected a device number 00-1f in 00:20.0"],
    [
      "garbage between records",
      [header, CONTROL, "", "hello"],
      4,
      "expected a function header such as '00:1f.2 SATA controller [0106]: …' or a tab-indented detail line",
    ],
    ["a truncated Bus line", [header, "→Bus: primary=00, secondary=0"], 2, "expected 'Bus: primary=BB, secondary=BB, subordinate=BB, …'"],
    ["a Control line without Mem", [header, "→Control: I/O+"], 2, "expected 'Mem+' or 'Mem-' in the Control register line"],
    [
      "a truncated Region line",
      [header, "→Region 0: Memory at fa00"],
      2,
      "expected 'Region N: Memory at ADDR (32-bit|64-bit, [non-]prefetchable) [size=S]' or 'Region N: I/O ports at ADDR [size=S]'",
    ],
    ["a Region beyond 5", [header, "→Region 6: Memory at fa000000 (32-bit, non-prefetchable) [size=1M]"], 2, "expected a BAR number 0-5 after 'Region'"],
    ["a NUMA node that is no number", [header, "→NUMA node: zero"], 2, "expected 'NUMA node: N'"],
    ["a bad capability line", [header, "→Capabilities: 40 Express"], 2, "expected 'Capabilities: [offset] name' or 'Capabilities: <access denied>'"],
    ["a truncated Express line", [header, "→Capabilities: [40] Express (v2) Root Po"], 2, "expected 'Express (vN) <device/port type>, MSI NN'"],
    [
      "a truncated LnkSta",
      [header, "→Capabilities: [40] Express (v2) Root Port (Slot+), MSI 00", "→→LnkSta:→Speed 8GT/s, Wi"],
      3,
      "expected 'LnkSta: … Speed <n>GT/s, Width x<n>'",
    ],
    [
      "truncated payload sizes",
      [header, "→Capabilities: [40] Express (v2) Root Port (Slot+), MSI 00", "→→DevCtl:→CorrErr-", "→→→MaxPayload 256 bytes, MaxRe"],
      3,
      "expected 'MaxPayload N bytes, MaxReadReq N bytes' in the DevCtl field",
    ],
    [
      "a Power Management status without a state",
      [header, "→Capabilities: [40] Power Management version 3", "→→Status: NoSoftRst-"],
      3,
      "expected 'Status: D0' … 'Status: D3' in the Power Management capability",
    ],
    [
      "ACS flags without names",
      [header, "→Capabilities: [100 v1] Access Control Services", "→→ACSCap:→"],
      3,
      "expected 'ACSCap: SrcValid± TransBlk± ReqRedir± CmpltRedir± UpstreamFwd± EgressCtrl± DirectTrans±'",
    ],
    ["a function listed twice", [header, CONTROL, "", header, CONTROL], 4, "function 00:01.0 is listed twice (also on line 1): expected each function once"],
    [
      "plain lspci output",
      [header, "00:02.0 VGA compatible controller [0300]: Intel [8086:0412]"],
      1,
      "expected lspci -vvv output, found plain lspci output (no indented detail lines): run lspci -vvv",
    ],
    ["nothing at all", ["", ""], 1, "expected lspci -vvv output: no function header such as '00:00.0 Host bridge [0600]: …' found"],
  ];
  it.each(cases)("%s", (_, lines, line, message) => {
    const text = lines.map((l) => l.replaceAll("→", "\t")).join("\n");
    expect(parseLspciVerbose(text, "v.txt")).toEqual({ ok: false, error: { file: "v.txt", line, message } });
  });

  it("skips other tools' messages and unknown lines of any content, and accepts CRLF", () => {
    const text = "lspci: Unable to load libkmod resources: error -2\r\n00:01.0 X [0200]: Y [1234:5678]\r\n\tWhatever: 1 2 3\r\n\t\t!!\r\n\tControl: Mem-\r\n";
    const result = parseLspciVerbose(text, "v.txt");
    expect(result.ok && [result.warnings, result.records.map((r) => r.memoryEnabled)]).toEqual([
      [{ file: "v.txt", line: 1, message: 'skipped a message from another tool: "lspci: Unable to load libkmod resources: error -2"' }],
      [false],
    ]);
  });

  it("never throws: any text, or any mutation of a fixture, gives records or an error on a line of the text", () => {
    const lines = GIGABYTE.split("\n");
    const mutated = fc
      .array(fc.tuple(fc.nat(lines.length - 1), fc.constantFrom("drop", "duplicate", "truncate"), fc.nat(200)), { maxLength: 8 })
      .map((edits) => {
        const copy = [...lines];
        for (const [at, edit, cut] of edits) {
          const index = Math.min(at, copy.length - 1);
          if (edit === "drop") copy.splice(index, 1);
          else if (edit === "duplicate") copy.splice(index, 0, copy[index] as string);
          else copy[index] = (copy[index] as string).slice(0, cut % ((copy[index] as string).length + 1));
        }
        return copy.join("\n");
      });
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom("\t", "\n", " ", ":", "0", "a", "[", "]", "Region 0: ", "Bus: ") }), mutated),
        (text) => {
          const result = parseLspciVerbose(text, "v.txt");
          if (!result.ok) {
            expect(result.error.line).toBeGreaterThanOrEqual(1);
            expect(result.error.line).toBeLessThanOrEqual(Math.max(1, text.split("\n").length));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("looksLikeLspciVerbose", () => {
  it.each([
    [ASUS, true],
    [GIGABYTE, true],
    ["\n0000:00:00.0 Host bridge [0600]: Intel Corporation Device [8086:0d57]\n\tControl: I/O- Mem-\n", true],
    ["00:00.0 Host bridge [0600]: Intel Corporation Device [8086:0d57]\n00:01.0 VGA compatible controller [0300]: X [1234:5678]\n", false],
    ["-[0000:00]---00.0\n", false],
    ["<topology/>", false],
    ["", false],
  ])("%#", (text, expected) => {
    expect(looksLikeLspciVerbose(text)).toBe(expected);
  });
});
