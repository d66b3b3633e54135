import { describe, expect, it } from "vitest";
import { AssertionError } from "../../src/fabric/assert.js";
import { ACS_FLAGS, ACS_RR, acsBits } from "../../src/pci/acs.js";
import {
  calcMapTypeAndDist,
  distanceMany,
  mapTypesIdx,
  P2pdma,
  type P2pdmaProfile,
  type PciP2pdmaMapType,
  p2pdmaProvider,
  p2pmemFindMany,
  pciBridgeHasAcsRedir,
  reasonData,
} from "../../src/pci/p2pdma.js";
import type { PciFunction, Topology } from "../../src/pci/topology.js";
import type { FunctionSpec, PlatformSpec } from "../../src/pci/topology-spec.js";
import { AMD_ZEN, ep, hb, INTEL, machine, pciSwitch, pick, rootPort, withAcsCap } from "../support/topologies.js";

type Pair = readonly [intelUnlisted: PciP2pdmaMapType, amdZen: PciP2pdmaMapType];

/** One row of the typical-distance table [kernel.md §a.5], with the nodes the ACS test counts and those it skips. */
interface DistanceRow {
  readonly row: string;
  readonly devices: readonly FunctionSpec[];
  readonly provider: string;
  readonly client: string;
  readonly distance: number;
  readonly common: string | undefined;
  /** Nodes on the counted path: RR on any one of them leaves BUS_ADDR. */
  readonly counted: readonly string[];
  /** Nodes off the counted path: RR there changes nothing. */
  readonly ignored: readonly string[];
  /** Map type without any redirect, on an Intel machine whose host bridge is not on the allow list and on AMD Zen. */
  readonly noRedirect: Pair;
  /** Map type with RR on one counted node. */
  readonly redirect: Pair;
  /** Profile p2pdma-v4.20: [no redirect, redirect on a counted node], the same on both platforms. */
  readonly v420: readonly [PciP2pdmaMapType, PciP2pdmaMapType];
}

const NS = "not-supported";
const HB = "thru-host-bridge";
const BUS = "bus-addr";

const ROWS: readonly DistanceRow[] = [
  {
    row: "provider == client (same function)",
    devices: [rootPort("rp0", [ep("a")])],
    provider: "a",
    client: "a",
    distance: 0,
    common: "a",
    counted: ["a"],
    ignored: ["rp0"],
    noRedirect: [BUS, BUS],
    redirect: [NS, HB],
    v420: [BUS, NS],
  },
  {
    row: "two functions of one device under bridge X",
    devices: [rootPort("rp0", [pciSwitch("s", [[ep("f0"), ep("f1", { function: 1 })]])])],
    provider: "f0",
    client: "f1",
    distance: 2,
    common: "s.d0",
    counted: ["f0", "s.d0", "f1"],
    ignored: ["s", "rp0"],
    noRedirect: [BUS, BUS],
    redirect: [NS, HB],
    v420: [BUS, NS],
  },
  {
    row: "two endpoints on two downstream ports of one switch",
    devices: [rootPort("rp0", [pciSwitch("s", [[ep("a")], [ep("b")]])])],
    provider: "a",
    client: "b",
    distance: 4,
    common: "s",
    counted: ["a", "s.d0", "s", "b", "s.d1"],
    ignored: ["rp0"],
    noRedirect: [BUS, BUS],
    redirect: [NS, HB],
    v420: [BUS, NS],
  },
  {
    row: "endpoint directly on Root Port R vs endpoint behind a switch under R",
    devices: [rootPort("rp0", [ep("a"), pciSwitch("s", [[ep("b")]])])],
    provider: "a",
    client: "b",
    distance: 4,
    common: "rp0",
    counted: ["a", "rp0", "b", "s.d0", "s"],
    ignored: [],
    noRedirect: [BUS, BUS],
    redirect: [NS, HB],
    v420: [BUS, NS],
  },
  {
    row: "endpoints under different Root Ports, each directly attached",
    devices: [rootPort("rp0", [ep("a")]), rootPort("rp1", [ep("b")])],
    provider: "a",
    client: "b",
    distance: 4,
    common: undefined,
    counted: [],
    ignored: ["a", "rp0", "b", "rp1"],
    noRedirect: [NS, HB],
    redirect: [NS, HB],
    v420: [NS, NS],
  },
  {
    row: "endpoints each behind its own switch under different Root Ports",
    devices: [rootPort("rp0", [pciSwitch("s0", [[ep("a")]])]), rootPort("rp1", [pciSwitch("s1", [[ep("b")]])])],
    provider: "a",
    client: "b",
    distance: 8,
    common: undefined,
    counted: [],
    ignored: ["a", "s0.d0", "s0", "rp0", "b", "s1.d0", "s1", "rp1"],
    noRedirect: [NS, HB],
    redirect: [NS, HB],
    v420: [NS, NS],
  },
  {
    row: "two RCiEPs on the same root bus (no bridges)",
    devices: [ep("a"), ep("b")],
    provider: "a",
    client: "b",
    distance: 2,
    common: undefined,
    counted: [],
    ignored: ["a", "b"],
    noRedirect: [NS, HB],
    redirect: [NS, HB],
    v420: [NS, NS],
  },
  {
    row: "nested: A under switch S1 whose upstream port hangs off S2's downstream port; B on another S2 downstream port",
    devices: [rootPort("rp0", [pciSwitch("s2", [[pciSwitch("s1", [[ep("a")]])], [ep("b")]])])],
    provider: "a",
    client: "b",
    distance: 6,
    common: "s2",
    counted: ["a", "s1.d0", "s1", "s2.d0", "s2", "b", "s2.d1"],
    ignored: ["rp0"],
    noRedirect: [BUS, BUS],
    redirect: [NS, HB],
    v420: [BUS, NS],
  },
];

