import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { synthLspciVerbose } from "../../bench/lspci-synth.js";
import type { ImportIssue } from "../../src/io/import-types.js";
import { importLspci, looksLikeLspciTree, looksLikeLspciVerbose } from "../../src/io/lspci-import.js";
import { buildTopology } from "../../src/pci/build-topology.js";
import { nvidiaSmiLevel } from "../../src/pci/nvidia-level.js";
import { calcMapTypeAndDist } from "../../src/pci/p2pdma.js";
import type { PciFunction } from "../../src/pci/topology.js";
import type { FunctionSpec, TopologySpec } from "../../src/pci/topology-spec.js";
import { FIXTURES } from "../support/fixtures.js";
import { SERVER_TREE } from "../support/lspci-samples.js";

const ASUS = readFileSync(`${FIXTURES}/lspci-asus-p9x79-e-ws-2x-pex8747/lspci-vvnn.txt`, "utf8");
const GIGABYTE = readFileSync(`${FIXTURES}/lspci-gigabyte-g1-sniper-5-pex8747/lspci-vvnn.txt`, "utf8");

// What pciutils 3.9 draws for the two fixture machines: `lspci -F dump -tvnn` over configuration
// headers rebuilt from the fixtures' ids, classes and bus numbers (names come from this pci.ids).
const ASUS_TREE = String.raw`-[0000:00]-+-00.0  Intel Corporation Xeon E7 v2/Xeon E5 v2/Core i7 DMI2 [8086:0e00]
           +-01.0-[05]----00.0  QLogic Corp. ISP2432-based 4Gb Fibre Channel to PCI Express HBA [1077:2432]
           +-02.0-[06-09]----00.0-[07-09]--+-08.0-[09]--
           |                               \-10.0-[08]--
           +-03.0-[01-04]----00.0-[02-04]--+-08.0-[04]--
           |                               \-10.0-[03]----00.0  NVIDIA Corporation G96C [GeForce 9500 GT] [10de:0640]
           +-05.0  Intel Corporation Xeon E7 v2/Xeon E5 v2/Core i7 VTd/Memory Map/Misc [8086:0e28]
           +-05.2  Intel Corporation Xeon E7 v2/Xeon E5 v2/Core i7 IIO RAS [8086:0e2a]
           +-05.4  Intel Corporation Xeon E7 v2/Xeon E5 v2/Core i7 IOAPIC [8086:0e2c]
           +-11.0-[0a]--
           +-16.0  Intel Corporation C600/X79 series chipset MEI Controller #1 [8086:1d3a]
           +-1a.0  Intel Corporation C600/X79 series chipset USB2 Enhanced Host Controller #2 [8086:1d2d]
           +-1b.0  Intel Corporation C600/X79 series chipset High Definition Audio Controller [8086:1d20]
           +-1c.0-[0b]----00.0  Intel Corporation I210 Gigabit Network Connection [8086:1533]
           +-1c.1-[0c]----00.0  Intel Corporation I210 Gigabit Network Connection [8086:1533]
           +-1c.2-[0d]----00.0  VIA Technologies, Inc. VT6315 Series Firewire Controller [1106:3403]
           +-1c.3-[0e]----00.0  ASMedia Technology Inc. ASM1062 Serial ATA Controller [1b21:0612]
           +-1c.4-[0f]----00.0  Marvell Technology Group Ltd. 88SE9230 PCIe 2.0 x2 4-port SATA 6 Gb/s RAID Controller [1b4b:9230]
           +-1c.6-[10]----00.0  ASMedia Technology Inc. ASM1042 SuperSpeed USB Host Controller [1b21:1042]
           +-1c.7-[11]----00.0  ASMedia Technology Inc. ASM1042 SuperSpeed USB Host Controller [1b21:1042]
           +-1d.0  Intel Corporation C600/X79 series chipset USB2 Enhanced Host Controller #1 [8086:1d26]
           +-1e.0-[12]--
           +-1f.0  Intel Corporation C600/X79 series chipset LPC Controller [8086:1d41]
           +-1f.2  Intel Corporation C600/X79 series chipset 6-Port SATA AHCI Controller [8086:1d02]
           \-1f.3  Intel Corporation C600/X79 series chipset SMBus Host Controller [8086:1d22]
`;

const GIGABYTE_TREE = String.raw`-[0000:00]-+-00.0  Intel Corporation 4th Gen Core Processor DRAM Controller [8086:0c00]
           +-01.0-[01-04]----00.0-[02-04]--+-08.0-[03]--
           |                               \-10.0-[04]--+-00.0  NVIDIA Corporation GK110 [GeForce GTX TITAN] [10de:1005]
           |                                            \-00.1  NVIDIA Corporation GK110 High Definition Audio Controller [10de:0e1a]
           +-14.0  Intel Corporation 8 Series/C220 Series Chipset Family USB xHCI [8086:8c31]
           +-16.0  Intel Corporation 8 Series/C220 Series Chipset Family MEI Controller #1 [8086:8c3a]
           +-19.0  Intel Corporation Ethernet Connection I217-V [8086:153b]
           +-1a.0  Intel Corporation 8 Series/C220 Series Chipset Family USB EHCI #2 [8086:8c2d]
           +-1b.0  Intel Corporation 8 Series/C220 Series Chipset High Definition Audio Controller [8086:8c20]
           +-1c.0-[05]----00.0  Qualcomm Atheros Killer E220x Gigabit Ethernet Controller [1969:e091]
           +-1c.4-[06]--
           +-1c.6-[07]----00.0  Qualcomm Atheros AR9462 Wireless Network Adapter [168c:0034]
           +-1d.0  Intel Corporation 8 Series/C220 Series Chipset Family USB EHCI #1 [8086:8c26]
           +-1f.0  Intel Corporation Z87 Express LPC Controller [8086:8c44]
           +-1f.2  Intel Corporation 8 Series/C220 Series Chipset Family 6-port SATA Controller 1 [AHCI mode] [8086:8c02]
           \-1f.3  Intel Corporation 8 Series/C220 Series Chipset Family SMBus Controller [8086:8c22]
`;

/** `lspci -tvnn` of a made-up two-domain server (real pciutils output, see lspci-tree.test.ts). */

