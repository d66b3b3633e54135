/**
 * p2pdma: which BARs can be peer-to-peer memory, how a client reaches them, and which provider
 * is closest to a set of clients [kernel.md §a]. The pieces, in the order a kernel user meets them:
 *
 * 1. `p2pdmaProvider(fn, bar)`: a memory BAR becomes a provider with its `busOffset` [§a.1].
 * 2. `calcMapTypeAndDist` (p2pdma-walk.ts): the pure walk to the common upstream bridge, the ACS
 *    test and the host-bridge decision [§a.3, §a.4].
 * 3. `P2pdma.mapType`: the same answer through the per-provider cache, which is never
 *    invalidated, so it goes stale when ACS changes at run time, as the kernel's does [§a.6].
 * 4. `distanceMany` / `p2pmemFindMany`: the summed distance to several clients and the closest
 *    provider [§a.3].
 *
 * Every function is treated as having p2pdma state (`pcim_p2pdma_init` done); the model has no
 * non-PCI clients, so `find_parent_pci_dev` and the "not a PCI device" failures do not arise.
 */
import { assert } from "../fabric/assert.js";
import type { TraceBus } from "../fabric/trace.js";
import { cpuSupportsP2pdma, hostBridgeWhitelist } from "./host-bridge-allowlist.js";
import type { Bdf } from "./ids.js";
import type { P2pdmaMutants, P2pdmaProfile, PciP2pdmaMapType } from "./p2pdma-map-type.js";
import { calcMapTypeAndDist, type P2pdmaResult } from "./p2pdma-walk.js";
import type { PciFunction, Topology } from "./topology.js";

export type { P2pdmaMutants, P2pdmaProfile, PciP2pdmaMapType } from "./p2pdma-map-type.js";

declare module "../fabric/trace.js" {
  interface TraceKinds {
    p2pdma: {
      /**
       * A map-type answer of a {@link P2pdma} with a trace attached (one per lookup, never per TLP).
       * `query`: `map_type` (`pci_p2pdma_map_type`), `calc` (a distance computation, which also
       * stores) or `fresh` (model-only recomputation, not stored). `source`: `cache` when the
       * answer was read from the provider's cache, else `computed`. `stored`: the answer was
       * written to the cache. For a computed answer the walk's facts follow: the nearest common
       * upstream bridge (null when none), the counted nodes with RR/CR/EC, and whether the CURRENT
       * kernel's host-bridge rule (AMD Zen, else the allow list) would allow the pair, whatever
       * the profile [kernel.md §a.3, §a.4]; all three are null for a cache read. `staleAgainst`
       * (a cache read that differs from today's walk, else null): what a walk over today's ACS
       * bits would answer — the cached answer is stale, as the kernel keeps it [§a.6].
       */
      "map-type": {
        provider: string;
        client: string;
        clientIdx: number;
        query: "map_type" | "calc" | "fresh";
        source: "cache" | "computed";
        stored: boolean;
        mapType: PciP2pdmaMapType;
        profile: P2pdmaProfile;
        commonUpstream: string | null;
        acsRedirect: string[] | null;
        hostBridgeAllowed: boolean | null;
        staleAgainst: PciP2pdmaMapType | null;
      };
    };
  }
}

export { calcMapTypeAndDist, type P2pdmaReason, type P2pdmaResult, pciBridgeHasAcsRedir, reasonData } from "./p2pdma-walk.js";

/** `struct p2pdma_provider`: one memory BAR of a device, offered as P2P memory [§a.1]. */
export interface P2pdmaProvider {
  /** The owner (`provider->owner`). */
  readonly fn: PciFunction;
  readonly barIndex: number;
  /** PCI bus address minus CPU physical address of the BAR: what BUS_ADDR mappings add [§a.7]. */
  readonly busOffset: number;
}

/**
 * `pcim_p2pdma_provider(pdev, bar)`: the provider of one BAR.
 * @param fn the device.
 * @param barIndex 0-5.
 * @returns the provider, or undefined for a BAR the device does not have or an I/O BAR (only
 * IORESOURCE_MEM BARs get an owner).
 */
export function p2pdmaProvider(fn: PciFunction, barIndex: number): P2pdmaProvider | undefined {
  assert(Number.isInteger(barIndex) && barIndex >= 0 && barIndex <= 5, () => `BAR index 0-5 expected, got ${barIndex}`);
  const bar = fn.bars.find((b) => b.index === barIndex);
  if (bar === undefined || bar.type === "io") return undefined;
  return { fn, barIndex, busOffset: bar.busAddress - bar.cpuAddress };
}

