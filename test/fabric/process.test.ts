import { describe, expect, it } from "vitest";
import { Engine } from "../../src/fabric/engine.js";
import { sleep } from "../../src/fabric/process.js";
import { TraceRecorder } from "../../src/fabric/recorder.js";
import { Resource } from "../../src/fabric/resource.js";
import { Condition, Signal } from "../../src/fabric/signal.js";

describe("processes", () => {
  it("interleave sleep, signal, condition and join in one exact timeline", () => {
    const engine = new Engine({ seed: 3, verify: true });
    const trace = new TraceRecorder().attach(engine.trace);
    const log: Array<[number, string]> = [];
    const ready = new Signal<string>(engine, "ready");
    let level = 0;
    const levelReached = new Condition("level");
    const producer = engine.spawn("producer", function* () {
      yield sleep(10);
      log.push([engine.nowPs, "producer fires ready"]);
      ready.fire("payload");
      for (let i = 0; i < 3; i++) {
        yield sleep(5);
        level++;
        levelReached.notify();
      }
    });
    engine.spawn("consumer", function* () {
      const value = yield ready;
      log.push([engine.nowPs, `consumer got ${String(value)}`]);
      yield levelReached.until(() => level >= 2);
      log.push([engine.nowPs, `consumer saw level ${level}`]);
      yield producer.join();
      log.push([engine.nowPs, "consumer joined producer"]);
      yield producer.join(); // joining a finished process resumes at once
      log.push([engine.nowPs, "joined again"]);
    });
    expect(engine.run().status).toBe("quiet");
    expect(log).toEqual([
      [10, "producer fires ready"],
      [10, "consumer got payload"],
      [20, "consumer saw level 2"],
      [25, "consumer joined producer"],
      [25, "joined again"],
    ]);
    expect(trace.tuples()).toEqual([
      [0, "fabric/process.spawn", { process: "producer", pid: 0 }],
      [0, "fabric/process.spawn", { process: "consumer", pid: 1 }],
      [25, "fabric/process.exit", { process: "producer", pid: 0 }],
      [25, "fabric/process.exit", { process: "consumer", pid: 1 }],
    ]);
    expect(engine.processes.liveCount).toBe(0);
  });

  it("a condition already true resumes the waiter at once; a signal listener runs as its own event", () => {
    const engine = new Engine({ seed: 3 });
    const log: string[] = [];
    const cond = new Condition("always");
    const signal = new Signal<number>(engine, "s");
    signal.listen((v) => log.push(`listener ${v}`));
    engine.spawn("p", function* () {
      yield cond.until(() => true);
      log.push("past condition");
      expect(signal.fire(7)).toBe(1);
      log.push("after fire");
    });
    engine.run();
    expect(log).toEqual(["past condition", "after fire", "listener 7"]);
  });

  it("refuses a yielded value that is not a suspension, and a double wake", () => {
    const engine = new Engine({ seed: 3 });
    engine.spawn("bad", function* () {
      yield 42 as never;
    });
    expect(() => engine.run()).toThrow(/not a Suspension/);
    const other = new Engine({ seed: 3 });
    const p = other.spawn("p", function* () {
      yield sleep(10);
    });
    other.step(); // p now sleeps
    expect(() => p.wake()).toThrow(/wake of process p in state ready/);
  });
});

describe("Resource", () => {
  it("grants in FIFO order with head-of-line blocking on units", () => {
    const engine = new Engine({ seed: 1, verify: true });
    const credits = new Resource(engine, "credits", 4);
    const log: Array<[number, string]> = [];
    const take = (name: string, units: number, holdPs: number, atPs: number) =>
      engine.spawn(name, function* () {
        yield sleep(atPs);
        log.push([engine.nowPs, `${name} asks ${units}`]);
        yield credits.request(units);
        log.push([engine.nowPs, `${name} holds ${units}`]);
        yield sleep(holdPs);
        credits.release(units);
      });
    take("a", 3, 100, 0);
    take("b", 2, 10, 1); // must wait for a
    take("c", 1, 10, 2); // would fit now, but b is ahead: FIFO
    engine.run();
    expect(log).toEqual([
      [0, "a asks 3"],
      [0, "a holds 3"],
      [1, "b asks 2"],
      [2, "c asks 1"],
      [100, "b holds 2"],
      [100, "c holds 1"],
    ]);
    expect(credits.inUse).toBe(0);
  });

  it("grants handler waiters synchronously inside release, in order", () => {
    const engine = new Engine({ seed: 1, verify: true });
    const link = new Resource(engine, "link", 1);
    const granted: number[] = [];
    const onGrant = engine.handler((arg) => granted.push(arg));
    expect(link.acquire(onGrant, 1)).toBe(true);
    expect(link.acquire(onGrant, 2)).toBe(false);
    expect(link.acquire(onGrant, 3)).toBe(false);
    expect(link.tryAcquire()).toBe(false);
    expect(link.waitingCount).toBe(2);
    link.release();
    expect(granted).toEqual([2]);
    link.release();
    expect(granted).toEqual([2, 3]);
    link.release();
    expect(link.available).toBe(1);
    expect(() => link.release()).toThrow(/release of 1 with 0 held/);
    expect(() => link.acquire(onGrant, 0, 2)).toThrow(/2 units of 1/);
  });

  it("grows its wait queue past the initial ring without reordering", () => {
    const engine = new Engine({ seed: 1 });
    const r = new Resource(engine, "r", 1);
    const granted: number[] = [];
    const h = engine.handler((arg) => granted.push(arg));
    r.tryAcquire();
    for (let i = 0; i < 100; i++) r.acquire(h, i);
    for (let i = 0; i < 100; i++) r.release();
    expect(granted).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
