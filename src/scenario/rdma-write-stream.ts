/**
 * A user program streaming RDMA WRITEs (or READs) and reaping their completions: it keeps the send queue
 * full (posting in batches, one doorbell per batch), and polls the CQ whenever a CQE lands and no
 * poll is outstanding, posting again as completions come back. Polling a CQ in a BAR is an MMIO
 * read through the fabric, so it is traffic too.
 */
import type { IbWc } from "../rdma/ib-wr.js";
import type { NicCq } from "../rdma/nic-cq.js";
import type { NicQp } from "../rdma/nic-qp.js";
import type { RdmaWriteWorld } from "./rdma-write-world.js";

/** What to stream. */
export interface RdmaWriteStreamOptions {
  /** Work requests in all. */
  readonly count: number;
  readonly bytes: number;
  /** WRs per doorbell at most. Default 16. */
  readonly batch?: number;
  /** WRs outstanding at most (≤ the SQ depth). Default the SQ depth. */
  readonly depth?: number;
  /** CQEs per poll at most. Default 64. */
  readonly pollMax?: number;
  /** Distinct target offsets the writes cycle through (× bytes must fit the MR). Default 64. */
  readonly slots?: number;
  /** RDMA READs from the BAR instead of WRITEs into it. Default false. */
  readonly read?: boolean;
}

/** The program's running state: completions reaped so far, by status. */
export interface RdmaWriteStream {
  readonly posted: () => number;
  readonly reaped: () => readonly IbWc[];
  /** When the program started, and when it reaped its last successful completion (ps; undefined before the first). */
  readonly startedPs: number;
  readonly lastOkPs: () => number | undefined;
  /** Posting stopped (the QP refused a post). */
  readonly stopped: () => boolean;
  /** The program stops reaping completions (a stalled consumer: the CQ fills and overruns). */
  readonly stopPolling: () => void;
}

/**
 * Starts the program at the current time; run the engine to drive it.
 * @param qp the requester QP (in RTS, connected); @param cq its send CQ's hardware context.
 */
export function startRdmaWriteStream(world: RdmaWriteWorld, qp: NicQp, cq: NicCq, options: RdmaWriteStreamOptions): RdmaWriteStream {
  const depth = options.depth ?? qp.layout.sqDepth;
  // A batch larger than the depth could never be posted whole.
  const batch = Math.min(options.batch ?? 16, depth);
  const slots = options.slots ?? 64;
  const pollMax = options.pollMax ?? 64;
  const wcs: IbWc[] = [];
  let posted = 0;
  let polling = false;
  let stopped = false;
  let reaping = true;
  let lastOkPs: number | undefined;
  const startedPs = world.engine.nowPs;
  const wr = (wrId: number, remoteOffset: number) => world.write(wrId, options.bytes, 0, remoteOffset, options.read ? "RDMA_READ" : "RDMA_WRITE");
  const post = () => {
    while (!stopped && posted < options.count) {
      const room = Math.min(batch, depth - (posted - wcs.length), options.count - posted);
      if (room < Math.min(batch, options.count - posted)) return;
      const wrs = [];
      for (let i = 0; i < room; i++, posted++) wrs.push(wr(posted, (posted % slots) * options.bytes));
      if (!qp.postSend(wrs).ok) {
        posted -= room;
        stopped = true;
      }
    }
  };
  const poll = () => {
    if (polling || !reaping) return;
    polling = true;
    cq.poll(pollMax, (result) => {
      polling = false;
      if (!result.ok || result.wcs.length === 0) return;
      wcs.push(...result.wcs);
      if (result.wcs.some((wc) => wc.status === "SUCCESS")) lastOkPs = world.engine.nowPs;
      post();
      poll();
    });
  };
  cq.onCompletion = poll;
  post();
  return {
    posted: () => posted,
    reaped: () => wcs,
    startedPs,
    lastOkPs: () => lastOkPs,
    stopped: () => stopped,
    stopPolling: () => {
      reaping = false;
    },
  };
}
