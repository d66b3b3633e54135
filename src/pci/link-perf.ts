/**
 * The single-link DMA benchmark of `p2psim perf --link`: one device attached to a root port with
 * host memory behind it, running a saturating stream of DMA operations of one size, TLP by TLP.
 *
 * ```
 *  device (DMA engine) ──up: MWr, MRd──▶ root complex ──▶ host memory (LLC / DRAM)
 *                      ◀──down: CplD─────
 * ```
 *
 * The DMA engine cuts writes at MPS and reads at MRRS (never across 4 KiB), keeps at most `tags`
 * reads outstanding and at most `windowBytes` of operations in flight, and puts TLPs on the link
 * as flow control allows; the completer answers each read after the memory latency with
 * completions cut at MPS (or at the RCB). Goodput, transactions per second and per-operation
 * latency come out of the event trace, not out of a formula; `ideal` makes credits, tags, window
 * and every latency non-limiting so that the result is the link ceiling the pcie-bench model
 * computes [pcie-timing.md §3].
 */
import { assert } from "../fabric/assert.js";
import { Engine } from "../fabric/engine.js";
import { type LinkCredits, LinkDirection } from "./link-direction.js";
import { type LinkConfig, tlpBandwidthGbps } from "./pcie-model.js";
import type { PerfPlatform } from "./perf-platform.js";
import { completionSizes, PAGE_4K, type TlpFormat, wireBytes } from "./tlp.js";
import type { Tlp } from "./tlp-packet.js";

/** The DMA operation kinds: device writes host memory, device reads it, or one of each per step. */
export type DmaOp = "write" | "read" | "rw";

/** One run. */
export interface LinkPerfConfig {
  readonly link: LinkConfig;
  readonly op: DmaOp;
  readonly sizeBytes: number;
  /** Operations to run (each of `sizeBytes`; for `rw`, steps of one write and one read). */
  readonly ops: number;
  /** Make credits, tags, window and latencies non-limiting: the link ceiling. */
  readonly ideal: boolean;
  readonly platform: PerfPlatform;
}

/** What one run measured. */
export interface LinkPerfResult {
  readonly sizeBytes: number;
  readonly op: DmaOp;
  /** Payload per direction of the op (for rw: of each stream), Gb/s. */
  readonly goodputGbps: number;
  readonly transactionsPerSec: number;
  readonly latencyNsMedian: number;
  readonly latencyNsP99: number;
  /** TLPs on both directions. */
  readonly tlps: number;
  readonly events: number;
  readonly simulatedPs: number;
  /** Every TLP sent was delivered and every credit came back. */
  readonly conserved: boolean;
}

/** How many TLPs the DMA engine keeps queued on its link ahead of the wire (bounds memory). */
const QUEUE_AHEAD = 64;