/** `lspci -tvnn` of an AMD server: three switch levels above a GPU and a NIC, and a BMC behind a PCIe-to-PCI bridge. */
const NESTED_TREE = String.raw`-[0000:00]-+-00.0  Advanced Micro Devices, Inc. [AMD] Starship/Matisse Root Complex [1022:1480]
           +-01.1-[01-06]----00.0-[02-06]----00.0-[03-06]----00.0-[04-06]--+-00.0-[05]----00.0  NVIDIA Corporation GA100 [A100 SXM4 40GB] [10de:20b0]
           |                                                               \-01.0-[06]--+-00.0  Mellanox Technologies MT28908 Family [ConnectX-6] [15b3:101b]
           |                                                                            \-00.1  Mellanox Technologies MT28908 Family [ConnectX-6] [15b3:101b]
           \-07.1-[07]----00.0-[08]----00.0  ASPEED Technology, Inc. ASPEED Graphics Family [1a03:2000]
`;

function imported(input: Parameters<typeof importLspci>[0]): { spec: TopologySpec; warnings: readonly ImportIssue[] } {
  const result = importLspci(input);
  if (!result.ok) throw new Error(`${result.error.file}:${result.error.line}: ${result.error.message}`);
  return result;
}

/** The tree as rows: indentation by depth, address, kind, secondary bus. */
function outline(spec: TopologySpec): string[] {
  const rows: string[] = [];
  const visit = (fns: readonly FunctionSpec[], depth: number) => {
    for (const fn of fns) {
      const secondary = fn.secondaryBus === undefined ? "" : ` → ${fn.secondaryBus.toString(16).padStart(2, "0")}`;
      rows.push(`${"  ".repeat(depth)}${fn.bdf} ${fn.kind}${secondary}`);
      visit(fn.children ?? [], depth + 1);
    }
  };
  for (const hb of spec.hostBridges) {
    rows.push(`${hb.id} numa ${hb.numaNode ?? "-"}`);
    visit(hb.devices, 1);
  }
  return rows;
}

function allFunctions(spec: TopologySpec): FunctionSpec[] {
  const out: FunctionSpec[] = [];
  const visit = (fns: readonly FunctionSpec[]) => {
    for (const fn of fns) {
      out.push(fn);
      visit(fn.children ?? []);
    }
  };
  for (const hb of spec.hostBridges) visit(hb.devices);
  return out;
}

const byBdf = (spec: TopologySpec, bdf: string) => allFunctions(spec).find((fn) => fn.bdf === `0000:${bdf}`);
const messages = (warnings: readonly ImportIssue[]) => warnings.map((w) => `${w.line ?? "-"}: ${w.message}`);

const PLATFORM_WARNING =
  "-: lspci does not show the CPU: platform defaults to Intel family 6 on x86; set platform (from lscpu) for the host-bridge rules [kernel.md §a.3 step 5]";

