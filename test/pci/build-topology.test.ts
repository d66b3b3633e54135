import { describe, expect, it } from "vitest";
import { ACS_CR, ACS_EC, ACS_RR, ACS_SV, ACS_UF, acsBits } from "../../src/pci/acs.js";
import { isDeviceSpecifier, parseConfigAcs } from "../../src/pci/acs-params.js";
import { buildTopology } from "../../src/pci/build-topology.js";
import { dgxLike, dualSocket, oneSwitch, twoSwitchesUnderOneRootPort } from "../../src/pci/builders.js";
import type { Topology } from "../../src/pci/topology.js";
import type { TopologySpec } from "../../src/pci/topology-spec.js";

function build(spec: TopologySpec): Topology {
  const result = buildTopology(spec);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.topology;
}

/** Every function as `id kind upstream [secondary-subordinate]`, the enumeration in one table. */
function enumeration(topology: Topology): string[] {
  return topology.functions.map((f) => `${f.id} ${f.label} ${f.kind} up=${f.upstream?.id ?? "-"}${f.busRange ? ` [${f.busRange[0]}-${f.busRange[1]}]` : ""}`);
}

describe("buildTopology: enumeration", () => {
  it("numbers buses and devices depth-first like Linux", () => {
    expect(enumeration(build(oneSwitch()))).toEqual([
      "0000:00:00.0 0000:00:00.0 endpoint up=-",
      "0000:00:01.0 0000:00:01.0 root-port up=- [1-5]",
      "0000:01:00.0 0000:01:00.0 upstream-port up=0000:00:01.0 [2-5]",
      "0000:02:00.0 0000:02:00.0 downstream-port up=0000:01:00.0 [3-3]",
      "0000:03:00.0 gpu0 endpoint up=0000:02:00.0",
      "0000:02:01.0 0000:02:01.0 downstream-port up=0000:01:00.0 [4-4]",
      "0000:04:00.0 gpu1 endpoint up=0000:02:01.0",
      "0000:02:02.0 0000:02:02.0 downstream-port up=0000:01:00.0 [5-5]",
      "0000:05:00.0 nic0 endpoint up=0000:02:02.0",
    ]);
  });

  it("starts each host bridge's buses above its root bus, and keeps given BDFs", () => {
    const t = build(dualSocket());
    expect(t.hostBridges.map((hb) => [hb.id, hb.rootBus, hb.numaNode])).toEqual([
      ["hb0", 0, 0],
      ["hb1", 0x80, 1],
    ]);
    expect(t.find("gpu1")?.id).toBe("0000:81:00.0");
    const given = build({
      hostBridges: [{ devices: [{ kind: "root-port", bdf: "0000:00:03.0", secondaryBus: 7, children: [{ kind: "endpoint", bdf: "07:00.0", name: "x" }] }] }],
    });
    expect(enumeration(given)).toEqual(["0000:00:03.0 0000:00:03.0 root-port up=- [7-7]", "0000:07:00.0 x endpoint up=0000:00:03.0"]);
  });

  it("groups functions of one slot into a multi-function device", () => {
    const t = build({
      hostBridges: [
        {
          devices: [
            { kind: "endpoint", name: "a" },
            { kind: "endpoint", function: 1, name: "b" },
            { kind: "endpoint", name: "c" },
          ],
        },
      ],
    });
    expect(t.functions.map((f) => `${f.label}=${f.id}`)).toEqual(["a=0000:00:00.0", "b=0000:00:00.1", "c=0000:00:01.0"]);
  });

  it("builds every builder shape with unique addresses and names", () => {
    for (const spec of [oneSwitch(), twoSwitchesUnderOneRootPort(), dualSocket(), dgxLike()]) {
      const t = build(spec);
      expect(new Set(t.functions.map((f) => f.id)).size).toBe(t.functions.length);
    }
    expect(build(dgxLike()).functions.filter((f) => f.identity.deviceKind === "gpu")).toHaveLength(8);
  });
});

describe("buildTopology: errors are located, never thrown", () => {
  it("reports every problem with its JSON path", () => {
    const result = buildTopology({
      hostBridges: [
        {
          devices: [
            { kind: "endpoint", bdf: "00:01.0" },
            { kind: "endpoint", bdf: "00:01.0" },
            { kind: "endpoint", bdf: "05:00.0" },
            { kind: "endpoint", bdf: "zz" },
            { kind: "endpoint", name: "dup", vendor: "nope" },
            {
              kind: "endpoint",
              name: "dup",
              bars: [
                { index: 7, size: 4096 },
                { index: 0, size: 3000 },
              ],
            },
            { kind: "endpoint", children: [{ kind: "endpoint" }] },
          ],
        },
      ],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      "$.hostBridges[0].devices[1]: device 1.0 appears twice on bus 0",
      "$.hostBridges[0].devices[2].bdf: 05:00.0 is not on bus 0000:00, where it sits in the tree",
      '$.hostBridges[0].devices[3].bdf: expected a PCI address like 0000:41:00.0, got "zz"',
      '$.hostBridges[0].devices[4].vendor: expected a hexadecimal id such as "0x10de", got "nope"',
      "$.hostBridges[0].devices[5].bars[0].index: expected a BAR index 0-5, got 7",
      "$.hostBridges[0].devices[5].bars[1].size: expected a BAR size that is a power of two, got 3000",
      "$.hostBridges[0].devices[6].children: an endpoint has no secondary bus: expected no children",
      '$: name "dup" is used by both 0000:00:00.0 and 0000:00:02.0',
    ]);
  });
});

