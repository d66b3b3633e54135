/**
 * A DMA bus: many requesters sharing one {@link Fabric}, each issuing reads and writes of any size
 * to any address, and the completers that answer them. This is what device models (the NIC's DMA
 * engine, the CPU's MMIO accesses) run on; `p2psim perf`'s single saturating stream is
 * dma-stream.ts.
 *
 * Addresses are decoded the way the fabric decodes them [route.ts, kernel.md §a.7]: an address in
 * a BAR's bus window goes to that BAR (turning in the lowest common switch unless ACS redirects
 * it, so BUS_ADDR traffic never meets the IOMMU, I11); any other device address is an IOVA (with
 * an IOMMU: the page table says whether it is system memory or, mapped `mmio`, a peer BAR reached
 * through the root complex) or, without an IOMMU, a CPU physical address. The CPU's accesses
 * ({@link DmaBus.cpu}) use CPU physical addresses and start in the root complex.
 *
 * Completers [kernel.md §c.6]: a function in reset, with Memory Space disabled or not in D0
 * answers Unsupported Request (writes dropped, reads completed with UR), traced as `pci/tlp.ur`;
 * host memory answers reads after the platform's memory latency, a BAR after its BAR read latency.
 * A device's registers are modelled by an {@link MmioWriteHandler} on its BAR.
 *
 * Routes are discovered as traffic needs them, so the fabric's switch fast path is off here:
 * every switch crossing is an event, and TLPs of several requesters interleave at a shared egress
 * in the order they reach the switch.
 */
import { assert } from "../fabric/assert.js";
import type { Engine } from "../fabric/engine.js";
import { type AcsBits, type AcsCtlWrite, type AcsFlag, acsCtlWrite, acsFlags } from "./acs.js";
import { DmaPort } from "./dma-port.js";
import { Fabric, type FabricTlpSettings } from "./fabric.js";
import type { Iommu } from "./iommu.js";
import type { PerfPlatform } from "./perf-platform.js";
import { describeRoute, type Hop, type Route, type RouteTarget, routeFromHost, routeRequest, routeThroughRootComplex } from "./route.js";
import type { PciFaultTraceKinds, TlpPath } from "./tlp-packet.js";
import type { Bar, PciFunction, Topology } from "./topology.js";

declare module "../fabric/trace.js" {
  interface TraceKinds {
    pci: PciTraceKinds;
  }
}

/** The `pci` layer's event kinds: the bus's, and the transport's faults (tlp-packet.ts). */
export interface PciTraceKinds extends PciFaultTraceKinds {
  /** A request reached a target that does not answer memory requests [kernel.md §c.6]: a write is dropped, a read completes with UR. */
  "tlp.ur": { requester: string; target: string; tlp: string; address: number; reason: string };
  /** The IOMMU blocked a request at the root complex. */
  "iommu.fault": { requester: string; tlp: string; iova: number; fault: string };
  /**
   * Option `tlpEvents`: a TLP reached the end of its route (a request its target, a completion its requester).
   * `barOffset`: where in the target BAR the request's address falls (after the IOMMU for an IOVA), null for host memory.
   */
  tlp: { requester: string; tlp: string; address: number; bytes: number; target: string; barOffset: number | null; status: string; atPs: number };
  /**
   * A config write to a function's ACS Control register ({@link DmaBus.writeAcsCtl}): the bits
   * before and after, the requested bits the function does not implement, and how many of the
   * bus's compiled routes now go another way (each then traced as `pci/route.changed`).
   */
  "acs.ctl": { port: string; old: AcsFlag[]; new: AcsFlag[]; ignored: AcsFlag[]; rerouted: number };
  /** A compiled route recompiled after an ACS change: TLPs created from now on take `after`; those in flight keep `before`. */
  "route.changed": { requester: string; target: string; before: string; after: string; throughRootComplex: boolean };
}

/** TLP settings of a bus where the caller does not say: MPS 256, MRRS 512, RCB 64, 64-bit, no ECRC. */
export const DMA_BUS_TLP_DEFAULTS: FabricTlpSettings = { mps: 256, mrrs: 512, rcb: 64, rcbChunks: false, addressBits: 64, ecrc: false };