describe("importLspci: the ASUS P9X79-E WS (two PEX 8747 switches, lspci -vvnn as root)", () => {
  const { spec, warnings } = imported({ verbose: { text: ASUS, file: "lspci-vvnn.txt" } });

  it("has the tree SOURCE.md describes, every bridge kind from its Express capability", () => {
    expect(outline(spec)).toEqual([
      "pci0000:00 numa -",
      "  0000:00:00.0 endpoint",
      "  0000:00:01.0 root-port → 05",
      "    0000:05:00.0 endpoint",
      "  0000:00:02.0 root-port → 06",
      "    0000:06:00.0 upstream-port → 07",
      "      0000:07:08.0 downstream-port → 09",
      "      0000:07:10.0 downstream-port → 08",
      "  0000:00:03.0 root-port → 01",
      "    0000:01:00.0 upstream-port → 02",
      "      0000:02:08.0 downstream-port → 04",
      "      0000:02:10.0 downstream-port → 03",
      "        0000:03:00.0 endpoint",
      "  0000:00:05.0 endpoint",
      "  0000:00:05.2 endpoint",
      "  0000:00:05.4 endpoint",
      "  0000:00:11.0 root-port → 0a",
      "  0000:00:16.0 endpoint",
      "  0000:00:1a.0 endpoint",
      "  0000:00:1b.0 endpoint",
      "  0000:00:1c.0 root-port → 0b",
      "    0000:0b:00.0 endpoint",
      "  0000:00:1c.1 root-port → 0c",
      "    0000:0c:00.0 endpoint",
      "  0000:00:1c.2 root-port → 0d",
      "    0000:0d:00.0 endpoint",
      "  0000:00:1c.3 root-port → 0e",
      "    0000:0e:00.0 endpoint",
      "  0000:00:1c.4 root-port → 0f",
      "    0000:0f:00.0 endpoint",
      "  0000:00:1c.6 root-port → 10",
      "    0000:10:00.0 endpoint",
      "  0000:00:1c.7 root-port → 11",
      "    0000:11:00.0 endpoint",
      "  0000:00:1d.0 endpoint",
      "  0000:00:1e.0 pci-bridge → 12",
      "  0000:00:1f.0 endpoint",
      "  0000:00:1f.2 endpoint",
      "  0000:00:1f.3 endpoint",
    ]);
  });

  it("is accepted by buildTopology, with the GPU's upstream chain through the switch", () => {
    const built = buildTopology(spec);
    if (!built.ok) throw new Error(JSON.stringify(built.errors));
    expect([built.topology.functions.length, built.warnings]).toEqual([38, []]);
    expect(
      built.topology
        .find("03:00.0")
        ?.upstreamChain()
        .map((fn) => `${fn.id} ${fn.kind}`),
    ).toEqual(["0000:03:00.0 endpoint", "0000:02:10.0 downstream-port", "0000:01:00.0 upstream-port", "0000:00:03.0 root-port"]);
    expect(built.topology.find("03:00.0")?.identity.deviceKind).toBe("gpu");
  });

  it("reads ACS on the CPU root ports, the PCH virtual root port and the PLX downstream ports, all with control clear", () => {
    expect(allFunctions(spec).flatMap((fn) => (fn.acs ? [`${(fn.bdf ?? "").slice(5)} ${fn.acs.cap.join(",")} / ${fn.acs.ctl?.join(",")}`] : []))).toEqual([
      "00:01.0 SV,TB,RR,CR,UF / ",
      "00:02.0 SV,TB,RR,CR,UF / ",
      "07:08.0 SV,TB,RR,CR,UF,EC,DT / ",
      "07:10.0 SV,TB,RR,CR,UF,EC,DT / ",
      "00:03.0 SV,TB,RR,CR,UF / ",
      "02:08.0 SV,TB,RR,CR,UF,EC,DT / ",
      "02:10.0 SV,TB,RR,CR,UF,EC,DT / ",
      "00:11.0 SV,TB,RR,CR,UF,DT / ",
    ]);
  });

  it("reads links trained below their capability, and drops the trained state of links that are down", () => {
    const slow = allFunctions(spec).flatMap((fn) => {
      const l = fn.link;
      if (!l || (l.gen === l.capGen && l.width === l.capWidth)) return [];
      return [`${(fn.bdf ?? "").slice(5)} cap gen${l.capGen} x${l.capWidth}, trained ${l.gen === undefined ? "-" : `gen${l.gen} x${l.width}`}`];
    });
    expect(slow).toEqual([
      "00:00.0 cap gen1 x4, trained -",
      "00:01.0 cap gen3 x8, trained gen1 x4",
      "07:08.0 cap gen3 x16, trained -",
      "07:10.0 cap gen3 x16, trained -",
      "02:08.0 cap gen3 x16, trained -",
      "02:10.0 cap gen3 x16, trained gen1 x16",
      "00:1c.0 cap gen2 x1, trained gen1 x1",
      "00:1c.1 cap gen2 x1, trained gen1 x1",
      "00:1c.2 cap gen2 x1, trained gen1 x1",
    ]);
  });

  it("reads BARs with addresses and sizes, payload sizes, power states and FLR", () => {
    expect(byBdf(spec, "03:00.0")?.bars).toEqual([
      { index: 0, size: 16 * 2 ** 20, type: "mem32", prefetchable: false, address: "0xfa000000" },
      { index: 1, size: 256 * 2 ** 20, type: "mem64", prefetchable: true, address: "0xd0000000" },
      { index: 3, size: 32 * 2 ** 20, type: "mem64", prefetchable: false, address: "0xf8000000" },
      { index: 5, size: 128, type: "io", prefetchable: false, address: "0xe000" },
    ]);
    expect(byBdf(spec, "05:00.0")?.bars).toEqual([
      { index: 0, size: 256, type: "io", prefetchable: false, address: "0xd000" },
      { index: 1, size: 16 * 2 ** 10, type: "mem64", prefetchable: false, address: "0xfbc40000" },
    ]);
    expect(byBdf(spec, "01:00.0")?.bars).toEqual([{ index: 0, size: 256 * 2 ** 10, type: "mem32", prefetchable: false, address: "0xfb100000" }]);
    const facts = (bdf: string) => {
      const fn = byBdf(spec, bdf);
      return [fn?.vendor, fn?.device, fn?.classCode, fn?.mps, fn?.mrrs, fn?.powerState, fn?.flr, fn?.memoryEnabled];
    };
    expect(facts("03:00.0")).toEqual(["0x10de", "0x0640", "0x030000", 128, 512, "D0", false, true]);
    expect(facts("02:08.0")).toEqual(["0x10b5", "0x8747", "0x060400", 128, 128, "D3hot", undefined, true]);
    expect(facts("00:11.0")).toEqual(["0x8086", "0x1d3e", "0x060400", 128, 512, "D3hot", undefined, true]);
    expect(facts("00:05.0")).toEqual(["0x8086", "0x0e28", "0x088000", 128, 128, undefined, false, false]);
    expect(facts("00:1f.0")).toEqual(["0x8086", "0x1d41", "0x060100", undefined, undefined, undefined, false, true]);
  });

  it("lists its warnings: machine facts lspci lacks, then each function's defaults in file order", () => {
    const conventional = "no PCI Express capability (conventional PCI): endpoint, no link, MPS/MRRS defaults";
    const noAcs = "no ACS capability: treated as none (no redirect here) [kernel.md §a.3]";
    const down = "link down (LnkSta Width x0): trained speed and width omitted (the model then assumes the capability)";
    expect(messages(warnings)).toEqual([
      PLATFORM_WARNING,
      "-: no 'IOMMU group:' lines: the IOMMU is taken as off",
      "-: no 'NUMA node:' lines: every host bridge is put on NUMA node 0",
      `1: 0000:00:00.0: Express capability says Root Port but there is no secondary bus (no 'Bus:' line): imported as an endpoint; ${down}`,
      "284: 0000:00:05.0: no Power Management capability: D0 assumed",
      "302: 0000:00:05.2: no Power Management capability: D0 assumed",
      `404: 0000:00:16.0: ${conventional}`,
      `418: 0000:00:1a.0: ${conventional}`,
      `475: 0000:00:1c.0: ${noAcs}`,
      `531: 0000:00:1c.1: ${noAcs}`,
      `587: 0000:00:1c.2: ${noAcs}`,
      `643: 0000:00:1c.3: ${noAcs}`,
      `699: 0000:00:1c.4: ${noAcs}`,
      `755: 0000:00:1c.6: ${noAcs}`,
      `811: 0000:00:1c.7: ${noAcs}`,
      `867: 0000:00:1d.0: ${conventional}`,
      "885: 0000:00:1e.0: no PCI Express capability (conventional PCI): pci-bridge, no link, MPS/MRRS defaults; no Power Management capability: D0 assumed",
      `899: 0000:00:1f.0: ${conventional}; no Power Management capability: D0 assumed`,
      `908: 0000:00:1f.2: ${conventional}`,
      `933: 0000:00:1f.3: ${conventional}; no Power Management capability: D0 assumed`,
      `1029: 0000:02:08.0: ${down}`,
      `1411: 0000:07:08.0: ${down}`,
      `1502: 0000:07:10.0: ${down}`,
    ]);
  });
});

