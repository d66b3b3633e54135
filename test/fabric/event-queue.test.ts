import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type EventId, EventQueue } from "../../src/fabric/event-queue.js";

/** Drains the queue, returning [time, handler, arg] in firing order. */
function drain(queue: EventQueue): Array<[number, number, number]> {
  const fired: Array<[number, number, number]> = [];
  for (;;) {
    const handler = queue.take(Number.POSITIVE_INFINITY);
    if (handler < 0) return fired;
    fired.push([queue.topTimePs, handler, queue.topArg]);
    queue.release();
    queue.verify();
  }
}

describe("EventQueue", () => {
  it("fires in (time, insertion) order for any schedule, growing past its capacity", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }), (times) => {
        const queue = new EventQueue(4);
        times.forEach((t, i) => {
          queue.push(t, 1, i);
        });
        queue.verify();
        const expected = times.map((t, i) => [t, 1, i] as [number, number, number]).sort((a, b) => a[0] - b[0] || a[2] - b[2]);
        expect(drain(queue)).toEqual(expected);
      }),
    );
  });

  it("keeps equal times first-in first-out", () => {
    const queue = new EventQueue();
    for (let i = 0; i < 10; i++) queue.push(5, 2, i);
    expect(drain(queue).map(([, , arg]) => arg)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("round-trips handler and argument at the packing limits", () => {
    const queue = new EventQueue();
    queue.push(1, 2 ** 21 - 1, 2 ** 32 - 1);
    queue.push(2, 0, 0);
    queue.pushCancellable(3, 7, 0.5);
    expect(drain(queue)).toEqual([
      [1, 2 ** 21 - 1, 2 ** 32 - 1],
      [2, 0, 0],
      [3, 7, 0.5],
    ]);
  });

  it("skips cancelled events and reports cancel of a fired, cancelled or stale id as false", () => {
    const queue = new EventQueue();
    const a = queue.pushCancellable(10, 1, 0);
    const b = queue.pushCancellable(20, 1, 1);
    queue.push(15, 1, 2);
    expect(queue.pendingCount).toBe(3);
    expect(queue.cancel(b)).toBe(true);
    expect(queue.cancel(b)).toBe(false);
    expect(queue.pendingCount).toBe(2);
    expect(queue.take(100)).toBe(1);
    expect(queue.topArg).toBe(0);
    expect(queue.cancel(a)).toBe(false); // being fired now
    queue.release();
    expect(queue.cancel(a)).toBe(false); // fired
    const c = queue.pushCancellable(30, 1, 3); // reuses a's slot with a new generation
    expect(EventQueue.slotOf(c)).toBe(EventQueue.slotOf(a));
    expect(queue.cancel(a)).toBe(false);
    expect(drain(queue)).toEqual([
      [15, 1, 2],
      [30, 1, 3],
    ]);
    expect(queue.cancel(123456789 as EventId)).toBe(false);
  });

  it("compacts when most entries are cancelled and keeps the order of the rest", () => {
    const queue = new EventQueue();
    const ids = Array.from({ length: 1000 }, (_, i) => queue.pushCancellable(1000 - i, 1, i));
    ids.forEach((id, i) => {
      if (i % 10 !== 0) queue.cancel(id);
    });
    queue.verify();
    expect(queue.pendingCount).toBe(100);
    const fired = drain(queue);
    expect(fired.map(([t]) => t)).toEqual(Array.from({ length: 100 }, (_, k) => 1000 - 990 + k * 10).map((t) => t));
  });

  it("replaces the held root when a handler schedules, and stays ordered", () => {
    const queue = new EventQueue();
    queue.push(1, 1, 0);
    queue.push(5, 1, 1);
    expect(queue.take(10)).toBe(1);
    queue.push(3, 1, 2); // scheduled from the handler of the event at t=1
    queue.push(3, 1, 3);
    queue.release();
    queue.verify();
    expect(drain(queue)).toEqual([
      [3, 1, 2],
      [3, 1, 3],
      [5, 1, 1],
    ]);
  });

  it("takes nothing after the limit", () => {
    const queue = new EventQueue();
    queue.push(10, 1, 0);
    expect(queue.take(9)).toBe(-1);
    expect(queue.take(10)).toBe(1);
  });
});