/** How a bus is built. */
export interface DmaBusOptions {
  /** Latencies, credits and tags. */
  readonly platform: PerfPlatform;
  /** Overrides of {@link DMA_BUS_TLP_DEFAULTS}. */
  readonly tlp?: Partial<FabricTlpSettings>;
  /** The IOMMU translating devices' requests at the root complex; omit when it is off. */
  readonly iommu?: Iommu;
  /** Credits and latencies non-limiting (the link ceiling). Default false. */
  readonly ideal?: boolean;
  /** Emit `pci/tlp` for every TLP (short runs, timelines). Default false: only UR and IOMMU faults are traced per TLP. */
  readonly tlpEvents?: boolean;
}

/** Called when a write lands in a BAR that has registers (a doorbell): offset into the BAR, size, when. */
export type MmioWriteHandler = (offset: number, bytes: number, atPs: number) => void;

/** A compiled route from one requester to one target. Its paths are replaced when the bus recompiles. */
export interface BusRoute {
  /** The requesting function; undefined for the CPU. */
  readonly requester: PciFunction | undefined;
  readonly target: RouteTarget;
  /** `gpu0 BAR1` or `host memory`, for traces. */
  readonly targetName: string;
  /** Forced up through the root complex (an IOVA's route, which no switch may turn): ACS cannot change it. */
  readonly forced: boolean;
  /** Replaced, with the paths, when an ACS change recompiles the route. */
  hops: { readonly request: readonly Hop[]; readonly completion: readonly Hop[]; readonly refusal: readonly Hop[] };
  request: BusPath;
  completion: BusPath;
  /** Completions of a request refused at the root complex: the completion path from there on. */
  refusal: BusPath;
}

/** A compiled path that knows its route (so a completer finds the target of a TLP without a lookup). */
export interface BusPath extends TlpPath {
  readonly route: BusRoute;
}

/**
 * `path` with its route. Field by field, not `{ ...path, route }`: V8 gives every spread-then-extend
 * literal a fresh map in old space, which keeps the run's young objects alive through scavenges.
 */
export function busPath(path: TlpPath, route: BusRoute): BusPath {
  return { hops: path.hops, kinds: path.kinds, links: path.links, expressAt: path.expressAt, route };
}

/** Why a function does not answer memory requests (MSE off, in reset, not in D0) [kernel.md §c.6], or undefined when it does. */
export function urReason(fn: PciFunction): string | undefined {
  if (fn.inReset) return "in reset";
  if (!fn.memoryEnabled) return "Memory Space Enable is off";
  if (fn.powerState !== "D0") return `in ${fn.powerState}`;
  return undefined;
}

interface BarWindow {
  readonly fn: PciFunction;
  readonly bar: Bar;
}

/** The bus. */
export class DmaBus {
  readonly fabric: Fabric;
  readonly tlp: FabricTlpSettings;
  /** The CPU's MMIO accesses (loads and stores to BARs, in CPU physical addresses). */
  readonly cpu: DmaPort;
  private readonly ports = new Map<PciFunction, DmaPort>();
  private readonly routes = new Map<string, BusRoute>();
  private readonly mmio = new Map<Bar, MmioWriteHandler>();
  private readonly windows: readonly BarWindow[];

  constructor(
    readonly engine: Engine,
    readonly topology: Topology,
    readonly options: DmaBusOptions,
  ) {
    this.tlp = { ...DMA_BUS_TLP_DEFAULTS, ...options.tlp };
    this.fabric = new Fabric(engine, {
      platform: options.platform,
      ideal: options.ideal ?? false,
      tlp: this.tlp,
      express: false,
      ...(options.iommu ? { iommu: options.iommu } : {}),
    });
    this.windows = topology.functions.flatMap((fn) => fn.bars.filter((bar) => bar.type !== "io").map((bar) => ({ fn, bar })));
    this.tlpEvents = options.tlpEvents === true;
    this.cpu = new DmaPort(this, undefined);
  }

  /** Whether any BAR has registers (most writes then skip the lookup). */
  get hasMmio(): boolean {
    return this.mmio.size > 0;
  }

  /** TLPs created by every requester of the bus so far. */
  get tlps(): number {
    let count = this.cpu.tlps;
    for (const port of this.ports.values()) count += port.tlps;
    return count;
  }

  /** Latencies and tags of the platform. */
  get platform(): PerfPlatform {
    return this.options.platform;
  }

  /** Whether every TLP is traced. */
  readonly tlpEvents: boolean;

  /**
   * The DMA requester of an endpoint function (one per function, created on first use).
   * @throws AssertionError for a function of another topology or a bridge.
   */
  port(fn: PciFunction): DmaPort {
    let port = this.ports.get(fn);
    if (!port) {
      assert(this.topology.find(fn.id) === fn, () => `${fn.id} is not in topology ${this.topology.name}`);
      assert(fn.kind === "endpoint", () => `${fn.label} is a ${fn.kind}, not a DMA requester`);
      port = new DmaPort(this, fn);
      this.ports.set(fn, port);
    }
    return port;
  }

