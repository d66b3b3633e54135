import { describe, expect, it } from "vitest";
import { AssertionError } from "../../src/fabric/assert.js";
import { Engine } from "../../src/fabric/engine.js";
import { ns } from "../../src/fabric/time.js";

function logger(engine: Engine) {
  const log: Array<[number, string]> = [];
  const record = (what: string) => () => log.push([engine.nowPs, what]);
  return { log, record };
}

describe("Engine", () => {
  it("runs events in time order and FIFO among equal times, whatever the scheduling order", () => {
    const engine = new Engine({ seed: 1, verify: true });
    const { log, record } = logger(engine);
    engine.schedule(ns(2), record("b1"));
    engine.schedule(ns(1), record("a"));
    engine.schedule(ns(2), record("b2"));
    engine.schedule(0, record("zero"));
    engine.schedule(ns(2), record("b3"));
    expect(engine.run()).toEqual({ status: "quiet", eventsFired: 5, nowPs: 2000 });
    expect(log).toEqual([
      [0, "zero"],
      [1000, "a"],
      [2000, "b1"],
      [2000, "b2"],
      [2000, "b3"],
    ]);
  });

  it("puts zero-delay events after everything already due now", () => {
    const engine = new Engine({ seed: 1, verify: true });
    const { log, record } = logger(engine);
    engine.schedule(5, () => {
      log.push([engine.nowPs, "first"]);
      engine.schedule(0, record("spawned by first"));
    });
    engine.schedule(5, record("second"));
    engine.run();
    expect(log.map(([, w]) => w)).toEqual(["first", "second", "spawned by first"]);
  });

  it("passes handler arguments through the allocation-free path", () => {
    const engine = new Engine({ seed: 1, verify: true });
    const seen: Array<[number, number]> = [];
    const h = engine.handler((arg) => seen.push([engine.nowPs, arg]), "h");
    engine.at(30, h, 7);
    engine.after(10, h, 2 ** 32 - 1);
    engine.afterCancellable(20, h, 0.25);
    engine.run();
    expect(seen).toEqual([
      [10, 2 ** 32 - 1],
      [20, 0.25],
      [30, 7],
    ]);
    expect(engine.handlerName(h)).toBe("h");
  });

  it("cancels closures and cancellable events; a stale cancel is false", () => {
    const engine = new Engine({ seed: 1, verify: true });
    const { log, record } = logger(engine);
    const a = engine.schedule(10, record("a"));
    engine.schedule(20, record("b"));
    const h = engine.handler(record("c"));
    const c = engine.afterCancellable(30, h);
    expect(engine.cancel(a)).toBe(true);
    expect(engine.cancel(c)).toBe(true);
    expect(engine.pendingCount).toBe(1);
    engine.run();
    expect(log).toEqual([[20, "b"]]);
    expect(engine.cancel(a)).toBe(false);
    expect(engine.nowPs).toBe(20); // cancelled events do not move the clock
  });

  it("refuses to schedule into the past or at a non-integer time", () => {
    const engine = new Engine({ seed: 1 });
    engine.schedule(100, () => {});
    engine.run();
    expect(() => engine.schedule(-1, () => {})).toThrow(AssertionError);
    expect(() => engine.scheduleAt(99, () => {})).toThrow(/before|at or after now/);
    expect(() => engine.schedule(0.5, () => {})).toThrow(AssertionError);
    const h = engine.handler(() => {});
    expect(() => engine.after(1, h, -1)).toThrow(/argument/);
    expect(() => engine.after(1, h, 1.5)).toThrow(/argument/);
  });

  it("runUntil fires what is due, then moves the clock to the limit", () => {
    const engine = new Engine({ seed: 1 });
    const { log, record } = logger(engine);
    engine.schedule(10, record("a"));
    engine.schedule(20, record("b"));
    expect(engine.runUntil(15)).toEqual({ status: "time-limit", eventsFired: 1, nowPs: 15 });
    expect(engine.runUntil(20)).toEqual({ status: "quiet", eventsFired: 1, nowPs: 20 });
    expect(log).toEqual([
      [10, "a"],
      [20, "b"],
    ]);
  });

  it("runUntilQuiet stops at its event bound and reports it", () => {
    const engine = new Engine({ seed: 1 });
    let ticks = 0;
    const tick = engine.handler(() => {
      ticks++;
      engine.after(1, tick);
    });
    engine.at(0, tick);
    expect(engine.runUntilQuiet({ eventsMax: 1000 })).toEqual({ status: "event-bound", eventsFired: 1000, nowPs: 999 });
    expect(ticks).toBe(1000);
    const quiet = new Engine({ seed: 1 });
    quiet.schedule(1, () => {});
    expect(quiet.runUntilQuiet({ eventsMax: 1 })).toEqual({ status: "quiet", eventsFired: 1, nowPs: 1 });
  });

  it("stop() ends the loop after the current event; step() fires exactly one", () => {
    const engine = new Engine({ seed: 1 });
    const { log, record } = logger(engine);
    engine.schedule(1, () => {
      log.push([engine.nowPs, "stopper"]);
      engine.stop();
    });
    engine.schedule(2, record("later"));
    expect(engine.run().status).toBe("stopped");
    expect(log.map(([, w]) => w)).toEqual(["stopper"]);
    expect(engine.step()).toBe(true);
    expect(engine.step()).toBe(false);
    expect(log.map(([, w]) => w)).toEqual(["stopper", "later"]);
  });

  it("forbids running the engine from a handler, and is unusable after a handler threw", () => {
    const engine = new Engine({ seed: 1 });
    engine.schedule(1, () => engine.run());
    expect(() => engine.run()).toThrow(/already running/);
    const broken = new Engine({ seed: 1 });
    broken.schedule(1, () => {
      throw new Error("model bug");
    });
    expect(() => broken.run()).toThrow("model bug");
    expect(() => broken.run()).toThrow(/handler threw/);
  });

  it("runs verifiers after every event in verify mode only", () => {
    let calls = 0;
    for (const verify of [true, false]) {
      const engine = new Engine({ seed: 1, verify });
      engine.addVerifier(() => calls++);
      engine.schedule(1, () => {});
      engine.schedule(2, () => {});
      engine.run();
    }
    expect(calls).toBe(2);
  });
});