/** Runs one configuration and measures it. */
export function runLinkPerf(config: LinkPerfConfig): LinkPerfResult {
  const { link, op, sizeBytes, ops, ideal, platform } = config;
  assert(Number.isSafeInteger(sizeBytes) && sizeBytes > 0, "size must be a positive integer");
  assert(Number.isSafeInteger(ops) && ops > 0, "ops must be a positive integer");
  const engine = new Engine({ seed: 0 });
  const format: TlpFormat = { addressBits: link.addressBits, ecrc: link.ecrc };
  const tlpGbps = tlpBandwidthGbps(link);
  const hopPs = ideal ? 0 : platform.linkLatencyPs;
  const credits: LinkCredits | undefined = ideal ? undefined : platform.rootPortCredits;
  const tags = ideal ? Number.POSITIVE_INFINITY : platform.tags;
  const windowBytes = ideal ? Number.POSITIVE_INFINITY : platform.windowBytes;
  const memoryPs = ideal ? 0 : platform.rootComplexLatencyPs * 2 + platform.memoryLatencyPs;
  const issuePs = ideal ? 0 : platform.dmaIssueLatencyPs;
  const stride = Math.ceil(sizeBytes / PAGE_4K) * PAGE_4K;
  const reads = op !== "write";
  const writes = op !== "read";

  const issuedAtPs: number[] = new Array(ops);
  const remaining: number[] = new Array(ops).fill((reads ? sizeBytes : 0) + (writes ? sizeBytes : 0));
  const latenciesPs: number[] = [];
  let opsDone = 0;
  let firstIssuePs = Number.NaN;
  let lastDonePs = 0;

  // Requester state: the op being cut into TLPs, and where in it we are.
  let nextOp = 0;
  let writeCursor = 0;
  let readCursor = 0;
  let opStarted = false;
  let opReadyPs = 0;
  let tagsInUse = 0;
  let bytesInFlight = 0;
  const freeTags: number[] = [];
  let tagNext = 0;

  const opDone = (index: number) => {
    opsDone++;
    lastDonePs = engine.nowPs;
    latenciesPs.push(engine.nowPs - (issuedAtPs[index] as number));
    bytesInFlight -= sizeBytes;
  };
  const account = (index: number, bytes: number) => {
    const left = (remaining[index] as number) - bytes;
    remaining[index] = left;
    if (left === 0) opDone(index);
  };

  const down = new LinkDirection(engine, { name: "root-port→device", tlpGbps, latencyPs: hopPs }, (tlp) => {
    if (tlp.lastOfRequest) {
      tagsInUse--;
      freeTags.push(tlp.tag);
    }
    account(tlp.op, tlp.payloadBytes);
    pump();
  });
  const pendingReads: Tlp[] = [];
  let pendingHead = 0;
  const complete = engine.handler(() => {
    const request = pendingReads[pendingHead] as Tlp;
    pendingReads[pendingHead++] = undefined as unknown as Tlp;
    if (pendingHead > 1024 && pendingHead * 2 > pendingReads.length) {
      pendingReads.splice(0, pendingHead);
      pendingHead = 0;
    }
    const sizes = completionSizes(request.address, request.requestBytes, link.mps, link.rcb, link.rcbChunks);
    let address = request.address;
    sizes.forEach((bytes, i) => {
      down.send(tlp("CplD", address, bytes, 0, request.tag, request.op, i === sizes.length - 1, false));
      address += bytes;
    });
  }, "completer");
  const up = new LinkDirection(engine, { name: "device→root-port", tlpGbps, latencyPs: hopPs, ...(credits ? { credits } : {}) }, (tlp) => {
    if (tlp.kind === "MWr") account(tlp.op, tlp.payloadBytes);
    else {
      pendingReads.push(tlp);
      engine.after(memoryPs, complete, 0);
    }
    pump();
  });

  function tlp(
    kind: Tlp["kind"],
    address: number,
    payloadBytes: number,
    requestBytes: number,
    tag: number,
    opIndex: number,
    lastOfRequest: boolean,
    lastOfOp: boolean,
  ): Tlp {
    return { kind, address, payloadBytes, requestBytes, wireBytes: wireBytes(kind, payloadBytes, format), tag, op: opIndex, lastOfRequest, lastOfOp };
  }

  /** Puts the next TLPs of the stream on the up link while the queue, tags and window allow. */
  function pump(): void {
    while (nextOp < ops && up.queuedCount < QUEUE_AHEAD) {
      if (!opStarted) {
        if (bytesInFlight + sizeBytes > windowBytes && bytesInFlight > 0) return;
        opStarted = true;
        bytesInFlight += sizeBytes;
        issuedAtPs[nextOp] = engine.nowPs;
        // The DMA engine needs the issue latency before the op's first TLP (descriptor fetch and setup).
        opReadyPs = engine.nowPs + issuePs;
        if (Number.isNaN(firstIssuePs)) firstIssuePs = engine.nowPs;
      }
      const base = nextOp * stride;
      if (writes && writeCursor < sizeBytes) {
        const address = base + writeCursor;
        const bytes = Math.min(link.mps - (address % link.mps), sizeBytes - writeCursor);
        writeCursor += bytes;
        up.send(tlp("MWr", address, bytes, 0, -1, nextOp, false, writeCursor === sizeBytes), opReadyPs);
      } else if (reads && readCursor < sizeBytes) {
        if (tagsInUse >= tags) return;
        const address = base + readCursor;
        const bytes = Math.min(link.mrrs - (address % link.mrrs), PAGE_4K - (address % PAGE_4K), sizeBytes - readCursor);
        readCursor += bytes;
        tagsInUse++;
        const tag = freeTags.pop() ?? tagNext++;
        up.send(tlp("MRd", address, 0, bytes, tag, nextOp, false, false), opReadyPs);
      }
      if ((!writes || writeCursor === sizeBytes) && (!reads || readCursor === sizeBytes)) {
        nextOp++;
        writeCursor = 0;
        readCursor = 0;
        opStarted = false;
      }
    }
  }

  engine.after(
    0,
    engine.handler(() => pump(), "dma-start"),
    0,
  );
  const outcome = engine.runUntilQuiet({ eventsMax: Number.MAX_SAFE_INTEGER });
  assert(outcome.status === "quiet", () => `link perf did not drain: ${outcome.status}`);
  assert(opsDone === ops, () => `${ops - opsDone} operations never completed`);
  const durationPs = lastDonePs - firstIssuePs;
  const sorted = latenciesPs.sort((a, b) => a - b);
  const quantile = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number) / 1000;
  return {
    sizeBytes,
    op,
    goodputGbps: (ops * sizeBytes * 8) / (durationPs / 1000),
    transactionsPerSec: ops / (durationPs / 1e12),
    latencyNsMedian: quantile(0.5),
    latencyNsP99: quantile(0.99),
    tlps: up.counters.tlpsSent + down.counters.tlpsSent,
    events: engine.eventsFired,
    simulatedPs: engine.nowPs,
    conserved:
      up.counters.tlpsSent === up.counters.tlpsDelivered &&
      down.counters.tlpsSent === down.counters.tlpsDelivered &&
      up.creditsBalanced() &&
      down.creditsBalanced(),
  };
}
