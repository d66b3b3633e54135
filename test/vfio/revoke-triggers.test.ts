import { describe, expect, it } from "vitest";
import { DmaFence } from "../../src/dmabuf/reservation.js";
import { us } from "../../src/fabric/time.js";
import type { VfioOptions } from "../../src/vfio/profiles.js";
import type { VfioPciDevice } from "../../src/vfio/vfio-pci-device.js";
import { brief, exportFd, fn, lateImporter, vfioWorld } from "./world.js";

const BUF = "gpu0/bar1#0";
const HW_CHANGES = new Set(["command.write", "power.set", "reset.begin", "low-power.entry"]);

/**
 * gpu0 open, BAR1 exported and mapped by nic0 at t = 0; nic0 has an RDMA write in flight (a
 * BOOKKEEP fence signalling at 5 µs) and unmaps 8 µs after an invalidate. Resets last 20 µs, D-state
 * transitions 10 µs. `ops` run at the given µs. A monitor records, at every hardware change that
 * disables memory, whether a non-revoked export or a live mapping still existed (I2).
 */
function scenario(ops: ReadonlyArray<readonly [number, (d: VfioPciDevice) => unknown]>, options: VfioOptions = {}) {
  const w = vfioWorld();
  const gpu0 = w.device("gpu0", { resetDurationPs: us(20), powerTransitionPs: us(10), ...options });
  gpu0.open();
  const { buf, priv } = exportFd(gpu0);
  const importer = lateImporter(w.engine, buf, fn(w.topology, "nic0"), us(8));
  buf.resv.lock("rdma");
  buf.resv.addFence(new DmaFence(w.engine, "rdma-write").signalAt(us(5)), "bookkeep");
  buf.resv.unlock("rdma");
  const i2: string[] = [];
  w.engine.trace.subscribe((e) => {
    const disables = e.kind === "command.write" ? e.memory === false : e.kind === "power.set" ? e.state !== "D0" : true;
    if (e.layer === "vfio" && HW_CHANGES.has(e.kind) && disables && (!priv.revoked || buf.mappingCount > 0)) i2.push(`${e.t / 1e6} ${e.kind}`);
  });
  const start = w.trace.events.length;
  for (const [atUs, op] of ops) w.engine.scheduleAt(us(atUs), () => void op(gpu0));
  const status = w.engine.runUntilQuiet({ eventsMax: 10_000 }).status;
  return { w, gpu0, buf, priv, importer, status, i2, trace: () => brief(w.trace.events.slice(start)), full: () => w.trace.tuples().slice(start) };
}

const REVOKE: Array<[number, string]> = [
  [1, `vfio/revoke gpu0 ${BUF}`],
  [1, `dmabuf/invalidate ${BUF}`],
  [5, "dmabuf/fence.signal"],
  [9, `dmabuf/unmap ${BUF}`],
  [9, `vfio/revoke.done gpu0 ${BUF}`],
];
const restoreAt = (t: number): Array<[number, string]> => [
  [t, `dmabuf/invalidate ${BUF}`],
  [t, `vfio/restore gpu0 ${BUF}`],
];

/** One row per trigger of §c.4: revoke before the hardware change, restore after it only when memory is enabled again. */
const TRIGGER_ROWS: ReadonlyArray<{
  name: string;
  ops: ReadonlyArray<readonly [number, (d: VfioPciDevice) => unknown]>;
  trace: Array<[number, string]>;
  revoked: boolean;
}> = [
  { name: "command write clearing MEM", ops: [[1, (d) => d.writeCommandMemory(false)]], trace: [...REVOKE, [9, "vfio/command.write gpu0 off"]], revoked: true },
  {
    name: "command write clearing MEM, then setting it",
    ops: [
      [1, (d) => d.writeCommandMemory(false)],
      [50, (d) => d.writeCommandMemory(true)],
    ],
    trace: [...REVOKE, [9, "vfio/command.write gpu0 off"], [50, "vfio/command.write gpu0 on"], ...restoreAt(50)],
    revoked: false,
  },
  { name: "PM write to D3hot", ops: [[1, (d) => d.writePowerState("D3hot")]], trace: [...REVOKE, [9, "vfio/power.set gpu0 D3hot"]], revoked: true },
  {
    name: "PM write to D3hot, then to D0 (restored after the 10 µs transition)",
    ops: [
      [1, (d) => d.writePowerState("D3hot")],
      [50, (d) => d.writePowerState("D0")],
    ],
    trace: [...REVOKE, [9, "vfio/power.set gpu0 D3hot"], [60, "vfio/power.set gpu0 D0"], ...restoreAt(60)],
    revoked: false,
  },
  {
    name: "DevCtl FLR write: reset for 20 µs, MEM restored by the config restore, exports restored",
    ops: [[1, (d) => d.writeDevCtlFlr()]],
    trace: [...REVOKE, [9, "vfio/reset.begin gpu0 flr"], [29, "vfio/reset.end gpu0 flr"], ...restoreAt(29)],
    revoked: false,
  },
  {
    name: "DevCtl FLR write with MEM already off: nothing to revoke, no restore",
    ops: [
      [1, (d) => d.writeCommandMemory(false)],
      [50, (d) => d.writeDevCtlFlr()],
    ],
    trace: [...REVOKE, [9, "vfio/command.write gpu0 off"], [50, "vfio/reset.begin gpu0 flr"], [70, "vfio/reset.end gpu0 flr"]],
    revoked: true,
  },
  {
    name: "VFIO_DEVICE_RESET",
    ops: [[1, (d) => d.deviceReset()]],
    trace: [...REVOKE, [9, "vfio/reset.begin gpu0 flr"], [29, "vfio/reset.end gpu0 flr"], ...restoreAt(29)],
    revoked: false,
  },
  {
    name: "low-power entry, then exit",
    ops: [
      [1, (d) => d.lowPowerEntry()],
      [50, (d) => d.lowPowerExit()],
    ],
    trace: [
      ...REVOKE,
      [9, "vfio/low-power.entry gpu0"],
      [9, "vfio/power.set gpu0 D3hot"],
      [60, "vfio/power.set gpu0 D0"],
      [60, "vfio/low-power.exit gpu0"],
      ...restoreAt(60),
    ],
    revoked: false,
  },
  {
    name: "close (permanent)",
    ops: [[1, (d) => d.close()]],
    trace: [
      [1, "vfio/close.begin gpu0"],
      [1, `vfio/cleanup gpu0 ${BUF}`],
      [1, `dmabuf/invalidate ${BUF}`],
      [5, "dmabuf/fence.signal"],
      [9, `dmabuf/unmap ${BUF}`],
      [9, "vfio/registration.put gpu0"],
      [9, "vfio/close.done gpu0"],
    ],
    revoked: true,
  },
];

