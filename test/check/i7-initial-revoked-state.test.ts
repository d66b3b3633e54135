import { describe, expect, it } from "vitest";
import { createI7Monitor } from "../../src/check/i7-initial-revoked-state.js";
import { us } from "../../src/fabric/time.js";
import type { VfioMutant } from "../../src/vfio/profiles.js";
import { exportBytes, exportFd, fn, lateImporter } from "../vfio/world.js";
import { correctRun, ev, feed, monitoredWorld, summary } from "./export-world.js";

/** gpu0 exports BAR1 (nic0 maps it); MEM clear at 1 µs; an export of BAR3 races it at 2 µs. */
function race(mutants: VfioMutant[]) {
  const w = monitoredWorld([createI7Monitor()]);
  const gpu0 = w.device("gpu0", { mutants });
  gpu0.open();
  const { buf } = exportFd(gpu0);
  lateImporter(w.engine, buf, fn(w.topology, "nic0"), us(8));
  w.engine.scheduleAt(us(1), () => void gpu0.writeCommandMemory(false));
  w.engine.scheduleAt(us(2), () => void gpu0.deviceFeatureProcess(exportBytes(3)));
  w.engine.runUntilQuiet({ eventsMax: 1000 });
  return w.violations.map(summary);
}

describe("I7: a new export's revoked state is the memory state at insertion, under memory_lock", () => {
  it("is silent over the correct model (also an export while MEM is off, and the race without E7)", () => {
    expect(correctRun([createI7Monitor()]).violations).toEqual([]);
    const off = monitoredWorld([createI7Monitor()]);
    const gpu0 = off.device("gpu0");
    fn(off.topology, "gpu0").memoryEnabled = false;
    gpu0.open();
    expect(exportFd(gpu0).priv.revoked).toBe(true);
    expect(off.violations).toEqual([]);
    expect(race([])).toEqual([]);
  });

  it("E7: the export racing a MEM clear is inserted usable on a disabled BAR", () => {
    expect(race(["E7"])).toEqual([
      {
        invariant: "I7",
        message:
          "gpu0 gpu0/bar3#1 was inserted with revoked=false while gpu0's memory was disabled: its initial state must be revoked=true (E7) [kernel.md §c.3]",
        event: "vfio/export",
        chain: ["vfio/command.write", "vfio/memory_lock.down_write", "dmabuf/resv.lock", "vfio/export"],
      },
    ]);
  });

  it("hand-written: an insertion outside memory_lock fires even with a consistent state", () => {
    const found = feed(createI7Monitor(), [
      ev("vfio", "open", { device: "gpu0" }),
      ev("vfio", "registration.get", { device: "gpu0", refs: 2 }),
      ev("dmabuf", "export", { buf: "gpu0/bar1#0" }),
      ev("dmabuf", "resv.lock", { buf: "gpu0/bar1#0", holder: "gpu0:feature" }),
      ev("dmabuf", "resv.unlock", { buf: "gpu0/bar1#0", holder: "gpu0:feature" }),
      ev("vfio", "export", { device: "gpu0", buf: "gpu0/bar1#0", revoked: false, memoryEnabled: true }),
    ]).map(summary);
    expect(found).toEqual([
      {
        invariant: "I7",
        message: "gpu0 gpu0/bar1#0 was inserted into the export list under the resv held by gpu0:feature without memory_lock of gpu0 [kernel.md §c.3, §c.5]",
        event: "vfio/export",
        chain: ["vfio/open", "dmabuf/resv.lock", "vfio/export"],
      },
    ]);
  });
});
