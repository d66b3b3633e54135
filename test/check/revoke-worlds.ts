/**
 * The worlds of the revoke monitors' tests, with every revoke monitor watching from the first
 * event: the RDMA-write world with a MEM clear mid-stream (test/rdma/nic-revoke-support.ts), and
 * the vfio world (gpu0 with BAR1 exported, nic0 unmapping 8 µs after an invalidate) running a
 * script of triggers.
 */
import type { Monitor } from "../../src/check/monitor.js";
import { us } from "../../src/fabric/time.js";
import type { VfioOptions } from "../../src/vfio/profiles.js";
import type { VfioPciDevice } from "../../src/vfio/vfio-pci-device.js";
import { type Moment, memOff, type StreamShape, scenario } from "../rdma/nic-revoke-support.js";
import type { NicWorldOptions } from "../rdma/nic-world.js";
import { exportFd, fn, lateImporter, vfioWorld } from "../vfio/world.js";
import { built, watch } from "./revoke-support.js";

/** The RDMA-write world, MEM cleared 1 ps after `moment`, run until quiet; the violations of `monitors`, end included. */
export function rdmaRun(monitors: readonly Monitor[], options: NicWorldOptions, moment: Moment, shape: StreamShape = { depth: 1 }) {
  const { world: s, setup } = built(
    () => scenario(options, moment, memOff, shape),
    (s) => s.w.engine.trace,
  );
  const watching = watch(s.w.engine.trace, monitors, setup);
  const status = s.w.run();
  return { status, violations: watching.end(s.w.engine.nowPs), s };
}

/** A step of a vfio script: at `atUs`, do something to gpu0. */
export type Step = readonly [atUs: number, (gpu0: VfioPciDevice) => unknown];

/** gpu0 open, BAR1 exported, nic0 mapped (unmaps 8 µs after an invalidate); resets 20 µs, D-state changes 10 µs; `steps` run; the violations, end included. */
export function vfioRun(monitors: readonly Monitor[], options: VfioOptions, steps: readonly Step[]) {
  const w = vfioWorld();
  const gpu0 = w.device("gpu0", { resetDurationPs: us(20), powerTransitionPs: us(10), ...options });
  const watching = watch(w.engine.trace, monitors);
  gpu0.open();
  const { buf, priv } = exportFd(gpu0);
  const importer = lateImporter(w.engine, buf, fn(w.topology, "nic0"), us(8));
  for (const [atUs, step] of steps) w.engine.scheduleAt(us(atUs), () => void step(gpu0));
  const status = w.engine.runUntilQuiet({ eventsMax: 10_000 }).status;
  return { status, violations: watching.end(w.engine.nowPs), w, gpu0, buf, priv, importer };
}

/** Every trigger of §c.4 once, each undone: MEM clear and set, D3hot and D0, FLR, reset, low power in and out, then close. */
export const EVERY_TRIGGER: readonly Step[] = [
  [1, (d) => d.writeCommandMemory(false)],
  [100, (d) => d.writeCommandMemory(true)],
  [200, (d) => d.writePowerState("D3hot")],
  [300, (d) => d.writePowerState("D0")],
  [400, (d) => d.writeDevCtlFlr()],
  [500, (d) => d.deviceReset()],
  [600, (d) => d.lowPowerEntry()],
  [700, (d) => d.lowPowerExit()],
  [800, (d) => d.close()],
];
