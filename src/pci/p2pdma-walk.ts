/**
 * `calc_map_type_and_dist`: the distance between a provider and a client and the map type a
 * mapping between them gets [kernel.md §a.3], as a pure function of the topology that also says
 * why. The walk, as drawn above the kernel function:
 *
 * ```
 *     -+  Root Port
 *      \+ Switch Upstream Port
 *       +-+ Switch Downstream Port 0
 *         + Device A
 *       \-+ Switch Downstream Port 1
 *         \- Device B
 * ```
 *
 * A to B: the outer walk climbs from A (A, DSP0, USP: dist_a = 2) and at each step an inner walk
 * climbs from B looking for that node (B, DSP1, USP: dist_b = 2); the USP is the nearest common
 * upstream bridge, so the distance is 4. Every node the outer walk visits up to and including the
 * common bridge, and every node of B's side below it, is tested for ACS P2P Request Redirect,
 * Completion Redirect or Egress Control; one such bit anywhere sends the traffic to the host
 * bridge decision.
 */
import { assert } from "../fabric/assert.js";
import { ACS_REDIRECT_BITS } from "./acs.js";
import { cpuSupportsP2pdma, describeHostBridgeCheck, type HostBridgeCheck, hostBridgeWhitelist } from "./host-bridge-allowlist.js";
import { KERNEL_MAP_TYPE_NAME, type P2pdmaProfile, type PciP2pdmaMapType } from "./p2pdma-map-type.js";
import type { PciFunction, Topology } from "./topology.js";

/** What the walk between provider and client found. */
export type P2pdmaPathRule =
  /** A common upstream bridge (or the function itself) and no ACS redirect on the counted nodes: BUS_ADDR. */
  | "common-upstream-bridge"
  /** A common upstream bridge, but a counted node has RR, CR or EC set in ACS Control. */
  | "acs-redirect"
  /** The two chains never meet below the root buses (different root ports or host bridges). */
  | "no-common-upstream-bridge";

/** What decided when the walk did not give BUS_ADDR. */
export type P2pdmaHostBridgeRule =
  /** x86 AMD family >= 0x17: THRU_HOST_BRIDGE without a table lookup. */
  | "amd-zen"
  /** The allow list accepted the host bridge(s): THRU_HOST_BRIDGE. */
  | "allow-list"
  /** The allow list refused: NOT_SUPPORTED. */
  | "not-on-allow-list"
  /** Profile p2pdma-v4.20: an ACS redirect on the path was a rejection (-2). */
  | "v4.20-acs-reject"
  /** Profile p2pdma-v4.20: no common upstream bridge was a rejection (-1). */
  | "v4.20-no-common-bridge";

/** Why a provider/client pair got its map type. */
export interface P2pdmaReason {
  /** Ids the outer walk visited: the provider up to and including the common upstream bridge, or up to the root bus when there is none. */
  readonly providerChain: readonly string[];
  /** Ids of the client side: the client up to but excluding the common upstream bridge, or up to the root bus when there is none. */
  readonly clientChain: readonly string[];
  /** The nearest common upstream bridge (the function itself when provider and client are one function). */
  readonly commonUpstream: string | undefined;
  /** Counted nodes whose ACS Control has RR, CR or EC set, provider side first (empty without a common upstream bridge, where they do not matter). */
  readonly acsRedirect: readonly string[];
  readonly rule: P2pdmaPathRule;
  /** Set whenever the result was not BUS_ADDR. */
  readonly hostBridgeRule: P2pdmaHostBridgeRule | undefined;
  /** The allow-list checks, when the allow list was consulted. */
  readonly allowList: readonly HostBridgeCheck[];
  /** One line for a human, e.g. `common upstream bridge 0000:02:00.0, no ACS redirect on the path: BUS_ADDR at distance 4`. */
  readonly summary: string;
}