describe("importLspci: the Gigabyte G1.Sniper 5 (old lspci dialect)", () => {
  const { spec, warnings } = imported({ verbose: { text: GIGABYTE, file: "lspci-vvnn.txt" } });

  it("has the tree SOURCE.md describes, with the GPU and its audio function on one downstream port", () => {
    expect(outline(spec)).toEqual([
      "pci0000:00 numa -",
      "  0000:00:00.0 endpoint",
      "  0000:00:01.0 root-port → 01",
      "    0000:01:00.0 upstream-port → 02",
      "      0000:02:08.0 downstream-port → 03",
      "      0000:02:10.0 downstream-port → 04",
      "        0000:04:00.0 endpoint",
      "        0000:04:00.1 endpoint",
      "  0000:00:14.0 endpoint",
      "  0000:00:16.0 endpoint",
      "  0000:00:19.0 endpoint",
      "  0000:00:1a.0 endpoint",
      "  0000:00:1b.0 endpoint",
      "  0000:00:1c.0 root-port → 05",
      "    0000:05:00.0 endpoint",
      "  0000:00:1c.4 root-port → 06",
      "  0000:00:1c.6 root-port → 07",
      "    0000:07:00.0 endpoint",
      "  0000:00:1d.0 endpoint",
      "  0000:00:1f.0 endpoint",
      "  0000:00:1f.2 endpoint",
      "  0000:00:1f.3 endpoint",
    ]);
    const built = buildTopology(spec);
    expect(built.ok && [built.topology.functions.length, built.warnings]).toEqual([21, []]);
  });

  it("reads ACS on the PLX downstream ports only, and the GPU's link trained at 2.5GT/s x16 of 8GT/s x16", () => {
    expect(allFunctions(spec).flatMap((fn) => (fn.acs ? [`${(fn.bdf ?? "").slice(5)} ${fn.acs.cap.join(",")} / ${fn.acs.ctl?.join(",")}`] : []))).toEqual([
      "02:08.0 SV,TB,RR,CR,UF,EC,DT / ",
      "02:10.0 SV,TB,RR,CR,UF,EC,DT / ",
    ]);
    expect([byBdf(spec, "04:00.0")?.link, byBdf(spec, "04:00.1")?.link, byBdf(spec, "02:08.0")?.link]).toEqual([
      { capGen: 3, capWidth: 16, gen: 1, width: 16 },
      { capGen: 3, capWidth: 16, gen: 1, width: 16 },
      { capGen: 3, capWidth: 16 },
    ]);
    expect(byBdf(spec, "04:00.0")?.bars?.map((bar) => [bar.index, bar.address, bar.size, bar.type, bar.prefetchable])).toEqual([
      [0, "0xf6000000", 2 ** 24, "mem32", false],
      [1, "0xe8000000", 2 ** 27, "mem64", true],
      [3, "0xf0000000", 2 ** 25, "mem64", true],
      [5, "0xe000", 128, "io", false],
    ]);
    expect([byBdf(spec, "01:00.0")?.mps, byBdf(spec, "01:00.0")?.mrrs, byBdf(spec, "1b.0")?.flr, byBdf(spec, "00:19.0")?.flr]).toEqual([
      256,
      128,
      undefined,
      true,
    ]);
  });

  it("lists its warnings", () => {
    const conventional = "no PCI Express capability (conventional PCI): endpoint, no link, MPS/MRRS defaults";
    const noAcs = "no ACS capability: treated as none (no redirect here) [kernel.md §a.3]";
    expect(messages(warnings)).toEqual([
      PLATFORM_WARNING,
      "-: no 'IOMMU group:' lines: the IOMMU is taken as off",
      "-: no 'NUMA node:' lines: every host bridge is put on NUMA node 0",
      `1: 0000:00:00.0: ${conventional}; no Power Management capability: D0 assumed`,
      `9: 0000:00:01.0: ${noAcs}`,
      `71: 0000:00:14.0: ${conventional}`,
      `86: 0000:00:16.0: ${conventional}`,
      `101: 0000:00:19.0: ${conventional}`,
      `122: 0000:00:1a.0: ${conventional}`,
      `180: 0000:00:1c.0: ${noAcs}`,
      `227: 0000:00:1c.4: ${noAcs}`,
      `273: 0000:00:1c.6: ${noAcs}`,
      `319: 0000:00:1d.0: ${conventional}`,
      `337: 0000:00:1f.0: ${conventional}; no Power Management capability: D0 assumed`,
      `346: 0000:00:1f.2: ${conventional}`,
      `366: 0000:00:1f.3: ${conventional}; no Power Management capability: D0 assumed`,
      "441: 0000:02:08.0: link down (LnkSta Width x0): trained speed and width omitted (the model then assumes the capability)",
    ]);
  });
});

