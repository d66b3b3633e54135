/**
 * The discrete-event engine: one instance per run owns the only clock, the future-event queue,
 * the run's random streams and its trace bus. Nothing in p2psim reads time any other way.
 *
 * Two ways to schedule:
 * - the allocation-free path for hot model code: register a handler once with
 *   {@link Engine.handler}, then {@link Engine.at} / {@link Engine.after} with a numeric argument;
 * - the convenient path: {@link Engine.schedule} / {@link Engine.scheduleAt} with a closure.
 * Both share one queue and one total order: (time, sequence number), FIFO among equal times.
 */
import { assert } from "./assert.js";
import { type EventId, EventQueue, HANDLERS_MAX } from "./event-queue.js";
import { type Process, type ProcessBody, Processes } from "./process.js";
import { RunRng, type Seed } from "./rng.js";
import { TIME_MAX, type TimePs } from "./time.js";
import { TraceBus } from "./trace.js";

declare const handlerIdBrand: unique symbol;

/** A registered event handler, from {@link Engine.handler}. */
export type HandlerId = number & { readonly [handlerIdBrand]: true };

/** Options fixed for the whole run. */
export interface EngineOptions {
  /** The run's seed: every random number of the run derives from it. */
  readonly seed: Seed;
  /** Run costly self-checks after every event (queue order, slot bookkeeping, model hooks). */
  readonly verify?: boolean;
  /** Queue entries to preallocate (it grows by doubling past this). */
  readonly queueCapacity?: number;
}

/** Why a run loop returned. */
export type RunStatus =
  /** No event is pending any more. */
  | "quiet"
  /** `runUntil`'s time limit was reached; events after it are still pending. */
  | "time-limit"
  /** `runUntilQuiet`'s event bound was reached with events still pending: a liveness failure. */
  | "event-bound"
  /** A handler called {@link Engine.stop}. */
  | "stopped";

/** What a run loop did. */
export interface RunOutcome {
  readonly status: RunStatus;
  /** Events fired by this call. */
  readonly eventsFired: number;
  /** The clock when the call returned. */
  readonly nowPs: TimePs;
}

/** The engine. See the module comment. */
export class Engine {
  /** The run's seed, as given. */
  readonly seed: Seed;
  /** Whether costly self-checks run after every event. */
  readonly verify: boolean;
  /** Named random streams derived from the seed. */
  readonly rng: RunRng;
  /** The typed event bus; its fingerprint is the run's identity. */
  readonly trace: TraceBus;
  /** Generator processes driven by this engine. */
  readonly processes: Processes;

  private nowPsValue = 0;
  private readonly queue: EventQueue;
  private readonly handlers: Array<(arg: number) => void> = [];
  private readonly handlerNames: string[] = [];
  private readonly closures: Array<(() => void) | undefined> = [];
  private readonly closureHandler: HandlerId;
  private readonly verifiers: Array<() => void> = [];
  private eventsFiredTotal = 0;
  private running = false;
  private stopRequested = false;

  /** @param options the seed (required: no hidden defaults) and run-wide switches. */
  constructor(options: EngineOptions) {
    this.seed = options.seed;
    this.verify = options.verify ?? false;
    this.queue = new EventQueue(options.queueCapacity ?? 1024);
    this.rng = new RunRng(options.seed);
    this.trace = new TraceBus(this);
    this.closureHandler = this.handler(() => this.runClosure(), "closure");
    this.processes = new Processes(this);
  }

  /** The current simulated time. */
  get nowPs(): TimePs {
    return this.nowPsValue as TimePs;
  }

  /** Events fired since the engine was created. */
  get eventsFired(): number {
    return this.eventsFiredTotal;
  }

  /** Events scheduled and not yet fired or cancelled. */
  get pendingCount(): number {
    return this.queue.pendingCount;
  }

  /**
   * Registers an event handler for {@link at} / {@link after}. Register once per kind of event
   * (at construction of a model object), not per event.
   * @param fn called with the event's argument when the event fires.
   * @param name shown in assertion messages.
   */
  handler(fn: (arg: number) => void, name = `handler${this.handlers.length}`): HandlerId {
    assert(this.handlers.length < HANDLERS_MAX, "too many handlers");
    this.handlers.push(fn);
    this.handlerNames.push(name);
    return (this.handlers.length - 1) as HandlerId;
  }

