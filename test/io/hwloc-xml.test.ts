import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { importHwlocXml, linkFromGBps, looksLikeHwlocXml } from "../../src/io/hwloc-xml.js";
import type { TopologyImport } from "../../src/io/import-types.js";
import { buildTopology } from "../../src/pci/build-topology.js";
import { nvidiaSmiLevel } from "../../src/pci/nvidia-level.js";
import type { Topology } from "../../src/pci/topology.js";
import { FIXTURES } from "../support/fixtures.js";
import { assertTopologyOrLocatedError, mutate, mutation } from "../support/import-properties.js";
import { treeRows } from "../support/topology-rows.js";

const V2_FILE = "hwloc-supermicro-sys221h-tnr-spr-2s/lstopo.xml";
const V1_FILE = "hwloc-v1-haswell-2s-2x-k80-pex8747/lstopo-v1.xml";
const v2Text = readFileSync(`${FIXTURES}/${V2_FILE}`, "utf8");
const v1Text = readFileSync(`${FIXTURES}/${V1_FILE}`, "utf8");

/** Imports and builds, failing the test on any error. */
function imported(text: string, file: string): { topology: Topology; result: Extract<TopologyImport, { ok: true }> } {
  const result = importHwlocXml(text, file);
  if (!result.ok) throw new Error(`import failed: ${JSON.stringify(result.error)}`);
  const built = buildTopology(result.spec);
  if (!built.ok) throw new Error(`build failed: ${JSON.stringify(built.errors)}`);
  expect(built.warnings).toEqual([]);
  return { topology: built.topology, result };
}

function kindCounts(topology: Topology): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const fn of topology.functions) counts[fn.identity.deviceKind] = (counts[fn.identity.deviceKind] ?? 0) + 1;
  return counts;
}

function level(topology: Topology, a: string, b: string): string {
  const fa = topology.find(a);
  const fb = topology.find(b);
  if (!fa || !fb) throw new Error(`missing ${a} or ${b}`);
  return nvidiaSmiLevel(fa, fb);
}

const COMMON_WARNINGS = [
  "the file carries no ACS capabilities: every function is imported without one, so p2pdma sees no ACS redirect [kernel.md §a.3]",
  "the file does not list each host bridge's own device (00.0 on the root bus): the host-bridge allow list [kernel.md §a.4] reads the first function on the root bus instead",
];

