/**
 * An in-memory trace sink for tests and for short runs whose whole trace is wanted.
 */
import type { TraceBus, TraceEvent } from "./trace.js";

/** Records every event published on a bus after {@link TraceRecorder.attach}. */
export class TraceRecorder {
  /** The recorded events, in publication order. */
  readonly events: TraceEvent[] = [];
  private detachFn: (() => void) | undefined;

  /** Starts recording `bus`. Returns `this` for chaining. */
  attach(bus: TraceBus): this {
    this.detachFn = bus.subscribe((event) => this.events.push(event));
    return this;
  }

  /** Stops recording. */
  detach(): void {
    this.detachFn?.();
    this.detachFn = undefined;
  }

  /**
   * The recorded events as `[timePs, "layer/kind", fields]` tuples, the shape trace tests compare
   * against an exact expected list.
   */
  tuples(): Array<[number, string, Record<string, unknown>]> {
    return this.events.map((event) => {
      const { t, seq: _seq, layer, kind, ...fields } = event;
      return [t, `${layer}/${kind}`, fields];
    });
  }
}
