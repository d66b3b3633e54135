/**
 * Counters of the Perfetto trace, sampled per window of simulated time so that a long run gives
 * a bounded number of samples: link utilisation (share of the window the wire was busy), credits
 * in use per flow-control class and TLPs queued per switch port (the most held during the window) and the IOTLB hit rate (hits
 * among the window's translations). Each series drops back to its idle value after its last busy
 * window, so a viewer does not hold the last value across an idle stretch.
 */
import type { ChromeTraceEvent } from "./perfetto-format.js";
import { psToUs } from "./perfetto-format.js";

/** Where a counter lives: its process and its name there. */
export interface CounterTrack {
  readonly pid: number;
  readonly name: string;
}

/** Busy time per window, per link direction → utilisation in percent. */
export class UtilisationCounters {
  private readonly busy = new Map<string, { track: CounterTrack; windows: Map<number, number> }>();

  constructor(private readonly windowPs: number) {}

  /** The wire of `track` was busy from `startPs` to `endPs`. */
  add(track: CounterTrack, startPs: number, endPs: number): void {
    const key = `${track.pid}/${track.name}`;
    let entry = this.busy.get(key);
    if (!entry) {
      entry = { track, windows: new Map() };
      this.busy.set(key, entry);
    }
    for (let w = Math.floor(startPs / this.windowPs); w * this.windowPs < endPs; w++) {
      const from = Math.max(startPs, w * this.windowPs);
      const to = Math.min(endPs, (w + 1) * this.windowPs);
      if (to > from) entry.windows.set(w, (entry.windows.get(w) ?? 0) + (to - from));
    }
  }

  /** One sample per busy window (at its start), and a 0 after each busy stretch. */
  events(): ChromeTraceEvent[] {
    const events: ChromeTraceEvent[] = [];
    for (const { track, windows } of this.busy.values()) {
      const ordered = [...windows.keys()].sort((a, b) => a - b);
      ordered.forEach((w, i) => {
        const percent = Math.min(100, (100 * (windows.get(w) as number)) / this.windowPs);
        events.push(sample(track, w * this.windowPs, { percent: round3(percent) }));
        if (ordered[i + 1] !== w + 1) events.push(sample(track, (w + 1) * this.windowPs, { percent: 0 }));
      });
    }
    return events;
  }
}

/**
 * Amounts held over intervals (credits in use per class, TLPs queued at a switch port), per
 * counter track: the most held during each window with a change, then the value held at its end.
 */
export class HeldCounters {
  private readonly deltas = new Map<string, { track: CounterTrack; series: readonly string[]; list: Array<[number, number[]]> }>();

  constructor(private readonly windowPs: number) {}

  /** `amounts` (one per series, e.g. header and data credits) are held on `track` from `fromPs` until `toPs`. */
  hold(track: CounterTrack, amounts: Readonly<Record<string, number>>, fromPs: number, toPs: number): void {
    const key = `${track.pid}/${track.name}`;
    let entry = this.deltas.get(key);
    if (!entry) {
      entry = { track, series: Object.keys(amounts), list: [] };
      this.deltas.set(key, entry);
    }
    const values = entry.series.map((s) => amounts[s] ?? 0);
    entry.list.push([fromPs, values], [toPs, values.map((v) => -v)]);
  }

  /** The samples of every track. */
  events(): ChromeTraceEvent[] {
    const events: ChromeTraceEvent[] = [];
    for (const { track, series, list } of this.deltas.values()) {
      // Releases before takes at one instant: what comes back at t is usable at t.
      list.sort((a, b) => a[0] - b[0] || (a[1][0] ?? 0) - (b[1][0] ?? 0));
      const held = series.map(() => 0);
      let most = series.map(() => 0);
      let window: number | undefined;
      const args = (values: readonly number[]) => Object.fromEntries(series.map((s, i) => [s, values[i] ?? 0]));
      const flush = () => {
        if (window === undefined) return;
        events.push(sample(track, window * this.windowPs, args(most)));
        if (most.some((m, i) => m !== held[i])) events.push(sample(track, (window + 1) * this.windowPs, args(held)));
      };
      for (const [t, delta] of list) {
        const w = Math.floor(t / this.windowPs);
        if (w !== window) {
          flush();
          window = w;
          most = [...held];
        }
        delta.forEach((d, i) => {
          held[i] = (held[i] ?? 0) + d;
          most[i] = Math.max(most[i] ?? 0, held[i] ?? 0);
        });
      }
      flush();
    }
    return events;
  }
}

/** Cumulative IOTLB counts, as an IOMMU reports them. */
export interface IotlbCounts {
  readonly hits: number;
  readonly misses: number;
}

/** The IOTLB hit rate per window, from cumulative counts sampled as time passes. */
export class IotlbCounter {
  private window: number | undefined;
  private last: IotlbCounts = { hits: 0, misses: 0 };
  private readonly samples: ChromeTraceEvent[] = [];

  /**
   * @param read the IOMMU's counts now.
   */
  constructor(
    private readonly track: CounterTrack,
    private readonly windowPs: number,
    private readonly read: () => IotlbCounts,
  ) {}

  /** Time has reached `nowPs`: closes the windows before it. */
  tick(nowPs: number): void {
    const w = Math.floor(nowPs / this.windowPs);
    if (this.window === undefined) this.window = w;
    if (w === this.window) return;
    this.close();
    this.window = w;
  }

  /** Closes the open window; returns every sample. */
  events(): ChromeTraceEvent[] {
    this.close();
    this.window = undefined;
    return this.samples;
  }

  private close(): void {
    if (this.window === undefined) return;
    const now = this.read();
    const hits = now.hits - this.last.hits;
    const total = hits + now.misses - this.last.misses;
    this.last = { hits: now.hits, misses: now.misses };
    if (total > 0) this.samples.push(sample(this.track, this.window * this.windowPs, { percent: round3((100 * hits) / total), translations: total }));
  }
}

function sample(track: CounterTrack, atPs: number, args: Record<string, number>): ChromeTraceEvent {
  return { name: track.name, ph: "C", ts: psToUs(atPs), pid: track.pid, tid: 0, args: { ...args } };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
