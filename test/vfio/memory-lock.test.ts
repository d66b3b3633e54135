import { describe, expect, it } from "vitest";
import { Engine } from "../../src/fabric/engine.js";
import { sleep } from "../../src/fabric/process.js";
import { TraceRecorder } from "../../src/fabric/recorder.js";
import { MemoryLock } from "../../src/vfio/memory-lock.js";
import { exportFd, vfioWorld } from "./world.js";

function lockWorld(resvHolders: string[] = []) {
  const engine = new Engine({ seed: 1 });
  const trace = new TraceRecorder().attach(engine.trace);
  return { engine, trace, lock: new MemoryLock(engine, "gpu0", (holder) => resvHolders.includes(holder)) };
}

describe("memory_lock", () => {
  it("serves waiters in FIFO order, readers at the head together, a writer alone; trylock fails on any holder or waiter", () => {
    const { engine, trace, lock } = lockWorld();
    const hold = (holder: string, mode: "read" | "write", forPs: number) =>
      engine.spawn(holder, function* () {
        yield mode === "write" ? lock.downWrite(holder) : lock.downRead(holder);
        yield sleep(forPs);
        if (mode === "write") lock.upWrite(holder);
        else lock.upRead(holder);
      });
    hold("w1", "write", 10);
    hold("r1", "read", 5);
    hold("r2", "read", 5);
    hold("w2", "write", 1);
    engine.runUntil(1);
    expect(lock.downWriteTrylock("hot-reset")).toBe(false);
    engine.run();
    expect(lock.downWriteTrylock("hot-reset")).toBe(true);
    expect(
      trace
        .tuples()
        .filter(([, kind]) => kind.startsWith("vfio/"))
        .map(([t, kind, f]) => `${t} ${kind.slice("vfio/memory_lock.".length)} ${f.holder}`),
    ).toEqual([
      "0 down_write w1",
      "1 trylock.failed hot-reset",
      "10 up_write w1",
      "10 down_read r1",
      "10 down_read r2",
      "15 up_read r1",
      "15 up_read r2",
      "15 down_write w2",
      "16 up_write w2",
      "16 down_write hot-reset",
    ]);
  });

  it("asserts its state: synchronous take of a held lock, release by a non-holder, and the order memory_lock before resv (I13)", () => {
    const { lock } = lockWorld(["nic0"]);
    lock.downWriteNow("a");
    expect(() => lock.downWriteNow("b")).toThrow(/synchronously/);
    expect(() => lock.upWrite("b")).toThrow(/releases memory_lock/);
    expect(() => lock.downWriteTrylock("nic0")).toThrow(/lock order/);
    lock.assertWriteHeld("a");
    expect(() => lock.assertWriteHeld("b")).toThrow(/must be held by b/);
  });

  it("a device's exports feed the order check: the holder of an export's resv may not take the device's memory_lock", () => {
    const w = vfioWorld();
    const gpu0 = w.device("gpu0");
    gpu0.open();
    const { buf } = exportFd(gpu0);
    buf.resv.lock("importer");
    expect(() => gpu0.memoryLock.downWriteNow("importer")).toThrow(/I13/);
  });
});
