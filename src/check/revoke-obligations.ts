/**
 * Open liveness obligations with a time bound, for L1 and L2 [kernel.md §f]: each opens at an
 * event (a revoke starts, a close starts), may gather a few more events for its causal chain, and
 * is discharged by a later one. Since every obligation has the same bound, the oldest open one has
 * the earliest deadline, so checking the deadline on every event is O(1).
 */
import type { TraceEvent } from "../fabric/trace.js";
import type { InvariantId, Monitor, Violation } from "./monitor.js";

/** At most this many events per obligation's chain: the opening one and the latest few. */
const CHAIN_MAX = 8;

/** One open obligation. */
export interface Obligation {
  readonly key: string;
  /** What is owed, for messages: `the revoke of gpu0/bar1#0`. */
  readonly what: string;
  readonly opened: TraceEvent;
  readonly chain: TraceEvent[];
}

/** The open obligations of one monitor, in opening order. */
export class Obligations {
  private readonly open = new Map<string, Obligation>();

  constructor(
    private readonly invariant: InvariantId,
    /** The bound, in simulated ps, within which every obligation must be discharged. */
    readonly boundPs: number,
  ) {}

  /** Opens `key` at `event` (a second open of an open key keeps the first). */
  openAt(key: string, what: string, event: TraceEvent): void {
    if (!this.open.has(key)) this.open.set(key, { key, what, opened: event, chain: [event] });
  }

  /** Whether `key` is open. */
  has(key: string): boolean {
    return this.open.has(key);
  }

  /** Adds `event` to `key`'s chain, when open (keeping the opening event and the latest ones). */
  note(key: string, event: TraceEvent): void {
    const obligation = this.open.get(key);
    if (obligation === undefined) return;
    if (obligation.chain.length >= CHAIN_MAX) obligation.chain.splice(1, 1);
    obligation.chain.push(event);
  }

  /**
   * Discharges `key` at `event`. @returns a violation when it was discharged later than the bound
   * (the deadline passed without any event in between to notice it).
   */
  discharge(key: string, event: TraceEvent): Violation | undefined {
    const obligation = this.open.get(key);
    if (obligation === undefined) return undefined;
    this.open.delete(key);
    if (event.t - obligation.opened.t <= this.boundPs) return undefined;
    return this.late(obligation, event.t, [...obligation.chain, event], event);
  }

  /** A violation when the oldest open obligation's deadline is before `nowPs`. */
  overdue(nowPs: number): Violation | undefined {
    const oldest = this.open.values().next().value;
    if (oldest === undefined || nowPs - oldest.opened.t <= this.boundPs) return undefined;
    this.open.delete(oldest.key);
    return this.late(oldest, oldest.opened.t + this.boundPs, oldest.chain, undefined);
  }

  /** At the end of the run: the oldest obligation still open, as a violation. */
  unmet(nowPs: number): Violation | undefined {
    const oldest = this.open.values().next().value;
    if (oldest === undefined) return undefined;
    const age = nowPs - oldest.opened.t;
    const message = `${oldest.what}, begun at ${oldest.opened.t} ps, never completed: still open when the run ended at ${nowPs} ps (${age} ps later)`;
    return { invariant: this.invariant, timePs: nowPs, message, event: undefined, chain: bySeq(oldest.chain) };
  }

  private late(obligation: Obligation, timePs: number, chain: TraceEvent[], event: TraceEvent | undefined): Violation {
    const message = `${obligation.what}, begun at ${obligation.opened.t} ps, took longer than the bound of ${this.boundPs} ps`;
    return { invariant: this.invariant, timePs, message, event, chain: bySeq(chain) };
  }
}

/** The chain in trace order (events noted late, such as an earlier drain, sorted in). */
function bySeq(chain: readonly TraceEvent[]): TraceEvent[] {
  return [...chain].sort((a, b) => a.seq - b.seq);
}

/**
 * A liveness monitor over `open`: each event first settles what is overdue, then goes to `check`
 * (which opens and closes obligations and may find a violation itself); `end` reports what is
 * overdue or still open. Reports once, then stays silent.
 */
export function obligationMonitor(id: InvariantId, open: Obligations, check: (event: TraceEvent) => Violation | undefined): Monitor {
  let reported = false;
  const report = (found: Violation | undefined) => {
    if (found !== undefined) reported = true;
    return found;
  };
  return {
    id,
    observe: (event) => (reported ? undefined : report(open.overdue(event.t) ?? check(event))),
    end: (nowPs) => (reported ? undefined : report(open.overdue(nowPs) ?? open.unmet(nowPs))),
  };
}