function rowMachine(row: DistanceRow, platform: PlatformSpec): Topology {
  return machine([hb(row.devices.map(withAcsCap))], { platform });
}

/** The map type of provider → client with RR set on `node` only (none when undefined). */
function withRedirectOn(t: Topology, node: string | undefined, provider: string, client: string, profile: P2pdmaProfile = "current") {
  for (const fn of t.functions) fn.acsCtl = 0;
  if (node !== undefined) pick(t, node).acsCtl = ACS_RR;
  return calcMapTypeAndDist(pick(t, provider), pick(t, client), t, profile);
}

describe("calcMapTypeAndDist: the typical-distance table [kernel.md §a.5]", () => {
  it.each(ROWS)("$row", (row) => {
    const intel = rowMachine(row, INTEL);
    const zen = rowMachine(row, AMD_ZEN);
    const both = (node: string | undefined) => [withRedirectOn(intel, node, row.provider, row.client), withRedirectOn(zen, node, row.provider, row.client)];
    const [plain, plainZen] = both(undefined);
    expect([plain?.mapType, plainZen?.mapType]).toEqual(row.noRedirect);
    expect(plain?.distance).toBe(row.distance);
    expect(calcMapTypeAndDist(pick(intel, row.client), pick(intel, row.provider), intel).distance).toBe(row.distance);
    expect(plain?.reason.commonUpstream).toBe(row.common === undefined ? undefined : pick(intel, row.common).id);
    for (const node of row.counted) {
      const [a, b] = both(node);
      expect([node, a?.mapType, b?.mapType, a?.distance, a?.reason.acsRedirect]).toEqual([node, ...row.redirect, row.distance, [pick(intel, node).id]]);
    }
    for (const node of row.ignored) {
      const [a, b] = both(node);
      expect([node, a?.mapType, b?.mapType, a?.distance, a?.reason.acsRedirect]).toEqual([node, ...row.noRedirect, row.distance, []]);
    }
  });

  it("every node of every row is either counted or ignored", () => {
    for (const row of ROWS) {
      const t = rowMachine(row, INTEL);
      expect([...row.counted, ...row.ignored].map((name) => pick(t, name).id).sort()).toEqual(t.functions.map((fn) => fn.id).sort());
    }
  });
});

