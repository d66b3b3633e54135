/**
 * Things to wait on: a {@link Signal} (an edge: wakes whoever waits when it fires) and a
 * {@link Condition} (a level: wakes a waiter once its predicate holds). Waiters are processes
 * (`yield signal`, `yield condition.until(() => …)`) or one-shot callbacks; all are woken in the
 * order they started waiting, at the current time, after the events already due now.
 */
import { assert } from "./assert.js";
import type { Engine } from "./engine.js";
import type { Process, Suspension } from "./process.js";

/** A broadcast edge carrying a value of type `T`. */
export class Signal<T = void> implements Suspension {
  private waiters: Array<Process | ((value: T) => void)> = [];

  constructor(
    private readonly engine: Engine,
    /** Shown in assertion messages. */
    readonly name: string,
  ) {}

  /** Processes and callbacks waiting for the next {@link fire}. */
  get waitingCount(): number {
    return this.waiters.length;
  }

  /** Suspension protocol: the yielding process waits for the next fire. */
  suspend(process: Process): void {
    this.waiters.push(process);
  }

  /** Calls `callback(value)` (as its own event) at the next {@link fire}, once. */
  listen(callback: (value: T) => void): void {
    this.waiters.push(callback);
  }

  /**
   * Wakes every current waiter with `value`. Waiters added while waking wait for the next fire.
   * Returns how many were woken.
   */
  fire(value: T): number {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (typeof waiter === "function") this.engine.schedule(0, () => waiter(value));
      else waiter.wake(value);
    }
    return waiters.length;
  }
}

/** A level-triggered condition: waiters name a predicate and wake once it holds. */
export class Condition {
  private waiters: Array<{ readonly process: Process; readonly predicate: () => boolean }> = [];

  constructor(
    /** Shown in assertion messages. */
    readonly name: string,
  ) {}

  /** Processes waiting on this condition. */
  get waitingCount(): number {
    return this.waiters.length;
  }

  /**
   * A suspension that resumes the process once `predicate()` is true: at once if it already
   * is, otherwise at the first {@link notify} that finds it true.
   */
  until(predicate: () => boolean): Suspension {
    return {
      suspend: (process) => {
        if (predicate()) process.wake();
        else this.waiters.push({ process, predicate });
      },
    };
  }

  /**
   * Re-evaluates every waiter's predicate (in waiting order) and wakes those that now hold.
   * Call it whenever state a predicate may read has changed. Returns how many were woken.
   */
  notify(): number {
    const still: typeof this.waiters = [];
    let woken = 0;
    for (const waiter of this.waiters) {
      if (waiter.predicate()) {
        waiter.process.wake();
        woken++;
      } else still.push(waiter);
    }
    assert(still.length + woken === this.waiters.length, "condition waiter lost");
    this.waiters = still;
    return woken;
  }
}
