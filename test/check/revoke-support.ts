/**
 * Test support of the revoke monitors (I1 I2 I5 L1 L2 L4): monitors watching a run from its first
 * event, violations as comparable rows, and events written by hand.
 *
 * The RDMA world exports gpu0's BAR1 while it is built, before a test can subscribe; {@link built}
 * collects the events the world's bus published meanwhile (a spy on `TraceBus.emit`, which
 * returns each event), so the monitors see them first, as a runner subscribed from the start would.
 */
import { vi } from "vitest";
import type { Monitor, Violation } from "../../src/check/monitor.js";
import { TraceBus, type TraceEvent } from "../../src/fabric/trace.js";

/** Builds a world and returns it with the events its bus published while it was built. */
export function built<W>(build: () => W, bus: (world: W) => TraceBus): { world: W; setup: TraceEvent[] } {
  const spy = vi.spyOn(TraceBus.prototype, "emit");
  try {
    const world = build();
    const target = bus(world);
    const setup: TraceEvent[] = [];
    spy.mock.results.forEach((result, i) => {
      if (result.type === "return" && spy.mock.contexts[i] === target) setup.push(result.value);
    });
    return { world, setup };
  } finally {
    spy.mockRestore();
  }
}

/** Monitors subscribed to a bus: the first violation of each, and `end(nowPs)` for the liveness ones. */
export function watch(bus: TraceBus, monitors: readonly Monitor[], setup: readonly TraceEvent[] = []) {
  const violations: Violation[] = [];
  const see = (event: TraceEvent) => {
    for (const monitor of monitors) {
      const found = monitor.observe(event);
      if (found !== undefined) violations.push(found);
    }
  };
  setup.forEach(see);
  bus.subscribe(see);
  return {
    violations,
    /** Ends the run at `nowPs` and returns every violation. */
    end(nowPs: number): Violation[] {
      for (const monitor of monitors) {
        const found = monitor.end?.(nowPs);
        if (found !== undefined) violations.push(found);
      }
      return violations;
    },
  };
}

/** A violation as a row: invariant, message, breaking event ("layer/kind" or null), chain kinds. */
export function row(v: Violation): [string, string, string | null, string[]] {
  return [v.invariant, v.message, v.event === undefined ? null : kindOf(v.event), v.chain.map(kindOf)];
}

/** "layer/kind". */
export function kindOf(event: TraceEvent): string {
  return `${event.layer}/${event.kind}`;
}

/**
 * Events written by hand, numbered in order: `ev(t, "vfio/export", { … })`.
 * @returns a function that makes the next event.
 */
export function handWritten() {
  let seq = 0;
  return (t: number, kind: string, fields: Record<string, TraceEvent[string]> = {}): TraceEvent => {
    const [layer, name] = kind.split("/") as [string, string];
    return { t, seq: seq++, layer, kind: name, ...fields } as TraceEvent;
  };
}

/** Feeds `events` to `monitor` and returns its violation rows (observe, then `end` at the last event's time). */
export function feed(monitor: Monitor, events: readonly TraceEvent[]) {
  const found: Violation[] = [];
  for (const event of events) {
    const v = monitor.observe(event);
    if (v !== undefined) found.push(v);
  }
  const end = monitor.end?.(events.at(-1)?.t ?? 0);
  if (end !== undefined) found.push(end);
  return found.map(row);
}