describe("calcMapTypeAndDist: profile p2pdma-v4.20 on the same rows", () => {
  it.each(ROWS)("$row", (row) => {
    for (const platform of [INTEL, AMD_ZEN]) {
      const t = rowMachine(row, platform);
      const plain = withRedirectOn(t, undefined, row.provider, row.client, "p2pdma-v4.20");
      const redirected = withRedirectOn(t, row.counted[0], row.provider, row.client, "p2pdma-v4.20");
      expect([plain.mapType, redirected.mapType]).toEqual(row.v420);
      expect(plain.distance).toBe(row.distance);
      const rule = row.common === undefined ? "v4.20-no-common-bridge" : "v4.20-acs-reject";
      expect(redirected.reason.hostBridgeRule).toBe(row.v420[1] === NS ? rule : undefined);
      expect(redirected.reason.allowList).toEqual([]);
    }
  });
});

/**
 *   rp0 ─ s ─┬─ s.d0 ─ a (00.0), a1 (00.1)
 *            ├─ s.d1 ─ b
 *            └─ s.d2 ─ s2 ─ s2.d0 ─ c
 *   plain: like a, without an ACS capability
 */
function acsMachine(): Topology {
  const tree = rootPort("rp0", [pciSwitch("s", [[ep("a"), ep("a1", { function: 1 })], [ep("b")], [pciSwitch("s2", [[ep("c")]])]])]);
  return machine([hb([withAcsCap(tree), rootPort("rp1", [ep("plain")])])]);
}

describe("calcMapTypeAndDist: which ACS bits count, and where", () => {
  const outcome = (t: Topology, redirect: readonly string[], provider: string, client: string) => {
    for (const fn of t.functions) fn.acsCtl = 0;
    for (const node of redirect) pick(t, node).acsCtl = ACS_RR;
    const result = calcMapTypeAndDist(pick(t, provider), pick(t, client), t);
    const label = (id: string) => t.find(id)?.label;
    return [result.mapType, result.reason.acsRedirect.map(label), result.reason.rule];
  };

  it("counts a redirect wherever the walk tests, provider side first", () => {
    const t = acsMachine();
    const cases: Array<[string, readonly string[], string, string, unknown[]]> = [
      ["provider endpoint, DMA to itself", ["a"], "a", "a", [NS, ["a"], "acs-redirect"]],
      ["another endpoint's redirect, DMA to itself", ["b"], "a", "a", [BUS, [], "common-upstream-bridge"]],
      ["client endpoint", ["b"], "a", "b", [NS, ["b"], "acs-redirect"]],
      ["client endpoint seen from the other side", ["b"], "b", "a", [NS, ["b"], "acs-redirect"]],
      ["common ancestor, counted on the provider side", ["s"], "a", "b", [NS, ["s"], "acs-redirect"]],
      ["a node on the client side", ["s.d1"], "a", "b", [NS, ["s.d1"], "acs-redirect"]],
      ["a bridge below the common ancestor on the provider side", ["s.d0"], "a", "b", [NS, ["s.d0"], "acs-redirect"]],
      ["the same bridge, off the path of another pair", ["s.d0"], "b", "c", [BUS, [], "common-upstream-bridge"]],
      ["above the common ancestor", ["rp0"], "a", "b", [BUS, [], "common-upstream-bridge"]],
      ["an endpoint function of a multi-function device, as client", ["a1"], "a", "a1", [NS, ["a1"], "acs-redirect"]],
      ["an endpoint function of a multi-function device, as provider", ["a1"], "a1", "a", [NS, ["a1"], "acs-redirect"]],
      ["the other function of that device, off the path", ["a1"], "a", "b", [BUS, [], "common-upstream-bridge"]],
      ["several nodes: provider side in walk order, then client side", ["c", "s2", "b", "a", "s"], "a", "c", [NS, ["a", "s", "c", "s2"], "acs-redirect"]],
      ["redirects do not matter without a common bridge", ["a", "s", "rp0"], "a", "plain", [NS, [], "no-common-upstream-bridge"]],
    ];
    expect(cases.map(([what, redirect, provider, client]) => [what, ...outcome(t, redirect, provider, client)])).toEqual(
      cases.map(([what, , , , expected]) => [what, ...expected]),
    );
  });

  it("counts RR, CR and EC; ignores SV, TB, UF and DT", () => {
    const t = acsMachine();
    const common = pick(t, "s");
    const table = ACS_FLAGS.map((flag) => {
      for (const fn of t.functions) fn.acsCtl = 0;
      common.acsCtl = acsBits([flag]);
      return [flag, calcMapTypeAndDist(pick(t, "a"), pick(t, "b"), t).mapType];
    });
    expect(table).toEqual([
      ["SV", BUS],
      ["TB", BUS],
      ["RR", NS],
      ["CR", NS],
      ["UF", BUS],
      ["EC", NS],
      ["DT", BUS],
    ]);
  });

  it("ignores control bits on a function without an ACS capability", () => {
    const t = machine([hb([rootPort("rp0", [pciSwitch("s", [[ep("a")], [ep("b")]])])])]);
    const s = pick(t, "s");
    s.acsCtl = ACS_RR;
    expect([s.hasAcs, pciBridgeHasAcsRedir(s), calcMapTypeAndDist(pick(t, "a"), pick(t, "b"), t).mapType]).toEqual([false, false, BUS]);
  });
});