describe("importLspci: lspci -t alone", () => {
  it("guesses bridge kinds from their place: root ports, switches (upstream port with bridges below), downstream ports", () => {
    const { spec, warnings } = imported({ tree: { text: SERVER_TREE, file: "tree.txt" } });
    expect(outline(spec)).toEqual([
      "pci0000:00 numa -",
      "  0000:00:00.0 endpoint",
      "  0000:00:01.0 root-port → 01",
      "    0000:01:00.0 upstream-port → 02",
      "      0000:02:08.0 downstream-port → 03",
      "        0000:03:00.0 endpoint",
      "        0000:03:00.1 endpoint",
      "      0000:02:10.0 downstream-port → 04",
      "  0000:00:02.0 root-port → 05",
      "    0000:05:00.0 endpoint",
      "    0000:05:00.1 endpoint",
      "  0000:00:03.0 root-port → 06",
      "pci0000:80 numa -",
      "  0000:80:00.0 endpoint",
      "  0000:80:01.0 root-port → 81",
      "    0000:81:00.0 endpoint",
      "pci0001:00 numa -",
      "  0001:00:00.0 endpoint",
      "  0001:00:02.0 root-port → 01",
      "    0001:01:00.0 endpoint",
    ]);
    expect([byBdf(spec, "03:00.0")?.vendor, byBdf(spec, "03:00.0")?.device, byBdf(spec, "03:00.0")?.description]).toEqual([
      "0x10de",
      "0x1db4",
      "NVIDIA Corporation GV100GL [Tesla V100 PCIe 16GB]",
    ]);
    const guess = (kind: string) => `kind ${kind} guessed from its place in the tree (lspci -t shows no port types)`;
    expect(messages(warnings)).toEqual([
      PLATFORM_WARNING,
      "-: lspci -t shows only the shape: no class codes, ACS (treated as absent), links, BAR addresses or sizes, MPS/MRRS, power states, NUMA nodes or IOMMU groups; defaults apply (add lspci -vvv of the same machine for them)",
      `2: 0000:00:01.0: ${guess("root-port")}`,
      `2: 0000:01:00.0: ${guess("upstream-port")}`,
      `2: 0000:02:08.0: ${guess("downstream-port")}`,
      `4: 0000:02:10.0: ${guess("downstream-port")}`,
      `5: 0000:00:02.0: ${guess("root-port")}`,
      `7: 0000:00:03.0: ${guess("root-port")}`,
      `9: 0000:80:01.0: ${guess("root-port")}`,
      `11: 0001:00:02.0: ${guess("root-port")}`,
    ]);
    const built = buildTopology(spec);
    expect(built.ok && built.topology.hostBridges.map((hb) => [hb.id, hb.domain, hb.rootBus])).toEqual([
      ["pci0000:00", 0, 0],
      ["pci0000:80", 0, 0x80],
      ["pci0001:00", 1, 0],
    ]);
  });

  it("gives the fixture machines' shape from their drawings alone, which buildTopology accepts", () => {
    for (const [tree, count, bridges] of [
      [ASUS_TREE, 38, 18],
      [GIGABYTE_TREE, 21, 7],
    ] as const) {
      const { spec, warnings } = imported({ tree: { text: tree, file: "tree.txt" } });
      const built = buildTopology(spec);
      expect(built.ok && built.topology.functions.length).toBe(count);
      // One guess per bridge; the PCH's subtractive-decode PCI bridge 00:1e.0 is taken for a Root Port.
      expect(warnings.filter((w) => w.message.includes("guessed")).length).toBe(bridges);
    }
    expect(byBdf(imported({ tree: { text: ASUS_TREE, file: "t" } }).spec, "00:1e.0")?.kind).toBe("root-port");
  });

  it("tells three nested switch levels from a PCIe-to-PCI bridge, which has only endpoints below", () => {
    const { spec, warnings } = imported({ tree: { text: NESTED_TREE, file: "tree.txt" } });
    expect(outline(spec)).toEqual([
      "pci0000:00 numa -",
      "  0000:00:00.0 endpoint",
      "  0000:00:01.1 root-port → 01",
      "    0000:01:00.0 upstream-port → 02",
      "      0000:02:00.0 downstream-port → 03",
      "        0000:03:00.0 upstream-port → 04",
      "          0000:04:00.0 downstream-port → 05",
      "            0000:05:00.0 endpoint",
      "          0000:04:01.0 downstream-port → 06",
      "            0000:06:00.0 endpoint",
      "            0000:06:00.1 endpoint",
      "  0000:00:07.1 root-port → 07",
      "    0000:07:00.0 pci-bridge → 08",
      "      0000:08:00.0 endpoint",
    ]);
    expect(buildTopology(spec).ok).toBe(true);
    expect(warnings[0]?.message).toBe(
      "lspci does not show the CPU: platform defaults to Intel family 6 on x86; set platform (from lscpu) for the host-bridge rules [kernel.md §a.3 step 5]" +
        " — the first root-bus device is AMD's, so the AMD Zen rule probably applies",
    );
  });

  it("makes a bus drawn inside a bridge's range, but reached by no bridge, a root bus of its own", () => {
    const text = "-[0000:00]---01.0-[01-04]--+-[0000:01]---00.0  10de:1db4\n                           \\-[0000:03]---00.0  10de:1db4\n";
    const { spec, warnings } = imported({ tree: { text, file: "tree.txt" } });
    expect(outline(spec)).toEqual([
      "pci0000:00 numa -",
      "  0000:00:01.0 root-port → 01",
      "    0000:01:00.0 endpoint",
      "pci0000:03 numa -",
      "  0000:03:00.0 endpoint",
    ]);
    expect(messages(warnings).filter((m) => m.includes("bus 0000:03"))).toEqual([
      "2: bus 0000:03 is drawn in 0000:00:01.0's range but no bridge leads to it: imported as a root bus",
    ]);
    expect(buildTopology(spec).ok).toBe(true);
  });

  it.each([
    ["-+-[0000:00]---00.0\n \\-[0000:00]---01.0\n", 2, "bus 0000:00 is drawn twice (also on line 1): expected each bus once"],
    ["-[0000:00]-+-01.0-[00]----00.0\n           \\-02.0\n", 1, "0000:00:01.0 draws secondary bus 00: expected a bus number above its own bus 00"],
  ])("refuses a drawing no PCI hierarchy has: %j", (text, line, message) => {
    expect(importLspci({ tree: { text, file: "tree.txt" } })).toEqual({ ok: false, error: { file: "tree.txt", line, message } });
  });
});

describe("importLspci: lspci -t and lspci -vvv of the same machine", () => {
  it("gives the -vvv facts in the tree's shape: for the fixtures, exactly the -vvv import and no conflict", () => {
    for (const [tree, text] of [
      [ASUS_TREE, ASUS],
      [GIGABYTE_TREE, GIGABYTE],
    ] as const) {
      const merged = imported({ tree: { text: tree, file: "tree.txt" }, verbose: { text, file: "vvv.txt" } });
      const alone = imported({ verbose: { text, file: "vvv.txt" } });
      expect(merged.spec.hostBridges).toEqual(alone.spec.hostBridges);
      expect(merged.warnings.filter((w) => w.message.startsWith("conflict"))).toEqual([]);
    }
  });

  it("reports every disagreement, following the tree for the shape and -vvv for the facts", () => {
    const tree = GIGABYTE_TREE.replace("[10de:0e1a]", "[10de:0e1b]") // other ids
      .replace("+-1c.4-[06]--", "+-1c.4-[08]--") // another secondary bus
      .replace("+-1a.0  Intel", "+-1a.0-[0a]--\n           +-1a.1  Intel") // a bridge that -vvv calls an endpoint, and a function it lacks
      .replace("           +-1d.0  Intel Corporation 8 Series/C220 Series Chipset Family USB EHCI #1 [8086:8c26]\n", ""); // a function the tree lacks
    const { spec, warnings } = imported({ tree: { text: tree, file: "tree.txt" }, verbose: { text: GIGABYTE, file: "vvv.txt" } });
    expect(warnings.filter((w) => w.message.includes("conflict") || w.message.includes("not in")).map((w) => `${w.file}:${w.line}: ${w.message}`)).toEqual([
      "tree.txt:4: conflict: 0000:04:00.1 is 10de:0e1b in the tree but 10de:0e1a in vvv.txt: the latter is used",
      "tree.txt:8: conflict: 0000:00:1a.0 is drawn as a bridge but vvv.txt shows no 'Bus:' line: the tree is followed",
      "tree.txt:9: 0000:00:1a.1: not in vvv.txt: only the tree's facts",
      "tree.txt:12: conflict: 0000:00:1c.4 leads to bus 08 in the tree but to 06 in vvv.txt: the tree is followed",
      "vvv.txt:319: conflict: 0000:00:1d.0 is in vvv.txt but not in the tree: left out (the tree gives the shape)",
    ]);
    expect([byBdf(spec, "04:00.1")?.device, byBdf(spec, "00:1a.0")?.kind, byBdf(spec, "00:1c.4")?.secondaryBus, byBdf(spec, "00:1d.0")]).toEqual([
      "0x0e1a",
      "pci-bridge",
      8,
      undefined,
    ]);
    expect(buildTopology(spec).ok).toBe(true);
  });
});

