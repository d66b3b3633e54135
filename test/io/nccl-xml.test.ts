import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ImportIssue, TopologyImport } from "../../src/io/import-types.js";
import { importNcclXml, linkFromGTs, looksLikeNcclXml, type NcclImportOptions, ncclPlatform } from "../../src/io/nccl-xml.js";
import { parseXml } from "../../src/io/xml.js";
import { buildTopology } from "../../src/pci/build-topology.js";
import { nvidiaSmiLevel } from "../../src/pci/nvidia-level.js";
import type { Topology } from "../../src/pci/topology.js";
import { FIXTURES } from "../support/fixtures.js";
import { assertTopologyOrLocatedError, mutate, mutation } from "../support/import-properties.js";
import { treeRows } from "../support/topology-rows.js";

const DGX_FILE = "nccl-dgx-a100-rome-8gpu/nccl-topo.xml";
const HGX_FILE = "nccl-hgx-a100-80g-icelake-2s-cx6dx/nccl-topo.xml";
const dgxText = readFileSync(`${FIXTURES}/${DGX_FILE}`, "utf8");
const hgxText = readFileSync(`${FIXTURES}/${HGX_FILE}`, "utf8");

function imported(text: string, file: string, options: NcclImportOptions = {}): { topology: Topology; result: Extract<TopologyImport, { ok: true }> } {
  const result = importNcclXml(text, file, options);
  if (!result.ok) throw new Error(`import failed: ${JSON.stringify(result.error)}`);
  const built = buildTopology(result.spec);
  if (!built.ok) throw new Error(`build failed: ${JSON.stringify(built.errors)}`);
  expect(built.warnings).toEqual([]);
  return { topology: built.topology, result };
}

/** Each endpoint with its alias and the switch upstream ports above it, nearest first: which devices sit under which switch. */
function endpointsUnderSwitches(topology: Topology): string[] {
  return topology.functions
    .filter((fn) => fn.kind === "endpoint")
    .map((fn) => {
      const switches = fn.upstreamChain().filter((node) => node.kind === "upstream-port");
      return `${fn.hostBridge.id} ${fn.label} < ${switches.map((s) => s.id.slice(5)).join(" < ")}`;
    });
}

function level(topology: Topology, a: string, b: string): string {
  const fa = topology.find(a);
  const fb = topology.find(b);
  if (!fa || !fb) throw new Error(`missing ${a} or ${b}`);
  return nvidiaSmiLevel(fa, fb);
}