describe("calcMapTypeAndDist: the reason", () => {
  it("gives both chains, the common bridge and a one-line summary", () => {
    const t = acsMachine();
    const labels = (ids: readonly string[]) => ids.map((id) => t.find(id)?.label);
    for (const fn of t.functions) fn.acsCtl = 0;
    const busAddr = calcMapTypeAndDist(pick(t, "a"), pick(t, "c"), t);
    expect([labels(busAddr.reason.providerChain), labels(busAddr.reason.clientChain), busAddr.reason.summary]).toEqual([
      ["a", "s.d0", "s"],
      ["c", "s2.d0", "s2", "s.d2"],
      "common upstream bridge 0000:01:00.0, no ACS redirect on the path: BUS_ADDR at distance 6",
    ]);
    expect(calcMapTypeAndDist(pick(t, "a"), pick(t, "a"), t).reason.summary).toBe(
      "provider and client are one function, 0000:03:00.0, no ACS redirect on the path: BUS_ADDR at distance 0",
    );
    pick(t, "s.d1").acsCtl = ACS_RR;
    expect(reasonData(calcMapTypeAndDist(pick(t, "a"), pick(t, "b"), t).reason)).toEqual({
      providerChain: ["0000:03:00.0", "0000:02:00.0", "0000:01:00.0"],
      clientChain: ["0000:04:00.0", "0000:02:01.0"],
      commonUpstream: "0000:01:00.0",
      acsRedirect: ["0000:02:01.0"],
      rule: "acs-redirect",
      hostBridgeRule: "not-on-allow-list",
      allowList: [{ hostBridge: "hb0", root: "0000:00:00.0", vendorId: 0xffff, deviceId: 0xffff, entry: undefined, outcome: "not-listed" }],
      summary:
        "ACS redirect on 0000:02:01.0 (common upstream bridge 0000:01:00.0); hb0 root 0000:00:00.0 (ffff:ffff) is not on the allow list: NOT_SUPPORTED at distance 4",
    });
    const noCommon = calcMapTypeAndDist(pick(t, "a"), pick(t, "plain"), t);
    expect([labels(noCommon.reason.providerChain), labels(noCommon.reason.clientChain), noCommon.reason.commonUpstream, noCommon.distance]).toEqual([
      ["a", "s.d0", "s", "rp0"],
      ["plain", "rp1"],
      undefined,
      6,
    ]);
  });

  it("names the AMD rule and the v4.20 rejections", () => {
    const zen = machine([hb([rootPort("rp0", [ep("a")]), rootPort("rp1", [ep("b")])])], { platform: AMD_ZEN });
    expect(calcMapTypeAndDist(pick(zen, "a"), pick(zen, "b"), zen).reason.summary).toBe(
      "no common upstream bridge; AMD CPU family 0x19 on x86 (Zen or newer) forwards P2P: THRU_HOST_BRIDGE at distance 4",
    );
    expect(calcMapTypeAndDist(pick(zen, "a"), pick(zen, "b"), zen, "p2pdma-v4.20").reason.summary).toBe(
      "no common upstream bridge; the v4.20 kernel rejects P2P without a common upstream bridge (-1): NOT_SUPPORTED at distance 4",
    );
  });

  it("refuses functions of another topology", () => {
    const t = acsMachine();
    const other = acsMachine();
    expect(() => calcMapTypeAndDist(pick(t, "a"), pick(other, "b"), t)).toThrow(AssertionError);
  });
});

