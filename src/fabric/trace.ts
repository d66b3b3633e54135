/**
 * The trace bus: every observable step of the model is a typed event `{ t, seq, layer, kind,
 * ...fields }` published here. Sinks subscribe (invariant monitors, recorders, writers); the
 * always-on {@link Fingerprint} is the run's identity.
 *
 * Event kinds are declared per layer in {@link TraceKinds}, which each layer extends by module
 * augmentation, so `emit` checks the fields of every kind at compile time:
 *
 * ```ts
 * declare module "../fabric/trace.js" {
 *   interface TraceKinds { pci: { "tlp.send": { link: string; bytes: number } } }
 * }
 * ```
 *
 * `TraceKinds[layer]` can be declared once only; a layer whose kinds live in several files names
 * an interface for them there (`TraceKinds { dmabuf: DmaBufTraceKinds }`) and each file augments
 * that interface (see src/dmabuf/dma-buf.ts).
 */
import { assert } from "./assert.js";
import { Fingerprint } from "./fingerprint.js";
import type { TimePs } from "./time.js";

/** A value a trace field may hold: JSON without `undefined`. */
export type TraceValue = string | number | boolean | null | readonly TraceValue[] | { readonly [key: string]: TraceValue };

/** The fields of one event, beside the four every event has. */
export type TraceFields = { readonly [key: string]: TraceValue };

/**
 * Event kinds per layer: `TraceKinds[layer][kind]` is the type of that kind's fields.
 * Layers add their kinds by module augmentation (see the module comment).
 */
// biome-ignore lint/suspicious/noEmptyInterface: extended by module augmentation in every layer.
export interface TraceKinds {}

/** A layer that emits events. */
export type TraceLayer = keyof TraceKinds & string;

/** A published event: time, sequence number in the trace, layer, kind and the kind's fields. */
export interface TraceEvent {
  /** Simulated time of the event. */
  readonly t: TimePs;
  /** Position in the run's trace: 0, 1, 2, … (a total order, even among equal times). */
  readonly seq: number;
  readonly layer: string;
  readonly kind: string;
  readonly [field: string]: TraceValue;
}

/** Receives every event published after it subscribed. */
export type TraceSink = (event: TraceEvent) => void;

/** Where the bus reads the clock: the engine, seen through the one property it needs. */
export interface TraceClock {
  readonly nowPs: TimePs;
}

/** The bus. One per engine. */
export class TraceBus {
  /** The run's rolling fingerprint, fed by every event. */
  readonly fingerprint = new Fingerprint();
  private readonly sinks: TraceSink[] = [];
  private seqNext = 0;

  constructor(private readonly clock: TraceClock) {}

  /** Events published so far. */
  get count(): number {
    return this.seqNext;
  }

  /**
   * Publishes one event at the current time to the fingerprint and then to every sink, in
   * subscription order.
   * @param fields the kind's fields; the names `t`, `seq`, `layer` and `kind` are reserved.
   */
  emit<L extends TraceLayer, K extends keyof TraceKinds[L] & string>(layer: L, kind: K, fields: TraceKinds[L][K]): TraceEvent {
    const event = { t: this.clock.nowPs, seq: this.seqNext++, layer, kind, ...(fields as TraceFields) } as TraceEvent;
    assert(event.layer === layer && event.kind === kind && event.t === this.clock.nowPs, "trace fields may not be named t, seq, layer or kind");
    this.fingerprint.add(event);
    for (const sink of this.sinks) sink(event);
    return event;
  }

  /**
   * Adds a sink. Returns a function that removes it.
   * Sinks observe; they must not schedule events or change the model (the monitors' contract).
   */
  subscribe(sink: TraceSink): () => void {
    this.sinks.push(sink);
    return () => {
      const index = this.sinks.indexOf(sink);
      if (index >= 0) this.sinks.splice(index, 1);
    };
  }
}