  /**
   * Gives `fn`'s BAR `barIndex` registers: `handler` runs when a write lands there (the function
   * answering memory requests; a write it refuses is UR and never reaches the handler).
   * @throws AssertionError when the BAR does not exist or already has a handler.
   */
  onMmioWrite(fn: PciFunction, barIndex: number, handler: MmioWriteHandler): void {
    const bar = fn.bars.find((b) => b.index === barIndex && b.type !== "io");
    assert(bar !== undefined, () => `${fn.label} has no memory BAR ${barIndex}`);
    assert(!this.mmio.has(bar), () => `${fn.label} BAR${barIndex} already has registers`);
    this.mmio.set(bar, handler);
  }

  /** The register handler of a BAR, if any. */
  mmioHandler(bar: Bar): MmioWriteHandler | undefined {
    return this.mmio.get(bar);
  }

  /**
   * Where an access of `requester` (undefined: the CPU) to `address` goes (see the module comment).
   * Pure: reads the IOMMU's page table without touching the IOTLB.
   */
  decode(requester: PciFunction | undefined, address: number): RouteTarget {
    const byBus = requester ? this.windows.find((w) => address >= w.bar.busAddress && address < w.bar.busAddress + w.bar.sizeBytes) : undefined;
    if (byBus) return { kind: "bar", fn: byBus.fn, bar: byBus.bar };
    let phys = address;
    const iommu = this.options.iommu;
    if (requester && iommu) {
      const pte = iommu.pageAt(iommu.domainOf(requester.id), address);
      if (pte === undefined || !pte.mmio) return this.hostMemory(requester);
      phys = pte.phys + (address - pte.iova);
    }
    const byCpu = this.windows.find((w) => phys >= w.bar.cpuAddress && phys < w.bar.cpuAddress + w.bar.sizeBytes);
    return byCpu ? { kind: "bar", fn: byCpu.fn, bar: byCpu.bar } : this.hostMemory(requester);
  }

  /**
   * The offset into `bar` of an access of `requester` to `address` (see {@link decode}).
   * @param translated where the root complex's IOMMU translated the request, if it did (-1: not):
   *   the page table may have changed since.
   */
  offsetInBar(requester: PciFunction | undefined, address: number, bar: Bar, translated = -1): number {
    if (translated >= 0) return translated - bar.cpuAddress;
    if (requester && address >= bar.busAddress && address < bar.busAddress + bar.sizeBytes) return address - bar.busAddress;
    const iommu = this.options.iommu;
    const pte = requester && iommu ? iommu.pageAt(iommu.domainOf(requester.id), address) : undefined;
    const phys = pte ? pte.phys + (address - pte.iova) : address;
    return phys - bar.cpuAddress;
  }

  private hostMemory(requester: PciFunction | undefined): RouteTarget {
    return { kind: "host-memory", numaNode: requester?.hostBridge.numaNode ?? 0 };
  }

  /**
   * The compiled route from `requester` (undefined: the CPU) to `target`, built on first use;
   * `throughRootComplex` forces the path up through the root complex (an IOVA's).
   * @throws AssertionError for a CPU access to host memory (not bus traffic) or a route inside one device.
   */
  route(requester: PciFunction | undefined, target: RouteTarget, throughRootComplex = false): BusRoute {
    const key = `${requester?.id ?? "cpu"}>${target.kind === "bar" ? `${target.fn.id}/${target.bar.index}` : `mem${target.numaNode}`}${throughRootComplex ? "/rc" : ""}`;
    const known = this.routes.get(key);
    if (known) return known;
    assert(requester !== undefined || target.kind === "bar", "CPU accesses to host memory do not cross the fabric");
    const targetName = target.kind === "bar" ? `${target.fn.label} BAR${target.bar.index}` : "host memory";
    const placeholder = undefined as unknown as BusPath;
    const hops = { request: [], completion: [], refusal: [] };
    const created: BusRoute = {
      requester,
      target,
      targetName,
      forced: throughRootComplex,
      hops,
      request: placeholder,
      completion: placeholder,
      refusal: placeholder,
    };
    this.compileInto(created, this.routeFor(created));
    this.routes.set(key, created);
    return created;
  }

