import { describe, expect, it } from "vitest";
import {
  cpuSupportsP2pdma,
  describeHostBridgeCheck,
  findAllowListEntry,
  hostBridgeWhitelist,
  P2PDMA_ALLOW_LIST,
  pciHostBridgeDev,
} from "../../src/pci/host-bridge-allowlist.js";
import { calcMapTypeAndDist } from "../../src/pci/p2pdma.js";
import { HostBridge, type Platform, type Topology } from "../../src/pci/topology.js";
import type { FunctionSpec, PlatformSpec } from "../../src/pci/topology-spec.js";
import { ep, hb, INTEL, machine, pick, rootPort } from "../support/topologies.js";

type Id = readonly [vendor: number, device: number];

const rootDevice = (name: string, [vendor, device]: Id, extra: Partial<FunctionSpec> = {}) => ep(name, { vendor, device, ...extra });

/**
 *   hb0: r0 (root device, 00.0) · rp0 ─ a · rp1 ─ a2
 *   hb1: r1 (root device, 00.0) · rp2 ─ b
 */
function twoBridges(id0: Id, id1: Id, platform: PlatformSpec = INTEL): Topology {
  return machine(
    [hb([rootDevice("r0", id0), rootPort("rp0", [ep("a")]), rootPort("rp1", [ep("a2")])]), hb([rootDevice("r1", id1), rootPort("rp2", [ep("b")])])],
    { platform },
  );
}

function outcome(t: Topology, provider: string, client: string) {
  const result = calcMapTypeAndDist(pick(t, provider), pick(t, client), t);
  return [result.mapType, result.reason.hostBridgeRule, result.reason.allowList.map((check) => check.outcome)];
}

const SKX: Id = [0x8086, 0x2020];
const ICX: Id = [0x8086, 0x09a2];
const E5: Id = [0x8086, 0x3c00];
const E5V3: Id = [0x8086, 0x2f01];
const UNLISTED: Id = [0x8086, 0x1234];