/** The map type, the distance and the reason. */
export interface P2pdmaResult {
  readonly mapType: PciP2pdmaMapType;
  /** dist_a + dist_b: bridges climbed on both sides (unpenalised for THRU_HOST_BRIDGE, computed even for NOT_SUPPORTED). */
  readonly distance: number;
  readonly reason: P2pdmaReason;
}

/**
 * `pci_bridge_has_acs_redir`: whether a node counts as an ACS redirect on the path. It must have
 * an ACS capability and RR, CR or EC set in ACS Control; SV, TB, UF and DT are ignored [§a.3].
 * Endpoints count too (a multi-function device may carry ACS).
 */
export function pciBridgeHasAcsRedir(fn: PciFunction): boolean {
  return fn.hasAcs && (fn.acsCtl & ACS_REDIRECT_BITS) !== 0;
}

/**
 * `calc_map_type_and_dist(provider, client)` [§a.3], without the cache (see `P2pdma` for that).
 * @param provider the function owning the memory.
 * @param client the function that will DMA to it.
 * @param topology the machine both belong to (its platform decides the AMD rule).
 * @param profile the kernel whose rules apply; default `"current"`.
 * @returns the map type, the distance and why. A refusal is the value `"not-supported"`, never a throw.
 * Precondition: both functions belong to `topology`.
 */
export function calcMapTypeAndDist(provider: PciFunction, client: PciFunction, topology: Topology, profile: P2pdmaProfile = "current"): P2pdmaResult {
  if (topology.find(provider.id) !== provider) assert(false, `provider ${provider.id} is not a function of topology ${topology.name}`);
  if (topology.find(client.id) !== client) assert(false, `client ${client.id} is not a function of topology ${topology.name}`);
  const clientUp = client.upstreamChain();
  const providerSide: PciFunction[] = [];
  const acsRedirect: PciFunction[] = [];
  let common: PciFunction | undefined;
  let distB = clientUp.length;
  // Steps 1-2: the outer walk tests ACS at every node it visits, the provider included, and stops at the first node the client's chain also contains.
  for (let a: PciFunction | undefined = provider; a !== undefined && common === undefined; a = a.upstream) {
    providerSide.push(a);
    if (pciBridgeHasAcsRedir(a)) acsRedirect.push(a);
    const index = clientUp.indexOf(a);
    if (index >= 0) {
      common = a;
      distB = index;
    }
  }
  const clientSide = clientUp.slice(0, distB);
  if (common === undefined) {
    // Step 3: the ACS findings of the outer walk are irrelevant without a common bridge.
    const facts: WalkFacts = { provider, client, providerSide, clientSide, common, acsRedirect: [], distance: providerSide.length + clientSide.length };
    return hostBridgeDecision(facts, topology, profile, "no-common-upstream-bridge");
  }
  // Step 4: the client side, up to but excluding the common bridge, is tested the same way.
  for (const bb of clientSide) if (pciBridgeHasAcsRedir(bb)) acsRedirect.push(bb);
  const facts: WalkFacts = { provider, client, providerSide, clientSide, common, acsRedirect, distance: providerSide.length - 1 + clientSide.length };
  if (acsRedirect.length === 0)
    return { mapType: "bus-addr", distance: facts.distance, reason: new LazyReason(facts, "bus-addr", "common-upstream-bridge", undefined, [], "") };
  return hostBridgeDecision(facts, topology, profile, "acs-redirect");
}

/** What the walk found, kept as functions; the reason's strings are made only when read. */
interface WalkFacts {
  readonly provider: PciFunction;
  readonly client: PciFunction;
  readonly providerSide: readonly PciFunction[];
  readonly clientSide: readonly PciFunction[];
  readonly common: PciFunction | undefined;
  readonly acsRedirect: readonly PciFunction[];
  readonly distance: number;
}

const ids = (fns: readonly PciFunction[]) => fns.map((fn) => fn.id);

