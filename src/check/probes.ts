/**
 * "Sometimes" probes: rare interleavings a run may or may not reach. A probe never fails a run; it
 * counts how often its interleaving happened, so a sweep can say which were never hit — a sweep
 * that never raced a revoke against an in-flight CQE write proved nothing about that race.
 * Probes observe the trace bus only, as monitors do.
 */
import type { TraceEvent } from "../fabric/trace.js";

/** The probes, with what each records. */
export const PROBES = {
  "revoke-raced-cqe-write": "an exporter revoke began while a CQE write was in flight (issued before, landed after)",
  "revoke-raced-data-write": "an exporter revoke began while a data write was in flight",
  "invalidate-between-wqe-fetch-and-data": "an MR was invalidated after a WQE was fetched and before its data DMA was issued (or the WR failed)",
  "reset-during-mr-fault": "a reset began while a dynamic MR's page fault was in progress",
  "ur-on-in-flight-request": "a request already issued was refused UR by its target",
  "cq-error-raised": "a CQ became unusable and raised IB_EVENT_CQ_ERR",
  "stale-map-type-used": "a p2pdma map-type lookup returned a cached answer that the ACS bits of today would not give [kernel.md §a.6]",
} as const;

/** A probe's name. */
export type ProbeName = keyof typeof PROBES;

/** Counts probe hits on one run's trace. */
export class ProbeSet {
  readonly hits: Record<ProbeName, number> = {
    "revoke-raced-cqe-write": 0,
    "revoke-raced-data-write": 0,
    "invalidate-between-wqe-fetch-and-data": 0,
    "reset-during-mr-fault": 0,
    "ur-on-in-flight-request": 0,
    "cq-error-raised": 0,
    "stale-map-type-used": 0,
  };
  /** Start times of exporter revokes. */
  private readonly revokes: number[] = [];
  /** Times MRs were zapped. */
  private readonly zaps: number[] = [];
  /** Times of WQE fetches, ascending. */
  private readonly fetches: number[] = [];
  /** Pids of the page-fault processes running. */
  private readonly faults = new Set<number>();

  /** Sees one event (subscribe it to the trace bus). */
  observe(event: TraceEvent): void {
    const key = `${event.layer}/${event.kind}`;
    switch (key) {
      case "dmabuf/revoke.begin":
        this.revokes.push(event.t);
        break;
      case "rdma/mr.zap":
        this.zaps.push(event.t);
        break;
      case "rdma/wqe.fetch":
        this.fetches.push(event.t);
        break;
      case "rdma/cqe.write":
      case "rdma/data.write":
        this.racedRevoke(event, key === "rdma/cqe.write" ? "revoke-raced-cqe-write" : "revoke-raced-data-write");
        if (key === "rdma/data.write") this.zappedBetween(event.issuedPs as number);
        break;
      case "rdma/wqe.failed":
        this.zappedBetween(event.t);
        break;
      case "fabric/process.spawn":
        // The NIC runs each page fault as a process named `<mr>/fault` (nic-mr-access.ts), from the
        // access that found the MR zapped until it re-mapped or failed; `rdma/mr.fault` only marks its success.
        if (String(event.process).endsWith("/fault")) this.faults.add(event.pid as number);
        break;
      case "fabric/process.exit":
        this.faults.delete(event.pid as number);
        break;
      case "vfio/reset.begin":
      case "vfio/hot-reset.begin":
        if (this.faults.size > 0) this.hits["reset-during-mr-fault"]++;
        break;
      case "pci/tlp.ur":
        this.hits["ur-on-in-flight-request"]++;
        break;
      case "rdma/async.event":
        if (event.type === "IB_EVENT_CQ_ERR") this.hits["cq-error-raised"]++;
        break;
      case "p2pdma/map-type":
        // Faithful, not a violation (I12): the kernel never refreshes its cache, so a sweep should say whether that was reached.
        if (typeof event.staleAgainst === "string") this.hits["stale-map-type-used"]++;
        break;
    }
  }

  private racedRevoke(event: TraceEvent, probe: ProbeName): void {
    const issued = event.issuedPs as number;
    if (this.revokes.some((t) => t > issued && t <= event.t)) this.hits[probe]++;
  }

  /**
   * A data write issued (or a WR failed) at `untilPs`: was an MR zapped since the last WQE fetch
   * before it? The fetch that brought this WR in is at or before that one, so the zap fell between
   * a fetch and this WR's data DMA.
   */
  private zappedBetween(untilPs: number): void {
    let i = this.fetches.length - 1;
    while (i >= 0 && (this.fetches[i] as number) > untilPs) i--;
    const fetchedAt = this.fetches[i];
    if (fetchedAt !== undefined && this.zaps.some((t) => t >= fetchedAt && t <= untilPs)) this.hits["invalidate-between-wqe-fetch-and-data"]++;
  }
}
