/**
 * `vdev->memory_lock`: the rw-semaphore that serialises every change of a device's memory state
 * (MEM bit, power state, reset) with the export list and the exports' `revoked` bits
 * [kernel.md §c.4, §c.5]. Triggers hold it for write; it is modelled as asserted state, as
 * {@link DmaResv} models the resv lock:
 *
 * - processes wait for it (`yield lock.downWrite(holder)`), served in FIFO order, readers at the
 *   head of the queue together;
 * - synchronous code takes it only when it is free ({@link MemoryLock.downWriteNow}), since it
 *   cannot block;
 * - `down_write_trylock` ({@link MemoryLock.downWriteTrylock}) never waits (hot reset uses it);
 * - lock order memory_lock → resv (I13): taking memory_lock while holding one of the device's
 *   resv locks under the same holder name throws.
 */
import { assert } from "../fabric/assert.js";
import type { Engine } from "../fabric/engine.js";
import type { Process, Suspension } from "../fabric/process.js";
import "./trace-kinds.js";

type Mode = "write" | "read";

/** The device's memory_lock. */
export class MemoryLock {
  private writerValue: string | undefined;
  private readonly readerList: string[] = [];
  private readonly waiters: Array<{ readonly process: Process; readonly holder: string; readonly mode: Mode }> = [];

  /**
   * @param device the device's label, for traces.
   * @param resvHeldBy reports whether `holder` holds the resv of one of the device's exports
   * (for the lock-order assertion).
   */
  constructor(
    private readonly engine: Engine,
    readonly device: string,
    private readonly resvHeldBy: (holder: string) => boolean,
  ) {}

  /** The writer, or undefined. */
  get writer(): string | undefined {
    return this.writerValue;
  }

  /** Current readers. */
  get readers(): readonly string[] {
    return this.readerList;
  }

  /** Whether nobody holds it and nobody waits. */
  get free(): boolean {
    return this.writerValue === undefined && this.readerList.length === 0 && this.waiters.length === 0;
  }

  /** `down_write` for a process: a suspension that resumes with the lock held for write. */
  downWrite(holder: string): Suspension {
    return this.request(holder, "write");
  }

  /** `down_read` for a process. */
  downRead(holder: string): Suspension {
    return this.request(holder, "read");
  }

  /**
   * `down_write` from synchronous code.
   * @throws AssertionError when the lock is held or has waiters (synchronous code cannot block),
   * or on a lock-order violation.
   */
  downWriteNow(holder: string): void {
    this.checkOrder(holder);
    assert(this.free, () => `${holder} takes memory_lock of ${this.device} synchronously, but ${this.describe()}`);
    this.grant(holder, "write");
  }

  /**
   * `down_write_trylock`: takes the lock for write only when nobody holds it or waits for it.
   * @returns whether it was taken; a failure is traced.
   */
  downWriteTrylock(holder: string): boolean {
    this.checkOrder(holder);
    if (this.free) {
      this.grant(holder, "write");
      return true;
    }
    this.engine.trace.emit("vfio", "memory_lock.trylock.failed", {
      device: this.device,
      holder,
      writer: this.writerValue ?? null,
      readers: this.readerList.length,
    });
    return false;
  }

  /** `up_write`. @throws AssertionError when `holder` is not the writer. */
  upWrite(holder: string): void {
    assert(this.writerValue === holder, () => `${holder} releases memory_lock of ${this.device} for write, but ${this.describe()}`);
    this.writerValue = undefined;
    this.engine.trace.emit("vfio", "memory_lock.up_write", { device: this.device, holder });
    this.handOver();
  }

  /** `up_read`. @throws AssertionError when `holder` is not a reader. */
  upRead(holder: string): void {
    const index = this.readerList.indexOf(holder);
    assert(index >= 0, () => `${holder} releases memory_lock of ${this.device} for read, but ${this.describe()}`);
    this.readerList.splice(index, 1);
    this.engine.trace.emit("vfio", "memory_lock.up_read", { device: this.device, holder });
    this.handOver();
  }

  /** `lockdep_assert_held_write`. @param holder when given, the writer must be exactly this holder. */
  assertWriteHeld(holder?: string): void {
    assert(this.writerValue !== undefined, () => `memory_lock of ${this.device} must be held for write`);
    if (holder !== undefined) assert(this.writerValue === holder, () => `memory_lock of ${this.device} must be held by ${holder}, not ${this.writerValue}`);
  }

  /** `lockdep_assert_held`: held for read or write. */
  assertHeld(): void {
    assert(this.writerValue !== undefined || this.readerList.length > 0, () => `memory_lock of ${this.device} must be held`);
  }

  private request(holder: string, mode: Mode): Suspension {
    return {
      suspend: (process) => {
        this.checkOrder(holder);
        assert(this.writerValue !== holder && !this.readerList.includes(holder), () => `${holder} takes memory_lock of ${this.device} it already holds`);
        if (this.waiters.length === 0 && this.compatible(mode)) {
          this.grant(holder, mode);
          process.wake();
        } else {
          this.waiters.push({ process, holder, mode });
        }
      },
    };
  }

  private compatible(mode: Mode): boolean {
    if (this.writerValue !== undefined) return false;
    return mode === "read" || this.readerList.length === 0;
  }

  private grant(holder: string, mode: Mode): void {
    if (mode === "write") {
      this.writerValue = holder;
      this.engine.trace.emit("vfio", "memory_lock.down_write", { device: this.device, holder });
    } else {
      this.readerList.push(holder);
      this.engine.trace.emit("vfio", "memory_lock.down_read", { device: this.device, holder });
    }
  }

  /** FIFO hand-over: the head waiter, and with a reader at the head every reader up to the next writer. */
  private handOver(): void {
    for (;;) {
      const next = this.waiters[0];
      if (next === undefined || !this.compatible(next.mode)) return;
      this.waiters.shift();
      this.grant(next.holder, next.mode);
      next.process.wake();
      if (next.mode === "write") return;
    }
  }

  /** I13: memory_lock is the outer lock; a holder of one of the device's resv locks may not take it. */
  private checkOrder(holder: string): void {
    assert(!this.resvHeldBy(holder), () => `lock order: ${holder} holds a dma-buf resv of ${this.device} and takes memory_lock (I13)`);
  }

  private describe(): string {
    const readers = this.readerList.length;
    return `writer ${this.writerValue ?? "none"}, ${readers} reader(s), ${this.waiters.length} waiter(s)`;
  }
}