/** A reason as plain data (every field read once), for comparisons and JSON. */
export function reasonData(reason: P2pdmaReason): P2pdmaReason {
  const { providerChain, clientChain, commonUpstream, acsRedirect, rule, hostBridgeRule, allowList, summary } = reason;
  return { providerChain, clientChain, commonUpstream, acsRedirect, rule, hostBridgeRule, allowList, summary };
}

/**
 * The reason, formatted on first read: classifying a thousand devices pair by pair must not
 * pay for a million summary strings nobody prints.
 */
class LazyReason implements P2pdmaReason {
  private summaryText: string | undefined;

  constructor(
    private readonly facts: WalkFacts,
    private readonly mapType: PciP2pdmaMapType,
    readonly rule: P2pdmaPathRule,
    readonly hostBridgeRule: P2pdmaHostBridgeRule | undefined,
    readonly allowList: readonly HostBridgeCheck[],
    private readonly why: string | (() => string),
  ) {}

  get providerChain(): readonly string[] {
    return ids(this.facts.providerSide);
  }

  get clientChain(): readonly string[] {
    return ids(this.facts.clientSide);
  }

  get commonUpstream(): string | undefined {
    return this.facts.common?.id;
  }

  get acsRedirect(): readonly string[] {
    return ids(this.facts.acsRedirect);
  }

  get summary(): string {
    this.summaryText ??= this.format();
    return this.summaryText;
  }

  /** The reason as plain data, for JSON output. */
  toJSON(): P2pdmaReason {
    return reasonData(this);
  }

  private format(): string {
    const { common, provider, client, distance } = this.facts;
    const why = typeof this.why === "function" ? this.why() : this.why;
    const result = `${KERNEL_MAP_TYPE_NAME[this.mapType]} at distance ${distance}`;
    if (common === undefined) return `no common upstream bridge; ${why}: ${result}`;
    const where =
      common === provider && common === client
        ? `provider and client are one function, ${common.id}`
        : `common upstream ${common.isBridge ? "bridge" : "device"} ${common.id}`;
    if (this.rule === "common-upstream-bridge") return `${where}, no ACS redirect on the path: ${result}`;
    return `ACS redirect on ${this.acsRedirect.join(", ")} (${where}); ${why}: ${result}`;
  }
}

/** Step 5: the AMD rule, then the allow list; or, under v4.20, a rejection. */
function hostBridgeDecision(
  facts: WalkFacts,
  topology: Topology,
  profile: P2pdmaProfile,
  rule: Exclude<P2pdmaPathRule, "common-upstream-bridge">,
): P2pdmaResult {
  const result = (
    mapType: PciP2pdmaMapType,
    hostBridgeRule: P2pdmaHostBridgeRule,
    allowList: readonly HostBridgeCheck[],
    why: string | (() => string),
  ): P2pdmaResult => ({
    mapType,
    distance: facts.distance,
    reason: new LazyReason(facts, mapType, rule, hostBridgeRule, allowList, why),
  });
  if (profile === "p2pdma-v4.20") {
    // [P2P-420] upstream_bridge_distance: -2 for a redirect, -1 without a common bridge; no host-bridge path existed.
    if (rule === "acs-redirect") return result("not-supported", "v4.20-acs-reject", [], "the v4.20 kernel rejects any ACS redirect (-2)");
    return result("not-supported", "v4.20-no-common-bridge", [], "the v4.20 kernel rejects P2P without a common upstream bridge (-1)");
  }
  const { platform } = topology;
  if (cpuSupportsP2pdma(platform)) {
    return result("thru-host-bridge", "amd-zen", [], `AMD CPU family 0x${platform.cpuFamily.toString(16)} on x86 (Zen or newer) forwards P2P`);
  }
  const verdict = hostBridgeWhitelist(facts.provider.hostBridge, facts.client.hostBridge);
  const why = () => verdict.checks.map(describeHostBridgeCheck).join(", ");
  return result(verdict.allowed ? "thru-host-bridge" : "not-supported", verdict.allowed ? "allow-list" : "not-on-allow-list", verdict.checks, why);
}
