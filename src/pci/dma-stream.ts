/**
 * A saturating stream of DMA operations of one size from a requester to a target, TLP by TLP
 * through a {@link Fabric}: what `p2psim perf` measures.
 *
 * The requester cuts writes at MPS and reads at MRRS (never across 4 KiB), keeps at most `tags`
 * reads and `inflightBytes` of operations outstanding, and needs `issueLatencyPs` per operation
 * before its first TLP. Operation k works on `base + (k × stride) mod workingSetBytes`, so a small
 * working set reuses IOTLB entries and a large one does not [pcie-timing.md §5 rows 5-7].
 * Completers: host memory answers after the memory latency (plus the remote-socket penalty), a
 * peer's BAR after the BAR read latency; completions are cut at MPS, or at the RCB with
 * `rcbChunks`, and never exceed the request. A target with Memory Space disabled, in reset or not
 * in D0 answers Unsupported Request: writes are dropped and reads complete with UR
 * [kernel.md §c.6], counted and traced.
 */
import { assert } from "../fabric/assert.js";
import type { Engine } from "../fabric/engine.js";
import { urReason } from "./dma-bus.js";
import type { Fabric } from "./fabric.js";
import type { Iommu } from "./iommu.js";
import type { Route, RouteTarget } from "./route.js";
import { completionSizes, offsetInChunk, PAGE_4K, wireBytes } from "./tlp.js";
import type { CompletionStatus, RootComplexOutcome, Tlp, TlpOwner, TlpPath } from "./tlp-packet.js";
import type { PciFunction } from "./topology.js";

/** The DMA operation kinds: write the target, read it, or one of each per step. */
export type DmaOp = "write" | "read" | "rw";

/** One stream. */
export interface DmaStreamConfig {
  readonly requester: PciFunction;
  readonly target: RouteTarget;
  readonly route: Route;
  /** First address the requester uses (bus address, IOVA or physical, as the mapping says). */
  readonly baseAddress: number;
  readonly op: DmaOp;
  readonly sizeBytes: number;
  readonly ops: number;
  readonly workingSetBytes: number;
  readonly tags: number;
  readonly inflightBytes: number;
  readonly issueLatencyPs: number;
  /** Latency of the completer: memory (with any remote-socket penalty) or the peer's BAR. */
  readonly completerLatencyPs: number;
  /**
   * The IOMMU translating the requester's addresses where its requests pass the root complex
   * (THRU_HOST_BRIDGE peers and host memory, never BUS_ADDR peers [kernel.md §a.7]).
   */
  readonly iommu?: Iommu;
  /** The root complex answers peer-to-peer reads with UR (a platform that does not forward them). */
  readonly refuseP2pReads?: boolean;
}

/** What a stream measured. */
export interface DmaStreamResult {
  readonly goodputGbps: number;
  readonly transactionsPerSec: number;
  readonly latencyNsMedian: number;
  readonly latencyNsP99: number;
  readonly opsCompleted: number;
  readonly opsFailed: number;
  readonly unsupportedRequests: number;
  readonly iommuFaults: number;
  readonly tlps: number;
}

/** How far ahead of the wire the requester books its first link, ps (bounds memory; 64 MPS TLPs at Gen1 x1 is far longer). */
const QUEUE_AHEAD_PS = 2_000_000;