describe("hwloc XML v2: Supermicro SYS-221H-TNR (2x Sapphire Rapids)", () => {
  const { topology, result } = imported(v2Text, V2_FILE);

  it("has four host bridges, two per package, with the devices of SOURCE.md under them", () => {
    expect(treeRows(topology)).toEqual([
      "pci0000:00 numa 0 socket 0",
      "  00:0f.0 root-port 8086:1bbf bridge Gen2 x1",
      "    01:00.0 pci-bridge 1a03:1150 bridge Gen2 x1",
      "      02:00.0 endpoint 1a03:2000 gpu -",
      "  00:17.0 endpoint 8086:1ba2 storage -",
      "pci0000:16 numa 0 socket 0",
      "  16:01.0 root-port 8086:352a bridge Gen2 x4",
      "    17:00.0 endpoint 8086:1521 nic Gen2 x4 enp23s0f0",
      "    17:00.1 endpoint 8086:1521 nic Gen2 x4 enp23s0f1",
      "pci0000:98 numa 1 socket 1",
      "  98:01.0 root-port 8086:352a bridge Gen1 x16",
      "    99:00.0 endpoint 10de:27b2 gpu Gen1 x16",
      "pci0000:aa numa 1 socket 1",
      "  aa:01.0 root-port 8086:352a bridge Gen4 x16",
      "    ab:00.0 endpoint 15b3:101d nic Gen4 x16 mlx5_0",
      "    ab:00.1 endpoint 15b3:101d nic Gen4 x16 mlx5_1",
    ]);
    // The BMC's VGA (class 0300) counts as a display device, like the RTX 4000.
    expect(kindCounts(topology)).toEqual({ bridge: 5, gpu: 2, storage: 1, nic: 4 });
  });

  it("reads the CPU identity and the NUMA latencies", () => {
    expect(result.spec.platform).toEqual({
      cpuVendor: "intel",
      cpuFamily: 6,
      cpuModel: 143,
      arch: "x86",
      numaDistances: [
        [10, 21],
        [21, 10],
      ],
    });
  });

  it("gives the nvidia-smi levels SOURCE.md expects", () => {
    expect(level(topology, "0000:99:00.0", "mlx5_0")).toBe("NODE");
    expect(level(topology, "0000:99:00.0", "enp23s0f0")).toBe("SYS");
    expect(level(topology, "mlx5_0", "mlx5_1")).toBe("PIX");
  });

  it("warns, located, about each ambiguous link speed and the holes every file has", () => {
    expect(result.warnings.map((w) => [w.line, w.message])).toEqual([
      [945, '0000:98:01.0: pci_link_speed="4.000000": 4 GB/s is any of Gen1 x16, Gen2 x8; assumed Gen1 x16 (the widest link up to x16)'],
      [947, '0000:99:00.0: pci_link_speed="4.000000": 4 GB/s is any of Gen1 x16, Gen2 x8; assumed Gen1 x16 (the widest link up to x16)'],
      ...["aa:01.0", "ab:00.0", "ab:00.1"].map((bdf, i) => [
        [966, 968, 986][i],
        `0000:${bdf}: pci_link_speed="31.507692": 31.507692 GB/s is any of Gen3 x32, Gen4 x16, Gen5 x8, Gen6 x4; assumed Gen4 x16 (the widest link up to x16)`,
      ]),
      ...COMMON_WARNINGS.map((message) => [undefined, message]),
    ]);
    expect(result.warnings[0]?.xmlPath).toBe("/topology/object[1]/object[2]/object[3]/object[1]");
  });
});

