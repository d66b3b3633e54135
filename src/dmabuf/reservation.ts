/**
 * The reservation object of a dma-buf (`struct dma_resv`): one lock and a set of fences, each
 * added with a usage [kernel.md §b.1-§b.4].
 *
 * The lock is modelled as asserted state, the way `dma_resv_assert_held` is used in the kernel:
 * a synchronous caller takes it with {@link DmaResv.lock} and must find it free (contention from
 * synchronous code is a model bug, since nothing can block there); a process that may meet a
 * holder waits with `yield resv.acquire(holder)`, which hands the lock over in FIFO order.
 *
 * Fences ({@link DmaFence}) signal at simulated times. Waiting for a usage waits for every fence
 * of that usage and of every usage below it (KERNEL < WRITE < READ < BOOKKEEP), as
 * `dma_resv_wait_timeout` does: waiting for BOOKKEEP waits for all fences.
 */
import { assert } from "../fabric/assert.js";
import type { Engine } from "../fabric/engine.js";
import type { Process, Suspension } from "../fabric/process.js";
import { Condition } from "../fabric/signal.js";

declare module "./dma-buf.js" {
  interface DmaBufTraceKinds {
    "resv.lock": { buf: string; holder: string };
    "resv.unlock": { buf: string; holder: string };
    "fence.add": { buf: string; fence: string; usage: DmaResvUsage };
    "fence.signal": { fence: string };
  }
}

/**
 * `enum dma_resv_usage`, in the kernel's order: a wait for one usage includes every usage before it.
 */
export type DmaResvUsage =
  /** DMA_RESV_USAGE_KERNEL: memory management work (moves, clears) that everybody must wait for; static importers' map waits for these [§b.2]. */
  | "kernel"
  /** DMA_RESV_USAGE_WRITE: implicit-sync writers. */
  | "write"
  /** DMA_RESV_USAGE_READ: implicit-sync readers. */
  | "read"
  /** DMA_RESV_USAGE_BOOKKEEP: everything else; waiting for it waits for every fence (the revoke wait of §b.3). */
  | "bookkeep";

/** The usages, in the kernel's order. */
export const DMA_RESV_USAGES: readonly DmaResvUsage[] = ["kernel", "write", "read", "bookkeep"];

function usageRank(usage: DmaResvUsage): number {
  return DMA_RESV_USAGES.indexOf(usage);
}

/** `struct dma_fence`: completes once, at a simulated time. */
export class DmaFence {
  private signaledValue = false;
  private signaledAt: number | undefined;
  private readonly callbacks: Array<() => void> = [];

  constructor(
    private readonly engine: Engine,
    /** Shown in traces. */
    readonly name: string,
  ) {}

  /** Whether the fence has signaled (`dma_fence_is_signaled`). */
  get signaled(): boolean {
    return this.signaledValue;
  }

  /** When it signaled, or undefined while pending. */
  get signaledAtPs(): number | undefined {
    return this.signaledAt;
  }

  /**
   * `dma_fence_signal`: completes the fence now and runs its callbacks synchronously.
   * @throws AssertionError on a second signal (the kernel returns -EINVAL; here it is a model bug).
   */
  signal(): void {
    assert(!this.signaledValue, () => `fence ${this.name} signaled twice`);
    this.signaledValue = true;
    this.signaledAt = this.engine.nowPs;
    this.engine.trace.emit("dmabuf", "fence.signal", { fence: this.name });
    for (const callback of this.callbacks.splice(0)) callback();
  }

  /** Schedules {@link signal} at absolute time `timePs`. Returns `this` for chaining. */
  signalAt(timePs: number): this {
    this.engine.scheduleAt(timePs, () => this.signal());
    return this;
  }

  /** `dma_fence_add_callback`: runs `callback` when the fence signals (at once if it has). */
  addCallback(callback: () => void): void {
    if (this.signaledValue) callback();
    else this.callbacks.push(callback);
  }
}

/** `struct dma_resv`: the lock and the fences of one dma-buf. */
export class DmaResv {
  private holderValue: string | undefined;
  private readonly waiters: Array<{ readonly process: Process; readonly holder: string }> = [];
  private readonly fenceList: Array<{ readonly fence: DmaFence; readonly usage: DmaResvUsage }> = [];
  private readonly fencesChanged: Condition;

  constructor(
    private readonly engine: Engine,
    /** The dma-buf's name, shown in traces. */
    readonly bufName: string,
  ) {
    this.fencesChanged = new Condition(`${bufName}/resv fences`);
  }

