/**
 * The future-event set: a binary min-heap keyed by (timePs, seq), allocation-free once its
 * arrays have grown to the working size.
 *
 * Layout. The heap is a struct of three typed arrays (time, seq, payload) moved together by
 * hole-moving sifts. The payload packs what to call: `arg * 2^21 + handler` for an ordinary
 * event (so `arg` is an integer in [0, 2^32)), or `-(slot + 1)` for a cancellable one, whose
 * handler and argument wait in a side table at `slot`. Ordinary events, the vast majority,
 * therefore touch nothing but the heap.
 *
 * Cancellation. {@link EventQueue.cancel} marks the slot; the event is skipped when it reaches
 * the root (lazy deletion; the heap is compacted when cancelled entries are the majority). A
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
const HANDLER_SPAN = 2 ** 21;
/** Handlers that can be registered (the handler index takes the payload's low 21 bits). */
export const HANDLERS_MAX = HANDLER_SPAN;
/** Event arguments are integers below this (the payload's high 32 bits). */
export const ARG_LIMIT = 2 ** 32;

const SLOT_FREE = 0;
const SLOT_PENDING = 1;
const SLOT_CANCELLED = 2;

/** The heap and slot table behind `Engine`; exported for the queue contract tests. */
export class EventQueue {
  private heapTime: Float64Array;
  private heapSeq: Float64Array;
  private heapPayload: Float64Array;
  private heapCapacity: number;
  private size = 0;
  private seqNext = 0;
  private held = false;

  private slotHandler: Int32Array;
  private slotArg: Float64Array;
  private slotGeneration: Int32Array;
  private slotState: Uint8Array;
  private freeSlots: Int32Array;
  private freeCount = 0;
  private slotCapacity: number;
  private cancelledCount = 0;

  /** Time of the event exposed by the last successful {@link take}. */
  topTimePs = 0;
  /** Argument of the event exposed by the last successful {@link take}. */
  topArg = 0;
  /** Slot of the last cancellable event exposed by {@link take}; already recycled. */
  topSlot = -1;

  /** @param capacityInitial entries to preallocate; the queue grows by doubling past it. */
  constructor(capacityInitial = 1024) {
    assert(capacityInitial >= 1, "queue capacity must be positive");
    this.heapCapacity = capacityInitial;
    this.heapTime = new Float64Array(capacityInitial);
    this.heapSeq = new Float64Array(capacityInitial);
    this.heapPayload = new Float64Array(capacityInitial);
    this.slotCapacity = 64;
    this.slotHandler = new Int32Array(this.slotCapacity);
    this.slotArg = new Float64Array(this.slotCapacity);
    this.slotGeneration = new Int32Array(this.slotCapacity);
    this.slotState = new Uint8Array(this.slotCapacity);
    this.freeSlots = new Int32Array(this.slotCapacity);
    this.pushFreeSlots(0, this.slotCapacity);
  }

  /** Events that will still fire: scheduled, not cancelled, not the one being fired. */
  get pendingCount(): number {
    return this.size - this.cancelledCount - (this.held ? 1 : 0);
  }

  /** Whether an event taken by {@link take} has not been released (its handler is running, or threw). */
  get isHeld(): boolean {
    return this.held;
  }

  /** Sequence numbers handed out so far (the total number of events ever scheduled). */
  get scheduledCount(): number {
    return this.seqNext;
  }

  /**
   * Schedules `handler(arg)` at `timePs`; ties fire in the order they were pushed. Not cancellable.
   * Preconditions (checked by the engine): `timePs` is a safe integer not before the clock,
   * `handler` is below {@link HANDLERS_MAX}, `arg` an integer in [0, {@link ARG_LIMIT}).
   */
  push(timePs: number, handler: number, arg: number): void {
    this.insert(timePs, arg * HANDLER_SPAN + handler);
  }