/** A small -vvvnnD text: two root buses on two NUMA nodes, with IOMMU groups. */
function server(opts: { portAcsCtl: string; denied?: boolean }): string {
  const caps = (lines: string[]) => (opts.denied ? ["\tCapabilities: <access denied>"] : lines);
  const port = (bdf: string, bus: string, numa: number, type: string) => [
    `${bdf} PCI bridge [0604]: Intel Corporation Sky Lake-E PCI Express Root Port A [8086:2030] (rev 04) (prog-if 00 [Normal decode])`,
    "\tControl: I/O+ Mem+ BusMaster+ SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx+",
    `\tNUMA node: ${numa}`,
    "\tIOMMU group: 3",
    `\tBus: ${bus}, sec-latency=0`,
    ...caps([
      `\tCapabilities: [90] Express (v2) ${type}, MSI 00`,
      "\t\tDevCtl:\tCorrErr- NonFatalErr- FatalErr- UnsupReq-",
      "\t\t\tMaxPayload 256 bytes, MaxReadReq 128 bytes",
      "\t\tLnkCap:\tPort #0, Speed 16GT/s, Width x16, ASPM not supported",
      "\t\tLnkSta:\tSpeed 16GT/s, Width x16",
      "\tCapabilities: [e0] Power Management version 3",
      "\t\tStatus: D0 NoSoftRst- PME-Enable- DSel=0 DScale=0 PME-",
      "\tCapabilities: [110 v1] Access Control Services",
      "\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-",
      `\t\tACSCtl:\t${opts.portAcsCtl}`,
    ]),
  ];
  const endpoint = (bdf: string, numa: number) => [
    `${bdf} 3D controller [0302]: NVIDIA Corporation GH100 [H100 PCIe] [10de:2331] (rev a1)`,
    "\tControl: I/O- Mem+ BusMaster+ SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx+",
    `\tNUMA node: ${numa}`,
    "\tIOMMU group: 4",
    "\tRegion 0: Memory at 3bf000000000 (64-bit, prefetchable) [size=64G]",
    ...caps([
      "\tCapabilities: [60] Express (v2) Endpoint, MSI 00",
      "\t\tDevCap:\tMaxPayload 256 bytes, PhantFunc 0",
      "\t\t\tExtTag+ RBE+ FLReset+",
      "\t\tDevCtl:\tCorrErr- NonFatalErr- FatalErr- UnsupReq-",
      "\t\t\tMaxPayload 256 bytes, MaxReadReq 512 bytes",
      "\t\tLnkCap:\tPort #0, Speed 32GT/s, Width x16, ASPM not supported",
      "\t\tLnkSta:\tSpeed 16GT/s (downgraded), Width x16",
      "\tCapabilities: [40] Power Management version 3",
      "\t\tStatus: D0 NoSoftRst- PME-Enable- DSel=0 DScale=0 PME-",
    ]),
  ];
  return [
    ...port("0000:00:01.0", "primary=00, secondary=01, subordinate=03", 0, "Root Port (Slot+)"),
    "",
    ...port("0000:01:00.0", "primary=01, secondary=02, subordinate=03", 0, "Upstream Port"),
    "",
    ...port("0000:02:00.0", "primary=02, secondary=03, subordinate=03", 0, "Downstream Port (Slot+)"),
    "",
    ...endpoint("0000:03:00.0", 0),
    "",
    ...port("0000:80:01.0", "primary=80, secondary=81, subordinate=81", 1, "Root Port (Slot+)"),
    "",
    ...endpoint("0000:81:00.0", 1),
    "",
  ].join("\n");
}

