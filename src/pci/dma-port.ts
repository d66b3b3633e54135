/**
 * One requester on a {@link DmaBus}: a device's DMA engine (or the CPU's MMIO unit) issuing memory
 * reads and writes of any size, cut into TLPs as the device would cut them [pcie-timing.md §2]:
 * writes at MPS, reads at MRRS, never across 4 KiB; reads take a tag each (at most the platform's
 * `tags` outstanding, later reads wait in order for a tag); completions are cut at MPS (or the RCB
 * with `rcbChunks`).
 *
 * An operation is done when its last byte is where it was going: a write when its last TLP has
 * landed at the target (posted: the requester cannot see it, but monitors and drains need that
 * moment), a read when its last completion is back. Its outcome is the worst of its TLPs: `ur`
 * (the target refused, or the root complex does not forward peer reads) or `iommu-fault` (the
 * IOMMU blocked it at the root complex). A write the target refused is lost, as on a real bus.
 *
 * Link faults (fabric.ts, {@link dropped}): a read lost, or swallowed by a muted completer, ends
 * when the requester's completion timer fires, `completionTimeoutPs` after it was sent
 * (`pci/cpl.timeout`, outcome `timeout`) [kernel.md §c.6]. Timers are armed only when the model
 * loses a request or a completion, so runs without faults schedule none.
 *
 * The port is also the {@link TlpOwner} of its TLPs: the fabric tells it when a request reaches
 * its target (the port then plays the completer) and when a completion comes back.
 */
import { assert } from "../fabric/assert.js";
import type { HandlerId } from "../fabric/engine.js";
import type { BusPath, BusRoute, DmaBus } from "./dma-bus.js";
import { urReason } from "./dma-bus.js";
import { StablePaths } from "./stable-path.js";
import { completionSizes, offsetInChunk, PAGE_4K, wireBytes } from "./tlp.js";
import type { CompletionStatus, RootComplexOutcome, Tlp, TlpOwner } from "./tlp-packet.js";
import type { PciFunction } from "./topology.js";
import { PortCompletionPaths, UnansweredReads } from "./unanswered-reads.js";

/**
 * How a DMA operation ended: `ok`; `ur` (refused by the target, the root complex or a port above
 * a link that is down); `iommu-fault`; `timeout` (a read whose completion timer fired); `lost` (a
 * posted write lost on a link that went down: the model's view, the requester itself cannot know).
 */
export type DmaOutcome = "ok" | "ur" | "iommu-fault" | "timeout" | "lost";

/** Called once when an operation is done, at the simulated time it is done. */
export type DmaDone = (outcome: DmaOutcome, atPs: number) => void;

interface DmaOpState {
  remaining: number;
  outcome: DmaOutcome;
  done: DmaDone | undefined;
}

/** A deferred completer answer or done call (one shape for both, so the slot table stays monomorphic). */
interface Deferred {
  readonly kind: "complete" | "done" | "timeout";
  readonly tlp: Tlp | undefined;
  readonly route: BusRoute | undefined;
  readonly status: CompletionStatus;
  readonly done: DmaDone | undefined;
  readonly outcome: DmaOutcome;
}

const PASS: RootComplexOutcome = { ok: true, delayPs: 0, mmio: false };

/** The requester. Created by {@link DmaBus.port} (or the bus's `cpu`). */
export class DmaPort implements TlpOwner {
  /** `nic0`, or `cpu`. */
  readonly name: string;
  private readonly ops: Array<DmaOpState | undefined> = [];
  private readonly freeOps: number[] = [];
  private tagsInUse = 0;
  private readonly freeTags: number[] = [];
  private tagNext = 0;
  /** Reads waiting for a tag, in issue order. */
  private readonly waitingReads: Tlp[] = [];
  private waitingHead = 0;
  /** Routes of 4 KiB pages no page table can re-route (bounded: cleared when it grows past 4,096). */
  private readonly staticRoutes = new Map<number, BusRoute>();
  private opsInFlight = 0;
  private readonly stablePaths = new StablePaths();
  /** The last page {@link routeAt} looked up, and its route (a write's TLPs share a page). */
  private lastPage = -1;
  private lastPageRoute: BusRoute | undefined = undefined;
  /** TLPs this port and its completers have created (requests, completions, refusals). */
  tlps = 0;
  /**
   * Work due later, by slot: a completer answering a read, or an operation's done call at the
   * moment it landed. One handler and a slot number per event keep these events allocation-free.
   */
  private readonly deferred: Array<Deferred | undefined> = [];
  private readonly freeDeferred: number[] = [];
  private readonly deferredHandler: HandlerId;
  /** Reads with an armed completion timer (link faults, muted completers). */
  private readonly unanswered = new UnansweredReads();
  private readonly portPaths: PortCompletionPaths;