  /** Who holds the lock, or undefined when it is free. */
  get holder(): string | undefined {
    return this.holderValue;
  }

  /**
   * `dma_resv_lock` from synchronous code: takes the free lock.
   * @param holder who takes it (importers use their function id, exporters `exporter:<buf>`).
   * @throws AssertionError when the lock is held (by anybody: synchronous code cannot block).
   */
  lock(holder: string): void {
    assert(this.holderValue === undefined, () => `${holder} locks the resv of ${this.bufName}, held by ${this.holderValue}`);
    this.take(holder);
  }

  /**
   * A suspension that takes the lock for `holder`, at once when it is free, otherwise when every
   * earlier waiter has had it (FIFO hand-over at unlock). For processes: `yield resv.acquire("nic0")`.
   */
  acquire(holder: string): Suspension {
    return {
      suspend: (process) => {
        assert(this.holderValue !== holder, () => `${holder} acquires the resv of ${this.bufName} it already holds`);
        if (this.holderValue === undefined && this.waiters.length === 0) {
          this.take(holder);
          process.wake();
        } else {
          this.waiters.push({ process, holder });
        }
      },
    };
  }

  /**
   * `dma_resv_unlock`: releases the lock, handing it to the first waiting process if any.
   * @throws AssertionError when `holder` does not hold it.
   */
  unlock(holder: string): void {
    assert(this.holderValue === holder, () => `${holder} unlocks the resv of ${this.bufName}, held by ${this.holderValue ?? "nobody"}`);
    this.holderValue = undefined;
    this.engine.trace.emit("dmabuf", "resv.unlock", { buf: this.bufName, holder });
    const next = this.waiters.shift();
    if (next !== undefined) {
      this.take(next.holder);
      next.process.wake();
    }
  }

  /**
   * `dma_resv_assert_held`. @param holder when given, the lock must be held by exactly this holder.
   * @throws AssertionError otherwise.
   */
  assertHeld(holder?: string): void {
    assert(this.holderValue !== undefined, () => `the resv of ${this.bufName} must be held`);
    if (holder !== undefined) assert(this.holderValue === holder, () => `the resv of ${this.bufName} must be held by ${holder}, not ${this.holderValue}`);
  }

  /**
   * The caller must not hold the lock [§b.1]. @param holder when given, only this holder is
   * forbidden (another context may hold it); when omitted, nobody may.
   * @throws AssertionError otherwise.
   */
  assertNotHeld(holder?: string): void {
    if (holder === undefined) assert(this.holderValue === undefined, () => `the resv of ${this.bufName} must not be held (held by ${this.holderValue})`);
    else assert(this.holderValue !== holder, () => `${holder} must not hold the resv of ${this.bufName} here`);
  }

  /**
   * `dma_resv_add_fence`: adds a fence with a usage. The lock must be held.
   * @throws AssertionError when the lock is not held or the fence is already in this object.
   */
  addFence(fence: DmaFence, usage: DmaResvUsage): void {
    this.assertHeld();
    assert(!this.fenceList.some((f) => f.fence === fence), () => `fence ${fence.name} added twice to ${this.bufName}`);
    this.fenceList.push({ fence, usage });
    this.engine.trace.emit("dmabuf", "fence.add", { buf: this.bufName, fence: fence.name, usage });
    fence.addCallback(() => this.fencesChanged.notify());
  }

  /** The fences a wait for `usage` waits for (that usage and every usage before it), signaled or not. */
  fences(usage: DmaResvUsage): DmaFence[] {
    return this.fenceList.filter((f) => usageRank(f.usage) <= usageRank(usage)).map((f) => f.fence);
  }

  /** `dma_resv_test_signaled`: whether every fence of `usage` (and below) has signaled. */
  testSignaled(usage: DmaResvUsage): boolean {
    return this.fences(usage).every((fence) => fence.signaled);
  }

  /**
   * `dma_resv_wait_timeout(usage, intr = false, MAX_SCHEDULE_TIMEOUT)`: a suspension that
   * resumes once every fence of `usage` and below has signaled, fences added meanwhile included.
   */
  wait(usage: DmaResvUsage): Suspension {
    return this.fencesChanged.until(() => this.testSignaled(usage));
  }

  private take(holder: string): void {
    this.holderValue = holder;
    this.engine.trace.emit("dmabuf", "resv.lock", { buf: this.bufName, holder });
  }
}
