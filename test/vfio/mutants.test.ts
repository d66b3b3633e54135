/**
 * Profiles and mutants of the revoke path: each test runs the default and the named behaviour side
 * by side and shows the invariant the bug breaks, in the trace or the counters. Also: the BAR
 * answers UR while MEM is off or the function is in reset [kernel.md §c.6].
 */
import { describe, expect, it } from "vitest";
import { dmaBufAttach } from "../../src/dmabuf/attachment.js";
import type { DmaBuf } from "../../src/dmabuf/dma-buf.js";
import { dmaBufMapAttachment } from "../../src/dmabuf/map.js";
import { us } from "../../src/fabric/time.js";
import { type PathPerfOptions, runPathPerf } from "../../src/pci/path-perf.js";
import { XEON_E5_V3_GEN3X8 } from "../../src/pci/perf-platform.js";
import type { VfioPciDmaBuf } from "../../src/vfio/dmabuf-export.js";
import type { VfioMutant, VfioOptions } from "../../src/vfio/profiles.js";
import type { VfioOp } from "../../src/vfio/vfio-op.js";
import { brief, exportBytes, exportFd, fn, lateImporter, vfioWorld } from "./world.js";

const BUF = "gpu0/bar1#0";

/** gpu0 open, BAR1 exported, nic0 mapped and unmapping 8 µs after an invalidate; resets 20 µs. */
function world(options: VfioOptions) {
  const w = vfioWorld();
  const gpu0 = w.device("gpu0", { resetDurationPs: us(20), powerTransitionPs: us(10), ...options });
  gpu0.open();
  const { buf, priv } = exportFd(gpu0);
  const importer = lateImporter(w.engine, buf, fn(w.topology, "nic0"), us(8));
  return { ...w, gpu0, buf, priv, importer, start: w.trace.events.length };
}

describe("E12 = profile vfio-dmabuf-initial: revoke does not wait", () => {
  it("the MEM clear happens at once, while nic0 still holds its mapping until 9 µs (I1, I2)", () => {
    const run = (options: VfioOptions) => {
      const w = world(options);
      w.engine.scheduleAt(us(1), () => void w.gpu0.writeCommandMemory(false));
      w.engine.runUntilQuiet({ eventsMax: 1000 });
      return brief(w.trace.events.slice(w.start));
    };
    expect(run({})).toEqual([
      [1, `vfio/revoke gpu0 ${BUF}`],
      [1, `dmabuf/invalidate ${BUF}`],
      [9, `dmabuf/unmap ${BUF}`],
      [9, `vfio/revoke.done gpu0 ${BUF}`],
      [9, "vfio/command.write gpu0 off"],
    ]);
    expect(run({ profile: "vfio-dmabuf-initial" })).toEqual([
      [1, `vfio/revoke gpu0 ${BUF}`],
      [1, `dmabuf/invalidate ${BUF}`],
      [1, `vfio/revoke.done gpu0 ${BUF}`],
      [1, "vfio/command.write gpu0 off"],
      [9, `dmabuf/unmap ${BUF}`],
    ]);
  });
});

describe("E6: re-revoke after a config-space FLR", () => {
  it("default restores after the reset; E6 leaves the export revoked although memory is enabled (L4)", () => {
    const run = (mutants: VfioMutant[]) => {
      const w = world({ mutants });
      w.engine.scheduleAt(us(1), () => void w.gpu0.writeDevCtlFlr());
      w.engine.runUntilQuiet({ eventsMax: 1000 });
      return { tail: brief(w.trace.events.slice(w.start)).slice(-3), memory: w.gpu0.memoryEnabled(), revoked: w.priv.revoked, remap: w.importer.map().ok };
    };
    expect(run([])).toEqual({
      tail: [
        [29, "vfio/reset.end gpu0 flr"],
        [29, `dmabuf/invalidate ${BUF}`],
        [29, `vfio/restore gpu0 ${BUF}`],
      ],
      memory: true,
      revoked: false,
      remap: true,
    });
    expect(run(["E6"])).toEqual({
      tail: [
        [9, `vfio/revoke.done gpu0 ${BUF}`],
        [9, "vfio/reset.begin gpu0 flr"],
        [29, "vfio/reset.end gpu0 flr"],
      ],
      memory: true,
      revoked: true,
      remap: false,
    });
  });
});