  constructor(
    private readonly bus: DmaBus,
    /** The requesting function; undefined for the CPU. */
    readonly fn: PciFunction | undefined,
  ) {
    this.name = fn?.label ?? "cpu";
    this.deferredHandler = bus.engine.handler((slot) => this.runDeferred(slot), `${this.name}/dma-deferred`);
    this.portPaths = new PortCompletionPaths(bus.fabric);
  }

  /** Runs `work` at `atPs` (≥ now) as an engine event. */
  private defer(atPs: number, work: Deferred): void {
    const slot = this.freeDeferred.pop() ?? this.deferred.length;
    this.deferred[slot] = work;
    this.bus.engine.at(atPs, this.deferredHandler, slot);
  }

  private runDeferred(slot: number): void {
    const work = this.deferred[slot] as Deferred;
    this.deferred[slot] = undefined;
    this.freeDeferred.push(slot);
    if (work.kind === "complete") this.complete(work.tlp as Tlp, work.route as BusRoute, work.status);
    else if (work.kind === "timeout") this.timeout((work.tlp as Tlp).tag);
    else (work.done as DmaDone)(work.outcome, this.bus.engine.nowPs);
  }

  /** Operations issued and not yet done. */
  get inFlight(): number {
    return this.opsInFlight;
  }

  /**
   * Writes `bytes` at `address`, starting not before `notBeforePs` (default now).
   * @param done called once, when the last TLP has landed (or was refused).
   * @throws AssertionError for a non-positive or non-integer size, or a time in the past.
   */
  write(address: number, bytes: number, done?: DmaDone, notBeforePs?: number): void {
    const at = this.startTime(notBeforePs);
    const op = this.begin(bytes, done);
    const { mps } = this.bus.tlp;
    for (let cursor = 0; cursor < bytes; ) {
      const a = address + cursor;
      const chunk = Math.min(mps - offsetInChunk(a, mps), bytes - cursor);
      cursor += chunk;
      this.bus.fabric.inject(this.packet("MWr", a, chunk, 0, -1, op, cursor === bytes, "SC", this.routeAt(a).request), at);
    }
  }

  /**
   * Reads `bytes` at `address`, starting not before `notBeforePs` (default now).
   * @param done called once, when the last completion is back.
   * @throws AssertionError as {@link write}.
   */
  read(address: number, bytes: number, done?: DmaDone, notBeforePs?: number): void {
    const at = this.startTime(notBeforePs);
    const op = this.begin(bytes, done);
    const { mrrs } = this.bus.tlp;
    for (let cursor = 0; cursor < bytes; ) {
      const a = address + cursor;
      const chunk = Math.min(mrrs - offsetInChunk(a, mrrs), PAGE_4K - offsetInChunk(a, PAGE_4K), bytes - cursor);
      cursor += chunk;
      const request = this.packet("MRd", a, 0, chunk, -1, op, false, "SC", this.routeAt(a).request);
      if (this.tagsInUse < this.bus.platform.tags && this.waitingHead === this.waitingReads.length) this.sendRead(request, at);
      else this.waitingReads.push(request);
    }
  }

  private startTime(notBeforePs: number | undefined): number {
    const now = this.bus.engine.nowPs;
    assert(notBeforePs === undefined || notBeforePs >= now, () => `${this.name}: DMA issued in the past`);
    return notBeforePs ?? now;
  }