/**
 * `map_types_idx(client)`: the cache key, `(pci_domain << 16) | (bus << 8) | devfn`, computed
 * with arithmetic rather than 32-bit shifts so that domains above 0x7fff stay distinct.
 */
export function mapTypesIdx(client: { readonly bdf: Bdf }): number {
  const { domain, bus, device, fn } = client.bdf;
  return domain * 0x10000 + bus * 0x100 + device * 8 + fn;
}

/** The cache's view: the kernel reads an absent entry as PCI_P2PDMA_MAP_UNKNOWN (0). Never returned. */
type MapTypeOrUnknown = PciP2pdmaMapType | "unknown";

/** Asserts the promise of STYLE.md 9: "unknown" never leaves this module. */
function known(type: MapTypeOrUnknown): PciP2pdmaMapType {
  assert(type !== "unknown", "pci_p2pdma_map_type must never return UNKNOWN");
  return type;
}

/** The outcome of {@link distanceMany}. */
export type DistanceManyResult =
  | { readonly ok: true /** Sum of the per-client distances. */; readonly distance: number; readonly results: readonly P2pdmaResult[] }
  /** `num_clients == 0` (the kernel's -1). */
  | { readonly ok: false; readonly reason: "no-clients" }
  /** A client is NOT_SUPPORTED (the kernel's -1); `results` holds the clients evaluated, in order. */
  | { readonly ok: false; readonly reason: "not-supported"; readonly notSupported: readonly string[]; readonly results: readonly P2pdmaResult[] };

/** The outcome of {@link p2pmemFindMany}. */
export type P2pmemFindResult =
  | {
      readonly ok: true;
      readonly provider: PciFunction;
      /** Its summed distance to the clients. */
      readonly distance: number;
      /** Every provider at that distance, lowest BDF first; `provider` is one of them. */
      readonly ties: readonly PciFunction[];
    }
  /** No clients, so no provider qualifies. */
  | { readonly ok: false; readonly reason: "no-clients" }
  /** No provider reaches every client (or the list of providers is empty). */
  | { readonly ok: false; readonly reason: "none-reachable" };

/** Options of {@link distanceMany}. */
export interface DistanceManyOptions {
  /** As the kernel's `verbose`: true (default) evaluates every client; false stops at the first NOT_SUPPORTED one, as `pci_p2pmem_find_many` does. */
  readonly verbose?: boolean;
}

/** Options of {@link p2pmemFindMany}. */
export interface P2pmemFindOptions {
  /**
   * Picks among equally close providers (given lowest BDF first). The kernel picks at random
   * (`get_random_u32_below`); the default here is deterministic: the lowest BDF. Pass a function
   * drawing from a seeded stream to model the randomness.
   */
  readonly pick?: (ties: readonly PciFunction[]) => PciFunction;
}

type Calc = (provider: PciFunction, client: PciFunction) => P2pdmaResult;

function distanceManyWith(calc: Calc, provider: PciFunction, clients: readonly PciFunction[], options: DistanceManyOptions): DistanceManyResult {
  if (clients.length === 0) return { ok: false, reason: "no-clients" };
  const verbose = options.verbose ?? true;
  const results: P2pdmaResult[] = [];
  const notSupported: string[] = [];
  let distance = 0;
  for (const client of clients) {
    const result = calc(provider, client);
    results.push(result);
    if (result.mapType === "not-supported") notSupported.push(client.id);
    if (notSupported.length > 0 && !verbose) break;
    distance += result.distance;
  }
  if (notSupported.length > 0) return { ok: false, reason: "not-supported", notSupported, results };
  return { ok: true, distance, results };
}

function compareBdf(a: PciFunction, b: PciFunction): number {
  return a.bdf.domain - b.bdf.domain || a.bdf.bus - b.bdf.bus || a.bdf.device - b.bdf.device || a.bdf.fn - b.bdf.fn;
}

