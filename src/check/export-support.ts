/**
 * Shared pieces of the export monitors (I4, I6, I7, I8, I10, I13): typed reading of event fields
 * that tolerates absent ones (a monitor must not throw on an event of another model version), and
 * the assembly of a {@link Violation} whose chain is the few retained events, oldest first.
 */
import type { TraceEvent } from "../fabric/trace.js";
import type { InvariantId, Monitor, Violation } from "./monitor.js";

/** A string field, or undefined. */
export function strField(event: TraceEvent, field: string): string | undefined {
  const value = event[field];
  return typeof value === "string" ? value : undefined;
}

/** A number field, or undefined. */
export function numField(event: TraceEvent, field: string): number | undefined {
  const value = event[field];
  return typeof value === "number" ? value : undefined;
}

/** A boolean field, or undefined. */
export function boolField(event: TraceEvent, field: string): boolean | undefined {
  const value = event[field];
  return typeof value === "boolean" ? value : undefined;
}

/**
 * A violation broken by `event`: the chain is `causes` without gaps or repeats, in trace order,
 * ending with `event`.
 */
export function violationAt(invariant: InvariantId, event: TraceEvent, message: string, causes: ReadonlyArray<TraceEvent | undefined>): Violation {
  const seen = new Set<number>([event.seq]);
  const chain: TraceEvent[] = [];
  for (const cause of causes) {
    if (cause === undefined || seen.has(cause.seq) || cause.seq > event.seq) continue;
    seen.add(cause.seq);
    chain.push(cause);
  }
  chain.sort((a, b) => a.seq - b.seq);
  chain.push(event);
  return { invariant, timePs: event.t, message, event, chain };
}

/**
 * A safety monitor that reports the first violation `check` finds and is silent afterwards (the
 * contract asks for the first break; later ones are usually its consequences).
 * @param check sees every event in order; it keeps its own state.
 */
export function firstViolation(id: InvariantId, check: (event: TraceEvent) => Violation | undefined): Monitor {
  let reported = false;
  return {
    id,
    observe(event) {
      if (reported) return undefined;
      const found = check(event);
      if (found !== undefined) reported = true;
      return found;
    },
  };
}