  private begin(bytes: number, done: DmaDone | undefined): number {
    assert(Number.isSafeInteger(bytes) && bytes > 0, () => `${this.name}: a DMA size must be a positive integer, got ${bytes}`);
    const op = this.freeOps.pop() ?? this.ops.length;
    this.ops[op] = { remaining: bytes, outcome: "ok", done };
    this.opsInFlight++;
    return op;
  }

  /** The route of a TLP to `address`: cached per 4 KiB page while no page table can change it. */
  private routeAt(address: number): BusRoute {
    const page = Math.floor(address / PAGE_4K);
    if (page === this.lastPage) return this.lastPageRoute as BusRoute;
    const known = this.staticRoutes.get(page);
    if (known !== undefined) {
      this.lastPage = page;
      this.lastPageRoute = known;
      return known;
    }
    const route = this.bus.routeOf(this.fn, address);
    if (this.bus.routeIsStatic(this.fn, address)) {
      if (this.staticRoutes.size >= 4096) this.staticRoutes.clear();
      this.staticRoutes.set(page, route);
      this.lastPage = page;
      this.lastPageRoute = route;
    }
    return route;
  }

  private sendRead(request: Tlp, atPs: number): void {
    this.tagsInUse++;
    request.tag = this.freeTags.pop() ?? this.tagNext++;
    this.unanswered.issued(request.tag, atPs);
    this.bus.fabric.inject(request, atPs);
  }

  private packet(
    kind: Tlp["kind"],
    address: number,
    payloadBytes: number,
    requestBytes: number,
    tag: number,
    op: number,
    last: boolean,
    status: CompletionStatus,
    path: BusPath,
  ): Tlp {
    this.tlps++;
    return {
      kind,
      address,
      payloadBytes,
      requestBytes,
      wireBytes: wireBytes(kind, payloadBytes, this.bus.tlp),
      tag,
      op,
      lastOfRequest: last,
      lastOfOp: last,
      status,
      path: this.stablePaths.of(path),
      owner: this,
      hopIndex: 0,
      tailPs: Number.NaN,
      translated: -1,
    };
  }

  /** Accounts `bytes` of operation `op`; the last byte ends it. */
  private account(op: number, bytes: number, outcome: DmaOutcome, atPs: number): void {
    const state = this.ops[op] as DmaOpState;
    if (outcome !== "ok" && state.outcome === "ok") state.outcome = outcome;
    state.remaining -= bytes;
    if (state.remaining > 0) return;
    assert(state.remaining === 0, () => `${this.name}: operation ${op} accounted too many bytes`);
    this.ops[op] = undefined;
    this.freeOps.push(op);
    this.opsInFlight--;
    const done = state.done;
    if (done === undefined) return;
    const engine = this.bus.engine;
    if (atPs <= engine.nowPs) done(state.outcome, engine.nowPs);
    else this.defer(Math.ceil(atPs), { kind: "done", done, outcome: state.outcome, tlp: undefined, route: undefined, status: "SC" });
  }

  /** {@link TlpOwner}: a request reached its target, or a completion came back. */
  arrived(tlp: Tlp, atPs: number): void {
    const route = (tlp.path as BusPath).route;
    if (tlp.kind === "CplD") {
      if (this.bus.tlpEvents) this.traceTlp(tlp, route, atPs, tlp.status);
      if (tlp.lastOfRequest && !this.unanswered.holds(tlp.tag)) this.releaseTag(tlp.tag, atPs);
      if (tlp.status === "UR") this.account(tlp.op, tlp.requestBytes, "ur", atPs);
      else this.account(tlp.op, tlp.payloadBytes, "ok", atPs);
      return;
    }
    const target = route.target;
    const reason = target.kind === "bar" ? urReason(target.fn) : undefined;
    if (this.bus.tlpEvents) this.traceTlp(tlp, route, atPs, reason === undefined ? "SC" : "UR");
    if (reason !== undefined) this.ur(tlp, route, reason);
    if (tlp.kind === "MWr") {
      if (reason === undefined && target.kind === "bar" && this.bus.hasMmio) {
        const handler = this.bus.mmioHandler(target.bar);
        if (handler) handler(this.bus.offsetInBar(this.fn, tlp.address, target.bar), tlp.payloadBytes, atPs);
      }
      this.account(tlp.op, tlp.payloadBytes, reason === undefined ? "ok" : "ur", atPs);
      return;
    }
    if (reason === undefined && target.kind === "bar" && this.bus.fabric.mutedCompleters.has(target.fn)) {
      // A hung completer: the read is taken and never answered [kernel.md §c.6].
      this.unanswer(tlp, tlp.address, tlp.requestBytes);
      return;
    }
    const platform = this.bus.platform;
    const latency = reason !== undefined || this.bus.options.ideal ? 0 : target.kind === "bar" ? platform.barReadLatencyPs : platform.memoryLatencyPs;
    this.defer(Math.ceil(atPs + latency), { kind: "complete", tlp, route, status: reason === undefined ? "SC" : "UR", done: undefined, outcome: "ok" });
  }