function p2pmemFindManyWith(calc: Calc, providers: readonly PciFunction[], clients: readonly PciFunction[], options: P2pmemFindOptions): P2pmemFindResult {
  if (clients.length === 0) return { ok: false, reason: "no-clients" };
  let closest: PciFunction[] = [];
  let closestDistance = Number.POSITIVE_INFINITY;
  for (const provider of providers) {
    const result = distanceManyWith(calc, provider, clients, { verbose: false });
    if (!result.ok || result.distance > closestDistance) continue;
    if (result.distance < closestDistance) {
      closest = [];
      closestDistance = result.distance;
    }
    closest.push(provider);
  }
  if (closest.length === 0) return { ok: false, reason: "none-reachable" };
  const ties = closest.sort(compareBdf);
  const provider = options.pick ? options.pick(ties) : ties[0];
  assert(provider !== undefined && ties.includes(provider), "pick must return one of the tied providers");
  return { ok: true, provider, distance: closestDistance, ties };
}

/**
 * `pci_p2pdma_distance_many(provider, clients)`, pure (no cache) [§a.3].
 * @param provider the function owning the memory.
 * @param clients the functions that will DMA to it.
 * @param topology the machine.
 * @param profile the kernel's rules; default `"current"`.
 * @returns the SUM of the per-client distances (THRU_HOST_BRIDGE unpenalised); or failure with
 * `"no-clients"` for an empty list, `"not-supported"` naming the clients that cannot reach it.
 */
export function distanceMany(
  provider: PciFunction,
  clients: readonly PciFunction[],
  topology: Topology,
  profile: P2pdmaProfile = "current",
  options: DistanceManyOptions = {},
): DistanceManyResult {
  return distanceManyWith((p, c) => calcMapTypeAndDist(p, c, topology, profile), provider, clients, options);
}

/**
 * `pci_p2pmem_find_many(clients)` over the given published providers, pure (no cache) [§a.3].
 * @param providers the devices with published p2pmem, in any order.
 * @param clients the functions that will DMA to the chosen one.
 * @returns the provider with the least summed distance; among ties the lowest BDF, or what
 * `options.pick` chooses. Failure: `"no-clients"`, or `"none-reachable"` when no provider reaches all clients.
 */
export function p2pmemFindMany(
  providers: readonly PciFunction[],
  clients: readonly PciFunction[],
  topology: Topology,
  profile: P2pdmaProfile = "current",
  options: P2pmemFindOptions = {},
): P2pmemFindResult {
  return p2pmemFindManyWith((p, c) => calcMapTypeAndDist(p, c, topology, profile), providers, clients, options);
}

/**
 * The kernel's p2pdma state over one topology: the per-provider map-type cache [§a.6]. Each
 * provider FUNCTION keeps an entry per client, keyed by {@link mapTypesIdx}, written by every
 * computation and never invalidated: after a run changes `acsCtl`, `mapType` keeps answering
 * what it answered before, as the kernel does (invariant I12). Under profile `"p2pdma-v4.20"`
 * nothing is cached (that kernel had no cache), so answers are always fresh.
 */
export class P2pdma {
  private readonly mapTypes = new Map<PciFunction, Map<number, PciP2pdmaMapType>>();
  /** Where answers are published as `p2pdma/map-type` (for the I9 and I12 monitors); none by default. */
  trace: TraceBus | undefined = undefined;

  constructor(
    readonly topology: Topology,
    readonly profile: P2pdmaProfile = "current",
    readonly mutants: P2pdmaMutants = {},
  ) {}

  /**
   * A run changed the ACS Control bits of `fn`. The kernel has no such hook: nothing in p2pdma
   * learns of the change and the cache keeps its answers [kernel.md §a.6], so this does nothing —
   * unless the model mutant `refreshOnAcsChange` is on, which forgets every cached answer (no
   * teardown happened, so I12 then sees a lookup recompute a pair its cache held).
   * @returns how many cached answers were forgotten (0 for the faithful kernel).
   */
  acsChanged(_fn: PciFunction): number {
    if (this.mutants.refreshOnAcsChange !== true) return 0;
    let forgotten = 0;
    for (const cache of this.mapTypes.values()) forgotten += cache.size;
    this.mapTypes.clear();
    return forgotten;
  }

  /**
   * `calc_map_type_and_dist` with its side effect: computes and stores the answer in the
   * provider's cache (overwriting a stale one, as `xa_store` does).
   * @returns the map type, distance and reason.
   */
  calc(provider: PciFunction, client: PciFunction): P2pdmaResult {
    return this.calcAs(provider, client, "calc");
  }

