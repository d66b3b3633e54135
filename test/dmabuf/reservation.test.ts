import { describe, expect, it } from "vitest";
import { DMA_RESV_USAGES, DmaFence, DmaResv, type DmaResvUsage } from "../../src/dmabuf/reservation.js";
import { Engine } from "../../src/fabric/engine.js";
import { sleep } from "../../src/fabric/process.js";
import { TraceRecorder } from "../../src/fabric/recorder.js";
import { ns } from "../../src/fabric/time.js";

function setup() {
  const engine = new Engine({ seed: 1, verify: true });
  const trace = new TraceRecorder().attach(engine.trace);
  return { engine, trace, resv: new DmaResv(engine, "b") };
}

describe("the reservation lock, as asserted state", () => {
  it("each misuse throws with a message that names it", () => {
    // Each row: the holder before the call (or none), the call, and what the assertion says.
    const rows: Array<[string, string | undefined, (resv: DmaResv) => void, string]> = [
      ["lock twice", "a", (r) => r.lock("a"), "a locks the resv of b, held by a"],
      ["lock held by another", "a", (r) => r.lock("c"), "c locks the resv of b, held by a"],
      ["unlock free", undefined, (r) => r.unlock("a"), "a unlocks the resv of b, held by nobody"],
      ["unlock by another", "a", (r) => r.unlock("c"), "c unlocks the resv of b, held by a"],
      ["assertHeld when free", undefined, (r) => r.assertHeld(), "the resv of b must be held"],
      ["assertHeld(c) held by a", "a", (r) => r.assertHeld("c"), "must be held by c, not a"],
      ["assertNotHeld held", "a", (r) => r.assertNotHeld(), "must not be held (held by a)"],
      ["assertNotHeld(a) held by a", "a", (r) => r.assertNotHeld("a"), "a must not hold the resv of b here"],
      ["addFence unlocked", undefined, (r) => r.addFence(new DmaFence(new Engine({ seed: 1 }), "f"), "read"), "the resv of b must be held"],
    ];
    for (const [label, holder, misuse, message] of rows) {
      const { resv } = setup();
      if (holder !== undefined) resv.lock(holder);
      expect(() => misuse(resv), label).toThrow(message);
    }
  });

  it("allowed uses pass: held by the named holder, not held by another", () => {
    const { resv, trace } = setup();
    resv.assertNotHeld();
    resv.lock("a");
    resv.assertHeld();
    resv.assertHeld("a");
    resv.assertNotHeld("c");
    resv.unlock("a");
    expect(trace.tuples()).toEqual([
      [0, "dmabuf/resv.lock", { buf: "b", holder: "a" }],
      [0, "dmabuf/resv.unlock", { buf: "b", holder: "a" }],
    ]);
  });

  it("processes acquire it in FIFO order, handed over at unlock", () => {
    const { engine, resv } = setup();
    const log: Array<[number, string]> = [];
    for (const [name, holdNs] of [
      ["a", 5],
      ["b", 3],
      ["c", 1],
    ] as const) {
      engine.spawn(name, function* () {
        yield resv.acquire(name);
        log.push([engine.nowPs, `${name} holds`]);
        yield sleep(ns(holdNs));
        resv.unlock(name);
      });
    }
    engine.run();
    expect(log).toEqual([
      [0, "a holds"],
      [ns(5), "b holds"],
      [ns(8), "c holds"],
    ]);
    expect(resv.holder).toBeUndefined();
  });
});

describe("fences", () => {
  it("a wait for each usage covers that usage and every usage before it", () => {
    const { engine, resv } = setup();
    resv.lock("x");
    for (const usage of DMA_RESV_USAGES) resv.addFence(new DmaFence(engine, usage), usage);
    const table = Object.fromEntries(DMA_RESV_USAGES.map((usage) => [usage, resv.fences(usage).map((f) => f.name)]));
    expect(table).toEqual({
      kernel: ["kernel"],
      write: ["kernel", "write"],
      read: ["kernel", "write", "read"],
      bookkeep: ["kernel", "write", "read", "bookkeep"],
    });
  });

  it("waiters resume when the last fence of their usage signals, at that simulated time", () => {
    const { engine, resv, trace } = setup();
    resv.lock("exporter");
    resv.addFence(new DmaFence(engine, "copy").signalAt(ns(3)), "kernel");
    resv.addFence(new DmaFence(engine, "rdma").signalAt(ns(7)), "bookkeep");
    resv.unlock("exporter");
    const woke: Array<[DmaResvUsage, number]> = [];
    for (const usage of ["bookkeep", "write"] as const) {
      engine.spawn(`wait ${usage}`, function* () {
        yield resv.wait(usage);
        woke.push([usage, engine.nowPs]);
      });
    }
    engine.run();
    expect(woke).toEqual([
      ["write", ns(3)],
      ["bookkeep", ns(7)],
    ]);
    expect(trace.tuples().filter(([, kind]) => kind.startsWith("dmabuf/fence"))).toEqual([
      [0, "dmabuf/fence.add", { buf: "b", fence: "copy", usage: "kernel" }],
      [0, "dmabuf/fence.add", { buf: "b", fence: "rdma", usage: "bookkeep" }],
      [ns(3), "dmabuf/fence.signal", { fence: "copy" }],
      [ns(7), "dmabuf/fence.signal", { fence: "rdma" }],
    ]);
    expect(resv.testSignaled("bookkeep")).toBe(true);
  });

  it("a wait with every fence signaled resumes at once; a second signal and a double add throw", () => {
    const { engine, resv } = setup();
    const fence = new DmaFence(engine, "f");
    fence.signal();
    resv.lock("x");
    resv.addFence(fence, "read");
    expect(() => resv.addFence(fence, "read")).toThrow("fence f added twice to b");
    expect(() => fence.signal()).toThrow("fence f signaled twice");
    let resumedAt = -1;
    engine.spawn("w", function* () {
      yield resv.wait("bookkeep");
      resumedAt = engine.nowPs;
    });
    engine.run();
    expect(resumedAt).toBe(0);
    expect(fence.signaledAtPs).toBe(0);
  });
});