describe("hwloc XML v1: 2S Haswell, 2x Tesla K80 behind PEX 8747", () => {
  const { topology, result } = imported(v1Text, V1_FILE);

  it("has one host bridge per NUMA node, each switch with its two GPUs", () => {
    expect(treeRows(topology)).toEqual([
      "pci0000:00 numa 0 socket 0",
      "  00:01.0 root-port 8086:2f02 bridge -",
      "    01:00.0 endpoint 1000:0097 storage -",
      "  00:02.0 root-port 8086:2f04 bridge -",
      "    02:00.0 endpoint 8086:1521 nic - enp2s0f0",
      "    02:00.1 endpoint 8086:1521 nic - enp2s0f1",
      "  00:03.0 root-port 8086:2f08 bridge -",
      "    04:00.0 upstream-port 10b5:8747 bridge -",
      "      05:08.0 downstream-port 10b5:8747 bridge -",
      "        06:00.0 endpoint 10de:102d gpu -",
      "      05:10.0 downstream-port 10b5:8747 bridge -",
      "        07:00.0 endpoint 10de:102d gpu -",
      "  00:11.4 endpoint 8086:8d62 storage -",
      "  00:1c.2 root-port 8086:8d14 bridge -",
      "    09:00.0 endpoint 19e5:1711 gpu -",
      "  00:1f.2 endpoint 8086:8d02 storage -",
      "pci0000:80 numa 1 socket 1",
      "  80:01.0 root-port 8086:2f02 bridge -",
      "    81:00.0 endpoint 15b3:1003 nic - mlx4_0",
      "  80:03.0 root-port 8086:2f08 bridge -",
      "    82:00.0 upstream-port 10b5:8747 bridge -",
      "      83:08.0 downstream-port 10b5:8747 bridge -",
      "        84:00.0 endpoint 10de:102d gpu -",
      "      83:10.0 downstream-port 10b5:8747 bridge -",
      "        85:00.0 endpoint 10de:102d gpu -",
    ]);
    expect(kindCounts(topology)).toEqual({ bridge: 12, storage: 3, nic: 3, gpu: 5 });
    expect(topology.find("0000:06:00.0")?.identity.description).toBe("NVIDIA Corporation GK210GL [Tesla K80]");
  });

  it("reads the CPU and scales v1 latencies by latency_base", () => {
    expect(result.spec.platform).toEqual({
      cpuVendor: "intel",
      cpuFamily: 6,
      cpuModel: 63,
      arch: "x86",
      numaDistances: [
        [10, 21],
        [21, 10],
      ],
    });
  });

  it("gives the nvidia-smi levels SOURCE.md expects", () => {
    expect(level(topology, "0000:06:00.0", "0000:07:00.0")).toBe("PIX");
    expect(level(topology, "0000:84:00.0", "0000:85:00.0")).toBe("PIX");
    expect(level(topology, "0000:06:00.0", "0000:84:00.0")).toBe("SYS");
    expect(level(topology, "0000:84:00.0", "mlx4_0")).toBe("PHB");
    expect(level(topology, "0000:06:00.0", "mlx4_0")).toBe("SYS");
  });

  it("warns that every PCIe link speed is 0, but not for root-complex integrated endpoints", () => {
    const zero = result.warnings.filter((w) => w.message.includes("hwloc did not read the link speed"));
    expect(zero.map((w) => w.message.slice(0, 12))).toEqual(
      ["00:01.0", "01:00.0", "00:02.0", "02:00.0", "02:00.1", "00:03.0", "04:00.0", "05:08.0", "06:00.0", "05:10.0", "07:00.0", "00:1c.2", "09:00.0"]
        .concat(["80:01.0", "81:00.0", "80:03.0", "82:00.0", "83:08.0", "84:00.0", "83:10.0", "85:00.0"])
        .map((bdf) => `0000:${bdf}`),
    );
    expect(result.warnings.filter((w) => !zero.includes(w)).map((w) => w.message)).toEqual(COMMON_WARNINGS);
  });
});

describe("hwloc link speeds", () => {
  it("turns GB/s into the widest generation × width up to x16, naming the alternatives", () => {
    const cases: Array<[number, string]> = [
      [0.25, "Gen1 x1"],
      [0.615385, "Gen2 x1"],
      [2.461539, "Gen2 x4"],
      [4, "Gen1 x16 | Gen1 x16, Gen2 x8"],
      [7.876923, "Gen3 x8 | Gen3 x8, Gen4 x4, Gen5 x2, Gen6 x1"],
      [31.507692, "Gen4 x16 | Gen3 x32, Gen4 x16, Gen5 x8, Gen6 x4"],
      [0, "- | did not read"],
      [3.3, "- | matches no"],
    ];
    const describe = (speed: number) => {
      const { link, warning } = linkFromGBps(speed, "x");
      const chosen = link ? `Gen${link.gen} x${link.width}` : "-";
      if (warning === undefined) return chosen;
      const any = /is any of (.*);/.exec(warning)?.[1] ?? (warning.includes("did not read") ? "did not read" : "matches no");
      return `${chosen} | ${any}`;
    };
    expect(cases.map(([speed]) => describe(speed))).toEqual(cases.map(([, expected]) => expected));
  });
});

/** A minimal hwloc v2 document around `io` objects placed under Package 0 (NUMA node 0). */
function v2Document(io: string, machineExtra = ""): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<topology version="2.0">
  <object type="Machine" os_index="0" nodeset="0x1">
    <info name="Architecture" value="x86_64"/>
    <object type="Package" os_index="0" nodeset="0x1">
      <info name="CPUVendor" value="AuthenticAMD"/><info name="CPUFamilyNumber" value="25"/><info name="CPUModelNumber" value="1"/>
${io}
    </object>
${machineExtra}
  </object>
