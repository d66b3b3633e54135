/**
 * Flow arrows of the Perfetto trace: from a slice that caused something to the slice it caused
 * (a read request to its last completion, a WQE fetch to the data write and the CQE it led to, a
 * revoke to each invalidation, unmap and drain). An arrow is written only when both of its slices
 * were kept (a capped track drops slices), so every id has exactly one `s` and one `f`.
 */
import type { ChromeTraceEvent } from "./perfetto-format.js";
import { psToUs } from "./perfetto-format.js";
import { groupPid, type PendingSlice } from "./perfetto-tracks.js";

/** One arrow between two slices. */
interface Flow {
  readonly name: string;
  readonly cat: string;
  readonly from: PendingSlice;
  readonly to: PendingSlice;
}

/** The arrows of a trace. */
export class FlowTable {
  private readonly flows: Flow[] = [];
  /** Arrows dropped because an end was capped away or the effect began before its cause. */
  dropped = 0;

  /** Draws an arrow from `from` to `to`; either may be undefined (a capped slice), then nothing is drawn. */
  link(name: string, cat: string, from: PendingSlice | undefined, to: PendingSlice | undefined): void {
    if (from === undefined || to === undefined) {
      this.dropped++;
      return;
    }
    this.flows.push({ name, cat, from, to });
  }

  /** Arrows drawn so far, per name (for reports and tests). */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const f of this.flows) counts[f.name] = (counts[f.name] ?? 0) + 1;
    return counts;
  }

  /**
   * The `s`/`f` pairs, ids from 1 in the order the arrows were drawn. The start sits at its
   * slice's start; the finish at its slice's start with `bp: "e"` (bound to that slice).
   * Call after the slices are laid out (they need their thread).
   */
  events(): ChromeTraceEvent[] {
    const events: ChromeTraceEvent[] = [];
    let id = 0;
    for (const f of this.flows) {
      if (f.from.tid === undefined || f.to.tid === undefined || f.to.startPs < f.from.startPs) {
        this.dropped++;
        continue;
      }
      id++;
      events.push(
        { name: f.name, cat: f.cat, ph: "s", id, ts: psToUs(f.from.startPs), pid: groupPid(f.from.group), tid: f.from.tid },
        { name: f.name, cat: f.cat, ph: "f", bp: "e", id, ts: psToUs(f.to.startPs), pid: groupPid(f.to.group), tid: f.to.tid },
      );
    }
    return events;
  }
}