  /**
   * As {@link handler}, for a kind of event that is always scheduled in nondecreasing time (one
   * link's arrivals) with {@link atInOrder}. The events fire in exactly the order {@link at} would
   * give, but wait in a FIFO lane of the queue instead of its heap, which keeps the heap small
   * (see `EventQueue`).
   */
  fifoHandler(fn: (arg: number) => void, name?: string): HandlerId {
    const id = this.handler(fn, name);
    this.queue.makeLane(id);
    return id;
  }

  /**
   * As {@link at}, for a handler from {@link fifoHandler}: `timePs` must not be before the time of
   * its last event still pending.
   * @throws AssertionError as {@link at} does, when the handler is not a FIFO handler, or when
   *   `timePs` is out of order.
   */
  atInOrder(timePs: number, handler: HandlerId, arg = 0): void {
    this.checkEvent(timePs, handler);
    if (arg >>> 0 !== arg) this.badArg(arg);
    this.queue.pushLane(timePs, handler, arg);
  }

  /**
   * Schedules `handler(arg)` at absolute time `timePs`. Allocation-free; not cancellable (use
   * {@link atCancellable} for timers). `arg` is an integer in [0, 2^32): an index or an id.
   * @throws AssertionError when `timePs` is before now or not a safe integer, or the handler is unknown.
   */
  at(timePs: number, handler: HandlerId, arg = 0): void {
    this.checkEvent(timePs, handler);
    if (arg >>> 0 !== arg) this.badArg(arg);
    this.queue.push(timePs, handler, arg);
  }

  /** Schedules `handler(arg)` after `delayPs` (0: after every event already due now). */
  after(delayPs: number, handler: HandlerId, arg = 0): void {
    const timePs = this.nowPsValue + delayPs;
    this.checkEvent(timePs, handler);
    if (arg >>> 0 !== arg) this.badArg(arg);
    this.queue.push(timePs, handler, arg);
  }

  /** As {@link at}, returning an id for {@link cancel}. */
  atCancellable(timePs: number, handler: HandlerId, arg = 0): EventId {
    this.checkEvent(timePs, handler);
    return this.queue.pushCancellable(timePs, handler, arg);
  }

  /** As {@link after}, returning an id for {@link cancel}. */
  afterCancellable(delayPs: number, handler: HandlerId, arg = 0): EventId {
    return this.atCancellable(this.nowPsValue + delayPs, handler, arg);
  }

  /** Schedules a closure after `delayPs`; cancellable. Allocates the closure: keep it off hot paths. */
  schedule(delayPs: number, fn: () => void): EventId {
    return this.scheduleAt(this.nowPsValue + delayPs, fn);
  }

  /** Schedules a closure at absolute time `timePs`; cancellable. */
  scheduleAt(timePs: number, fn: () => void): EventId {
    const id = this.atCancellable(timePs, this.closureHandler, 0);
    this.closures[EventQueue.slotOf(id)] = fn;
    return id;
  }

  /**
   * Cancels a scheduled event. Returns false when it already fired, was cancelled, or is the
   * event being fired now; that is not an error, so callers need not track it.
   */
  cancel(id: EventId): boolean {
    const cancelled = this.queue.cancel(id);
    if (cancelled) this.closures[EventQueue.slotOf(id)] = undefined;
    return cancelled;
  }

  /** The name a handler was registered with (for messages and traces). */
  handlerName(handler: HandlerId): string {
    return this.handlerNames[handler] ?? `unknown handler ${handler}`;
  }

  /**
   * Calls a registered handler synchronously, within the current event (for primitives that
   * grant by handler, such as `Resource.acquire`).
   */
  call(handler: HandlerId, arg: number): void {
    (this.handlers[handler] as (arg: number) => void)(arg);
  }

  /** Asks the running loop to return after the current event, with status `stopped`. */
  stop(): void {
    this.stopRequested = true;
  }

  /** Adds a costly self-check, run after every event when `verify` is on. */
  addVerifier(check: () => void): void {
    this.verifiers.push(check);
  }

  /** Fires the next pending event, if any. Returns whether one fired. */
  step(): boolean {
    return this.loop(Number.POSITIVE_INFINITY, 1).eventsFired === 1;
  }