/** Runs the stream on `engine` until it drains. */
export function runDmaStream(engine: Engine, fabric: Fabric, config: DmaStreamConfig): DmaStreamResult {
  const { op, sizeBytes, ops, route, requester, target } = config;
  const { mps, mrrs, rcb, rcbChunks, addressBits, ecrc } = fabric.options.tlp;
  const format = { addressBits, ecrc };
  assert(Number.isSafeInteger(sizeBytes) && sizeBytes > 0, "size must be a positive integer");
  assert(config.workingSetBytes >= sizeBytes, "the working set must hold one operation");
  const stride = Math.ceil(sizeBytes / PAGE_4K) * PAGE_4K;
  const slots = Math.max(1, Math.floor(config.workingSetBytes / stride));
  const reads = op !== "write";
  const writes = op !== "read";
  const perOp = (reads ? sizeBytes : 0) + (writes ? sizeBytes : 0);

  const issuedAtPs: number[] = new Array(ops);
  const remaining: number[] = new Array(ops).fill(perOp);
  const failed: boolean[] = new Array(ops).fill(false);
  const latenciesPs: number[] = [];
  let opsDone = 0;
  let opsFailed = 0;
  let urs = 0;
  let firstIssuePs = Number.NaN;
  let lastDonePs = 0;
  let tlps = 0;

  let nextOp = 0;
  let writeCursor = 0;
  let readCursor = 0;
  let opStarted = false;
  let opReadyPs = 0;
  let tagsInUse = 0;
  let bytesInFlight = 0;
  const freeTags: number[] = [];
  let tagNext = 0;

  const account = (index: number, bytes: number, atPs: number) => {
    const left = (remaining[index] as number) - bytes;
    remaining[index] = left;
    if (left > 0) return;
    opsDone++;
    if (failed[index]) opsFailed++;
    lastDonePs = Math.max(lastDonePs, atPs);
    latenciesPs.push(atPs - (issuedAtPs[index] as number));
    bytesInFlight -= sizeBytes;
  };

  fabric.prepare(route.request);
  fabric.prepare(route.completion);
  // The part of the completion route from the root complex: how a request refused there is answered.
  const fromRootComplex = route.completion.slice(
    Math.max(
      0,
      route.completion.findIndex((hop) => hop.kind === "root-complex"),
    ),
  );
  fabric.prepare(fromRootComplex);
  // Every path a TLP of this stream can take, compiled once (per-hop kinds, links, express flags).
  const requestPath = fabric.compile(route.request);
  const completionPath = fabric.compile(route.completion);
  const refusalPath = fabric.compile(fromRootComplex);

  const packet = (
    kind: Tlp["kind"],
    address: number,
    payloadBytes: number,
    requestBytes: number,
    tag: number,
    index: number,
    last: boolean,
    status: CompletionStatus,
    path: TlpPath,
  ): Tlp => {
    tlps++;
    return {
      kind,
      address,
      payloadBytes,
      requestBytes,
      wireBytes: wireBytes(kind, payloadBytes, format),
      tag,
      op: index,
      lastOfRequest: last,
      lastOfOp: last,
      status,
      path,
      owner,
      hopIndex: 0,
      // NaN is a double: the field is a double from the first object on (no representation change).
      tailPs: Number.NaN,
      translated: -1,
    };
  };

  const ur = (tlp: Tlp, reason: string) => {
    urs++;
    const targetName = target.kind === "bar" ? target.fn.id : "host memory";
    engine.trace.emit("pci", "tlp.ur", { requester: requester.id, target: targetName, tlp: tlp.kind, address: tlp.address, reason });
  };

  // Reads waiting for their completer, in arrival order (each gets one event).
  const pending: Array<{ tlp: Tlp; status: CompletionStatus }> = [];
  let pendingHead = 0;
  const complete = engine.handler(() => {
    const { tlp: request, status } = pending[pendingHead] as { tlp: Tlp; status: CompletionStatus };
    pending[pendingHead++] = undefined as unknown as { tlp: Tlp; status: CompletionStatus };
    if (pendingHead > 1024 && pendingHead * 2 > pending.length) {
      pending.splice(0, pendingHead);
      pendingHead = 0;
    }
    if (status === "UR") {
      fabric.inject(packet("CplD", request.address, 0, request.requestBytes, request.tag, request.op, true, "UR", completionPath), engine.nowPs);
      return;
    }
    const sizes = completionSizes(request.address, request.requestBytes, mps, rcb, rcbChunks);
    let address = request.address;
    sizes.forEach((bytes, i) => {
      fabric.inject(packet("CplD", address, bytes, 0, request.tag, request.op, i === sizes.length - 1, "SC", completionPath), engine.nowPs);
      address += bytes;
    });
  }, "completer");

  const iommu = config.iommu;
  let faults = 0;
  const refuse = (tlp: Tlp, reason: string, delayPs: number) => {
    if (tlp.kind === "MWr") {
      failed[tlp.op] = true;
      account(tlp.op, tlp.payloadBytes, engine.nowPs);
      pump();
    } else {
      const cpl = packet("CplD", tlp.address, 0, tlp.requestBytes, tlp.tag, tlp.op, true, "UR", refusalPath);
      fabric.inject(cpl, engine.nowPs + delayPs);
    }
    return { ok: false as const, delayPs, reason };
  };
  const passes: RootComplexOutcome = { ok: true, delayPs: 0, mmio: false };
  const atRootComplex = (tlp: Tlp, p2p: boolean): RootComplexOutcome => {
    if (p2p && tlp.kind === "MRd" && config.refuseP2pReads) {
      ur(tlp, "the root complex does not forward peer-to-peer reads");
      return refuse(tlp, "p2p-read", 0);
    }
    if (!iommu) return passes;
    const translation = iommu.translate(requester.id, tlp.address, tlp.kind === "MWr" ? "w" : "r");
    if (translation.ok) return { ok: true, delayPs: translation.latencyPs, mmio: translation.mmio };
    // The DMA is blocked before it reaches its target; the requester sees the failure.
    faults++;
    engine.trace.emit("pci", "iommu.fault", { requester: requester.id, tlp: tlp.kind, iova: tlp.address, fault: translation.fault });
    return refuse(tlp, translation.fault, translation.latencyPs);
  };

  const arrived = (tlp: Tlp, atPs: number): void => {
    if (tlp.kind === "CplD") {
      if (tlp.lastOfRequest) {
        tagsInUse--;
        freeTags.push(tlp.tag);
      }
      if (tlp.status === "UR") {
        failed[tlp.op] = true;
        account(tlp.op, tlp.requestBytes, atPs);
      } else account(tlp.op, tlp.payloadBytes, atPs);
    } else {
      const reason = target.kind === "bar" ? urReason(target.fn) : undefined;
      if (tlp.kind === "MWr") {
        if (reason) {
          ur(tlp, reason);
          failed[tlp.op] = true;
        }
        account(tlp.op, tlp.payloadBytes, atPs);
      } else {
        if (reason) ur(tlp, reason);
        pending.push({ tlp, status: reason ? "UR" : "SC" });
        engine.at(Math.ceil(atPs + (reason ? 0 : config.completerLatencyPs)), complete, 0);
      }
    }
    pump();
  };
  const owner: TlpOwner = { arrived, atRootComplex };

  /** Puts the next TLPs of the stream into the fabric while the queue, tags and window allow. */
  function pump(): void {
    while (nextOp < ops && queued() < QUEUE_AHEAD_PS) {
      if (!opStarted) {
        if (bytesInFlight + sizeBytes > config.inflightBytes && bytesInFlight > 0) return;
        opStarted = true;
        bytesInFlight += sizeBytes;
        issuedAtPs[nextOp] = engine.nowPs;
        opReadyPs = engine.nowPs + config.issueLatencyPs;
        if (Number.isNaN(firstIssuePs)) firstIssuePs = engine.nowPs;
      }
      const base = config.baseAddress + (nextOp % slots) * stride;
      if (writes && writeCursor < sizeBytes) {
        const address = base + writeCursor;
        const bytes = Math.min(mps - offsetInChunk(address, mps), sizeBytes - writeCursor);
        writeCursor += bytes;
        fabric.inject(packet("MWr", address, bytes, 0, -1, nextOp, writeCursor === sizeBytes, "SC", requestPath), opReadyPs);
      } else if (reads && readCursor < sizeBytes) {
        if (tagsInUse >= config.tags) return;
        const address = base + readCursor;
        const bytes = Math.min(mrrs - offsetInChunk(address, mrrs), PAGE_4K - offsetInChunk(address, PAGE_4K), sizeBytes - readCursor);
        readCursor += bytes;
        tagsInUse++;
        fabric.inject(packet("MRd", address, 0, bytes, freeTags.pop() ?? tagNext++, nextOp, false, "SC", requestPath), opReadyPs);
      }
      if ((!writes || writeCursor === sizeBytes) && (!reads || readCursor === sizeBytes)) {
        nextOp++;
        writeCursor = 0;
        readCursor = 0;
        opStarted = false;
      }
    }
  }

  // How far ahead the requester has booked its own link: it stops a little ahead of the wire.
  const firstLink = fabric.firstLinkOf(route.request);
  const queued = () => (firstLink ? firstLink.backlogPs : 0);

  engine.after(
    0,
    engine.handler(() => pump(), "dma-start"),
    0,
  );
  const outcome = engine.runUntilQuiet({ eventsMax: Number.MAX_SAFE_INTEGER });
  assert(outcome.status === "quiet", () => `DMA stream did not drain: ${outcome.status}`);
  assert(opsDone === ops, () => `${ops - opsDone} operations never completed`);
  const durationPs = Math.max(1, lastDonePs - firstIssuePs);
  const sorted = latenciesPs.sort((a, b) => a - b);
  const quantile = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number) / 1000;
  const good = ops - opsFailed;
  return {
    goodputGbps: (good * sizeBytes * 8) / (durationPs / 1000),
    transactionsPerSec: good / (durationPs / 1e12),
    latencyNsMedian: quantile(0.5),
    latencyNsP99: quantile(0.99),
    opsCompleted: good,
    opsFailed,
    unsupportedRequests: urs,
    iommuFaults: faults,
    tlps,
  };
}