describe("host-bridge allow list [kernel.md §a.4]", () => {
  it("holds the leon-mirror table, Intel accelerators of [WL], Google and NVIDIA, and no Zhaoxin", () => {
    const rows = P2PDMA_ALLOW_LIST.map(
      (e) =>
        `${e.vendor.toString(16)}:${e.device === "any" ? "any" : e.device.toString(16).padStart(4, "0")}${e.reqSameHostBridge ? " REQ_SAME_HOST_BRIDGE" : ""}`,
    );
    expect(rows).toEqual([
      "8086:3c00 REQ_SAME_HOST_BRIDGE",
      "8086:3c01 REQ_SAME_HOST_BRIDGE",
      "8086:2f00 REQ_SAME_HOST_BRIDGE",
      "8086:2f01 REQ_SAME_HOST_BRIDGE",
      "8086:2030",
      "8086:2031",
      "8086:2032",
      "8086:2033",
      "8086:2020",
      "8086:09a2",
      "8086:0b25",
      "8086:0cfe",
      "8086:11fb",
      "8086:1212",
      "8086:1216",
      "8086:4940",
      "8086:4942",
      "8086:4944",
      "8086:4946",
      "8086:4948",
      "1ae0:any",
      "10de:2f95",
      "10de:2f96",
      "10de:2f97",
      "10de:2f98",
    ]);
    expect(new Set(rows.map((r) => r.split(" ")[0])).size).toBe(rows.length);
  });

  it("matches vendor and device, or the whole vendor for a PCI_ANY_ID row", () => {
    const match = (vendor: number, device: number) => findAllowListEntry(vendor, device)?.name;
    expect([match(0x8086, 0x2020), match(0x8086, 0x2021), match(0x1ae0, 0x0042), match(0x1ae0, 0xffff), match(0x10de, 0x2f99), match(0x1d17, 0x1003)]).toEqual([
      "Intel Skylake-E",
      undefined,
      "Google SoCs",
      "Google SoCs",
      undefined,
      undefined,
    ]);
  });

  it("decides P2P between root ports of one host bridge and across host bridges", () => {
    const cases: Array<[string, Topology, string, string, unknown[]]> = [
      ["one bridge, listed", twoBridges(SKX, SKX), "a", "a2", ["thru-host-bridge", "allow-list", ["listed"]]],
      ["one bridge, not listed", twoBridges(UNLISTED, SKX), "a", "a2", ["not-supported", "not-on-allow-list", ["not-listed"]]],
      ["one bridge, REQ_SAME_HOST_BRIDGE row", twoBridges(E5, UNLISTED), "a", "a2", ["thru-host-bridge", "allow-list", ["listed"]]],
      ["two bridges, both listed", twoBridges(SKX, ICX), "a", "b", ["thru-host-bridge", "allow-list", ["listed", "listed"]]],
      ["two bridges, client's not listed", twoBridges(SKX, UNLISTED), "a", "b", ["not-supported", "not-on-allow-list", ["listed", "not-listed"]]],
      [
        "two bridges, provider's not listed: the client's is not read",
        twoBridges(UNLISTED, SKX),
        "a",
        "b",
        ["not-supported", "not-on-allow-list", ["not-listed"]],
      ],
      ["two bridges, both REQ_SAME_HOST_BRIDGE", twoBridges(E5, E5), "a", "b", ["not-supported", "not-on-allow-list", ["listed-same-host-bridge-only"]]],
      [
        "two bridges, client's REQ_SAME_HOST_BRIDGE",
        twoBridges(SKX, E5V3),
        "a",
        "b",
        ["not-supported", "not-on-allow-list", ["listed", "listed-same-host-bridge-only"]],
      ],
      [
        "Google, any device, across bridges",
        twoBridges([0x1ae0, 0x0042], [0x1ae0, 0x0077]),
        "a",
        "b",
        ["thru-host-bridge", "allow-list", ["listed", "listed"]],
      ],
      [
        "NVIDIA CPU root devices across bridges",
        twoBridges([0x10de, 0x2f95], [0x10de, 0x2f98]),
        "b",
        "a",
        ["thru-host-bridge", "allow-list", ["listed", "listed"]],
      ],
      ["NVIDIA device not in the table", twoBridges([0x10de, 0x2f99], SKX), "a", "a2", ["not-supported", "not-on-allow-list", ["not-listed"]]],
      ["Intel QAT 4xxx root bus [WL]", twoBridges([0x8086, 0x4940], SKX), "a", "a2", ["thru-host-bridge", "allow-list", ["listed"]]],
      ["Zhaoxin (P2P-WIP only) is not listed", twoBridges([0x1d17, 0x1003], SKX), "a", "a2", ["not-supported", "not-on-allow-list", ["not-listed"]]],
    ];
    expect(cases.map(([what, t, provider, client]) => [what, ...outcome(t, provider, client)])).toEqual(
      cases.map(([what, , , , expected]) => [what, ...expected]),
    );
  });

  it("reads the first root-bus device only if it is 00.0 or a root port", () => {
    const listedRootPortAt1 = machine([
      hb([rootPort("rp0", [ep("a")], { slot: 1, vendor: 0x8086, device: 0x2030 }), rootPort("rp1", [ep("a2")], { slot: 2 })]),
    ]);
    const listedEndpointAt2 = machine([
      hb([rootDevice("r0", SKX, { slot: 2 }), rootPort("rp0", [ep("a")], { slot: 3 }), rootPort("rp1", [ep("a2")], { slot: 4 })]),
    ]);
    const listedFunction1 = machine([
      hb([rootDevice("r0", UNLISTED), rootDevice("r0f1", SKX, { function: 1 }), rootPort("rp0", [ep("a")]), rootPort("rp1", [ep("a2")])]),
    ]);
    expect([outcome(listedRootPortAt1, "a", "a2"), outcome(listedEndpointAt2, "a", "a2"), outcome(listedFunction1, "a", "a2")]).toEqual([
      ["thru-host-bridge", "allow-list", ["listed"]],
      ["not-supported", "not-on-allow-list", ["root-not-00.0-nor-root-port"]],
      ["not-supported", "not-on-allow-list", ["not-listed"]],
    ]);
    const empty = new HostBridge("hbx", 0, 0x40, 0, 0, 0);
    expect(pciHostBridgeDev(empty)).toEqual({ root: undefined, outcome: "no-root-device" });
    expect(hostBridgeWhitelist(empty, empty)).toEqual({
      allowed: false,
      checks: [{ hostBridge: "hbx", root: undefined, vendorId: undefined, deviceId: undefined, entry: undefined, outcome: "no-root-device" }],
    });
  });

  it("describes each check in one line", () => {
    const t = twoBridges(SKX, E5);
    const a = pick(t, "a");
    const b = pick(t, "b");
    const across = hostBridgeWhitelist(a.hostBridge, b.hostBridge).checks.map(describeHostBridgeCheck);
    expect(across).toEqual([
      "hb0 root 0000:00:00.0 (8086:2020) is on the allow list",
      "hb1 root 0000:03:00.0 (8086:3c00) is on the allow list only for P2P within one host bridge",
    ]);
    const odd = machine([hb([rootDevice("r0", SKX, { slot: 2 }), rootPort("rp0", [ep("x")], { slot: 3 })])]);
    const x = pick(odd, "x");
    expect(hostBridgeWhitelist(x.hostBridge, x.hostBridge).checks.map(describeHostBridgeCheck)).toEqual([
      "hb0's first root-bus device 0000:00:02.0 is neither 00.0 nor a root port",
    ]);
  });
});