describe("E7: initial state computed outside memory_lock", () => {
  it("an export racing a MEM clear starts revoked (default) or usable on a disabled BAR (E7, I7)", () => {
    const run = (mutants: VfioMutant[]) => {
      const w = world({ mutants });
      w.engine.scheduleAt(us(1), () => void w.gpu0.writeCommandMemory(false));
      let op: VfioOp<number> | undefined;
      w.engine.scheduleAt(us(2), () => {
        op = w.gpu0.deviceFeatureProcess(exportBytes(3));
      });
      w.engine.runUntilQuiet({ eventsMax: 1000 });
      const exported = w.trace.events.filter((e) => e.kind === "export").at(-1);
      const fd = op?.result?.ok ? op.result.value : -1;
      const buf = w.fdTable.peek(fd) as DmaBuf<VfioPciDmaBuf>;
      const attach = dmaBufAttach(buf, fn(w.topology, "nic0"), { allowPeer2peer: true, invalidateMappings: () => undefined });
      return [exported?.t, exported?.revoked, exported?.memoryEnabled, attach.ok ? "attached" : attach.errno];
    };
    expect(run([])).toEqual([us(9), true, false, "ENODEV"]);
    expect(run(["E7"])).toEqual([us(9), false, false, "attached"]);
  });
});

describe("E13: close after MEM is already disabled", () => {
  it("default close skips the drain and completes; E13 drains again: kref underflow, then a wait that never ends (L1, L2)", () => {
    const run = (mutants: VfioMutant[]) => {
      const w = world({ mutants });
      let close: VfioOp | undefined;
      w.engine.scheduleAt(us(1), () => void w.gpu0.writeCommandMemory(false));
      w.engine.scheduleAt(us(50), () => {
        close = w.gpu0.close();
      });
      const status = w.engine.runUntilQuiet({ eventsMax: 1000 }).status;
      const tail = brief(w.trace.events.slice(w.start)).filter(([t]) => t >= 50);
      return { status, tail, closed: close?.done, stuck: w.engine.processes.liveCount };
    };
    expect(run([])).toEqual({
      status: "quiet",
      tail: [
        [50, "vfio/close.begin gpu0"],
        [50, `vfio/cleanup gpu0 ${BUF}`],
        [50, `dmabuf/invalidate ${BUF}`],
        [50, "vfio/registration.put gpu0"],
        [50, "vfio/close.done gpu0"],
      ],
      closed: true,
      stuck: 0,
    });
    expect(run(["E13"])).toEqual({
      status: "quiet",
      tail: [
        [50, "vfio/close.begin gpu0"],
        [50, `vfio/cleanup gpu0 ${BUF}`],
        [50, `dmabuf/invalidate ${BUF}`],
        [50, `vfio/kref.underflow ${BUF}`],
      ],
      closed: false,
      stuck: 1,
    });
  });
});

describe("the BAR while memory is off (§c.6)", () => {
  const TLP = { mps: 256, mrrs: 512, rcb: 64, rcbChunks: false, addressBits: 64, ecrc: false } as const;
  const perf: PathPerfOptions = { op: "read", sizeBytes: 4096, ops: 4, ideal: false, platform: XEON_E5_V3_GEN3X8, tlp: TLP, workingSetBytes: 1 << 20 };

  it("answers UR after the MEM clear and during an FLR, and completes again once restored", () => {
    const w = world({});
    const reads = () => {
      const outcome = runPathPerf(w.topology, fn(w.topology, "nic0"), { kind: "bar", fn: w.gpu0.fn, barIndex: 1 }, perf);
      if (!outcome.ok) throw new Error(outcome.message);
      return [outcome.result.opsFailed, outcome.result.unsupportedRequests > 0];
    };
    const seen: unknown[] = [];
    w.gpu0.writeCommandMemory(false);
    w.engine.runUntilQuiet({ eventsMax: 1000 });
    seen.push(reads());
    w.gpu0.writeCommandMemory(true);
    w.engine.runUntilQuiet({ eventsMax: 1000 });
    seen.push(reads());
    w.gpu0.writeDevCtlFlr();
    w.engine.runUntil(w.engine.nowPs + us(10));
    seen.push([w.gpu0.fn.inReset, ...reads()]);
    w.engine.runUntilQuiet({ eventsMax: 1000 });
    seen.push(reads(), w.priv.revoked);
    expect(seen).toEqual([[4, true], [0, false], [true, 4, true], [0, false], false]);
    w.buf.resv.lock("t");
    expect(dmaBufMapAttachment(w.importer.attach).ok).toBe(true);
    w.buf.resv.unlock("t");
  });
});