function messageCounts(warnings: readonly ImportIssue[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const w of warnings) {
    const key = w.message
      .replace(/\b[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.\d\b/g, "X")
      .replace(/\bpci[0-9a-f]{4}:[0-9a-f]{2}\b/g, "pciX")
      .replace(/\((mlx5_[^)]*)\)/, "(…)")
      .replace(/^\d+ /, "N ");
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe("NCCL XML: DGX A100 (2x EPYC Rome, 8 NUMA nodes)", () => {
  const { topology, result } = imported(dgxText, DGX_FILE);

  it("makes one host bridge per <cpu>, with NUMA node = numaid", () => {
    expect(topology.hostBridges.map((hb) => `${hb.id} numa ${hb.numaNode} socket ${hb.socket}`)).toEqual([
      "pci0000:00 numa 3 socket 3",
      "pci0000:40 numa 1 socket 1",
      "pci0000:60 numa 0 socket 0",
      "pci0000:80 numa 7 socket 7",
      "pci0000:b0 numa 5 socket 5",
      "pci0000:e0 numa 4 socket 4",
    ]);
  });

  it("fills the folded root port and downstream ports around NCCL's three switch levels", () => {
    expect(treeRows(topology, ["pci0000:00", "pci0000:60"])).toEqual([
      "pci0000:00 numa 3 socket 3",
      "  00:01.0 root-port ffff:ffff bridge Gen4 x16",
      "    01:00.0 upstream-port 1000:c010 bridge Gen4 x16",
      "      02:00.0 downstream-port 1000:c010 bridge Gen4 x16",
      "        03:00.0 upstream-port 1000:c010 bridge Gen4 x16",
      "          04:00.0 downstream-port 1000:c010 bridge Gen4 x16",
      "            05:00.0 upstream-port 1000:c010 bridge Gen4 x16",
      "              06:00.0 downstream-port 1000:c010 bridge Gen4 x16",
      "                07:00.0 endpoint 10de:20b0 gpu Gen4 x16 gpu0",
      "      02:01.0 downstream-port 1000:c010 bridge Gen4 x16",
      "        0a:00.0 upstream-port 1000:c010 bridge Gen4 x16",
      "          0b:00.0 downstream-port 1000:c010 bridge Gen4 x16",
      "            0c:00.0 endpoint 15b3:101b nic Gen4 x16 mlx5_0",
      "          0b:01.0 downstream-port 1000:c010 bridge Gen4 x16",
      "            0d:00.0 upstream-port 1000:c010 bridge Gen4 x16",
      "              0e:00.0 downstream-port 1000:c010 bridge Gen4 x16",
      "                0f:00.0 endpoint 10de:20b0 gpu Gen4 x16 gpu1",
      "      02:02.0 downstream-port 1000:c010 bridge Gen4 x16",
      "        10:00.0 upstream-port 1000:c010 bridge Gen4 x16",
      "          11:00.0 downstream-port 1000:c010 bridge Gen4 x16",
      "            12:00.0 endpoint 15b3:101b nic Gen4 x16 mlx5_1",
      "pci0000:60 numa 0 socket 0",
      "  60:01.0 root-port ffff:ffff bridge Gen4 x16",
      "    61:00.0 endpoint 15b3:101b nic Gen4 x16 mlx5_4",
    ]);
    expect(topology.find("0000:02:00.0")?.identity.description).toBe(
      "assumed downstream port (not in the file: NCCL keeps only the upstream port of each switch)",
    );
  });

  it("puts every GPU and NIC under the switches SOURCE.md names", () => {
    expect(endpointsUnderSwitches(topology)).toEqual([
      "pci0000:00 gpu0 < 05:00.0 < 03:00.0 < 01:00.0",
      "pci0000:00 mlx5_0 < 0a:00.0 < 01:00.0",
      "pci0000:00 gpu1 < 0d:00.0 < 0a:00.0 < 01:00.0",
      "pci0000:00 mlx5_1 < 10:00.0 < 01:00.0",
      "pci0000:40 mlx5_2 < 49:00.0 < 41:00.0",
      "pci0000:40 gpu3 < 4c:00.0 < 49:00.0 < 41:00.0",
      "pci0000:40 mlx5_3 < 50:00.0 < 41:00.0",
      "pci0000:40 gpu2 < 45:00.0 < 43:00.0 < 41:00.0",
      "pci0000:60 mlx5_4 < ",
      "pci0000:80 mlx5_6 < 8b:00.0 < 81:00.0",
      "pci0000:80 gpu5 < 8e:00.0 < 8b:00.0 < 81:00.0",
      "pci0000:80 mlx5_7 < 92:00.0 < 81:00.0",
      "pci0000:80 gpu4 < 85:00.0 < 83:00.0 < 81:00.0",
      "pci0000:b0 mlx5_8 < b8:00.0 < b1:00.0",
      "pci0000:b0 gpu7 < bb:00.0 < b8:00.0 < b1:00.0",
      "pci0000:b0 mlx5_9 < be:00.0 < b1:00.0",
      "pci0000:b0 gpu6 < b5:00.0 < b3:00.0 < b1:00.0",
      "pci0000:e0 mlx5_10 < ",
    ]);
    const kinds = topology.functions.map((fn) => fn.identity.deviceKind);
    expect([kinds.filter((k) => k === "gpu").length, kinds.filter((k) => k === "nic").length]).toEqual([8, 10]);
    expect(topology.find("mlx5_0")?.identity.classCode).toBe(0x020700);
    expect(topology.find("mlx5_4")?.identity.description).toBe("network ports mlx5_4, mlx5_5");
  });

  it("decodes NCCL's familyid 143 as AMD family 0x17 (Zen 2), so the Zen rule applies", () => {
    expect(result.spec.platform).toEqual({ cpuVendor: "amd", cpuFamily: 0x17, cpuModel: 49, arch: "x86" });
  });

  it("gives PXB for GPU and NIC meeting in a switch, SYS across NUMA nodes", () => {
    expect([level(topology, "gpu0", "mlx5_0"), level(topology, "gpu1", "mlx5_0"), level(topology, "gpu0", "gpu1"), level(topology, "gpu0", "gpu2")]).toEqual([
      "PXB",
      "PXB",
      "PXB",
      "SYS",
    ]);
  });

  it("warns once per assumed port, multi-port NIC, and about NVLink, sockets, ACS and the host bridge device", () => {
    expect(messageCounts(result.warnings)).toEqual({
      "X lists 2 network ports (…): named after the first (NCCL merges a multi-port NIC's functions)": 2,
      "N <nvlink> elements ignored: p2psim models PCIe only": 1,
      "NCCL does not say which CPU package a NUMA node belongs to: each host bridge's socket is taken to be its NUMA node": 1,
      "assumed root port X between host bridge pciX and X: NCCL folds root ports into <cpu>": 6,
      "assumed downstream port X between X and X: NCCL keeps only the upstream port of each switch": 36,
      "the file carries no ACS capabilities: every function is imported without one, so p2pdma sees no ACS redirect [kernel.md §a.3]": 1,
      "the file does not list each host bridge's own device (00.0 on the root bus): the host-bridge allow list [kernel.md §a.4] reads the first function on the root bus instead": 1,
    });
    expect(result.warnings.find((w) => w.message.startsWith("assumed root port"))).toEqual({
      file: DGX_FILE,
      line: 3,
      xmlPath: "/system/cpu[1]/pci[1]",
      message: "assumed root port 0000:00:01.0 between host bridge pci0000:00 and 0000:01:00.0: NCCL folds root ports into <cpu>",
    });
    expect(result.warnings.find((w) => w.message.includes("nvlink"))?.message).toBe("48 <nvlink> elements ignored: p2psim models PCIe only");
  });

  it("ignores the stray text numbers after some <pci> tags", () => {
    const cleaned = dgxText.replace(/>\d+\n/g, ">\n");
    expect(cleaned).not.toBe(dgxText);
    const again = importNcclXml(cleaned, DGX_FILE);
    expect(again.ok && again.spec).toEqual(result.spec);
  });
});

describe("NCCL XML: HGX A100 80GB (2x Ice Lake-SP, older dump style)", () => {
  const { topology, result } = imported(hgxText, HGX_FILE, { hostBridges: "per-cpu" });

  it("puts every GPU and NIC under the switches SOURCE.md names, one NIC directly on the CPU node", () => {
    expect(endpointsUnderSwitches(topology)).toEqual([
      "pci0000:05 mlx5_bond_0 < ",
      "pci0000:05 gpu0 < 11:00.0 < 0e:00.0 < 0c:00.0",
      "pci0000:05 gpu1 < 17:00.0 < 15:00.0 < 0c:00.0",
      "pci0000:05 mlx5_bond_1 < 15:00.0 < 0c:00.0",
      "pci0000:05 gpu2 < 46:00.0 < 43:00.0 < 41:00.0",
      "pci0000:05 gpu3 < 4b:00.0 < 49:00.0 < 41:00.0",
      "pci0000:05 mlx5_bond_2 < 49:00.0 < 41:00.0",
      "pci0000:81 gpu4 < 87:00.0 < 84:00.0 < 82:00.0",
      "pci0000:81 gpu5 < 8c:00.0 < 8a:00.0 < 82:00.0",
      "pci0000:81 mlx5_bond_3 < 8a:00.0 < 82:00.0",
      "pci0000:81 gpu6 < ab:00.0 < a8:00.0 < a6:00.0",
      "pci0000:81 gpu7 < b1:00.0 < af:00.0 < a6:00.0",
      "pci0000:81 mlx5_bond_4 < af:00.0 < a6:00.0",
    ]);
    expect(topology.hostBridges.map((hb) => [hb.numaNode, hb.socket, hb.rootFunctions.map((fn) => fn.id.slice(5))])).toEqual([
      [0, 0, ["05:01.0", "05:02.0", "05:03.0"]],
      [1, 1, ["81:01.0", "81:02.0"]],
    ]);
    expect(topology.find("mlx5_bond_1")?.identity.classCode).toBe(0x020000);
    expect(topology.find("gpu0")?.link).toEqual({ capGen: 4, capWidth: 16, gen: 4, width: 16 });
    expect(result.spec.platform).toEqual({ cpuVendor: "intel", cpuFamily: 6, cpuModel: 106, arch: "x86" });
  });

  it("gives PXB within a top-level switch and PHB across top-level ports of one <cpu> with one host bridge per <cpu>", () => {
    expect([level(topology, "gpu1", "mlx5_bond_1"), level(topology, "gpu0", "gpu1"), level(topology, "gpu0", "gpu2"), level(topology, "gpu0", "gpu4")]).toEqual(
      ["PXB", "PXB", "PHB", "SYS"],
    );
  });

  it("gives NODE across top-level ports of one <cpu> with one host bridge per root port (the default), as SOURCE.md expects", () => {
    const split = imported(hgxText, HGX_FILE).topology;
    expect(split.hostBridges.map((hb) => `${hb.id} numa ${hb.numaNode}`)).toEqual([
      "pci0000:05 numa 0",
      "pci0000:0b numa 0",
      "pci0000:40 numa 0",
      "pci0000:81 numa 1",
      "pci0000:a5 numa 1",
    ]);
    expect([level(split, "gpu1", "mlx5_bond_1"), level(split, "gpu0", "gpu2"), level(split, "gpu0", "gpu4")]).toEqual(["PXB", "NODE", "SYS"]);
  });
});

describe("NCCL attributes", () => {
  it("reads both link_speed spellings and rejects what is not a PCIe link", () => {
    const cases: Array<[string | undefined, string | undefined, string]> = [
      ["16.0 GT/s PCIe", "16", "Gen4 x16"],
      ["16 GT/s", "16", "Gen4 x16"],
      ["2.5 GT/s", "1", "Gen1 x1"],
      ["5.0 GT/s PCIe", "4", "Gen2 x4"],
      ["8 GT/s", "8", "Gen3 x8"],
      ["32.0 GT/s PCIe", "16", "Gen5 x16"],
      ["64.0 GT/s PCIe", "2", "Gen6 x2"],
      ["Unknown", "16", "-"],
      ["16 GT/s", "0", "-"],
      ["16 GT/s", "3", "-"],
      [undefined, undefined, "-"],
    ];
    const read = (speed: string | undefined, width: string | undefined) => {
      const { link, warning } = linkFromGTs(speed, width, "0000:01:00.0");
      expect(link === undefined).toBe(warning !== undefined);
      return link ? `Gen${link.gen} x${link.width}` : "-";
    };
    expect(cases.map(([speed, width]) => read(speed, width))).toEqual(cases.map(([, , expected]) => expected));
  });

  it("decodes the CPU identity the way NCCL encodes familyid", () => {
    const cpu = (attributes: string) => {
      const parsed = parseXml(`<system><cpu ${attributes}/></system>`);
      if (!parsed.ok) throw new Error(parsed.message);
      const warnings: ImportIssue[] = [];
      return [ncclPlatform(parsed.root.children, "f.xml", warnings), warnings.length];
    };
    expect([
      cpu('arch="x86_64" vendor="AuthenticAMD" familyid="143" modelid="49"'),
      cpu('arch="x86_64" vendor="AuthenticAMD" familyid="175" modelid="1"'),
      cpu('arch="x86_64" vendor="GenuineIntel" familyid="6" modelid="143"'),
      cpu('arch="x86_64" vendor="HygonGenuine" familyid="159" modelid="0"'),
      cpu('arch="arm64"'),
      cpu('numaid="0"'),
    ]).toEqual([
      [{ cpuVendor: "amd", cpuFamily: 0x17, cpuModel: 49, arch: "x86" }, 0],
      [{ cpuVendor: "amd", cpuFamily: 0x19, cpuModel: 1, arch: "x86" }, 0],
      [{ cpuVendor: "intel", cpuFamily: 6, cpuModel: 143, arch: "x86" }, 0],
      [{ cpuVendor: "other", cpuFamily: 0x18, cpuModel: 0, arch: "x86" }, 0],
      [{ cpuVendor: "other", cpuFamily: 0, arch: "arm64" }, 0],
      [{ cpuVendor: "intel", cpuFamily: 6 }, 1],
    ]);
  });
});

const pci = (busid: string, cls: string, inner = "") =>
  `<pci busid="${busid}" class="${cls}" vendor="0x15b3" device="0x101b" link_speed="16.0 GT/s PCIe" link_width="16">${inner}</pci>`;

describe("NCCL holes and malformed input", () => {
  it("defaults a missing numaid, skips PCI-less NICs, and splits a <cpu> by PCI domain", () => {
    const text = `<system version="1">
  <cpu numaid="-1" arch="x86_64" vendor="GenuineIntel" familyid="6" modelid="106">
    <nic><net name="veth0"/></nic>
    ${pci("0000:17:00.0", "0x020700", '<nic><net name="mlx5_0"/></nic>')}
    ${pci("0001:02:00.0", "0x020700", '<nic><net name="mlx5_0"/></nic>')}
  </cpu>
</system>`;
    const { topology, result } = imported(text, "holes.xml");
    expect(treeRows(topology)).toEqual([
      "pci0000:16 numa 0 socket 0",
      "  16:01.0 root-port ffff:ffff bridge Gen4 x16",
      "    17:00.0 endpoint 15b3:101b nic Gen4 x16 mlx5_0",
      "pci0001:01 numa 0 socket 0",
      "  01:01.0 root-port ffff:ffff bridge Gen4 x16",
      "    02:00.0 endpoint 15b3:101b nic Gen4 x16 mlx5_0-2",
    ]);
    expect(result.warnings.slice(0, 2).map((w) => [w.line, w.message])).toEqual([
      [2, 'numaid="-1" is not a NUMA node: assumed node 0'],
      [3, "a <nic> directly under <cpu> has no PCI function: ignored"],
    ]);
    expect(result.warnings.map((w) => w.message)).toContain('name "mlx5_0" is already used: 0001:02:00.0 is named "mlx5_0-2"');
  });

  it("fails with the file, the line and the XML path", () => {
    const cases: Array<[string, Partial<ImportIssue>]> = [
      ["<system><cpu></system>", { line: 1, message: expect.stringMatching(/^not well-formed XML: Expected closing tag 'cpu'/) as unknown as string }],
      ["<topology/>", { line: 1, xmlPath: "/topology", message: "expected an NCCL <system> document, found <topology>" }],
      ['<system version="1"/>', { line: 1, xmlPath: "/system", message: "expected at least one <cpu> element" }],
      [
        `<system>\n<cpu numaid="0">\n${pci("0000:17:00", "0x020700")}\n</cpu>\n</system>`,
        { line: 3, xmlPath: "/system/cpu[1]/pci[1]", message: 'expected busid="DDDD:BB:DD.F", got "0000:17:00"' },
      ],
      [
        `<system><cpu>${pci("0000:17:00.0", "bridge")}</cpu></system>`,
        { xmlPath: "/system/cpu[1]/pci[1]", message: 'expected class="0x…" (hexadecimal), got "bridge"' },
      ],
      [
        `<system><cpu>${pci("0000:17:00.0", "0x020700", pci("0000:18:00.0", "0x030200"))}</cpu></system>`,
        { xmlPath: "/system/cpu[1]/pci[1]", message: "0000:17:00.0 has class 0x020700, not a bridge, but has <pci> elements below it" },
      ],
    ];
    for (const [text, expected] of cases) {
      const result = importNcclXml(text, "bad.xml");
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatchObject({ file: "bad.xml", ...expected });
    }
  });

  it("fails when a root bus has no device number left for another assumed root port", () => {
    const nics = Array.from({ length: 32 }, (_, i) => pci(`0000:${(0x20 + i).toString(16)}:00.0`, "0x020700")).join("\n");
    const result = importNcclXml(`<system>\n<cpu numaid="0">\n${nics}\n</cpu>\n</system>`, "many.xml", { hostBridges: "per-cpu" });
    expect(result.ok ? result : result.error).toEqual({
      file: "many.xml",
      line: 34,
      xmlPath: "/system/cpu[1]/pci[32]",
      message: "bus 1f has no device number left for an assumed root-port",
    });
    expect(importNcclXml(`<system><cpu numaid="0">${nics.split("\n").slice(1).join("")}</cpu></system>`, "fits.xml", { hostBridges: "per-cpu" }).ok).toBe(true);
  });

  it("recognises NCCL dumps and nothing else", () => {
    expect([dgxText, hgxText, '<topology version="2.0"><object type="Machine"/></topology>', "available: 2 nodes (0-1)"].map(looksLikeNcclXml)).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });
});

describe("NCCL robustness", () => {
  it("never throws on arbitrary text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => assertTopologyOrLocatedError(importNcclXml(text, "f.xml"))));
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => assertTopologyOrLocatedError(importNcclXml(`<system><cpu>${text}</cpu></system>`, "f.xml"))),
    );
  });

  it.each([
    [DGX_FILE, dgxText],
    [HGX_FILE, hgxText],
  ])("never throws on mutations of %s", (_, text) => {
    fc.assert(
      fc.property(
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.constantFrom<NcclImportOptions>({}, { hostBridges: "per-root-port" }),
        (mutations, options) => {
          const result = importNcclXml(mutations.reduce(mutate, text), "f.xml", options);
          assertTopologyOrLocatedError(result);
        },
      ),
      { numRuns: 300 },
    );
  });
});