describe("the AMD Zen rule [kernel.md §a.3 step 5]", () => {
  it("allows x86 AMD family 0x17 and newer without the table, nothing else", () => {
    const platforms: Array<[string, PlatformSpec]> = [
      ["AMD 0x17 (Zen)", { cpuVendor: "amd", cpuFamily: 0x17 }],
      ["AMD 0x19 (Zen 3/4)", { cpuVendor: "amd", cpuFamily: 0x19 }],
      ["AMD 0x16", { cpuVendor: "amd", cpuFamily: 0x16 }],
      ["AMD 0x19 on arm64", { cpuVendor: "amd", cpuFamily: 0x19, arch: "arm64" }],
      ["Intel 0x19", { cpuVendor: "intel", cpuFamily: 0x19 }],
      ["other 0x19", { cpuVendor: "other", cpuFamily: 0x19 }],
    ];
    expect(platforms.map(([what, platform]) => [what, ...outcome(twoBridges(UNLISTED, UNLISTED, platform), "a", "b")])).toEqual([
      ["AMD 0x17 (Zen)", "thru-host-bridge", "amd-zen", []],
      ["AMD 0x19 (Zen 3/4)", "thru-host-bridge", "amd-zen", []],
      ["AMD 0x16", "not-supported", "not-on-allow-list", ["not-listed"]],
      ["AMD 0x19 on arm64", "not-supported", "not-on-allow-list", ["not-listed"]],
      ["Intel 0x19", "not-supported", "not-on-allow-list", ["not-listed"]],
      ["other 0x19", "not-supported", "not-on-allow-list", ["not-listed"]],
    ]);
    const platform = (cpuVendor: Platform["cpuVendor"], cpuFamily: number, arch: Platform["arch"]): Platform => ({
      cpuVendor,
      cpuFamily,
      arch,
      cpuModel: undefined,
      numaDistances: undefined,
    });
    expect([
      cpuSupportsP2pdma(platform("amd", 0x17, "x86")),
      cpuSupportsP2pdma(platform("amd", 0x17, "other")),
      cpuSupportsP2pdma(platform("amd", 0x1a, "x86")),
    ]).toEqual([true, false, true]);
  });
});