describe("revoke triggers (§c.4), with a late importer", () => {
  it.each(TRIGGER_ROWS)("$name", ({ ops, trace, revoked }) => {
    const s = scenario(ops);
    expect(s.status).toBe("quiet");
    expect(s.trace()).toEqual(trace);
    expect([s.priv.revoked, s.i2, s.w.engine.processes.liveCount]).toEqual([revoked, [], 0]);
    expect(s.importer.map().ok).toBe(!revoked);
  });

  it("the MEM clear, event by event: memory_lock outer, the resv inner, the write after the last unmap", () => {
    const s = scenario([[1, (d) => d.writeCommandMemory(false)]]);
    const H = "gpu0:command.write";
    expect(s.full()).toEqual([
      [us(1), "fabric/process.spawn", { process: H, pid: 0 }],
      [us(1), "vfio/memory_lock.down_write", { device: "gpu0", holder: H }],
      [us(1), "vfio/revoke", { device: "gpu0", buf: BUF }],
      [us(1), "dmabuf/revoke.begin", { buf: BUF, profile: "vfio-dmabuf-wait" }],
      [us(1), "dmabuf/resv.lock", { buf: BUF, holder: H }],
      [us(1), "dmabuf/revoke.marked", { buf: BUF }],
      [us(1), "dmabuf/invalidate", { buf: BUF, attach: 0, importer: "nic0" }],
      [us(1), "fabric/process.spawn", { process: "nic0 unmap", pid: 1 }],
      [us(5), "dmabuf/fence.signal", { fence: "rdma-write" }],
      [us(5), "dmabuf/revoke.fences-signaled", { buf: BUF }],
      [us(5), "dmabuf/resv.unlock", { buf: BUF, holder: H }],
      [us(9), "dmabuf/resv.lock", { buf: BUF, holder: "0000:05:00.0" }],
      [us(9), "dmabuf/unmap", { buf: BUF, attach: 0, importer: "nic0" }],
      [us(9), "dmabuf/resv.unlock", { buf: BUF, holder: "0000:05:00.0" }],
      [us(9), "fabric/process.exit", { process: "nic0 unmap", pid: 1 }],
      [us(9), "dmabuf/revoke.done", { buf: BUF, profile: "vfio-dmabuf-wait", invalidated: 1 }],
      [us(9), "vfio/revoke.done", { device: "gpu0", buf: BUF }],
      [us(9), "vfio/command.write", { device: "gpu0", memory: false }],
      [us(9), "vfio/memory_lock.up_write", { device: "gpu0", holder: H }],
      [us(9), "fabric/process.exit", { process: H, pid: 0 }],
    ]);
  });

  it("a trigger waits for memory_lock held by another; an FLR write without FLR capability is dropped; a reset is -EINVAL", () => {
    const s = scenario([
      [1, (d) => d.writeCommandMemory(false)],
      [2, (d) => d.writePowerState("D3hot")],
    ]);
    expect(s.trace().slice(5)).toEqual([
      [9, "vfio/command.write gpu0 off"],
      [9, "vfio/power.set gpu0 D3hot"],
    ]);
    const noFlr = vfioWorld();
    (fn(noFlr.topology, "gpu0") as { flr: boolean }).flr = false;
    const gpu0 = noFlr.device("gpu0");
    gpu0.open();
    const [flr, reset] = [gpu0.writeDevCtlFlr(), gpu0.deviceReset()];
    noFlr.engine.runUntilQuiet({ eventsMax: 100 });
    expect([flr.result, reset.result]).toEqual([
      { ok: true, value: undefined },
      { ok: false, errno: "EINVAL" },
    ]);
  });
});
