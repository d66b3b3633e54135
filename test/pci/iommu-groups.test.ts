import { describe, expect, it } from "vitest";
import { ACS_EC, type AcsFlag } from "../../src/pci/acs.js";
import { iommuGroups, isMultifunction, pciAcsEnabled, pciAcsFlagsEnabled, pciAcsPathEnabled, REQ_ACS_FLAGS } from "../../src/pci/iommu-groups.js";
import type { Topology } from "../../src/pci/topology.js";
import type { FunctionSpec } from "../../src/pci/topology-spec.js";
import { acs, ep, hb, machine, pciBridge, pciSwitch, pick, rootPort } from "../support/topologies.js";

const ALL: readonly AcsFlag[] = ["SV", "TB", "RR", "CR", "UF", "EC", "DT"];
const REQ: readonly AcsFlag[] = ["SV", "RR", "CR", "UF"];

describe("pciAcsFlagsEnabled", () => {
  it("needs every flag enabled; flags the capability lacks count as enabled, except EC", () => {
    const cases: Array<[string, FunctionSpec["acs"], number, boolean]> = [
      ["no ACS capability", undefined, REQ_ACS_FLAGS, false],
      ["full capability, SV RR CR UF enabled", { cap: ALL, ctl: REQ }, REQ_ACS_FLAGS, true],
      ["full capability, SV missing", { cap: ALL, ctl: ["RR", "CR", "UF"] }, REQ_ACS_FLAGS, false],
      ["capability RR CR only, both enabled: SV and UF are hard-wired", { cap: ["RR", "CR"], ctl: ["RR", "CR"] }, REQ_ACS_FLAGS, true],
      ["capability RR CR only, CR disabled", { cap: ["RR", "CR"], ctl: ["RR"] }, REQ_ACS_FLAGS, false],
      ["EC asked, not implemented: not hard-wired", { cap: REQ, ctl: REQ }, ACS_EC, false],
      ["EC asked and enabled", { cap: ALL, ctl: ["EC"] }, ACS_EC, true],
      ["nothing asked, capability present", { cap: ALL, ctl: [] }, 0, true],
    ];
    const t = machine([hb(cases.map(([name, spec]) => rootPort(name, [], spec === undefined ? {} : { acs: spec })))]);
    expect(cases.map(([name, , flags]) => [name, pciAcsFlagsEnabled(pick(t, name), flags)])).toEqual(cases.map(([name, , , expected]) => [name, expected]));
  });
});

describe("pciAcsEnabled", () => {
  it("decides by PCIe type, and by multi-function for endpoints and upstream ports", () => {
    const on = { acs: acs(...REQ) };
    const t = machine([
      hb([
        rootPort("rp-on", [pciSwitch("usp-single", [[ep("ep-single")], [ep("ep-mf-off"), ep("ep-mf-off.1", { function: 1 })]], {}, on)], on),
        rootPort("rp-off", [
          pciSwitch("usp-mf", [[ep("ep-mf-on", on), ep("ep-mf-on.1", { function: 1, ...on })]]),
          pciBridge("br", [], { slot: 0, function: 1, ...on }),
        ]),
        ep("rciep-single"),
        ep("rciep-mf", { slot: 9 }),
        ep("rciep-mf.1", { slot: 9, function: 1 }),
      ]),
    ]);
    const names = [
      "rp-on",
      "rp-off",
      "usp-single",
      "usp-single.d0",
      "usp-mf",
      "usp-mf.d0",
      "br",
      "ep-single",
      "ep-mf-off",
      "ep-mf-on",
      "rciep-single",
      "rciep-mf",
    ];
    expect(names.map((name) => [name, isMultifunction(pick(t, name)), pciAcsEnabled(pick(t, name), REQ_ACS_FLAGS)])).toEqual([
      ["rp-on", false, true],
      ["rp-off", false, false],
      ["usp-single", false, true],
      ["usp-single.d0", false, true],
      ["usp-mf", true, false],
      ["usp-mf.d0", false, false],
      ["br", true, false],
      ["ep-single", false, true],
      ["ep-mf-off", true, false],
      ["ep-mf-on", true, true],
      ["rciep-single", false, true],
      ["rciep-mf", true, false],
    ]);
  });
});

