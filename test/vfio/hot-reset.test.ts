/**
 * VFIO_DEVICE_PCI_HOT_RESET of a dev_set [kernel.md §c.4]: a three-function device (gpu0, gpu1,
 * gpu2 at slot 0 of one bus under a root port; gpu2 bound to vfio-pci but never opened) and nic0
 * under a second root port. gpu0 and gpu1 each export BAR1, mapped by nic0, which unmaps 8 µs
 * after an invalidate.
 */
import { describe, expect, it } from "vitest";
import { us } from "../../src/fabric/time.js";
import { hostBridge, leaf, rootPort } from "../../src/pci/builders.js";
import type { TopologySpec } from "../../src/pci/topology-spec.js";
import { type HotResetOptions, vfioPciHotReset } from "../../src/vfio/hot-reset.js";
import type { VfioMutant } from "../../src/vfio/profiles.js";
import type { VfioOp } from "../../src/vfio/vfio-op.js";
import { brief, exportFd, fn, lateImporter, vfioWorld } from "./world.js";

const gpuFunction = (name: string, fnNumber: number) => ({ ...leaf("gpu", name), slot: 0, function: fnNumber });
const SPEC: TopologySpec = {
  name: "multi-function gpu",
  platform: { cpuVendor: "intel", cpuFamily: 6, cpuModel: 106 },
  iommu: "off",
  hostBridges: [
    hostBridge("hb0", 0, [
      { ...rootPort(gpuFunction("gpu0", 0)), children: [gpuFunction("gpu0", 0), gpuFunction("gpu1", 1), gpuFunction("gpu2", 2)] },
      rootPort(leaf("nic", "nic0")),
    ]),
  ],
};

/** The world; `busyAtUs` starts a PM write of D3hot on gpu1 at that time (it holds gpu1's memory_lock for the revoke and the 10 ms transition). */
function run(options: { mutants?: VfioMutant[]; reset?: HotResetOptions; busyAtUs?: number } = {}) {
  const w = vfioWorld(SPEC);
  const settings = { resetDurationPs: us(20), mutants: options.mutants ?? [] };
  const devices = ["gpu0", "gpu1", "gpu2"].map((name) => w.device(name, settings));
  const [gpu0, gpu1] = devices as [(typeof devices)[0], (typeof devices)[0]];
  gpu0.open();
  gpu1.open();
  const exports = [gpu0, gpu1].map((d) => exportFd(d));
  const importers = exports.map((e) => lateImporter(w.engine, e.buf, fn(w.topology, "nic0"), us(8)));
  const start = w.trace.events.length;
  if (options.busyAtUs !== undefined) w.engine.scheduleAt(us(options.busyAtUs), () => void gpu1.writePowerState("D3hot"));
  let op: VfioOp | undefined;
  w.engine.scheduleAt(us(2), () => {
    op = vfioPciHotReset(devices, options.reset);
  });
  const status = w.engine.runUntilQuiet({ eventsMax: 10_000 }).status;
  return {
    status,
    result: op?.result,
    trace: brief(w.trace.events.slice(start)).filter(([, what]) => !what.startsWith("dmabuf/")),
    revoked: exports.map((e) => e.priv.revoked),
    remap: importers.map((i) => i.map().ok),
    locksFree: devices.map((d) => d.memoryLock.free),
  };
}

describe("hot reset of a dev_set", () => {
  it("success: lock and revoke each device in order, reset the whole bus, restore opened devices in reverse; gpu2 (never opened) untouched (E9)", () => {
    expect(run()).toEqual({
      status: "quiet",
      result: { ok: true, value: undefined },
      trace: [
        [2, "vfio/hot-reset.begin"],
        [2, "vfio/revoke gpu0 gpu0/bar1#0"],
        [10, "vfio/revoke.done gpu0 gpu0/bar1#0"],
        [10, "vfio/revoke gpu1 gpu1/bar1#0"],
        [18, "vfio/revoke.done gpu1 gpu1/bar1#0"],
        [18, "vfio/reset.begin gpu0 bus"],
        [18, "vfio/reset.begin gpu1 bus"],
        [18, "vfio/reset.begin gpu2 bus"],
        [38, "vfio/reset.end gpu0 bus"],
        [38, "vfio/reset.end gpu1 bus"],
        [38, "vfio/reset.end gpu2 bus"],
        [38, "vfio/restore gpu1 gpu1/bar1#0"],
        [38, "vfio/restore gpu0 gpu0/bar1#0"],
        [38, "vfio/hot-reset.done"],
      ],
      revoked: [false, false],
      remap: [true, true],
      locksFree: [true, true, true],
    });
  });

  it("contention: gpu1's memory_lock is held by a PM write, so the reset unwinds with -EBUSY and gpu0 is restored in the undo loop", () => {
    const outcome = run({ busyAtUs: 1 });
    expect(outcome.result).toEqual({ ok: false, errno: "EBUSY" });
    expect(outcome.trace.slice(0, 6)).toEqual([
      [1, "vfio/revoke gpu1 gpu1/bar1#0"],
      [2, "vfio/hot-reset.begin"],
      [2, "vfio/revoke gpu0 gpu0/bar1#0"],
      [9, "vfio/revoke.done gpu1 gpu1/bar1#0"],
      [9, "vfio/power.set gpu1 D3hot"],
      [10, "vfio/revoke.done gpu0 gpu0/bar1#0"],
    ]);
    expect(outcome.trace.slice(6)).toEqual([
      [10, "vfio/memory_lock.trylock.failed gpu1"],
      [10, "vfio/restore gpu0 gpu0/bar1#0"],
      [10, "vfio/hot-reset.done EBUSY"],
    ]);
    expect([outcome.revoked, outcome.remap, outcome.locksFree]).toEqual([
      [false, true],
      [true, false],
      [true, true, true],
    ]);
  });

  it("a failed bus reset restores every opened device in the undo loop, and nothing was reset", () => {
    const outcome = run({ reset: { busResetFails: "EAGAIN" } });
    expect(outcome.result).toEqual({ ok: false, errno: "EAGAIN" });
    expect(outcome.trace.slice(-3)).toEqual([
      [18, "vfio/restore gpu1 gpu1/bar1#0"],
      [18, "vfio/restore gpu0 gpu0/bar1#0"],
      [18, "vfio/hot-reset.done EAGAIN"],
    ]);
    expect(outcome.trace.some(([, what]) => what.startsWith("vfio/reset."))).toBe(false);
    expect(outcome.revoked).toEqual([false, false]);
  });

  it("E8: restore only after a successful reset, so both error paths leave exports revoked with memory enabled (L4)", () => {
    expect(run({ mutants: ["E8"] }).revoked).toEqual([false, false]);
    const contention = run({ mutants: ["E8"], busyAtUs: 1 });
    // gpu1 is revoked by its own D3hot in every case; gpu0's memory stays enabled, yet it stays revoked.
    expect([contention.result, contention.revoked, contention.remap]).toEqual([{ ok: false, errno: "EBUSY" }, [true, true], [false, false]]);
    const failed = run({ mutants: ["E8"], reset: { busResetFails: "EAGAIN" } });
    expect([failed.result, failed.revoked, failed.remap]).toEqual([{ ok: false, errno: "EAGAIN" }, [true, true], [false, false]]);
  });
});
