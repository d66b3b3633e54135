/**
 * The run's key events for the report's timeline (the `timeline` field of `run --json`): work
 * posted, data and CQE writes with the time each was issued and landed, the revoke's begin and
 * end, resets, link and IOMMU faults, and the errors that followed (UR completions, failed work
 * requests, QPs in error). A trace sink collects them while the run goes; the list is bounded so
 * the JSON stays small whatever the run's length, and says how many it left out.
 */
import type { TraceEvent, TraceSink } from "../fabric/trace.js";

/** The timeline's rows, top to bottom. */
export const TIMELINE_LANES = ["posts", "data writes", "CQE writes", "revoke", "reset / faults", "errors"] as const;

/** One row of the timeline. */
export type TimelineLane = (typeof TIMELINE_LANES)[number];

/** One key event. */
export interface TimelineEvent {
  readonly t: number;
  readonly seq: number;
  readonly lane: TimelineLane;
  /** `layer/kind` of the trace event. */
  readonly kind: string;
  /** A short description for the tooltip and the table. */
  readonly what: string;
  /** For a DMA write: when the device issued it (it landed at `t`). */
  readonly issuedPs?: number;
  /** For a DMA write: `ok`, or what the fabric answered. */
  readonly outcome?: string;
}

/** The `timeline` field. */
export interface ReportTimeline {
  /** The end of the safety phase (faults strike before it): the report's default window. */
  readonly safetyEndPs: number;
  readonly events: readonly TimelineEvent[];
  /** Key events left out past the bound. */
  readonly dropped: number;
}

/** At most this many key events are kept (about 150 bytes each in the JSON). */
export const TIMELINE_MAX_EVENTS = 2000;

function lane(e: TraceEvent): TimelineLane | undefined {
  const k = `${e.layer}/${e.kind}`;
  if (k === "rdma/post.send" || k === "rdma/post.recv") return "posts";
  if (k === "rdma/data.write") return "data writes";
  if (k === "rdma/cqe.write") return "CQE writes";
  if (/revoke|^dmabuf\/invalidate$|^dmabuf\/move_notify$|^rdma\/mr\.zap$/.test(k)) return "revoke";
  if (/reset\.|restore$|^fault\/|link\.(down|up|retrain)|iommu\.unmap|acs\.(set|change)|completion\.timeout/.test(k)) return "reset / faults";
  if (/tlp\.ur|wqe\.failed|qp\.error|map\.refused|cq\.error|\.failed$|iommu\.fault/.test(k)) return "errors";
  return undefined;
}

function describe(e: TraceEvent): string {
  const { t: _t, seq: _s, layer: _l, kind: _k, ...fields } = e;
  const shown = Object.entries(fields)
    .filter(([, v]) => typeof v !== "object" || v === null)
    .slice(0, 6)
    .map(([k, v]) => `${k}=${String(v)}`);
  return `${e.layer}/${e.kind} ${shown.join(" ")}`.trim();
}

/** Collects the key events of one run; subscribe {@link TimelineRecorder.sink} before the run starts. */
export class TimelineRecorder {
  private readonly events: TimelineEvent[] = [];
  private dropped = 0;

  /** @param safetyEndPs the end of the scenario's safety phase. */
  constructor(private readonly safetyEndPs: number) {}

  /** The trace sink. */
  readonly sink: TraceSink = (e) => {
    const which = lane(e);
    if (which === undefined) return;
    if (this.events.length >= TIMELINE_MAX_EVENTS) {
      this.dropped++;
      return;
    }
    const issued = e.issuedPs;
    const outcome = e.outcome;
    this.events.push({
      t: e.t,
      seq: e.seq,
      lane: which,
      kind: `${e.layer}/${e.kind}`,
      what: describe(e),
      ...(typeof issued === "number" ? { issuedPs: issued } : {}),
      ...(typeof outcome === "string" ? { outcome } : {}),
    });
  };

  /** The timeline so far. */
  timeline(): ReportTimeline {
    return { safetyEndPs: this.safetyEndPs, events: [...this.events], dropped: this.dropped };
  }
}