describe("importLspci: NUMA nodes, IOMMU groups and unreadable capabilities", () => {
  it("puts each host bridge on its functions' NUMA node and turns the IOMMU on when lspci shows IOMMU groups", () => {
    const on = "SrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-";
    const { spec, warnings } = imported({ verbose: { text: server({ portAcsCtl: on }), file: "vvv.txt" } });
    expect([spec.iommu, ...outline(spec)]).toEqual([
      "on",
      "pci0000:00 numa 0",
      "  0000:00:01.0 root-port → 01",
      "    0000:01:00.0 upstream-port → 02",
      "      0000:02:00.0 downstream-port → 03",
      "        0000:03:00.0 endpoint",
      "pci0000:80 numa 1",
      "  0000:80:01.0 root-port → 81",
      "    0000:81:00.0 endpoint",
    ]);
    expect(messages(warnings)).toEqual([PLATFORM_WARNING]);
    expect([byBdf(spec, "81:00.0")?.numaNode, byBdf(spec, "81:00.0")?.link, byBdf(spec, "81:00.0")?.flr]).toEqual([
      1,
      { capGen: 5, capWidth: 16, gen: 4, width: 16 },
      true,
    ]);
  });

  it("keeps ACS control as read, and warns where it lacks bits the kernel would set with an IOMMU", () => {
    const { spec, warnings } = imported({
      verbose: { text: server({ portAcsCtl: "SrcValid- TransBlk- ReqRedir- CmpltRedir- UpstreamFwd- EgressCtrl- DirectTrans-" }), file: "vvv.txt" },
    });
    const clear =
      "ACSCtl has SV, RR, CR, UF clear although the IOMMU is on (pci=disable_acs_redir or config_acs at boot?): kept as read [kernel.md §a.3, §a.8]";
    expect(messages(warnings).slice(1)).toEqual([
      `1: 0000:00:01.0: ${clear}`,
      `17: 0000:01:00.0: ${clear}`,
      `33: 0000:02:00.0: ${clear}`,
      `64: 0000:80:01.0: ${clear}`,
    ]);
    const built = buildTopology(spec);
    expect(spec.kernel).toEqual({ acsConfigured: true });
    expect(built.ok && built.topology.find("02:00.0")?.acsCtl).toBe(0);
  });

  it("without root: guesses bridge kinds from their place and warns once per function", () => {
    const { spec, warnings } = imported({ verbose: { text: server({ portAcsCtl: "", denied: true }), file: "vvv.txt" } });
    expect(outline(spec).filter((row) => row.startsWith(" "))).toEqual([
      "  0000:00:01.0 root-port → 01",
      "    0000:01:00.0 upstream-port → 02",
      "      0000:02:00.0 downstream-port → 03",
      "        0000:03:00.0 endpoint",
      "  0000:80:01.0 root-port → 81",
      "    0000:81:00.0 endpoint",
    ]);
    const denied = "capabilities unreadable (lspci ran without root): no ACS (treated as absent), link, MPS/MRRS, FLR or power state; defaults apply";
    expect(messages(warnings).slice(1)).toEqual([
      `1: 0000:00:01.0: ${denied}; kind root-port guessed from its place in the tree (capabilities unreadable)`,
      `8: 0000:01:00.0: ${denied}; kind upstream-port guessed from its place in the tree (capabilities unreadable)`,
      `15: 0000:02:00.0: ${denied}; kind downstream-port guessed from its place in the tree (capabilities unreadable)`,
      `22: 0000:03:00.0: ${denied}`,
      `29: 0000:80:01.0: ${denied}; kind root-port guessed from its place in the tree (capabilities unreadable)`,
      `36: 0000:81:00.0: ${denied}`,
    ]);
    expect(byBdf(spec, "03:00.0")?.bars).toEqual([{ index: 0, size: 2 ** 36, type: "mem64", prefetchable: true, address: "0x3bf000000000" }]);
  });

  it("notes bridges whose secondary bus cannot be theirs, and buses inside a range that no listed bridge reaches", () => {
    const text = [
      "00:01.0 PCI bridge [0604]: X [8086:2030]",
      "\tBus: primary=00, secondary=02, subordinate=05, sec-latency=0",
      "",
      "00:02.0 PCI bridge [0604]: X [8086:2031]",
      "\tBus: primary=00, secondary=02, subordinate=02, sec-latency=0",
      "",
      "00:03.0 PCI bridge [0604]: X [8086:2032]",
      "\tBus: primary=00, secondary=00, subordinate=00, sec-latency=0",
      "",
      "04:00.0 Ethernet controller [0200]: Y [8086:1533]",
      "\tControl: I/O- Mem+",
      "",
    ].join("\n");
    const { spec, warnings } = imported({ verbose: { text, file: "vvv.txt" } });
    expect(outline(spec)).toEqual([
      "pci0000:00 numa -",
      "  0000:00:01.0 pci-bridge → 02",
      "  0000:00:02.0 pci-bridge",
      "  0000:00:03.0 pci-bridge",
      "pci0000:04 numa -",
      "  0000:04:00.0 endpoint",
    ]);
    expect(messages(warnings).filter((m) => m.includes("bus"))).toEqual([
      "4: 0000:00:02.0: no PCI Express capability (conventional PCI): pci-bridge, no link, MPS/MRRS defaults; no Control line: memory decoding taken as enabled; no Power Management capability: D0 assumed; secondary bus 0000:02 is also 0000:00:01.0's: its bus is enumerated",
      "7: 0000:00:03.0: no PCI Express capability (conventional PCI): pci-bridge, no link, MPS/MRRS defaults; no Control line: memory decoding taken as enabled; no Power Management capability: D0 assumed; secondary bus 0000:00 is not above its own bus (bridge not configured?): its bus is enumerated",
      "10: bus 0000:04 lies in 0000:00:01.0's bus range but no listed bridge leads to it: imported as a root bus",
    ]);
    expect(buildTopology(spec).ok).toBe(true);
  });

  it("keeps the address of a BAR whose decoding is off, and drops those of unassigned and virtual BARs", () => {
    const text = [
      "00:02.0 3D controller [0302]: NVIDIA Corporation GH100 [10de:2331]",
      "\tControl: I/O- Mem- BusMaster-",
      "\tRegion 0: Memory at 3bf000000000 (64-bit, prefetchable) [disabled] [size=64G]",
      "\tRegion 2: Memory at <unassigned> (64-bit, prefetchable) [size=32M]",
      "\tRegion 4: Memory at 3c0000000000 (64-bit, prefetchable) [virtual] [size=1G]",
      "\tRegion 5: I/O ports at e000",
      "",
    ].join("\n");
    const { spec, warnings } = imported({ verbose: { text, file: "vvv.txt" } });
    expect([byBdf(spec, "00:02.0")?.memoryEnabled, byBdf(spec, "00:02.0")?.bars]).toEqual([
      false,
      [
        { index: 0, size: 2 ** 36, type: "mem64", prefetchable: true, address: "0x3bf000000000" },
        { index: 2, size: 2 ** 25, type: "mem64", prefetchable: true },
        { index: 4, size: 2 ** 30, type: "mem64", prefetchable: true },
      ],
    ]);
    expect(messages(warnings).at(-1)).toBe(
      "1: 0000:00:02.0: no PCI Express capability (conventional PCI): endpoint, no link, MPS/MRRS defaults; no Power Management capability: D0 assumed; " +
        "BAR 2 is unassigned: size kept, address left to the build; BAR 4 is [virtual] (not in the BAR register): size kept, address left to the build; " +
        "BAR 5 has no [size=]: left out; memory BARs marked [disabled] (Mem- in Control): addresses kept, memory decoding off",
    );
  });

  it("warns about what plain -vvv (without -nn) lacks", () => {
    const text = "00:02.0 VGA compatible controller: Intel Corporation HD Graphics (rev 06)\n\tControl: I/O+ Mem+\n";
    expect(messages(imported({ verbose: { text, file: "v" } }).warnings).slice(1, 3)).toEqual([
      "-: 1 functions have no [vendor:device] ids (lspci run without -nn): vendor and device default to ffff",
      "-: the class codes of 1 functions come from their class names (lspci run without -nn)",
    ]);
  });
});

