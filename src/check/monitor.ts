/**
 * The contract of an invariant monitor [kernel.md §f]: a sink on the trace bus that sees every
 * event of every layer, in order, and never steers the model. A monitor keeps only what its
 * invariant needs (which exports are revoked, which umems are pinned, …) and reports the first
 * event that breaks it, with the chain of earlier events that led there.
 */
import type { TraceEvent } from "../fabric/trace.js";

/** The invariants of kernel.md §f: safety I1–I22, liveness L1–L6. */
export const INVARIANT_IDS = [
  "I1",
  "I2",
  "I3",
  "I4",
  "I5",
  "I6",
  "I7",
  "I8",
  "I9",
  "I10",
  "I11",
  "I12",
  "I13",
  "I14",
  "I15",
  "I16",
  "I17",
  "I18",
  "I19",
  "I20",
  "I21",
  "I22",
  "L1",
  "L2",
  "L3",
  "L4",
  "L5",
  "L6",
] as const;

/** An invariant's id, as kernel.md §f names it. */
export type InvariantId = (typeof INVARIANT_IDS)[number];

/** A broken invariant: what broke, when, the event that broke it and the events that led to it. */
export interface Violation {
  readonly invariant: InvariantId;
  /** Simulated time of the breaking event (or of the end of the run, for a liveness bound). */
  readonly timePs: number;
  /** One sentence a kernel developer can act on, naming the objects involved (`gpu0 dmabuf fd 3`, `nic0 qp1 wr 17`). */
  readonly message: string;
  /** The event that broke the invariant; undefined when the run ended with an obligation unmet (liveness). */
  readonly event: TraceEvent | undefined;
  /** The causal chain, oldest first: the events that led to the violation (which revoke, which WQE, which TLP), ending with `event` when there is one. */
  readonly chain: readonly TraceEvent[];
}

/** One invariant's monitor. Fresh per run: a monitor is stateful. */
export interface Monitor {
  readonly id: InvariantId;
  /**
   * Sees one event. Returns a violation when this event breaks the invariant, else undefined.
   * Called for every event in publication order; must not emit events or touch the model.
   */
  observe(event: TraceEvent): Violation | undefined;
  /**
   * The run is over at `nowPs` (the liveness phase has ended or the engine has nothing left to
   * do): an obligation still open (a revoke not completed, a DMA never ended) is a violation.
   * Safety monitors need not implement it.
   */
  end?(nowPs: number): Violation | undefined;
}

/** Creates a fresh monitor. */
export type MonitorFactory = () => Monitor;
