/**
 * The future-event set: a binary min-heap keyed by (timePs, seq), allocation-free once its
 * arrays have grown to the working size.
 *
 * Layout. The heap is one `Float64Array` holding four numbers per entry — time, seq, the
 * handler's argument, and `meta` (handler index and cancellation slot packed as
 * `handler * 2^25 + slot + 1`) — with the root at index 1, so the two children of an entry share
 * one 64-byte cache line. Sifting therefore touches one cache line per level, where a
 * struct-of-arrays heap touches one per array.
 *
 * Cancellation. Most events are never cancelled, and they carry no slot (slot 0 in `meta`):
 * firing them touches nothing but the heap. A cancellable event takes a slot in a side table
 * (state and generation); {@link EventQueue.cancel} marks the slot and the event is skipped when
 * it reaches the root (lazy deletion, compacted when cancelled entries are the majority). A
 * slot's generation is bumped whenever it is recycled, so a stale {@link EventId} can never
 * cancel the slot's next occupant.
 *
 * Firing protocol. {@link EventQueue.take} exposes the earliest event but leaves it at the root
 * ("held"). If the handler schedules an event while the root is held, the new event replaces the
 * root and sifts down once, instead of a pop (sift down) and a push (sift up): the classic
 * replace-top optimisation, exact because the new key is compared like any other.
 * {@link EventQueue.release} removes the root only if nothing replaced it.
 */
import { assert } from "./assert.js";

declare const eventIdBrand: unique symbol;

/** Names one cancellable event, for {@link EventQueue.cancel}. Stale ids are harmless. */
export type EventId = number & { readonly [eventIdBrand]: true };

const SLOT_BITS = 24;
/** At most this many cancellable events can be pending at once (16.7 M). */
export const PENDING_EVENTS_MAX = 2 ** SLOT_BITS;
const GENERATION_MASK = 0x1fffffff; // generation * 2^24 + slot stays below 2^53
const META_HANDLER = 2 ** (SLOT_BITS + 1); // meta = handler * META_HANDLER + slot + 1
/** Handlers that can be registered (meta must stay an exact integer). */
export const HANDLERS_MAX = 2 ** 27;

const STRIDE = 4;
const SLOT_FREE = 0;
const SLOT_PENDING = 1;
const SLOT_CANCELLED = 2;

/** The heap and slot table behind `Engine`; exported for the queue contract tests. */
export class EventQueue {
  private heap: Float64Array;
  private heapCapacity: number;
  private size = 0;
  private seqNext = 0;
  private held = false;

  private slotGeneration: Int32Array;
  private slotState: Uint8Array;
  private freeSlots: Int32Array;
  private freeCount = 0;
  private slotCapacity: number;
  private cancelledCount = 0;

  /** Time of the event exposed by the last successful {@link take}. */
  topTimePs = 0;
  /** Handler index of the event exposed by the last successful {@link take}. */
  topHandler = 0;
  /** Argument of the event exposed by the last successful {@link take}. */
  topArg = 0;
  /** Slot of that event (-1 for a non-cancellable one); already recycled. */
  topSlot = -1;

  /** @param capacityInitial entries to preallocate; the queue grows by doubling past it. */
  constructor(capacityInitial = 1024) {
    assert(capacityInitial >= 1, "queue capacity must be positive");
    this.heapCapacity = capacityInitial;
    this.heap = new Float64Array((capacityInitial + 1) * STRIDE);
    this.slotCapacity = 64;
    this.slotGeneration = new Int32Array(this.slotCapacity);
    this.slotState = new Uint8Array(this.slotCapacity);
    this.freeSlots = new Int32Array(this.slotCapacity);
    this.pushFreeSlots(0, this.slotCapacity);
  }

  /** Events that will still fire: scheduled, not cancelled, not the one being fired. */
  get pendingCount(): number {
    return this.size - this.cancelledCount - (this.held ? 1 : 0);
  }

  /** Sequence numbers handed out so far (the total number of events ever scheduled). */
  get scheduledCount(): number {
    return this.seqNext;
  }

  /**
   * Schedules `handler(arg)` at `timePs`; ties fire in the order they were pushed. Not cancellable.
   * Preconditions (checked by the engine): `timePs` is a safe integer not before the clock;
   * `handler` is below {@link HANDLERS_MAX}.
   */
  push(timePs: number, handler: number, arg: number): void {
    this.insert(timePs, arg, handler * META_HANDLER);
  }

