/**
 * Tracks of the Perfetto trace: one process (`pid`) per group, one thread (`tid`) per track, and
 * the `M` metadata that names them and orders them top-down (verdict, VFIO devices and their
 * revokes, the NIC, the IOMMU, then the wire). Slices are collected first and laid out at the end:
 * a track whose slices overlap without nesting (DMA operations in flight together) is split into
 * lanes, `name`, `name [2]`, …, so every lane nests as the format needs.
 */
import type { ChromeTraceArg, ChromeTraceEvent } from "./perfetto-format.js";
import { durUs, psToUs } from "./perfetto-format.js";

/** The groups, in display order. */
export const TRACK_GROUPS = ["verdict", "VFIO devices", "NIC", "IOMMU", "links", "switch ports"] as const;

/** A group of tracks (one process in the viewer). */
export type TrackGroup = (typeof TRACK_GROUPS)[number];

/** The process id of a group: its position in {@link TRACK_GROUPS}, from 1. */
export function groupPid(group: TrackGroup): number {
  return TRACK_GROUPS.indexOf(group) + 1;
}

/** A slice waiting for layout; flows point at it, and learn its thread once it is laid out. */
export interface PendingSlice {
  readonly group: TrackGroup;
  /** The track's name; a lane suffix is added when it has to be split. */
  readonly track: string;
  readonly name: string;
  readonly cat: string;
  readonly startPs: number;
  readonly endPs: number;
  readonly args: { readonly [key: string]: ChromeTraceArg };
  /** Set by {@link TrackTable.layout}. */
  tid?: number;
}

/** A laid-out thread: its group, name and id. */
export interface TrackInfo {
  readonly group: TrackGroup;
  readonly name: string;
  readonly tid: number;
}

/**
 * The tracks and their slices. Tracks are numbered in the order they are first used, so a run
 * (deterministic) always gives the same ids.
 */
export class TrackTable {
  private readonly threads = new Map<string, TrackInfo>();
  private readonly slices: PendingSlice[] = [];
  private readonly kept = new Map<string, number>();
  private readonly groupsUsed = new Set<TrackGroup>();
  /** Slices dropped per track by the cap. */
  readonly dropped = new Map<string, number>();

  /**
   * @param capPerTrack the most slices one track keeps (later ones are counted in {@link dropped});
   *   bounds the file of a long run.
   */
  constructor(private readonly capPerTrack: number = Number.POSITIVE_INFINITY) {}

  /** Names a group's process even if it has no thread (counters only). */
  useGroup(group: TrackGroup): void {
    this.groupsUsed.add(group);
  }

  /** The thread of a track that is not split into lanes (counters' owners, instants). */
  thread(group: TrackGroup, name: string): TrackInfo {
    const key = `${group}\u0000${name}`;
    let info = this.threads.get(key);
    if (!info) {
      info = { group, name, tid: this.threads.size + 1 };
      this.threads.set(key, info);
    }
    return info;
  }

  /**
   * Adds a slice. @returns it (flows bind to it), or undefined when the track is over its cap.
   */
  slice(slice: Omit<PendingSlice, "tid">): PendingSlice | undefined {
    const key = `${slice.group}\u0000${slice.track}`;
    const count = this.kept.get(key) ?? 0;
    if (count >= this.capPerTrack) {
      this.dropped.set(`${slice.group}/${slice.track}`, (this.dropped.get(`${slice.group}/${slice.track}`) ?? 0) + 1);
      return undefined;
    }
    this.kept.set(key, count + 1);
    this.thread(slice.group, slice.track);
    const pending: PendingSlice = { ...slice };
    this.slices.push(pending);
    return pending;
  }

  /**
   * Lays the slices out on lanes (sorted by start, longest first at equal starts, first lane free)
   * and returns them as `X` events.
   */
  layout(): ChromeTraceEvent[] {
    const byTrack = new Map<string, PendingSlice[]>();
    for (const s of this.slices) {
      const key = `${s.group}\u0000${s.track}`;
      const list = byTrack.get(key);
      if (list) list.push(s);
      else byTrack.set(key, [s]);
    }
    const events: ChromeTraceEvent[] = [];
    for (const list of byTrack.values()) {
      list.sort((a, b) => a.startPs - b.startPs || b.endPs - a.endPs);
      // Per lane, the stack of open slices' ends: a slice goes on the first lane where it nests.
      const lanes: number[][] = [];
      for (const s of list) {
        let lane = 0;
        for (; lane < lanes.length; lane++) {
          const stack = lanes[lane] as number[];
          while (stack.length > 0 && (stack.at(-1) as number) <= s.startPs) stack.pop();
          if (stack.length === 0 || (stack.at(-1) as number) >= s.endPs) break;
        }
        if (lane === lanes.length) lanes.push([]);
        (lanes[lane] as number[]).push(s.endPs);
        s.tid = this.thread(s.group, lane === 0 ? s.track : `${s.track} [${lane + 1}]`).tid;
        events.push({
          name: s.name,
          cat: s.cat,
          ph: "X",
          ts: psToUs(s.startPs),
          dur: durUs(s.startPs, s.endPs),
          pid: groupPid(s.group),
          tid: s.tid,
          args: { ...s.args, ps: s.startPs, durPs: s.endPs - s.startPs },
        });
      }
    }
    return events;
  }

  /** The `M` events naming and ordering every group used and every track. Call after {@link layout}. */
  metadata(): ChromeTraceEvent[] {
    const groups = new Set([...this.groupsUsed, ...[...this.threads.values()].map((t) => t.group)]);
    const events: ChromeTraceEvent[] = [];
    for (const group of TRACK_GROUPS) {
      if (!groups.has(group)) continue;
      const pid = groupPid(group);
      events.push(
        { name: "process_name", ph: "M", ts: 0, pid, tid: 0, args: { name: group } },
        { name: "process_sort_index", ph: "M", ts: 0, pid, tid: 0, args: { sort_index: pid } },
      );
    }
    // Within a group, tracks read in name order (a lane `x [2]` right under `x`).
    const ordered = this.tracks().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    ordered.forEach((info, index) => {
      const pid = groupPid(info.group);
      events.push(
        { name: "thread_name", ph: "M", ts: 0, pid, tid: info.tid, args: { name: info.name } },
        { name: "thread_sort_index", ph: "M", ts: 0, pid, tid: info.tid, args: { sort_index: index } },
      );
    });
    return events;
  }

  /** Every track, in id order. */
  tracks(): TrackInfo[] {
    return [...this.threads.values()].sort((a, b) => a.tid - b.tid);
  }
}
