/**
 * Test support of the rdma monitors: feeding a recorded trace to a monitor as the bus would (in
 * order, then `end`), a violation reduced to what the tests assert, and hand-written events.
 */

import type { Monitor, Violation } from "../../src/check/monitor.js";
import type { TraceEvent } from "../../src/fabric/trace.js";

/** What a test asserts of a violation: invariant, message, breaking event kind, chain kinds. */
export function summary(v: Violation | undefined) {
  if (v === undefined) return undefined;
  return { invariant: v.invariant, message: v.message, event: v.event?.kind, chain: v.chain.map((e) => `${e.layer}/${e.kind}`) };
}

/** Feeds `events` to `monitor` in order; the first violation, else the one `end(nowPs)` reports. */
export function replay(monitor: Monitor, events: readonly TraceEvent[], nowPs = events.at(-1)?.t ?? 0): Violation | undefined {
  for (const e of events) {
    const v = monitor.observe(e);
    if (v !== undefined) return v;
  }
  return monitor.end?.(nowPs);
}

/** A hand-written event sequence: `ev(t, "rdma", "umem.get", {...})` numbers them in order. */
export function events(...specs: ReadonlyArray<readonly [number, string, string, Record<string, unknown>]>): TraceEvent[] {
  return specs.map(([t, layer, kind, fields], seq) => ({ t, seq, layer, kind, ...fields }) as TraceEvent);
}
