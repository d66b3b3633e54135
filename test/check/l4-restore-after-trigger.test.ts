// Goal: L4 stays silent over every trigger of §c.4 (each undone, both profiles) and over hot resets
// on all three exit paths, and fires for E6 (FLR re-revokes) and E8 (hot reset restores only on
// success) with the export, its revoke, the hardware change and the unlock in the chain.
import { describe, expect, it } from "vitest";
import { createL4Monitor } from "../../src/check/l4-restore-after-trigger.js";
import { us } from "../../src/fabric/time.js";
import { hostBridge, leaf, rootPort } from "../../src/pci/builders.js";
import type { TopologySpec } from "../../src/pci/topology-spec.js";
import { type HotResetOptions, vfioPciHotReset } from "../../src/vfio/hot-reset.js";
import type { VfioMutant } from "../../src/vfio/profiles.js";
import { exportFd, fn, lateImporter, vfioWorld } from "../vfio/world.js";
import { feed, handWritten, row, watch } from "./revoke-support.js";
import { EVERY_TRIGGER, vfioRun } from "./revoke-worlds.js";

const LEFT_REVOKED =
  "gpu0 gpu0/bar1#0: left revoked when memory_lock was released although memory is enabled and the device is open (no restore on this exit path) [kernel.md §c.4]";

describe("L4 on one device", () => {
  it("is silent over every trigger, under both profiles", () => {
    for (const profile of ["vfio-dmabuf-wait", "vfio-dmabuf-initial"] as const) {
      expect(vfioRun([createL4Monitor()], { profile }, EVERY_TRIGGER).violations.map(row)).toEqual([]);
    }
  });

  it("fires for E6: after the FLR the export is left revoked with memory enabled", () => {
    const run = vfioRun([createL4Monitor()], { mutants: ["E6"] }, [[1, (d) => d.writeDevCtlFlr()]]);
    expect(run.violations.map(row)).toEqual([
      [
        "L4",
        LEFT_REVOKED,
        "vfio/memory_lock.up_write",
        [
          "vfio/export",
          "vfio/memory_lock.down_write",
          "vfio/revoke",
          "dmabuf/revoke.marked",
          "vfio/reset.begin",
          "vfio/reset.end",
          "vfio/memory_lock.up_write",
        ],
      ],
    ]);
  });
});

const gpuFunction = (name: string, fnNumber: number) => ({ ...leaf("gpu", name), slot: 0, function: fnNumber });
/** gpu0, gpu1, gpu2 (never opened): three functions of one device on one bus, as test/vfio/hot-reset.test.ts. */
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

/** A hot reset of the dev_set at 2 µs; `busyAtUs`: gpu1's D3hot write holds its memory_lock then (contention). */
function hotReset(mutants: VfioMutant[], reset: HotResetOptions = {}, busyAtUs?: number) {
  const w = vfioWorld(SPEC);
  const watching = watch(w.engine.trace, [createL4Monitor()]);
  const devices = ["gpu0", "gpu1", "gpu2"].map((name) => w.device(name, { resetDurationPs: us(20), mutants }));
  const [gpu0, gpu1] = devices as [(typeof devices)[0], (typeof devices)[0]];
  gpu0.open();
  gpu1.open();
  for (const d of [gpu0, gpu1]) lateImporter(w.engine, exportFd(d).buf, fn(w.topology, "nic0"), us(8));
  if (busyAtUs !== undefined) w.engine.scheduleAt(us(busyAtUs), () => void gpu1.writePowerState("D3hot"));
  w.engine.scheduleAt(us(2), () => void vfioPciHotReset(devices, reset));
  w.engine.runUntilQuiet({ eventsMax: 10_000 });
  return watching.end(w.engine.nowPs).map(row);
}

describe("L4 over a hot reset", () => {
  it("is silent on success, contention and a failed bus reset; E8 fires on both error paths only", () => {
    const paths: Array<[string, HotResetOptions, number | undefined]> = [
      ["success", {}, undefined],
      ["contention", {}, 1],
      ["bus reset fails", { busResetFails: "EAGAIN" }, undefined],
    ];
    const outcomes = paths.flatMap(([path, reset, busy]) => [
      [path, "correct", hotReset([], reset, busy)],
      [path, "E8", hotReset(["E8"], reset, busy).map(([id, message, event, chain]) => [id, message, event, chain.at(-2)])],
    ]);
    expect(outcomes).toEqual([
      ["success", "correct", []],
      ["success", "E8", []],
      ["contention", "correct", []],
      ["contention", "E8", [["L4", LEFT_REVOKED, "vfio/memory_lock.up_write", "dmabuf/revoke.marked"]]],
      ["bus reset fails", "correct", []],
      ["bus reset fails", "E8", [["L4", LEFT_REVOKED, "vfio/memory_lock.up_write", "dmabuf/revoke.marked"]]],
    ]);
  });
});

describe("L4's state", () => {
  it("a restore without memory is flagged too (the 'only if' half); a hold without trigger events is not checked", () => {
    const ev = handWritten();
    const lock = (t: number) => ev(t, "vfio/memory_lock.down_write", { device: "gpu0", holder: "h" });
    const unlock = (t: number) => ev(t, "vfio/memory_lock.up_write", { device: "gpu0", holder: "h" });
    const buf = { device: "gpu0", buf: "gpu0/bar1#0" };
    const events = [
      ev(0, "vfio/export", { ...buf, bar: 1, revoked: false, memoryEnabled: true }),
      lock(1),
      ev(1, "vfio/revoke", buf),
      ev(1, "dmabuf/revoke.marked", { buf: buf.buf }),
      ev(1, "vfio/command.write", { device: "gpu0", memory: false }),
      unlock(1),
      lock(2),
      unlock(2),
      lock(3),
      ev(3, "vfio/restore", buf),
      unlock(3),
    ];
    expect(feed(createL4Monitor(), events)).toEqual([
      [
        "L4",
        "gpu0 gpu0/bar1#0: usable when memory_lock was released although memory is disabled (restored without memory, or never revoked) [kernel.md §c.4]",
        "vfio/memory_lock.up_write",
        ["vfio/export", "vfio/revoke", "vfio/memory_lock.down_write", "vfio/restore", "vfio/memory_lock.up_write"],
      ],
    ]);
  });
});
