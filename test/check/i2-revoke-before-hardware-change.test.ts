// Goal: I2 stays silent over every trigger of §c.4 (both profiles, the RDMA world's MEM clear) and
// fires for a hardware change while an export is usable. No model mutant reaches it (E28, the
// trigger without a revoke, is not modelled), so the broken cases are written by hand.
import { describe, expect, it } from "vitest";
import { createI2Monitor } from "../../src/check/i2-revoke-before-hardware-change.js";
import { dataIssued } from "../rdma/nic-revoke-support.js";
import { feed, handWritten, row } from "./revoke-support.js";
import { EVERY_TRIGGER, rdmaRun, vfioRun } from "./revoke-worlds.js";

describe("I2 in the model", () => {
  it("is silent over every trigger under both profiles, and over the RDMA world's MEM clear", () => {
    const runs = [
      vfioRun([createI2Monitor()], {}, EVERY_TRIGGER).violations,
      vfioRun([createI2Monitor()], { profile: "vfio-dmabuf-initial" }, EVERY_TRIGGER).violations,
      rdmaRun([createI2Monitor()], {}, dataIssued(2)).violations,
    ];
    expect(runs.map((v) => v.map(row))).toEqual([[], [], []]);
  });
});

describe("I2 by hand (no mutant reaches it)", () => {
  const ev = handWritten();
  const buf = { device: "gpu0", buf: "gpu0/bar1#0" };
  const lock = (t: number) => ev(t, "vfio/memory_lock.down_write", { device: "gpu0", holder: "gpu0:x" });
  const unlock = (t: number) => ev(t, "vfio/memory_lock.up_write", { device: "gpu0", holder: "gpu0:x" });
  const exported = () => ev(0, "vfio/export", { ...buf, bar: 1, revoked: false, memoryEnabled: true });

  it("flags a MEM clear, a D3hot entry and a reset of a device with a usable export, naming the change", () => {
    const changes: Array<[string, string, Record<string, string | boolean>]> = [
      ["vfio/command.write", "the MEM clear", { device: "gpu0", memory: false }],
      ["vfio/power.set", "the transition to D3hot", { device: "gpu0", state: "D3hot" }],
      ["vfio/reset.begin", "the flr reset", { device: "gpu0", method: "flr" }],
    ];
    const outcomes = changes.map(([kind, what, fields]) => [what, feed(createI2Monitor(), [exported(), lock(1), ev(1, kind, fields)])]);
    expect(outcomes).toEqual(
      changes.map(([kind, what]) => [
        what,
        [
          [
            "I2",
            `gpu0 gpu0/bar1#0: ${what} started while the export was not revoked (revoke must come first, under memory_lock) [kernel.md §c.4]`,
            kind,
            ["vfio/export", "vfio/memory_lock.down_write", kind],
          ],
        ],
      ]),
    );
  });

  it("a restore re-arms it; a MEM set, D1 and an unlinked export are no hardware change to guard", () => {
    const events = [
      exported(),
      lock(1),
      ev(1, "vfio/revoke", buf),
      ev(1, "dmabuf/revoke.marked", { buf: buf.buf }),
      ev(1, "vfio/command.write", { device: "gpu0", memory: false }),
      unlock(1),
      lock(2),
      ev(2, "vfio/command.write", { device: "gpu0", memory: true }),
      ev(2, "vfio/restore", buf),
      ev(2, "vfio/power.set", { device: "gpu0", state: "D1" }),
      unlock(2),
      lock(3),
      ev(3, "vfio/reset.begin", { device: "gpu0", method: "bus" }),
    ];
    expect(feed(createI2Monitor(), events)).toEqual([
      [
        "I2",
        "gpu0 gpu0/bar1#0: the bus reset started while the export was not revoked (revoke must come first, under memory_lock) [kernel.md §c.4]",
        "vfio/reset.begin",
        ["vfio/export", "vfio/restore", "vfio/memory_lock.down_write", "vfio/reset.begin"],
      ],
    ]);
    const unlinked = [exported(), ev(1, "vfio/release.unlink", buf), ev(2, "vfio/reset.begin", { device: "gpu0", method: "flr" })];
    expect(feed(createI2Monitor(), unlinked)).toEqual([]);
  });
});
