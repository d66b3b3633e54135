/**
 * The future-event set: a binary min-heap keyed by (timePs, seq), allocation-free once its
 * arrays have grown to the working size.
 *
 * Layout. The {@link Heap} holds (time, seq, payload) per event. The payload packs what to call: `arg * 2^21 + handler` for an ordinary
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
 *
 * FIFO lanes. A handler declared with {@link EventQueue.makeLane} whose events are pushed with
 * {@link EventQueue.pushLane} promises that they come in nondecreasing time (a link's arrivals: each TLP lands after the one before it). Its
 * events wait in a ring of their own, each with the sequence number it got when pushed, and only
 * the earliest is in the heap; when that one fires, the next takes its place at the root. The
 * firing order is exactly the one a heap of every event gives, because it is still (time, seq)
 * and a lane's later entries order after its head; but the heap holds one entry per busy link
 * instead of one per TLP in flight, so each event costs a sift over a few entries, not hundreds.
 */
import { assert } from "./assert.js";
import { createHeap, type Heap } from "./heap.js";

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

/** Payload of a lane's head in the heap: `LANE_PAYLOAD_BASE - handler` (below every cancellable payload). */
const LANE_PAYLOAD_BASE = -(PENDING_EVENTS_MAX + 1);

/** The pending events of one FIFO lane, earliest first: a ring of (time, seq, arg). */
class Lane {
  time = new Float64Array(16);
  seqs = new Float64Array(16);
  args = new Float64Array(16);
  head = 0;
  count = 0;
  lastTimePs = 0;

  append(timePs: number, seq: number, arg: number): void {
    if (this.count === this.time.length) this.grow();
    const at = (this.head + this.count) & (this.time.length - 1);
    this.time[at] = timePs;
    this.seqs[at] = seq;
    this.args[at] = arg;
    this.count++;
    this.lastTimePs = timePs;
  }

  /** Doubles the ring, unwrapping it so that the head is at 0. */
  private grow(): void {
    const size = this.time.length;
    const unwrap = (from: Float64Array) => {
      const to = new Float64Array(size * 2);
      to.set(from.subarray(this.head));
      to.set(from.subarray(0, this.head), size - this.head);
      return to;
    };
    this.time = unwrap(this.time);
    this.seqs = unwrap(this.seqs);
    this.args = unwrap(this.args);
    this.head = 0;
  }
}

const SLOT_FREE = 0;
const SLOT_PENDING = 1;
const SLOT_CANCELLED = 2;

/** The heap and slot table behind `Engine`; exported for the queue contract tests. */
export class EventQueue {
  private heap: Heap;
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
  /** FIFO lanes by handler (undefined: an ordinary handler). */
  private readonly lanes: Array<Lane | undefined> = [];
  /** Lane events waiting behind their lane's head (not in the heap). */
  private lanedCount = 0;

  /** Time of the event exposed by the last successful {@link take}. */
  topTimePs = 0;
  /** Argument of the event exposed by the last successful {@link take}. */
  topArg = 0;
  /** Slot of the last cancellable event exposed by {@link take}; already recycled. */
  topSlot = -1;

  /** @param capacityInitial entries to preallocate; the queue grows by doubling past it. */
  constructor(capacityInitial = 1024) {
    assert(Number.isSafeInteger(capacityInitial) && capacityInitial >= 1, "queue capacity must be a positive integer");
    this.heap = createHeap(capacityInitial);
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
    return this.heap.count() - this.cancelledCount - (this.held ? 1 : 0) + this.lanedCount;
  }

  /** Whether an event taken by {@link take} has not been released (its handler runs, or threw). */
  get isHeld(): boolean {
    return this.held;
  }

  /**
   * Schedules `handler(arg)` at `timePs`; ties fire in the order they were pushed. Not cancellable.
   * Preconditions (checked by the engine): `timePs` is a safe integer not before the clock,
   * `handler` is below {@link HANDLERS_MAX}, `arg` an integer in [0, {@link ARG_LIMIT}).
   */
  push(timePs: number, handler: number, arg: number): void {
    this.insert(timePs, arg * HANDLER_SPAN + handler);
  }

  /**
   * As {@link push}, for a handler made a lane by {@link makeLane}: `timePs` must not be before
   * the lane's last pending event. (A separate method, so that {@link push} stays small enough for
   * V8 to inline: a double argument of a call it does not inline is boxed, an allocation per event.)
   * @throws AssertionError when `handler` is not a lane or `timePs` is out of order.
   */
  pushLane(timePs: number, handler: number, arg: number): void {
    const lane = this.lanes[handler];
    assert(lane !== undefined, "pushLane of a handler that is not a lane");
    if (lane.count === 0) this.insert(timePs, LANE_PAYLOAD_BASE - handler);
    else {
      if (timePs < lane.lastTimePs) assert(false, `lane ${handler}: event at ${timePs} ps before the lane's last (${lane.lastTimePs} ps)`);
      this.seqNext++;
      this.lanedCount++;
    }
    lane.append(timePs, this.seqNext - 1, arg);
  }

