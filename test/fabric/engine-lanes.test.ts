// Goal: FIFO lanes (`fifoHandler` + `atInOrder`) are a pure speed-up: events fire in exactly the
// (time, seq) order plain `at` gives, with the same pendingCount at every firing. Method: random
// mixes of lane events, plain events, closures and cancellations, run once with lanes and once
// without, compared event by event; and the two misuse cases throw.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AssertionError } from "../../src/fabric/assert.js";
import { Engine, type HandlerId } from "../../src/fabric/engine.js";

/** One run of a seeded random workload; returns the full firing log. `useLanes` false runs the same workload with plain handlers. */
function runMix(seed: number, useLanes: boolean): string {
  let s = seed >>> 0;
  // A local LCG so the workload is identical in both runs (test code, not model code).
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const engine = new Engine({ seed: 0, verify: true });
  const log: unknown[] = [];
  const laneLast = [0, 0, 0];
  const ids: HandlerId[] = [];
  const schedule = (depth: number): void => {
    const k = Math.floor(rnd() * 5);
    if (k < 3) {
      const t = Math.max(engine.nowPs, laneLast[k] ?? 0) + Math.floor(rnd() * 3) * 10;
      laneLast[k] = t;
      const viaAt = rnd() < 0.2; // a lane handler may still be scheduled through plain `at`
      const arg = Math.floor(rnd() * 100);
      if (useLanes && !viaAt) engine.atInOrder(t, ids[k] as HandlerId, arg);
      else engine.at(t, ids[k] as HandlerId, arg);
    } else if (k === 3) {
      engine.after(Math.floor(rnd() * 4) * 10, ids[3] as HandlerId, Math.floor(rnd() * 100));
    } else {
      const id = engine.schedule(Math.floor(rnd() * 4) * 10, () => {
        log.push([engine.nowPs, "closure", engine.pendingCount]);
        if (depth < 3) schedule(depth + 1);
      });
      if (rnd() < 0.3) engine.cancel(id);
    }
  };
  for (let k = 0; k < 4; k++) {
    const fn = (arg: number) => {
      log.push([engine.nowPs, k, arg, engine.pendingCount]);
      const n = Math.floor(rnd() * 3);
      for (let i = 0; i < n && log.length < 3000; i++) schedule(0);
    };
    ids.push(useLanes && k < 3 ? engine.fifoHandler(fn, `h${k}`) : engine.handler(fn, `h${k}`));
  }
  for (let i = 0; i < 30; i++) schedule(0);
  const status = engine.run();
  return JSON.stringify([log, status, engine.eventsFired, engine.nowPs]);
}

describe("FIFO lanes", () => {
  it("fire every random mix in exactly the order and with the pending counts of plain handlers", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), (seed) => {
        const plain = runMix(seed, false);
        expect(runMix(seed, true)).toBe(plain);
        expect((JSON.parse(plain) as unknown[][])[0]?.length).toBeGreaterThan(30);
      }),
      { numRuns: 150 },
    );
  });

  it("refuse an event earlier than the lane's last pending one, and a lane push on a plain handler", () => {
    const engine = new Engine({ seed: 0 });
    const lane = engine.fifoHandler(() => {}, "lane");
    const plain = engine.handler(() => {}, "plain");
    engine.atInOrder(100, lane);
    expect(() => engine.atInOrder(50, lane)).toThrow(AssertionError);
    expect(() => engine.atInOrder(100, plain)).toThrow(AssertionError);
    engine.atInOrder(100, lane, 1);
    expect(engine.run()).toBeDefined();
    expect(engine.eventsFired).toBe(2);
  });
});