  /** As {@link push}, but returns an id that {@link cancel} accepts. */
  pushCancellable(timePs: number, handler: number, arg: number): EventId {
    if (this.freeCount === 0) this.growSlots();
    const slot = this.freeSlots[--this.freeCount] as number;
    this.slotState[slot] = SLOT_PENDING;
    this.insert(timePs, arg, handler * META_HANDLER + slot + 1);
    return ((this.slotGeneration[slot] as number) * PENDING_EVENTS_MAX + slot) as EventId;
  }

  /**
   * Cancels a pending cancellable event. Returns false (and does nothing) when the event already
   * fired, was already cancelled, or is the one being fired now.
   */
  cancel(id: EventId): boolean {
    const slot = id % PENDING_EVENTS_MAX;
    const generation = (id - slot) / PENDING_EVENTS_MAX;
    if (slot >= this.slotCapacity) return false;
    if (this.slotGeneration[slot] !== generation) return false;
    if (this.slotState[slot] !== SLOT_PENDING) return false;
    this.slotState[slot] = SLOT_CANCELLED;
    this.cancelledCount++;
    if (!this.held) this.compactIfSparse();
    return true;
  }

  /** The slot an id refers to, so callers can keep side tables indexed by slot. */
  static slotOf(id: EventId): number {
    return id % PENDING_EVENTS_MAX;
  }

  /**
   * Exposes the earliest live event if its time is at most `limitPs`: sets `topTimePs`,
   * `topHandler`, `topArg` and `topSlot`, recycles its slot, and holds it at the root until
   * {@link release}. Returns false when no live event is due.
   */
  take(limitPs: number): boolean {
    const heap = this.heap;
    for (;;) {
      if (this.size === 0) return false;
      const timePs = heap[STRIDE] as number;
      if (timePs > limitPs && this.cancelledCount === 0) return false;
      const meta = heap[STRIDE + 3] as number;
      const handler = Math.floor(meta / META_HANDLER);
      const slot = meta - handler * META_HANDLER - 1;
      if (slot >= 0) {
        if (this.slotState[slot] === SLOT_CANCELLED) {
          this.cancelledCount--;
          this.freeSlot(slot);
          this.removeRoot();
          continue;
        }
        if (timePs > limitPs) return false;
        this.freeSlot(slot);
      } else if (timePs > limitPs) return false;
      this.topTimePs = timePs;
      this.topHandler = handler;
      this.topArg = heap[STRIDE + 2] as number;
      this.topSlot = slot;
      this.held = true;
      return true;
    }
  }

  /** Finishes a {@link take}: removes the held root unless a push already replaced it. */
  release(): void {
    if (this.held) {
      this.held = false;
      this.removeRoot();
    }
    if (this.cancelledCount !== 0) this.compactIfSparse();
  }

  /**
   * Checks the heap order and the slot bookkeeping over the whole queue (O(n); for `verify`).
   * @throws AssertionError naming the first broken property.
   */
  verify(): void {
    const heap = this.heap;
    let cancelled = 0;
    let withSlot = 0;
    for (let i = 1; i <= this.size; i++) {
      const slot = (heap[i * STRIDE + 3] as number) % META_HANDLER - 1;
      if (slot >= 0 && !(this.held && i === 1)) {
        withSlot++;
        const state = this.slotState[slot];
        assert(state !== SLOT_FREE, () => `heap entry ${i} holds free slot ${slot}`);
        if (state === SLOT_CANCELLED) cancelled++;
      }
      if (i === 1) continue;
      const parent = i >> 1;
      assert(before(heap, parent, i), () => `heap order broken at entry ${i}`);
    }
    assert(cancelled === this.cancelledCount, "cancelled count drifted");
    assert(this.freeCount + withSlot === this.slotCapacity, "cancellation slot leak");
  }

  private insert(timePs: number, arg: number, meta: number): void {
    const seq = this.seqNext++;
    if (this.held) {
      this.held = false;
      this.siftDown(1, timePs, seq, arg, meta);
      return;
    }
    if (this.size === this.heapCapacity) this.growHeap();
    const heap = this.heap;
    let i = ++this.size;
    while (i > 1) {
      const parent = i >> 1;
      const p = parent * STRIDE;
      const pt = heap[p] as number;
      if (timePs < pt || (timePs === pt && seq < (heap[p + 1] as number))) {
        const o = i * STRIDE;
        heap[o] = pt;
        heap[o + 1] = heap[p + 1] as number;
        heap[o + 2] = heap[p + 2] as number;
        heap[o + 3] = heap[p + 3] as number;
        i = parent;
      } else break;
    }
    const o = i * STRIDE;
    heap[o] = timePs;
    heap[o + 1] = seq;
    heap[o + 2] = arg;
    heap[o + 3] = meta;
  }