describe("importLspci: inputs and failures", () => {
  it("fails with the file and line of the first malformed line, or when given nothing", () => {
    expect(importLspci({})).toEqual({ ok: false, error: { file: "<none>", message: "expected the text of lspci -t, of lspci -vvv, or both" } });
    expect(importLspci({ verbose: { text: "00:01.0 X [0200]: Y [1234:5678]\n\tBus: primary=0", file: "a.txt" } })).toEqual({
      ok: false,
      error: { file: "a.txt", line: 2, message: "expected 'Bus: primary=BB, secondary=BB, subordinate=BB, …'" },
    });
    expect(importLspci({ tree: { text: "-[0000:00]---zz", file: "t.txt" }, verbose: { text: ASUS, file: "a.txt" } })).toEqual({
      ok: false,
      error: { file: "t.txt", line: 1, message: "column 14: expected a device and function such as '00.0'" },
    });
  });

  it("re-exports the format detectors", () => {
    expect([looksLikeLspciTree(ASUS_TREE), looksLikeLspciTree(ASUS), looksLikeLspciVerbose(ASUS), looksLikeLspciVerbose(ASUS_TREE)]).toEqual([
      true,
      false,
      true,
      false,
    ]);
  });

  /** Either an import that buildTopology takes (or rejects with errors, not a throw), or an error located in one of the inputs. */
  function checkOutcome(input: Parameters<typeof importLspci>[0]) {
    const result = importLspci(input);
    if (result.ok) {
      const built = buildTopology(result.spec);
      expect(built.ok || built.errors.length > 0).toBe(true);
      return;
    }
    const source = [input.tree, input.verbose].find((t) => t?.file === result.error.file);
    expect(source).toBeDefined();
    expect(result.error.line).toBeGreaterThanOrEqual(1);
    expect(result.error.line).toBeLessThanOrEqual(Math.max(1, (source?.text ?? "").split("\n").length));
  }

  const mutate = (text: string) => {
    const lines = text.split("\n");
    return fc.array(fc.tuple(fc.nat(lines.length - 1), fc.constantFrom("drop", "duplicate", "truncate"), fc.nat(300)), { maxLength: 10 }).map((edits) => {
      const copy = [...lines];
      for (const [at, edit, cut] of edits) {
        const index = Math.min(at, copy.length - 1);
        const line = copy[index] as string;
        if (edit === "drop") copy.splice(index, 1);
        else if (edit === "duplicate") copy.splice(index, 0, line);
        else copy[index] = line.slice(0, cut % (line.length + 1));
      }
      return copy.join("\n");
    });
  };

  it("never throws on arbitrary text, in either input", () => {
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: fc.constantFrom("\t", "\n", " ", "-", "+", "\\", "|", "[", "]", ":", ".", "0", "1", "Bus: ", "Region 0: ") }),
    );
    fc.assert(
      fc.property(text, text, (a, b) => {
        checkOutcome({ tree: { text: a, file: "t" } });
        checkOutcome({ verbose: { text: b, file: "v" } });
        checkOutcome({ tree: { text: a, file: "t" }, verbose: { text: b, file: "v" } });
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on the fixtures with lines dropped, duplicated or truncated", () => {
    fc.assert(
      fc.property(mutate(ASUS), mutate(GIGABYTE), mutate(ASUS_TREE), mutate(GIGABYTE_TREE), (asus, gigabyte, asusTree, gigabyteTree) => {
        checkOutcome({ verbose: { text: asus, file: "asus.txt" } });
        checkOutcome({ verbose: { text: gigabyte, file: "gigabyte.txt" } });
        checkOutcome({ tree: { text: asusTree, file: "asus-tree.txt" } });
        checkOutcome({ tree: { text: asusTree, file: "asus-tree.txt" }, verbose: { text: asus, file: "asus.txt" } });
        checkOutcome({ tree: { text: gigabyteTree, file: "gigabyte-tree.txt" }, verbose: { text: gigabyte, file: "gigabyte.txt" } });
      }),
      { numRuns: 300 },
    );
  });
});

describe("synthLspciVerbose (the import benchmark's input)", () => {
  it("is deterministic, near the asked length, and imports into a valid topology of whole units", () => {
    const text = synthLspciVerbose(40_000);
    expect(synthLspciVerbose(40_000)).toBe(text);
    const lines = text.split("\n").length;
    expect(lines).toBeGreaterThanOrEqual(40_000);
    expect(lines).toBeLessThan(40_700);
    const { spec, warnings } = imported({ verbose: { text, file: "synth.txt" } });
    const built = buildTopology(spec);
    if (!built.ok) throw new Error(JSON.stringify(built.errors.slice(0, 3)));
    const kinds = new Map<string, number>();
    for (const fn of built.topology.functions) kinds.set(fn.identity.deviceKind, (kinds.get(fn.identity.deviceKind) ?? 0) + 1);
    const units = kinds.get("nvme") ?? 0;
    expect(units).toBeGreaterThan(10);
    expect(Object.fromEntries(kinds)).toEqual({ bridge: 6 * units, gpu: 2 * units, nic: 2 * units, nvme: units, other: spec.hostBridges.length });
    expect([spec.iommu, new Set(spec.hostBridges.map((hb) => hb.numaNode)).size > 1, spec.hostBridges.some((hb) => (hb.domain ?? 0) > 0)]).toEqual([
      "on",
      true,
      true,
    ]);
    // Only the host bridges' own functions lack a Power Management capability.
    expect(warnings.length).toBe(1 + spec.hostBridges.length);
  });
});

describe("importLspci: pair results on the fixtures (kernel.md §a.3-a.5)", () => {
  it("classifies pairs of each machine as the kernel would", () => {
    const rows: string[] = [];
    const cases: Array<[string, Array<[string, string]>]> = [
      [
        "lspci-asus-p9x79-e-ws-2x-pex8747",
        [
          ["03:00.0", "05:00.0"],
          ["0b:00.0", "0c:00.0"],
        ],
      ],
      [
        "lspci-gigabyte-g1-sniper-5-pex8747",
        [
          ["04:00.0", "04:00.1"],
          ["04:00.0", "05:00.0"],
        ],
      ],
    ];
    for (const [dir, pairs] of cases) {
      const text = readFileSync(join(FIXTURES, dir, "lspci-vvnn.txt"), "utf8");
      const imported = importLspci({ verbose: { text, file: "f" } });
      if (!imported.ok) throw new Error(imported.error.message);
      const built = buildTopology(imported.spec);
      if (!built.ok) throw new Error("build");
      const t = built.topology;
      for (const [a, b] of pairs) {
        const fa = t.find(a) as PciFunction;
        const fb = t.find(b) as PciFunction;
        const r = calcMapTypeAndDist(fa, fb, t);
        rows.push(`${a} ${b} ${r.mapType} ${r.distance} ${nvidiaSmiLevel(fa, fb)}`);
      }
    }
    // Ivy Bridge-E (8086:0e00) and Haswell desktop (8086:0c00) host bridges are not on the allow
    // list (§a.4), so only the two functions of the GTX TITAN, below one switch port, get BUS_ADDR.
    expect(rows).toEqual([
      "03:00.0 05:00.0 not-supported 6 PHB",
      "0b:00.0 0c:00.0 not-supported 4 PHB",
      "04:00.0 04:00.1 bus-addr 2 PIX",
      "04:00.0 05:00.0 not-supported 6 PHB",
    ]);
  });
});
