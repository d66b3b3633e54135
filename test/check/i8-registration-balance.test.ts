import { describe, expect, it } from "vitest";
import { createI8Monitor } from "../../src/check/i8-registration-balance.js";
import type { VfioMutant } from "../../src/vfio/profiles.js";
import { exportBytes, exportFd } from "../vfio/world.js";
import { correctRun, ev, feed, monitoredWorld, summary } from "./export-world.js";

/** One fd allowed: gpu0's first export takes it, the second fails in dma_buf_fd (EMFILE); then the first fd is closed. */
function fdExhaustion(mutants: VfioMutant[]) {
  const w = monitoredWorld([createI8Monitor()], 1);
  const gpu0 = w.device("gpu0", { mutants });
  gpu0.open();
  const first = exportFd(gpu0);
  const failed = gpu0.deviceFeature(exportBytes(3));
  w.fdTable.close(first.fd);
  return { failed, refs: gpu0.registrationRefs, violations: w.violations.map(summary) };
}

describe("I8: one registration reference per export, put exactly once; priv freed once", () => {
  it("is silent over the correct model: release, close, and the fd failure's single unwind", () => {
    expect(correctRun([createI8Monitor()]).violations).toEqual([]);
    expect(fdExhaustion([])).toEqual({ failed: { ok: false, errno: "EMFILE" }, refs: 1, violations: [] });
  });

  it("E10: the fd failure also falls through the unwind: the second put fires", () => {
    expect(fdExhaustion(["E10"])).toEqual({
      failed: { ok: false, errno: "EMFILE" },
      refs: 0,
      violations: [
        {
          invariant: "I8",
          message:
            "gpu0: registration put with no export left to release (the last export, gpu0/bar3#1, was already put at its release.unlink); refs 1: an unbalanced put (E10) [kernel.md §c.3]",
          event: "vfio/registration.put",
          chain: ["vfio/registration.get", "vfio/export.failed", "vfio/release.unlink", "vfio/registration.put", "vfio/registration.put"],
        },
      ],
    });
  });

  it("hand-written: a double free alone, a release after close, an export with no registration reference", () => {
    const get = ev("vfio", "registration.get", { device: "gpu0", refs: 2 });
    const exported = ev("dmabuf", "export", { buf: "b" });
    const freeTwice = feed(createI8Monitor(), [
      get,
      exported,
      ev("vfio", "priv.free", { buf: "b", frees: 1 }),
      ev("vfio", "priv.free", { buf: "b", frees: 1 }),
    ]);
    expect(freeTwice.map(summary)).toEqual([
      {
        invariant: "I8",
        message: "b: private object freed a second time (double free, E10) [kernel.md §c.3]",
        event: "vfio/priv.free",
        chain: ["vfio/registration.get", "vfio/priv.free", "vfio/priv.free"],
      },
    ]);
    const twice = feed(createI8Monitor(), [
      get,
      exported,
      ev("vfio", "cleanup", { device: "gpu0", buf: "b" }),
      ev("vfio", "registration.put", { device: "gpu0", refs: 1 }),
      ev("vfio", "release.unlink", { device: "gpu0", buf: "b" }),
    ]);
    expect(twice.map((v) => [v.message, summary(v)?.chain])).toEqual([
      [
        "gpu0 b is dropped from its device twice (cleanup, then release.unlink): its registration reference would be put twice [kernel.md §c.3]",
        ["vfio/registration.get", "vfio/cleanup", "vfio/registration.put", "vfio/release.unlink"],
      ],
    ]);
    expect(feed(createI8Monitor(), [ev("dmabuf", "export", { buf: "c" }), ev("vfio", "export", { device: "gpu0", buf: "c" })]).map((v) => v.message)).toEqual([
      "gpu0 c was exported without taking a registration reference [kernel.md §c.3]",
    ]);
  });
});