  private freeSlot(slot: number): void {
    this.slotState[slot] = SLOT_FREE;
    this.slotGeneration[slot] = ((this.slotGeneration[slot] as number) + 1) & GENERATION_MASK;
    this.freeSlots[this.freeCount++] = slot;
  }

  private removeRoot(): void {
    const last = this.size--;
    if (last > 1) {
      const heap = this.heap;
      const o = last * STRIDE;
      this.siftDown(1, heap[o] as number, heap[o + 1] as number, heap[o + 2] as number, heap[o + 3] as number);
    }
  }

  /** Moves a hole from entry `index` down and drops the given entry where it belongs. */
  private siftDown(index: number, timePs: number, seq: number, arg: number, meta: number): void {
    const heap = this.heap;
    const n = this.size;
    let i = index;
    for (;;) {
      let child = i << 1;
      if (child > n) break;
      let c = child * STRIDE;
      let ct = heap[c] as number;
      if (child < n) {
        const r = c + STRIDE;
        const rt = heap[r] as number;
        if (rt < ct || (rt === ct && (heap[r + 1] as number) < (heap[c + 1] as number))) {
          child++;
          c = r;
          ct = rt;
        }
      }
      if (ct < timePs || (ct === timePs && (heap[c + 1] as number) < seq)) {
        const o = i * STRIDE;
        heap[o] = ct;
        heap[o + 1] = heap[c + 1] as number;
        heap[o + 2] = heap[c + 2] as number;
        heap[o + 3] = heap[c + 3] as number;
        i = child;
      } else break;
    }
    const o = i * STRIDE;
    heap[o] = timePs;
    heap[o + 1] = seq;
    heap[o + 2] = arg;
    heap[o + 3] = meta;
  }

  /** Compacts once cancelled entries are the majority, so lazy cancellation cannot bloat the heap. */
  private compactIfSparse(): void {
    if (this.cancelledCount > 64 && this.cancelledCount * 2 > this.size) this.compact();
  }

  /** Drops every cancelled entry and rebuilds the heap bottom-up (Floyd), O(n). */
  private compact(): void {
    assert(!this.held, "compaction while an event is held");
    const heap = this.heap;
    let kept = 0;
    for (let i = 1; i <= this.size; i++) {
      const o = i * STRIDE;
      const slot = (heap[o + 3] as number) % META_HANDLER - 1;
      if (slot >= 0 && this.slotState[slot] === SLOT_CANCELLED) {
        this.freeSlot(slot);
        continue;
      }
      kept++;
      heap.copyWithin(kept * STRIDE, o, o + STRIDE);
    }
    this.size = kept;
    this.cancelledCount = 0;
    for (let i = kept >> 1; i >= 1; i--) {
      const o = i * STRIDE;
      this.siftDown(i, heap[o] as number, heap[o + 1] as number, heap[o + 2] as number, heap[o + 3] as number);
    }
  }

  private growHeap(): void {
    this.heapCapacity *= 2;
    const heap = new Float64Array((this.heapCapacity + 1) * STRIDE);
    heap.set(this.heap);
    this.heap = heap;
  }

  private growSlots(): void {
    const old = this.slotCapacity;
    const capacity = old * 2;
    assert(capacity <= PENDING_EVENTS_MAX, () => `more than ${PENDING_EVENTS_MAX} cancellable events pending`);
    this.slotGeneration = resized(this.slotGeneration, new Int32Array(capacity));
    this.slotState = resized(this.slotState, new Uint8Array(capacity));
    this.freeSlots = resized(this.freeSlots, new Int32Array(capacity));
    this.slotCapacity = capacity;
    this.pushFreeSlots(old, capacity);
  }

  /** Adds slots [from, to) to the free stack so that the lowest slot is handed out first. */
  private pushFreeSlots(from: number, to: number): void {
    for (let slot = to - 1; slot >= from; slot--) this.freeSlots[this.freeCount++] = slot;
  }
}

/** Whether heap entry `a` orders strictly before entry `b`. */
function before(heap: Float64Array, a: number, b: number): boolean {
  const at = heap[a * STRIDE] as number;
  const bt = heap[b * STRIDE] as number;
  return at < bt || (at === bt && (heap[a * STRIDE + 1] as number) < (heap[b * STRIDE + 1] as number));
}

function resized<T extends Int32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