describe("p2pdmaProvider [kernel.md §a.1]", () => {
  it("offers memory BARs with the host bridge's bus offset, and nothing for I/O or absent BARs", () => {
    const t = machine([
      hb(
        [
          rootPort("rp0", [
            ep("gpu", {
              bars: [
                { index: 0, size: 0x1000_0000, type: "mem32" },
                { index: 2, size: 2 ** 34, type: "mem64", address: "0x3c0000000000" },
                { index: 4, size: 0x100, type: "io" },
              ],
            }),
          ]),
        ],
        { busOffset: 0x8000_0000 },
      ),
    ]);
    const gpu = pick(t, "gpu");
    expect([0, 1, 2, 3, 4, 5].map((bar) => p2pdmaProvider(gpu, bar))).toEqual([
      { fn: gpu, barIndex: 0, busOffset: 0x8000_0000 },
      undefined,
      { fn: gpu, barIndex: 2, busOffset: 0x8000_0000 },
      undefined,
      undefined,
      undefined,
    ]);
    expect(() => p2pdmaProvider(gpu, 6)).toThrow(AssertionError);
  });
});

describe("P2pdma: the per-provider cache [kernel.md §a.6]", () => {
  it("keys clients by (domain << 16) | (bus << 8) | devfn, without 32-bit wrap", () => {
    const key = (domain: number, bus: number, device: number, fn: number) => mapTypesIdx({ bdf: { domain, bus, device, fn } });
    expect([key(0, 0, 0, 0), key(0, 0x41, 0, 1), key(0, 0xff, 31, 7), key(1, 0, 0, 0), key(0x8000, 0, 0, 0), key(0x10000, 0, 0, 0)]).toEqual([
      0, 0x4101, 0xffff, 0x10000, 0x8000_0000, 0x1_0000_0000,
    ]);
  });

  it("answers stale after an ACS change, fresh on request, and fresh does not touch the cache", () => {
    const t = acsMachine();
    const p2p = new P2pdma(t);
    const [a, b, dsp] = [pick(t, "a"), pick(t, "b"), pick(t, "s.d0")];
    expect([p2p.cached(a, b), p2p.mapType(a, b), p2p.cached(a, b)]).toEqual([undefined, BUS, BUS]);
    dsp.acsCtl = ACS_RR;
    expect([p2p.mapType(a, b), p2p.mapType(a, b, { fresh: true }), p2p.cached(a, b), p2p.mapType(a, b)]).toEqual([BUS, NS, BUS, BUS]);
    // Another pair through the same port was never asked: its first answer sees the redirect.
    expect([p2p.mapType(b, a), p2p.cached(b, a)]).toEqual([NS, NS]);
    // calc_map_type_and_dist overwrites the entry, as xa_store does.
    expect([p2p.calc(a, b).mapType, p2p.cached(a, b)]).toEqual([NS, NS]);
  });

  it("caches per provider function: another function of the same device has its own cache", () => {
    const t = acsMachine();
    const p2p = new P2pdma(t);
    const [a, a1, b] = [pick(t, "a"), pick(t, "a1"), pick(t, "b")];
    p2p.mapType(a, b);
    expect([p2p.cached(a, b), p2p.cached(a1, b), p2p.cached(b, a)]).toEqual([BUS, undefined, undefined]);
  });

  it("does not cache under profile p2pdma-v4.20", () => {
    const t = acsMachine();
    const p2p = new P2pdma(t, "p2pdma-v4.20");
    const [a, b] = [pick(t, "a"), pick(t, "b")];
    expect(p2p.mapType(a, b)).toBe(BUS);
    pick(t, "s").acsCtl = ACS_RR;
    expect([p2p.mapType(a, b), p2p.cached(a, b)]).toEqual([NS, undefined]);
  });
});