</topology>`;
}

const pciDev = (busid: string, type: string, speed: string, inner = "") =>
  `<object type="PCIDev" pci_busid="${busid}" pci_type="${type}" pci_link_speed="${speed}">${inner}</object>`;
const osdev = (name: string, type: number) => `<object type="OSDev" name="${name}" osdev_type="${type}"/>`;

describe("hwloc holes and aliases", () => {
  it("assumes a root port above a function off the root bus, and a downstream port below a switch for a function off its internal bus", () => {
    const io = `<object type="Bridge" bridge_type="0-1" depth="0" bridge_pci="0000:[40-48]">
      ${pciDev("0000:41:00.0", "0108 [144d:a80a] [144d:a801] 00", "7.876923", osdev("nvme0n1", 0))}
      <object type="Bridge" bridge_type="1-1" depth="1" bridge_pci="0000:[43-48]" pci_busid="0000:40:01.0" pci_type="0604 [1022:1483] [0000:0000] 00" pci_link_speed="31.507692">
        <object type="Bridge" bridge_type="1-1" depth="2" bridge_pci="0000:[44-48]" pci_busid="0000:43:00.0" pci_type="0604 [1000:c010] [1000:a096] b0" pci_link_speed="31.507692">
          ${pciDev("0000:46:00.0", "0302 [10de:20b0] [10de:134f] a1", "31.507692", osdev("cuda0", 5) + osdev("card1", 1))}
        </object>
      </object>
    </object>`;
    const { topology, result } = imported(v2Document(io), "holes.xml");
    expect(treeRows(topology)).toEqual([
      "pci0000:40 numa 0 socket 0",
      "  40:01.0 root-port 1022:1483 bridge Gen4 x16",
      "    43:00.0 upstream-port 1000:c010 bridge Gen4 x16",
      "      44:00.0 downstream-port 1000:c010 bridge Gen4 x16",
      "        46:00.0 endpoint 10de:20b0 gpu Gen4 x16 cuda0",
      "  40:02.0 root-port ffff:ffff bridge Gen3 x8",
      "    41:00.0 endpoint 144d:a80a nvme Gen3 x8 nvme0n1",
    ]);
    expect(topology.find("nvme0n1")?.identity.classCode).toBe(0x010802);
    expect(topology.find("0000:40:02.0")?.identity.description).toBe("assumed root port (not in the file: hwloc lists no root port above it)");
    expect(result.spec.platform).toEqual({ cpuVendor: "amd", cpuFamily: 25, cpuModel: 1, arch: "x86" });
    const assumed = result.warnings.filter((w) => w.message.startsWith("assumed"));
    expect(assumed.map((w) => [w.line, w.message])).toEqual([
      [11, "assumed downstream port 0000:44:00.0 between 0000:43:00.0 and 0000:46:00.0: hwloc lists no downstream port above it"],
      [8, "assumed root port 0000:40:02.0 between host bridge pci0000:40 and 0000:41:00.0: hwloc lists no root port above it"],
    ]);
  });

  it("assumes a host bridge for PCI objects outside any, and suffixes duplicate aliases", () => {
    const io = `${pciDev("0000:05:00.0", "0207 [15b3:101b] [15b3:0007] 00", "31.507692", osdev("mlx5_0", 3) + osdev("ib0", 2))}
      ${pciDev("0000:06:00.0", "0207 [15b3:101b] [15b3:0007] 00", "31.507692", osdev("mlx5_0", 3))}`;
    const { topology, result } = imported(v2Document(io), "orphans.xml");
    expect(treeRows(topology)).toEqual([
      "pci0000:04 numa 0 socket 0",
      "  04:01.0 root-port ffff:ffff bridge Gen4 x16",
      "    05:00.0 endpoint 15b3:101b nic Gen4 x16 mlx5_0",
      "  04:02.0 root-port ffff:ffff bridge Gen4 x16",
      "    06:00.0 endpoint 15b3:101b nic Gen4 x16 mlx5_0-2",
    ]);
    const messages = result.warnings.map((w) => w.message);
    expect(messages).toContain("no host bridge object above 0000:05:00.0: assumed one, with its root bus");
    expect(messages).toContain('name "mlx5_0" is already used: 0000:06:00.0 is named "mlx5_0-2"');
  });

  it("fills a missing CPU identity with the documented default, and a package above the I/O from a v1 NUMANode", () => {
    const doc = `<topology><object type="Machine" os_index="0"><object type="NUMANode" os_index="3"><object type="Socket" os_index="1"/>
      <object type="Bridge" bridge_type="0-1" depth="0" bridge_pci="0000:[00-01]">${pciDev("0000:00:02.0", "0200 [8086:1521] [0000:0000] 01", "0")}</object>
      </object></object></topology>`;
    const result = importHwlocXml(doc, "v1.xml");
    expect(result.ok && result.spec.platform).toEqual({ cpuVendor: "intel", cpuFamily: 6 });
    expect(result.ok && result.spec.hostBridges.map((hb) => [hb.numaNode, hb.socket])).toEqual([[3, 1]]);
    expect(result.ok && result.warnings.map((w) => w.message)).toEqual([
      "no CPUVendor and CPUFamilyNumber infos: assumed an Intel family 6 CPU (the topology default)",
      ...COMMON_WARNINGS,
    ]);
  });
});

describe("hwloc malformed input", () => {
  it("fails with the file, the line and the XML path", () => {
    const badBusid = v2Document(
      `<object type="Bridge" bridge_type="0-1" bridge_pci="0000:[00-01]">${pciDev("0000:zz:00.0", "0200 [8086:1521] [0:0] 0", "0")}</object>`,
    );
    const cases: Array<[string, Partial<{ line: number; xmlPath: string; message: string }>]> = [
      [
        "<topology><object></topology>",
        { line: 1, message: "not well-formed XML: Expected closing tag 'object' (opened in line 1, col 11) instead of closing tag 'topology'." },
      ],
      ['<system version="1"/>', { line: 1, xmlPath: "/system", message: "expected an hwloc <topology> document, found <system>" }],
      ['<topology version="1.5"/>', { line: 1, xmlPath: "/topology", message: 'unsupported hwloc XML version "1.5" (expected 2.x, or none for v1)' }],
      [badBusid, { line: 7, xmlPath: "/topology/object[1]/object[1]/object[1]/object[1]", message: 'expected pci_busid="DDDD:BB:DD.F", got "0000:zz:00.0"' }],
      [
        v2Document('<object type="Bridge" bridge_type="0-1" bridge_pci="00:00"/>'),
        { line: 7, message: 'expected bridge_pci="DDDD:[BB-BB]" on a host bridge, got "00:00"' },
      ],
      ["", { line: 1, message: "not well-formed XML: Start tag expected." }],
      [`<topology>${"<object>".repeat(200)}${"</object>".repeat(200)}</topology>`, { line: 1, message: "not well-formed XML: Maximum nested tags exceeded" }],
    ];
    for (const [text, expected] of cases) {
      const result = importHwlocXml(text, "bad.xml");
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatchObject({ file: "bad.xml", ...expected });
    }
  });

  it("recognises hwloc XML and nothing else", () => {
    expect([v2Text, v1Text, '<system version="1"><cpu/></system>', "lscpu"].map(looksLikeHwlocXml)).toEqual([true, true, false, false]);
  });
});

describe("hwloc robustness", () => {
  it("never throws on arbitrary text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => assertTopologyOrLocatedError(importHwlocXml(text, "f.xml"))));
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => assertTopologyOrLocatedError(importHwlocXml(`<topology>${text}</topology>`, "f.xml"))));
  });

  it.each([
    [V1_FILE, v1Text, 300],
    [V2_FILE, v2Text, 100],
  ])("never throws on mutations of %s", (_, text, numRuns) => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        assertTopologyOrLocatedError(importHwlocXml(mutations.reduce(mutate, text), "f.xml"));
      }),
      { numRuns },
    );
  });
});