describe("BAR assignment", () => {
  it("aligns BARs naturally, 64-bit above 4 GiB per host bridge, and adds busOffset", () => {
    const t = build({
      hostBridges: [
        {
          busOffset: 0x1000,
          devices: [
            {
              kind: "endpoint",
              name: "a",
              bars: [
                { index: 0, size: 2 ** 24, type: "mem32" },
                { index: 2, size: 2 ** 34 },
                { index: 4, size: 2 ** 12 },
              ],
            },
          ],
        },
        {
          devices: [
            {
              kind: "endpoint",
              name: "b",
              bars: [
                { index: 0, size: 2 ** 20, address: "0xfe000000", type: "mem32" },
                { index: 1, size: 2 ** 20 },
              ],
            },
          ],
        },
      ],
    });
    const bars = (label: string) => t.find(label)?.bars.map((b) => [b.index, b.cpuAddress.toString(16), b.busAddress.toString(16), b.prefetchable]);
    expect(bars("a")).toEqual([
      [0, "c0000000", "c0001000", false],
      [2, "380000000000", "380000001000", true],
      [4, "380400000000", "380400001000", true],
    ]);
    expect(bars("b")).toEqual([
      [0, "fe000000", "fe000000", false],
      [1, "480000000000", "480000000000", true],
    ]);
  });
});

describe("boot-time ACS (kernel.md §a.3, §a.8)", () => {
  const spec = (extra: Partial<TopologySpec>): TopologySpec => ({
    ...extra,
    hostBridges: [
      {
        devices: [
          {
            kind: "root-port",
            acs: { cap: ["SV", "RR", "CR", "UF", "EC"], ctl: ["EC"] },
            children: [{ kind: "endpoint", vendor: "0x10de", device: "0x20b0", name: "gpu" }],
          },
          { kind: "root-port", name: "rp-noacs", children: [] },
        ],
      },
    ],
  });
  const rootCtl = (t: Topology) => t.find("00:00.0")?.acsCtl;

  it("leaves control as given without an IOMMU; enables SV RR CR UF with one", () => {
    expect(rootCtl(build(spec({})))).toBe(ACS_EC);
    expect(rootCtl(build(spec({ iommu: "on" })))).toBe(ACS_EC | ACS_SV | ACS_RR | ACS_CR | ACS_UF);
  });

  it("applies nothing again when ACS control was read from a running kernel", () => {
    expect(rootCtl(build(spec({ iommu: "on", kernel: { acsConfigured: true, disableAcsRedir: ["00:00.0"] } })))).toBe(ACS_EC);
  });

  it("disable_acs_redir clears RR CR EC on the listed device, even with an IOMMU", () => {
    const result = buildTopology(spec({ iommu: "on", kernel: { disableAcsRedir: ["0000:00:00.0", "pci:10b5:8747", "garbage"] } }));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(rootCtl(result.topology)).toBe(ACS_SV | ACS_UF);
    expect(result.warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([
      '$.kernel.disableAcsRedir[1]: "pci:10b5:8747" matches no function with an ACS capability',
      '$.kernel.disableAcsRedir[2]: "garbage" is not a device specifier',
    ]);
  });

  it("config_acs forces bits per device, MSB first, and refuses bits the capability lacks", () => {
    expect(parseConfigAcs("101x@0000:00:00.0; 1@pci:8086:347a")).toEqual([
      { mask: 0b1110, flags: 0b1010, device: "0000:00:00.0" },
      { mask: 0b1, flags: 0b1, device: "pci:8086:347a" },
    ]);
    expect(parseConfigAcs("12@00:00.0")).toMatch(/0, 1 or x/);
    expect(rootCtl(build(spec({ iommu: "on", kernel: { configAcs: "0x00xx@00:00.0" } })))).toBe(ACS_SV | ACS_UF);
    const refused = buildTopology(spec({ kernel: { configAcs: "1000000@00:00.0" } }));
    expect(refused.ok && refused.warnings.map((w) => w.message)).toEqual([
      "0000:00:00.0: cannot enable ACS bits its capability lacks; entry ignored, as the kernel does",
    ]);
    expect(isDeviceSpecifier("pci:10de:20b0")).toBe(true);
    expect(isDeviceSpecifier("pci:10de")).toBe(false);
    expect(acsBits(["RR", "CR"])).toBe(ACS_RR | ACS_CR);
  });
});
