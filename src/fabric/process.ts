/**
 * Processes: generator functions that the engine resumes, SimPy-style. A process yields a
 * {@link Suspension} (`yield sleep(ns(5))`, `yield signal`, `yield link.request(1)`) and the
 * engine resumes it, at a simulated time, with the value the suspension delivers. No Promises:
 * the engine's queue is the only scheduler, so process steps interleave in the engine's total
 * order like any other event.
 */
import { assert } from "./assert.js";
import type { Engine, HandlerId } from "./engine.js";
import type { TimePs } from "./time.js";

/** What a process can wait on. `suspend` arranges for a later {@link Process.wake}. */
export interface Suspension {
  suspend(process: Process): void;
}

/** The body of a process: a generator yielding suspensions and receiving their values. */
export type ProcessBody = Generator<Suspension, void, unknown>;

/** Where a process is in its life. */
export type ProcessState =
  /** Scheduled to run at the current time (just spawned or woken). */
  | "ready"
  /** Suspended on a sleep, signal, condition or resource. */
  | "waiting"
  /** Its body returned. */
  | "done";

declare module "./trace.js" {
  interface TraceKinds {
    fabric: {
      "process.spawn": { process: string; pid: number };
      "process.exit": { process: string; pid: number };
    };
  }
}

/** One running generator. Created by {@link Engine.spawn}. */
export class Process {
  /** Where the process is in its life. */
  state: ProcessState = "ready";
  /** Value delivered by the next resume. */
  resumeValue: unknown = undefined;
  private joiners: Process[] = [];

  constructor(
    private readonly owner: Processes,
    /** Engine-unique process number, in spawn order. */
    readonly pid: number,
    /** Shown in traces and assertion messages. */
    readonly name: string,
    readonly generator: ProcessBody,
  ) {}

  /**
   * Makes a waiting process runnable at the current time, after the events already due now.
   * @param value what the process's `yield` expression evaluates to.
   * @throws AssertionError when the process is not waiting (a double wake is a model bug).
   */
  wake(value: unknown = undefined): void {
    assert(this.state === "waiting", () => `wake of process ${this.name} in state ${this.state}`);
    this.state = "ready";
    this.resumeValue = value;
    this.owner.scheduleResume(this, 0);
  }

  /** Resumes the waiting process after `delayPs` (the engine side of {@link sleep}). */
  wakeAfter(delayPs: number): void {
    assert(this.state === "waiting", () => `sleep of process ${this.name} in state ${this.state}`);
    this.state = "ready";
    this.resumeValue = undefined;
    this.owner.scheduleResume(this, delayPs);
  }

  /** A suspension that resumes the caller once this process has finished. */
  join(): Suspension {
    return {
      suspend: (waiter) => {
        if (this.state === "done") waiter.wake();
        else this.joiners.push(waiter);
      },
    };
  }

  /** Called by {@link Processes} when the body returns. */
  finish(): void {
    this.state = "done";
    const joiners = this.joiners;
    this.joiners = [];
    for (const waiter of joiners) waiter.wake();
  }
}

/** Suspends the calling process for `delayPs` of simulated time. */
export function sleep(delayPs: TimePs | number): Suspension {
  assert(delayPs >= 0, () => `sleep(${delayPs}): negative delay`);
  return { suspend: (process) => process.wakeAfter(delayPs) };
}

/** The engine's process table. Reached through {@link Engine.spawn} and {@link Engine.processes}. */
export class Processes {
  /** Handler that wakes process `pid` (the argument); for primitives that grant by handler. */
  readonly wakeHandler: HandlerId;
  private readonly resumeHandler: HandlerId;
  private readonly live = new Map<number, Process>();
  private pidNext = 0;

  constructor(private readonly engine: Engine) {
    this.resumeHandler = engine.handler((pid) => this.resume(pid), "process.resume");
    this.wakeHandler = engine.handler((pid) => this.byPid(pid).wake(), "process.wake");
  }

  /** Processes spawned and not yet finished. */
  get liveCount(): number {
    return this.live.size;
  }

  /** Starts `body` as a process at the current time (after the events already due now). */
  spawn(name: string, body: () => ProcessBody): Process {
    const process = new Process(this, this.pidNext++, name, body());
    this.live.set(process.pid, process);
    this.engine.trace.emit("fabric", "process.spawn", { process: name, pid: process.pid });
    this.scheduleResume(process, 0);
    return process;
  }

  /** The live process with this pid. @throws AssertionError when there is none. */
  byPid(pid: number): Process {
    const process = this.live.get(pid);
    assert(process !== undefined, () => `no live process ${pid}`);
    return process;
  }

  /** Schedules the next step of `process` after `delayPs`. */
  scheduleResume(process: Process, delayPs: number): void {
    this.engine.after(delayPs, this.resumeHandler, process.pid);
  }

  private resume(pid: number): void {
    const process = this.byPid(pid);
    assert(process.state === "ready", () => `resume of process ${process.name} in state ${process.state}`);
    const value = process.resumeValue;
    process.resumeValue = undefined;
    const step = process.generator.next(value);
    if (step.done) {
      this.live.delete(pid);
      process.finish();
      this.engine.trace.emit("fabric", "process.exit", { process: process.name, pid });
      return;
    }
    const suspension = step.value;
    assert(
      suspension !== null && typeof suspension === "object" && typeof suspension.suspend === "function",
      () => `process ${process.name} yielded something that is not a Suspension`,
    );
    process.state = "waiting";
    suspension.suspend(process);
  }
}