describe("pciAcsPathEnabled", () => {
  it("walks up to end, or to the root bus, which counts only when end is undefined", () => {
    const on = { acs: acs(...REQ) };
    const t = machine([hb([rootPort("rp", [pciSwitch("s", [[ep("e")], [ep("f")]], on, on)], on), rootPort("rp-off", [pciSwitch("s2", [[ep("g")]], on, on)])])]);
    const path = (start: string, end: string | undefined) => pciAcsPathEnabled(pick(t, start), end === undefined ? undefined : pick(t, end), REQ_ACS_FLAGS);
    expect([path("e", undefined), path("e", "s.d0"), path("e", "s"), path("e", "rp"), path("g", undefined), path("g", "s2"), path("rp", undefined)]).toEqual([
      true,
      true,
      true,
      // As Linux: a root port is on a root bus, so the walk returns `end == NULL` before it compares.
      false,
      false,
      true,
      true,
    ]);
    pick(t, "s.d0").acsCtl = 0;
    expect([path("e", undefined), path("f", undefined), path("e", "e")]).toEqual([false, true, true]);
  });
});

/**
 *   host (00.0, RCiEP)
 *   rp0 ─ s ─┬─ s.d0 ─ gpu (00.0), gpuaudio (00.1)   multi-function, no ACS
 *            └─ s.d1 ─ nic
 *   rp1 (no ACS) ─ x
 *   rp2 ─ mf0 (00.0), mf1 (00.1)                       multi-function, with ACS
 *   rp3 ─ br (PCI bridge) ─ l0, l1
 *   rc0 (05.0), rc1 (05.1)                             multi-function RCiEP, no ACS
 */
function groupsMachine(options: { readonly iommu: "on" | "off"; readonly switchAcs: boolean }): Topology {
  const cap = { acs: acs() };
  const ports = options.switchAcs ? cap : {};
  return machine(
    [
      hb([
        ep("host"),
        rootPort("rp0", [pciSwitch("s", [[ep("gpu"), ep("gpuaudio", { function: 1 })], [ep("nic")]], cap, ports)], cap),
        rootPort("rp1", [ep("x")]),
        rootPort("rp2", [ep("mf0", cap), ep("mf1", { function: 1, ...cap })], cap),
        rootPort("rp3", [pciBridge("br", [ep("l0"), ep("l1")], cap)], cap),
        ep("rc0", { slot: 5 }),
        ep("rc1", { slot: 5, function: 1 }),
      ]),
    ],
    { iommu: options.iommu },
  );
}

/** Groups as lists of names, in group-number order. */
function grouped(t: Topology): string[][] {
  const groups = iommuGroups(t);
  const lists: string[][] = [];
  for (const fn of t.functions) {
    const group = groups.get(fn.id);
    if (group === undefined) throw new Error(`${fn.id} has no group`);
    lists[group] = [...(lists[group] ?? []), fn.label];
  }
  return lists;
}

describe("iommuGroups", () => {
  it("isolates every function behind ACS ports, except non-isolated multi-function devices and what sits behind a PCI bridge", () => {
    expect(grouped(groupsMachine({ iommu: "on", switchAcs: true }))).toEqual([
      ["host"],
      ["rp0"],
      ["s"],
      ["s.d0"],
      ["gpu", "gpuaudio"],
      ["s.d1"],
      ["nic"],
      ["rp1", "x"],
      ["rp2"],
      ["mf0"],
      ["mf1"],
      ["rp3"],
      ["br", "l0", "l1"],
      ["rc0", "rc1"],
    ]);
  });

  it("puts what is below a downstream port without ACS into that port's group", () => {
    expect(grouped(groupsMachine({ iommu: "on", switchAcs: false }))).toEqual([
      ["host"],
      ["rp0"],
      ["s"],
      ["s.d0", "gpu", "gpuaudio"],
      ["s.d1", "nic"],
      ["rp1", "x"],
      ["rp2"],
      ["mf0"],
      ["mf1"],
      ["rp3"],
      ["br", "l0", "l1"],
      ["rc0", "rc1"],
    ]);
  });

  it("without ACS enabled (no IOMMU at boot), groups whole root ports", () => {
    expect(grouped(groupsMachine({ iommu: "off", switchAcs: true }))).toEqual([
      ["host"],
      ["rp0", "s", "s.d0", "gpu", "gpuaudio", "s.d1", "nic"],
      ["rp1", "x"],
      ["rp2", "mf0", "mf1"],
      ["rp3", "br", "l0", "l1"],
      ["rc0", "rc1"],
    ]);
  });
});