  /**
   * Makes `handler` a FIFO lane (see the module comment) for {@link pushLane}. Its events pushed
   * with {@link push} or {@link pushCancellable} still go to the heap, in the same total order.
   */
  makeLane(handler: number): void {
    assert(this.lanes[handler] === undefined, () => `handler ${handler} is already a lane`);
    this.lanes[handler] = new Lane();
  }

  /** As {@link push}, but returns an id that {@link cancel} accepts; `arg` may be any number. */
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
    const heap = this.heap;
    for (;;) {
      if (heap.count() === 0) return -1;
      const timePs = heap.time[0] as number;
      const payload = heap.payloads[0] as number;
      if (payload >= 0) {
        if (timePs > limitPs) return -1;
        const arg = Math.floor(payload * (1 / HANDLER_SPAN));
        this.topTimePs = timePs;
        this.topArg = arg;
        this.held = true;
        return payload - arg * HANDLER_SPAN;
      }
      const slot = -payload - 1;
      if (slot >= PENDING_EVENTS_MAX) return timePs > limitPs ? -1 : this.takeLane(slot - PENDING_EVENTS_MAX);
      if (this.slotState[slot] === SLOT_CANCELLED) {
        this.cancelledCount--;
        this.freeSlot(slot);
        heap.removeTop();
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

  /** The lane part of {@link take}: exposes the lane's head and puts its next event at the root in its place. */
  private takeLane(handler: number): number {
    const lane = this.lanes[handler] as Lane;
    const head = lane.head;
    this.topTimePs = this.heap.time[0] as number;
    this.topArg = lane.args[head] as number;
    lane.head = (head + 1) & (lane.time.length - 1);
    lane.count--;
    if (lane.count === 0) {
      this.held = true;
      return handler;
    }
    // Replace-top: the lane's next event takes the root now, so the handler's pushes sift up as usual.
    this.lanedCount--;
    const heap = this.heap;
    heap.time[0] = lane.time[lane.head] as number;
    heap.seqs[0] = lane.seqs[lane.head] as number;
    heap.siftDownRoot();
    this.held = false;
    return handler;
  }

  /** Finishes a {@link take}: removes the held root unless a push already replaced it. */
  release(): void {
    if (this.held) {
      this.held = false;
      this.heap.removeTop();
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
    this.heap.forEachPayload((payload, index) => {
      if (payload >= 0 || (this.held && index === 0)) return;
      const slot = -payload - 1;
      if (slot >= PENDING_EVENTS_MAX) return;
      withSlot++;
      const state = this.slotState[slot];
      assert(state !== SLOT_FREE, () => `heap entry ${index} holds free slot ${slot}`);
      if (state === SLOT_CANCELLED) cancelled++;
    });
    assert(this.heap.isOrdered(), "heap order broken");
    assert(cancelled === this.cancelledCount, "cancelled count drifted");
    assert(this.freeCount + withSlot === this.slotCapacity, "cancellation slot leak");
    let behindHeads = 0;
    for (const lane of this.lanes) if (lane !== undefined && lane.count > 0) behindHeads += lane.count - 1;
    assert(behindHeads === this.lanedCount, "lane count drifted");
  }

  /** Puts an event into the heap: in place of the held root when there is one (replace-top). */
  private insert(timePs: number, payload: number): void {
    const replacesRoot = this.held;
    if (!replacesRoot && this.heap.count() === this.heap.capacity) this.growHeap();
    const heap = this.heap;
    const index = replacesRoot ? 0 : heap.count();
    heap.time[index] = timePs;
    heap.seqs[index] = this.seqNext++;
    heap.payloads[index] = payload;
    if (replacesRoot) {
      this.held = false;
      heap.siftDownRoot();
    } else {
      heap.pushWritten();
    }
  }

  private freeSlot(slot: number): void {
    this.slotState[slot] = SLOT_FREE;
    this.slotGeneration[slot] = ((this.slotGeneration[slot] as number) + 1) & GENERATION_MASK;
    this.freeSlots[this.freeCount++] = slot;
  }

  /** Compacts once cancelled entries are the majority, so lazy cancellation cannot bloat the heap. */
  private compactIfSparse(): void {
    if (this.cancelledCount > 64 && this.cancelledCount * 2 > this.heap.count()) this.compact();
  }

  /** Drops every cancelled entry and restores the heap order, O(n). */
  private compact(): void {
    assert(!this.held, "compaction while an event is held");
    this.heap.filter((payload) => {
      if (payload >= 0 || -payload - 1 >= PENDING_EVENTS_MAX || this.slotState[-payload - 1] !== SLOT_CANCELLED) return true;
      this.freeSlot(-payload - 1);
      return false;
    });
    this.cancelledCount = 0;
  }

  private growHeap(): void {
    const larger = createHeap(this.heap.capacity * 2);
    this.heap.moveTo(larger);
    this.heap = larger;
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