  /** Fires events until none is pending or a handler calls {@link stop}. */
  run(): RunOutcome {
    return this.loop(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
  }

  /**
   * Fires every event due at or before `timePs`, then moves the clock to `timePs` (unless a
   * handler stopped the run first).
   */
  runUntil(timePs: number): RunOutcome {
    assert(timePs >= this.nowPsValue, "runUntil into the past");
    const outcome = this.loop(timePs, Number.POSITIVE_INFINITY);
    if (outcome.status !== "stopped") this.nowPsValue = timePs;
    // Spelled out, not `{ ...outcome, nowPs }`: V8 gives every spread-then-extend literal a map of
    // its own, allocated in old space, which keeps the run's young objects alive through scavenges.
    return { status: outcome.status, eventsFired: outcome.eventsFired, nowPs: this.nowPs };
  }

  /**
   * Fires events until none is pending, but at most `eventsMax`. Reaching the bound with events
   * still pending returns status `event-bound`: the caller reports it as a failure.
   */
  runUntilQuiet(bound: { readonly eventsMax: number }): RunOutcome {
    assert(bound.eventsMax >= 0, "eventsMax must not be negative");
    return this.loop(Number.POSITIVE_INFINITY, bound.eventsMax);
  }

  /** Spawns a generator process that starts at the current time (after events already due now). */
  spawn(name: string, body: () => ProcessBody): Process {
    return this.processes.spawn(name, body);
  }

  /**
   * The hot loop: everything per event is inlined here by V8 (take, handler call, release), so
   * it touches as few fields as it can.
   */
  private loop(limitPs: number, eventsMax: number): RunOutcome {
    this.enter();
    const firstFired = this.eventsFiredTotal;
    let status: RunStatus;
    try {
      status = this.fireUntil(limitPs, eventsMax);
    } finally {
      this.running = false;
    }
    return { status, eventsFired: this.eventsFiredTotal - firstFired, nowPs: this.nowPs };
  }

  private fireUntil(limitPs: number, eventsMax: number): RunStatus {
    const queue = this.queue;
    const handlers = this.handlers;
    const verify = this.verify;
    let fired = 0;
    let status: RunStatus;
    for (;;) {
      if (fired >= eventsMax) {
        status = queue.pendingCount > 0 ? "event-bound" : "quiet";
        break;
      }
      const handler = queue.take(limitPs);
      if (handler < 0) {
        status = queue.pendingCount > 0 ? "time-limit" : "quiet";
        break;
      }
      const timePs = queue.topTimePs;
      if (timePs < this.nowPsValue) assert(false, "time went backwards");
      this.nowPsValue = timePs;
      this.eventsFiredTotal++;
      fired++;
      (handlers[handler] as (arg: number) => void)(queue.topArg);
      queue.release();
      if (verify) this.runVerifiers();
      if (this.stopRequested) {
        status = "stopped";
        break;
      }
    }
    return status;
  }

  /** The cheap always-on checks of every scheduled event; messages are built only on failure. */
  private checkEvent(timePs: number, handler: number): void {
    if (!(timePs >= this.nowPsValue && timePs <= TIME_MAX && Math.floor(timePs) === timePs)) {
      assert(false, `event time ${timePs} ps is not a safe integer at or after now (${this.nowPsValue} ps)`);
    }
    if (!(handler >= 0 && handler < this.handlers.length)) assert(false, `unknown handler ${handler}`);
  }

  private badArg(arg: number): never {
    assert(false, `event argument ${arg} is not an integer in [0, 2^32)`);
  }

  private enter(): void {
    assert(!this.running, "the engine is already running (a handler may not run the engine)");
    assert(!this.queue.isHeld, "a handler threw earlier: this engine's state is undefined");
    this.running = true;
    this.stopRequested = false;
  }

  /** Closures live in a side table indexed by cancellation slot; the firing event's is `topSlot`. */
  private runClosure(): void {
    const slot = this.queue.topSlot;
    const fn = this.closures[slot];
    assert(fn !== undefined, "closure event without a closure");
    this.closures[slot] = undefined;
    fn();
  }

  private runVerifiers(): void {
    this.queue.verify();
    for (const check of this.verifiers) check();
  }
}

export type { EventId } from "./event-queue.js";
