/**
 * A counted resource with a FIFO wait queue: link credits, queue slots, tags. Units are taken
 * with {@link Resource.acquire} (event handlers) or {@link Resource.request} (processes) and
 * given back with {@link Resource.release}. Waiters are served strictly in arrival order: a
 * waiter that needs more units than are free blocks the ones behind it, as PCIe flow control
 * does for one credit type.
 *
 * The wait queue is a ring of typed arrays (handler, argument, units), so acquiring and
 * releasing allocate nothing in steady state.
 */
import { assert } from "./assert.js";
import type { Engine, HandlerId } from "./engine.js";
import type { Suspension } from "./process.js";

/** The resource. */
export class Resource {
  private inUseUnits = 0;
  private ringHandler: Int32Array;
  private ringArg: Float64Array;
  private ringUnits: Int32Array;
  private head = 0;
  private count = 0;

  /**
   * @param engine the run's engine (grants call its handlers).
   * @param name shown in assertion messages and traces.
   * @param capacity units in total; a positive integer.
   */
  constructor(
    private readonly engine: Engine,
    readonly name: string,
    readonly capacity: number,
  ) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, () => `resource ${name}: capacity must be a positive integer`);
    this.ringHandler = new Int32Array(16);
    this.ringArg = new Float64Array(16);
    this.ringUnits = new Int32Array(16);
    if (engine.verify) engine.addVerifier(() => this.verify());
  }

  /** Units currently held. */
  get inUse(): number {
    return this.inUseUnits;
  }

  /** Units currently free. */
  get available(): number {
    return this.capacity - this.inUseUnits;
  }

  /** Waiters in the queue. */
  get waitingCount(): number {
    return this.count;
  }

  /**
   * Takes `units` now if nobody is waiting and they are free; otherwise takes nothing.
   * Returns whether the units were taken.
   */
  tryAcquire(units = 1): boolean {
    this.checkUnits(units);
    if (this.count > 0 || this.inUseUnits + units > this.capacity) return false;
    this.inUseUnits += units;
    return true;
  }

  /**
   * Takes `units` now if possible (returns true: the caller proceeds), or queues the request
   * (returns false). A queued request is granted inside the {@link release} that frees enough
   * units, by calling `handler(arg)` synchronously there, so the grantee acts in the releaser's
   * event, exactly where a credit return would let a waiting TLP go.
   */
  acquire(handler: HandlerId, arg: number, units = 1): boolean {
    if (this.tryAcquire(units)) return true;
    this.enqueue(handler, arg, units);
    return false;
  }

  /** A suspension for processes: resumes the process once `units` have been granted to it. */
  request(units = 1): Suspension {
    this.checkUnits(units);
    return {
      suspend: (process) => {
        if (this.tryAcquire(units)) process.wake();
        else this.enqueue(this.engine.processes.wakeHandler, process.pid, units);
      },
    };
  }

  /**
   * Gives back `units` and grants queued requests in FIFO order while the head fits.
   * @throws AssertionError when more units are released than are held.
   */
  release(units = 1): void {
    this.checkUnits(units);
    if (units > this.inUseUnits) assert(false, `resource ${this.name}: release of ${units} with ${this.inUseUnits} held`);
    this.inUseUnits -= units;
    while (this.count > 0) {
      const head = this.head;
      const wanted = this.ringUnits[head] as number;
      if (this.inUseUnits + wanted > this.capacity) break;
      this.inUseUnits += wanted;
      this.head = head + 1 === this.ringHandler.length ? 0 : head + 1;
      this.count--;
      this.engine.call(this.ringHandler[head] as HandlerId, this.ringArg[head] as number);
    }
  }

  /** Hot path: the message is built only on failure (a closure here would be allocated per call). */
  private checkUnits(units: number): void {
    if (!(Number.isSafeInteger(units) && units > 0 && units <= this.capacity)) assert(false, `resource ${this.name}: ${units} units of ${this.capacity}`);
  }

  private enqueue(handler: HandlerId, arg: number, units: number): void {
    if (this.count === this.ringHandler.length) this.grow();
    let tail = this.head + this.count;
    if (tail >= this.ringHandler.length) tail -= this.ringHandler.length;
    this.ringHandler[tail] = handler;
    this.ringArg[tail] = arg;
    this.ringUnits[tail] = units;
    this.count++;
  }

  private grow(): void {
    const size = this.ringHandler.length;
    const handlers = new Int32Array(size * 2);
    const args = new Float64Array(size * 2);
    const units = new Int32Array(size * 2);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) % size;
      handlers[i] = this.ringHandler[from] as number;
      args[i] = this.ringArg[from] as number;
      units[i] = this.ringUnits[from] as number;
    }
    this.ringHandler = handlers;
    this.ringArg = args;
    this.ringUnits = units;
    this.head = 0;
  }

  private verify(): void {
    assert(this.inUseUnits >= 0 && this.inUseUnits <= this.capacity, () => `resource ${this.name}: ${this.inUseUnits} units in use`);
    if (this.count > 0) {
      const wanted = this.ringUnits[this.head] as number;
      assert(this.inUseUnits + wanted > this.capacity, () => `resource ${this.name}: head waiter fits but was not granted`);
    }
  }
}
