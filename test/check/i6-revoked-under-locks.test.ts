import { describe, expect, it } from "vitest";
import { createI6Monitor } from "../../src/check/i6-revoked-under-locks.js";
import { correctRun, ev, feed, summary } from "./export-world.js";

const BUF = "gpu0/bar1#0";
const H = "gpu0:command.write";
const down = (holder = H) => ev("vfio", "memory_lock.down_write", { device: "gpu0", holder });
const up = (holder = H) => ev("vfio", "memory_lock.up_write", { device: "gpu0", holder });
const lock = (holder = H) => ev("dmabuf", "resv.lock", { buf: BUF, holder });
const unlock = (holder = H) => ev("dmabuf", "resv.unlock", { buf: BUF, holder });
/** gpu0's export of BAR1, linked under both locks, then `tail`. */
const run = (tail: ReturnType<typeof ev>[]) =>
  feed(createI6Monitor(), [
    ev("vfio", "registration.get", { device: "gpu0", refs: 2 }),
    ev("dmabuf", "export", { buf: BUF, size: 4096, dynamic: false }),
    down("gpu0:feature"),
    lock("gpu0:feature"),
    unlock("gpu0:feature"),
    up("gpu0:feature"),
    ev("vfio", "export", { device: "gpu0", buf: BUF, revoked: false, memoryEnabled: true }),
    ...tail,
  ]).map(summary);

describe("I6: the revoked flag is written under memory_lock (write) and resv, read under one of them", () => {
  it("is silent over the correct model under both profiles (link, revoke, restore, FLR, close, map reads)", () => {
    expect(correctRun([createI6Monitor()]).violations).toEqual([]);
    expect(correctRun([createI6Monitor()], { profile: "vfio-dmabuf-initial" }).violations).toEqual([]);
  });

  it("hand-written (no model mutant reaches it): each write point without memory_lock, and a map without either lock", () => {
    const revoke = run([lock(), ev("dmabuf", "revoke.marked", { buf: BUF })]);
    expect(revoke).toEqual([
      {
        invariant: "I6",
        message: `gpu0 ${BUF}: revoke sets revoked under the resv held by ${H}, which does not hold memory_lock of gpu0 for write (nobody holds it) [kernel.md §c.4, §c.5]`,
        event: "dmabuf/revoke.marked",
        chain: ["dmabuf/resv.lock", "dmabuf/revoke.marked"],
      },
    ]);
    // The restore's section ran under memory_lock, but the lock was dropped before the restore finished.
    const restore = run([down(), lock(), unlock(), up(), ev("vfio", "restore", { device: "gpu0", buf: BUF })]);
    expect(restore.map((v) => [v?.event, v?.chain])).toEqual([["vfio/restore", ["dmabuf/resv.lock", "vfio/restore"]]]);
    const close = run([down("gpu0:other"), ev("vfio", "cleanup", { device: "gpu0", buf: BUF }), lock("gpu0:close")]);
    expect(close.map((v) => [v?.message, v?.chain])).toEqual([
      [
        `gpu0 ${BUF}: close marks revoked for good under the resv held by gpu0:close, which does not hold memory_lock of gpu0 for write (it is held by gpu0:other) [kernel.md §c.4, §c.5]`,
        ["vfio/memory_lock.down_write", "vfio/cleanup", "dmabuf/resv.lock"],
      ],
    ]);
    expect(run([ev("dmabuf", "map.refused", { buf: BUF, attach: 0, importer: "nic0", errno: "ENODEV" })]).map((v) => v?.message)).toEqual([
      `gpu0 ${BUF}: the map op reads revoked holding neither the resv nor memory_lock [kernel.md §c.3, §c.5]`,
    ]);
  });

  it("the link is a write too; the same sequences under both locks are silent; revoke.marked without the resv fires", () => {
    const unlockedLink = feed(createI6Monitor(), [
      ev("vfio", "registration.get", { device: "gpu0", refs: 2 }),
      ev("dmabuf", "export", { buf: BUF }),
      lock("gpu0:feature"),
    ]).map((v) => v.message);
    expect(unlockedLink).toEqual([
      `gpu0 ${BUF}: the link writes the initial revoked under the resv held by gpu0:feature, which does not hold memory_lock of gpu0 for write (nobody holds it) [kernel.md §c.4, §c.5]`,
    ]);
    expect(
      run([
        down(),
        lock(),
        ev("dmabuf", "revoke.marked", { buf: BUF }),
        unlock(),
        lock(),
        unlock(),
        ev("vfio", "restore", { device: "gpu0", buf: BUF }),
        up(),
        lock("nic0"),
        ev("dmabuf", "map", { buf: BUF }),
        unlock("nic0"),
      ]),
    ).toEqual([]);
    expect(run([down(), ev("dmabuf", "revoke.marked", { buf: BUF })]).map((v) => v?.message)).toEqual([
      `gpu0 ${BUF}: revoke sets revoked without holding the resv [kernel.md §c.3, §c.5]`,
    ]);
  });
});