  /** Where the route of `r` goes under the topology's current ACS bits. */
  private routeFor(r: BusRoute): Route {
    const bar = r.target as Extract<RouteTarget, { kind: "bar" }>;
    if (r.requester === undefined) return routeFromHost(bar);
    return r.forced ? routeThroughRootComplex(r.requester, bar) : routeRequest(r.requester, r.target);
  }

  /** Compiles `route` into `into`'s hops and paths (new path objects: TLPs holding the old ones keep them). */
  private compileInto(into: BusRoute, route: Route): void {
    assert(route.request.length > 0, () => `${into.requester?.label} reaches ${into.targetName} without crossing a link`);
    const atRootComplex = route.completion.findIndex((hop) => hop.kind === "root-complex");
    const hops = { request: route.request, completion: route.completion, refusal: route.completion.slice(Math.max(0, atRootComplex)) };
    for (const h of [hops.request, hops.completion, hops.refusal]) this.fabric.prepare(h);
    into.hops = hops;
    into.request = busPath(this.fabric.compile(hops.request), into);
    into.completion = busPath(this.fabric.compile(hops.completion), into);
    into.refusal = busPath(this.fabric.compile(hops.refusal), into);
  }

  /**
   * A config write to `fn`'s ACS Control register (sets `set`, then clears `clear`; see
   * `acsCtlWrite`), traced as `pci/acs.ctl`, after which routing follows the new bits: every
   * compiled route of a device whose path the bits change is recompiled in place (each traced as
   * `pci/route.changed`), so TLPs created from now on take the new path while TLPs already in
   * flight finish on the one they were given. A route's requester keeps its route object, so the
   * per-page routes a {@link DmaPort} remembers follow too. Nothing else is told: p2pdma's
   * map-type cache stays stale, as the kernel's does [kernel.md §a.6], and mappings made earlier
   * keep their addresses (a BUS_ADDR mapping's bus addresses now redirected by RR climb to the
   * root complex, where an IOMMU translates them as IOVAs) [§a.7].
   * Only Request Redirect changes a route here (route.ts); Completion Redirect and Egress Control
   * change p2pdma's answer but not the modelled paths.
   * @returns the write's effect.
   */
  writeAcsCtl(fn: PciFunction, set: AcsBits, clear: AcsBits): AcsCtlWrite & { readonly rerouted: readonly BusRoute[] } {
    const write = acsCtlWrite(fn, set, clear);
    const rerouted: BusRoute[] = [];
    const changes: Array<{ readonly route: BusRoute; readonly before: string; readonly after: string; readonly through: boolean }> = [];
    if (write.new !== write.old) {
      for (const known of this.routes.values()) {
        if (known.requester === undefined || known.forced) continue;
        const next = this.routeFor(known);
        const before = describeRoute(known.hops.request);
        const after = describeRoute(next.request);
        if (before === after) continue;
        this.compileInto(known, next);
        rerouted.push(known);
        changes.push({ route: known, before, after, through: next.throughRootComplex });
      }
    }
    const trace = this.engine.trace;
    trace.emit("pci", "acs.ctl", {
      port: fn.label,
      old: acsFlags(write.old),
      new: acsFlags(write.new),
      ignored: acsFlags(write.ignored),
      rerouted: rerouted.length,
    });
    for (const c of changes) {
      const requester = c.route.requester?.label ?? "cpu";
      trace.emit("pci", "route.changed", { requester, target: c.route.targetName, before: c.before, after: c.after, throughRootComplex: c.through });
    }
    return { old: write.old, new: write.new, ignored: write.ignored, rerouted };
  }

  /**
   * The route of an access of `requester` (undefined: the CPU) to `address`: address routing for a
   * bus address in a BAR window; through the root complex for an IOVA (the IOMMU translates there,
   * so the route is fixed by the page table at issue time and may go stale, which the translation
   * at the root complex then catches); by CPU address for the CPU and without an IOMMU.
   */
  routeOf(requester: PciFunction | undefined, address: number): BusRoute {
    const target = this.decode(requester, address);
    const translated = requester !== undefined && this.options.iommu !== undefined && !this.inBusWindow(address);
    return translated && target.kind === "bar" ? this.route(requester, target, true) : this.route(requester, target);
  }

  /** Whether a route decided once for `address` holds for the whole run (no page table decides it). */
  routeIsStatic(requester: PciFunction | undefined, address: number): boolean {
    return requester === undefined || this.options.iommu === undefined || this.inBusWindow(address);
  }

  private inBusWindow(address: number): boolean {
    return this.windows.some((w) => address >= w.bar.busAddress && address < w.bar.busAddress + w.bar.sizeBytes);
  }
}