  private calcAs(provider: PciFunction, client: PciFunction, query: "map_type" | "calc"): P2pdmaResult {
    const result = calcMapTypeAndDist(provider, client, this.topology, this.profile);
    this.publish(provider, client, query, result, this.profile === "current");
    if (this.profile === "current") {
      let cache = this.mapTypes.get(provider);
      if (cache === undefined) {
        cache = new Map();
        this.mapTypes.set(provider, cache);
      }
      cache.set(mapTypesIdx(client), result.mapType);
    }
    return result;
  }

  /**
   * `pci_p2pdma_map_type(provider, client)`: the cached answer, computed on first use. Like the
   * kernel it takes the client function as given and does not climb to a PCI parent.
   * @param options.fresh recompute from the current ACS state without reading or writing the cache
   * (a model-only view of what the kernel would answer after a rebind).
   * @returns the map type; never the internal "unknown".
   */
  mapType(provider: PciFunction, client: PciFunction, options: { readonly fresh?: boolean } = {}): PciP2pdmaMapType {
    if (options.fresh === true) {
      const result = calcMapTypeAndDist(provider, client, this.topology, this.profile);
      this.publish(provider, client, "fresh", result, false);
      return result.mapType;
    }
    const cached: MapTypeOrUnknown = this.cached(provider, client) ?? "unknown";
    if (cached === "unknown") return known(this.calcAs(provider, client, "map_type").mapType);
    this.publish(provider, client, "map_type", cached, false);
    return known(cached);
  }

  /** Publishes one answer: a computed result with the walk's facts, or a cached map type. */
  private publish(
    provider: PciFunction,
    client: PciFunction,
    query: "map_type" | "calc" | "fresh",
    answer: P2pdmaResult | PciP2pdmaMapType,
    stored: boolean,
  ): void {
    const trace = this.trace;
    if (trace === undefined) return;
    // Whole literals, not `{ ...base, … }`: V8 gives every spread-then-extend literal a fresh map in
    // old space, which keeps the run's young objects alive through scavenges. The field order is
    // the fingerprint's: keep the two literals in step.
    const clientIdx = mapTypesIdx(client);
    if (typeof answer === "string") {
      // A model-only look at today's bits: the kernel never re-walks for a cached pair.
      const today = calcMapTypeAndDist(provider, client, this.topology, this.profile).mapType;
      trace.emit("p2pdma", "map-type", {
        provider: provider.label,
        client: client.label,
        clientIdx,
        query,
        stored,
        profile: this.profile,
        source: "cache",
        mapType: answer,
        commonUpstream: null,
        acsRedirect: null,
        hostBridgeAllowed: null,
        staleAgainst: today === answer ? null : today,
      });
      return;
    }
    const platform = this.topology.platform;
    const hostBridgeAllowed = cpuSupportsP2pdma(platform) || hostBridgeWhitelist(provider.hostBridge, client.hostBridge).allowed;
    const { commonUpstream, acsRedirect } = answer.reason;
    trace.emit("p2pdma", "map-type", {
      provider: provider.label,
      client: client.label,
      clientIdx,
      query,
      stored,
      profile: this.profile,
      source: "computed",
      mapType: answer.mapType,
      commonUpstream: commonUpstream ?? null,
      acsRedirect: [...acsRedirect],
      hostBridgeAllowed,
      staleAgainst: null,
    });
  }

  /** The cached answer for a pair, or undefined when none was stored (what the kernel reads as UNKNOWN). */
  cached(provider: PciFunction, client: PciFunction): PciP2pdmaMapType | undefined {
    return this.mapTypes.get(provider)?.get(mapTypesIdx(client));
  }

  /** {@link distanceMany} through this state: every pair it computes is stored in the cache, as in the kernel. */
  distanceMany(provider: PciFunction, clients: readonly PciFunction[], options: DistanceManyOptions = {}): DistanceManyResult {
    return distanceManyWith((p, c) => this.calc(p, c), provider, clients, options);
  }

  /** {@link p2pmemFindMany} through this state: every pair it computes is stored in the cache. */
  p2pmemFindMany(providers: readonly PciFunction[], clients: readonly PciFunction[], options: P2pmemFindOptions = {}): P2pmemFindResult {
    return p2pmemFindManyWith((p, c) => this.calc(p, c), providers, clients, options);
  }
}