  /** The completer answers a read: CplDs cut at MPS or the RCB, or one UR completion. */
  private complete(request: Tlp, route: BusRoute, status: CompletionStatus): void {
    const now = this.bus.engine.nowPs;
    if (status === "UR") {
      this.bus.fabric.inject(this.packet("CplD", request.address, 0, request.requestBytes, request.tag, request.op, true, "UR", route.completion), now);
      return;
    }
    const { mps, rcb, rcbChunks } = this.bus.tlp;
    let address = request.address;
    const sizes = completionSizes(request.address, request.requestBytes, mps, rcb, rcbChunks);
    sizes.forEach((bytes, i) => {
      this.bus.fabric.inject(this.packet("CplD", address, bytes, 0, request.tag, request.op, i === sizes.length - 1, "SC", route.completion), now);
      address += bytes;
    });
  }

  private releaseTag(tag: number, atPs: number): void {
    this.tagsInUse--;
    this.freeTags.push(tag);
    if (this.waitingHead < this.waitingReads.length) {
      const next = this.waitingReads[this.waitingHead] as Tlp;
      this.waitingReads[this.waitingHead++] = undefined as unknown as Tlp;
      if (this.waitingHead === this.waitingReads.length) {
        this.waitingReads.length = 0;
        this.waitingHead = 0;
      }
      this.sendRead(next, Math.max(atPs, this.bus.engine.nowPs));
    }
  }

  /** {@link TlpOwner}: the root complex translates a device's request (the CPU's pass untranslated). */
  atRootComplex(tlp: Tlp, p2p: boolean): RootComplexOutcome {
    const fn = this.fn;
    if (fn === undefined) return PASS;
    const route = (tlp.path as BusPath).route;
    if (p2p && tlp.kind === "MRd" && this.bus.platform.p2pReads === "refuse") {
      this.ur(tlp, route, "the root complex does not forward peer-to-peer reads");
      return this.refuse(tlp, route, "ur", 0);
    }
    const iommu = this.bus.options.iommu;
    if (iommu === undefined) return PASS;
    const translation = iommu.translate(fn.id, tlp.address, tlp.kind === "MWr" ? "w" : "r");
    if (translation.ok) {
      tlp.translated = translation.phys;
      return { ok: true, delayPs: translation.latencyPs, mmio: translation.mmio };
    }
    this.bus.engine.trace.emit("pci", "iommu.fault", { requester: this.name, tlp: tlp.kind, iova: tlp.address, fault: translation.fault });
    return this.refuse(tlp, route, "iommu-fault", translation.latencyPs);
  }

  /** A request refused at the root complex: a write is lost; a read completes with UR from there. */
  private refuse(tlp: Tlp, route: BusRoute, outcome: DmaOutcome, delayPs: number): RootComplexOutcome {
    const now = this.bus.engine.nowPs;
    if (tlp.kind === "MWr") this.account(tlp.op, tlp.payloadBytes, outcome, now + delayPs);
    else {
      const state = this.ops[tlp.op] as DmaOpState;
      if (state.outcome === "ok") state.outcome = outcome;
      this.bus.fabric.inject(this.packet("CplD", tlp.address, 0, tlp.requestBytes, tlp.tag, tlp.op, true, "UR", route.refusal), now + delayPs);
    }
    return { ok: false, delayPs };
  }