/**
 *   rp0 ─ s ─┬─ s.d0 ─ a
 *            ├─ s.d1 ─ b
 *            └─ s.d2 ─ c
 *   rp1 ─ d
 */
function manyMachine(platform: PlatformSpec = INTEL): Topology {
  return machine([hb([rootPort("rp0", [pciSwitch("s", [[ep("a")], [ep("b")], [ep("c")]])]), rootPort("rp1", [ep("d")])])], { platform });
}

describe("distanceMany [kernel.md §a.3]", () => {
  it("sums the distances, fails for no clients or any not-supported client", () => {
    const t = manyMachine();
    const [a, b, c, d] = ["a", "b", "c", "d"].map((name) => pick(t, name)) as [PciFunction, PciFunction, PciFunction, PciFunction];
    const brief = (r: ReturnType<typeof distanceMany>) =>
      r.ok ? ["ok", r.distance, r.results.length] : r.reason === "no-clients" ? [r.reason] : [r.reason, r.notSupported, r.results.length];
    expect([
      brief(distanceMany(a, [], t)),
      brief(distanceMany(a, [a], t)),
      brief(distanceMany(a, [b, c], t)),
      brief(distanceMany(a, [b, d, c], t)),
      brief(distanceMany(a, [b, d, c], t, "current", { verbose: false })),
      brief(distanceMany(d, [a, b], t)),
    ]).toEqual([["no-clients"], ["ok", 0, 1], ["ok", 8, 2], ["not-supported", [d.id], 3], ["not-supported", [d.id], 2], ["not-supported", [a.id, b.id], 2]]);
  });

  it("adds THRU_HOST_BRIDGE distances without penalty", () => {
    const t = manyMachine(AMD_ZEN);
    const result = distanceMany(pick(t, "a"), [pick(t, "b"), pick(t, "d")], t);
    expect(result.ok && [result.distance, result.results.map((r) => r.mapType)]).toEqual([4 + 6, [BUS, HB]]);
  });
});

describe("p2pmemFindMany [kernel.md §a.3]", () => {
  it("picks the least total distance, the lowest BDF among ties, or what pick chooses", () => {
    const t = manyMachine();
    const [a, b, c, d] = ["a", "b", "c", "d"].map((name) => pick(t, name)) as [PciFunction, PciFunction, PciFunction, PciFunction];
    const brief = (r: ReturnType<typeof p2pmemFindMany>) => (r.ok ? [r.provider.label, r.distance, r.ties.map((f) => f.label)] : [r.reason]);
    const seen: string[][] = [];
    const second = (ties: readonly PciFunction[]) => {
      seen.push(ties.map((f) => f.label));
      return ties[1] as PciFunction;
    };
    expect([
      brief(p2pmemFindMany([d, b, a], [c], t)),
      brief(p2pmemFindMany([d, b, a], [c], t, "current", { pick: second })),
      brief(p2pmemFindMany([b, a, c], [a], t)),
      brief(p2pmemFindMany([b, c], [a, b], t)),
      brief(p2pmemFindMany([a, b], [], t)),
      brief(p2pmemFindMany([d], [a], t)),
      brief(p2pmemFindMany([], [a], t)),
    ]).toEqual([["a", 4, ["a", "b"]], ["b", 4, ["a", "b"]], ["a", 0, ["a"]], ["b", 4, ["b"]], ["no-clients"], ["none-reachable"], ["none-reachable"]]);
    expect(seen).toEqual([["a", "b"]]);
    expect(() => p2pmemFindMany([a, b], [c], t, "current", { pick: () => d })).toThrow(AssertionError);
  });

  it("stores every computed pair in the P2pdma cache, as the kernel's calc does", () => {
    const t = manyMachine();
    const p2p = new P2pdma(t);
    const [a, c, d] = [pick(t, "a"), pick(t, "c"), pick(t, "d")];
    const found = p2p.p2pmemFindMany([d, a], [c]);
    expect([found.ok && found.provider.label, p2p.cached(a, c), p2p.cached(d, c)]).toEqual(["a", BUS, NS]);
    p2p.distanceMany(c, [a, d]);
    expect([p2p.cached(c, a), p2p.cached(c, d)]).toEqual([BUS, NS]);
  });
});