  /** As {@link push}, but returns an id that {@link cancel} accepts. */
  pushCancellable(timePs: number, handler: number, arg: number): EventId {
    if (this.freeCount === 0) this.growSlots();
    const slot = this.freeSlots[--this.freeCount] as number;
    this.slotState[slot] = SLOT_PENDING;
    this.slotHandler[slot] = handler;
    this.slotArg[slot] = arg;
    this.insert(timePs, -(slot + 1));
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
   * Exposes the earliest live event if its time is at most `limitPs`: returns its handler index
   * and sets `topTimePs`, `topArg` and `topSlot`; recycles its slot and holds it at the root
   * until {@link release}. Returns -1 when no live event is due.
   */
  take(limitPs: number): number {
    for (;;) {
      if (this.size === 0) return -1;
      const timePs = this.heapTime[0] as number;
      const payload = this.heapPayload[0] as number;
      if (payload >= 0) {
        if (timePs > limitPs) return -1;
        const arg = Math.floor(payload * (1 / HANDLER_SPAN));
        this.topTimePs = timePs;
        this.topArg = arg;
        this.held = true;
        return payload - arg * HANDLER_SPAN;
      }
      const slot = -payload - 1;
      if (this.slotState[slot] === SLOT_CANCELLED) {
        this.cancelledCount--;
        this.freeSlot(slot);
        this.removeRoot();
        continue;
      }
      if (timePs > limitPs) return -1;
      this.freeSlot(slot);
      this.topTimePs = timePs;
      this.topArg = this.slotArg[slot] as number;
      this.topSlot = slot;
      this.held = true;
      return this.slotHandler[slot] as number;
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
    let cancelled = 0;
    let withSlot = 0;
    for (let i = 0; i < this.size; i++) {
      const payload = this.heapPayload[i] as number;
      if (payload < 0 && !(this.held && i === 0)) {
        const slot = -payload - 1;
        withSlot++;
        const state = this.slotState[slot];
        assert(state !== SLOT_FREE, () => `heap entry ${i} holds free slot ${slot}`);
        if (state === SLOT_CANCELLED) cancelled++;
      }
      if (i === 0) continue;
      assert(this.before((i - 1) >> 1, i), () => `heap order broken at entry ${i}`);
    }
    assert(cancelled === this.cancelledCount, "cancelled count drifted");
    assert(this.freeCount + withSlot === this.slotCapacity, "cancellation slot leak");
  }

  /**
   * Puts an entry into the heap. Doubles are never passed to the sift helpers: V8 would box
   * each one in a heap number per call, so the entry is written into the heap first and the
   * helpers read it back.
   */
  private insert(timePs: number, payload: number): void {
    const seq = this.seqNext++;
    if (this.held) {
      this.held = false;
      this.heapTime[0] = timePs;
      this.heapSeq[0] = seq;
      this.heapPayload[0] = payload;
      this.siftDown(0);
      return;
    }
    if (this.size === this.heapCapacity) this.growHeap();
    const i = this.size++;
    this.heapTime[i] = timePs;
    this.heapSeq[i] = seq;
    this.heapPayload[i] = payload;
    this.siftUp(i);
  }

  /** Moves the entry at `index` up (hole-moving) to where it belongs. */
  private siftUp(index: number): void {
    const time = this.heapTime;
    const seqs = this.heapSeq;
    const payloads = this.heapPayload;
    const timePs = time[index] as number;
    const seq = seqs[index] as number;
    const payload = payloads[index] as number;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = time[parent] as number;
      if (timePs < pt || (timePs === pt && seq < (seqs[parent] as number))) {
        time[i] = pt;
        seqs[i] = seqs[parent] as number;
        payloads[i] = payloads[parent] as number;
        i = parent;
      } else break;
    }
    time[i] = timePs;
    seqs[i] = seq;
    payloads[i] = payload;
  }

  private freeSlot(slot: number): void {
    this.slotState[slot] = SLOT_FREE;
    this.slotGeneration[slot] = ((this.slotGeneration[slot] as number) + 1) & GENERATION_MASK;
    this.freeSlots[this.freeCount++] = slot;
  }

  private removeRoot(): void {
    const last = --this.size;
    if (last > 0) {
      this.heapTime[0] = this.heapTime[last] as number;
      this.heapSeq[0] = this.heapSeq[last] as number;
      this.heapPayload[0] = this.heapPayload[last] as number;
      this.siftDown(0);
    }
  }

  /** Moves the entry at `index` down (hole-moving) to where it belongs. */
  private siftDown(index: number): void {
    const time = this.heapTime;
    const seqs = this.heapSeq;
    const payloads = this.heapPayload;
    const timePs = time[index] as number;
    const seq = seqs[index] as number;
    const payload = payloads[index] as number;
    const n = this.size;
    let i = index;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let ct = time[child] as number;
      let cs = seqs[child] as number;
      const right = child + 1;
      if (right < n) {
        const rt = time[right] as number;
        if (rt < ct || (rt === ct && (seqs[right] as number) < cs)) {
          child = right;
          ct = rt;
          cs = seqs[right] as number;
        }
      }
      if (ct < timePs || (ct === timePs && cs < seq)) {
        time[i] = ct;
        seqs[i] = cs;
        payloads[i] = payloads[child] as number;
        i = child;
      } else break;
    }
    time[i] = timePs;
    seqs[i] = seq;
    payloads[i] = payload;
  }

  /** Whether heap entry `a` orders strictly before entry `b`. */
  private before(a: number, b: number): boolean {
    const at = this.heapTime[a] as number;
    const bt = this.heapTime[b] as number;
    return at < bt || (at === bt && (this.heapSeq[a] as number) < (this.heapSeq[b] as number));
  }

  /** Compacts once cancelled entries are the majority, so lazy cancellation cannot bloat the heap. */
  private compactIfSparse(): void {
    if (this.cancelledCount > 64 && this.cancelledCount * 2 > this.size) this.compact();
  }

  /** Drops every cancelled entry and rebuilds the heap bottom-up (Floyd), O(n). */
  private compact(): void {
    assert(!this.held, "compaction while an event is held");
    let kept = 0;
    for (let i = 0; i < this.size; i++) {
      const payload = this.heapPayload[i] as number;
      if (payload < 0 && this.slotState[-payload - 1] === SLOT_CANCELLED) {
        this.freeSlot(-payload - 1);
        continue;
      }
      this.heapTime[kept] = this.heapTime[i] as number;
      this.heapSeq[kept] = this.heapSeq[i] as number;
      this.heapPayload[kept] = payload;
      kept++;
    }
    this.size = kept;
    this.cancelledCount = 0;
    for (let i = (kept >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private growHeap(): void {
    const capacity = this.heapCapacity * 2;
    this.heapTime = resized(this.heapTime, new Float64Array(capacity));
    this.heapSeq = resized(this.heapSeq, new Float64Array(capacity));
    this.heapPayload = resized(this.heapPayload, new Float64Array(capacity));
    this.heapCapacity = capacity;
  }

  private growSlots(): void {
    const old = this.slotCapacity;
    const capacity = old * 2;
    assert(capacity <= PENDING_EVENTS_MAX, () => `more than ${PENDING_EVENTS_MAX} cancellable events pending`);
    this.slotHandler = resized(this.slotHandler, new Int32Array(capacity));
    this.slotArg = resized(this.slotArg, new Float64Array(capacity));
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

function resized<T extends Float64Array | Int32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