  /**
   * {@link TlpOwner}: `tlp` met a link that is down. A request heading below `answeringPort` is
   * answered UR by that port (a write is dropped, a read gets a UR completion from there); any
   * other TLP is lost: a posted write ends its operation `lost`, a read request or completion
   * leaves its read to the completion timer.
   */
  dropped(tlp: Tlp, link: string, answeringPort: PciFunction | undefined): void {
    const route = (tlp.path as BusPath).route;
    const now = this.bus.engine.nowPs;
    if (answeringPort !== undefined) {
      this.ur(tlp, route, `the link below ${answeringPort.label} is down`);
      if (tlp.kind === "MWr") this.account(tlp.op, tlp.payloadBytes, "ur", now);
      else {
        const switchPs = this.bus.options.ideal ? 0 : this.bus.platform.switchLatencyPs;
        const { path, delayPs } = this.portPaths.from(tlp.path as BusPath, answeringPort, switchPs);
        this.bus.fabric.inject(this.packet("CplD", tlp.address, 0, tlp.requestBytes, tlp.tag, tlp.op, true, "UR", path), now + delayPs);
      }
      return;
    }
    const bytes = tlp.kind === "MRd" || tlp.status === "UR" ? tlp.requestBytes : tlp.payloadBytes;
    this.bus.engine.trace.emit("pci", "tlp.lost", { requester: this.name, tlp: tlp.kind, address: tlp.address, bytes, target: route.targetName, link });
    if (tlp.kind === "MWr") this.account(tlp.op, tlp.payloadBytes, "lost", now);
    else this.unanswer(tlp, tlp.address, bytes);
  }

  /**
   * `bytes` of the read `tlp` belongs to (its request, or one of its completions) will never come:
   * arms the read's completion timer, once per read, `completionTimeoutPs` after it was sent.
   */
  private unanswer(tlp: Tlp, address: number, bytes: number): void {
    const { engine, platform } = this.bus;
    const target = (tlp.path as BusPath).route.targetName;
    const firesPs = this.unanswered.arm(tlp.tag, tlp.op, address, bytes, target, platform.completionTimeoutPs, engine.nowPs);
    if (firesPs !== undefined) this.defer(firesPs, { kind: "timeout", tlp, route: undefined, status: "SC", done: undefined, outcome: "timeout" });
  }

  /** A read's completion timer fired: the bytes that never came end its operation `timeout`; the tag is free. */
  private timeout(tag: number): void {
    const read = this.unanswered.fire(tag);
    const now = this.bus.engine.nowPs;
    const { address, bytes, target, issuedPs } = read;
    this.bus.engine.trace.emit("pci", "cpl.timeout", { requester: this.name, tag, address, bytes, target, issuedPs });
    this.releaseTag(tag, now);
    this.account(read.op, bytes, "timeout", now);
  }

  private ur(tlp: Tlp, route: BusRoute, reason: string): void {
    this.bus.engine.trace.emit("pci", "tlp.ur", { requester: this.name, target: route.targetName, tlp: tlp.kind, address: tlp.address, reason });
  }

  /** `pci/tlp`, when the fabric hands the TLP over; `atPs` (≥ the event's time): when it is really there; `status`: UR if its target refused. */
  private traceTlp(tlp: Tlp, route: BusRoute, atPs: number, status: CompletionStatus): void {
    const bytes = tlp.kind === "MRd" ? tlp.requestBytes : tlp.payloadBytes;
    const target = route.target;
    const barOffset = target.kind === "bar" ? this.bus.offsetInBar(this.fn, tlp.address, target.bar, tlp.translated) : null;
    const fields = { requester: this.name, tlp: tlp.kind, address: tlp.address, bytes, target: route.targetName, barOffset, status, atPs: Math.ceil(atPs) };
    this.bus.engine.trace.emit("pci", "tlp", fields);
  }
}
