import { describe, expect, it } from "vitest";
import { createI4Monitor } from "../../src/check/i4-attach-revocable.js";
import { IB_ACCESS, ibUmemContext } from "../../src/rdma/umem.js";
import { ibUmemDmabufGetPinned } from "../../src/rdma/umem-dmabuf.js";
import { UserMm } from "../../src/rdma/user-mm.js";
import type { VfioProfile } from "../../src/vfio/profiles.js";
import { exportFd, fn } from "../vfio/world.js";
import { correctRun, ev, feed, monitoredWorld, summary } from "./export-world.js";

const BUF = "gpu0/bar1#0";

/** gpu0 exports BAR1 under `profile`; nic0 takes it as a pinned (non-revocable) RDMA umem. */
function pinnedUmem(profile: VfioProfile) {
  const w = monitoredWorld([createI4Monitor()]);
  const gpu0 = w.device("gpu0", { profile });
  gpu0.open();
  const { buf } = exportFd(gpu0);
  const ctx = ibUmemContext({ engine: w.engine, mm: new UserMm() });
  const got = ibUmemDmabufGetPinned(ctx, { device: fn(w.topology, "nic0"), dmabuf: buf, offset: 0, size: 8192, access: IB_ACCESS.LOCAL_WRITE });
  return { got: got.ok ? "ok" : got.errno, violations: w.violations.map(summary) };
}

describe("I4: only P2P-capable, revocable importers attach; never while revoked", () => {
  it("is silent over the correct model under both profiles (revocable importer, revoke, restore, FLR, close)", () => {
    expect(correctRun([createI4Monitor()]).violations).toEqual([]);
    expect(correctRun([createI4Monitor()], { profile: "vfio-dmabuf-initial" }).violations).toEqual([]);
  });

  it("the newest exporter refuses a pinned umem; vfio-dmabuf-initial accepts it and I4 fires at the attach (E17)", () => {
    expect(pinnedUmem("vfio-dmabuf-wait")).toEqual({ got: "EOPNOTSUPP", violations: [] });
    expect(pinnedUmem("vfio-dmabuf-initial")).toEqual({
      got: "ok",
      violations: [
        {
          invariant: "I4",
          message: `gpu0 ${BUF}: nic0 attachment 0 was accepted although the importer has no invalidate callback, so it is not revocable and could block a revoke forever (must be -EOPNOTSUPP; E17) [kernel.md §c.3, §b.3]`,
          event: "dmabuf/attach",
          chain: ["vfio/export", "dmabuf/attach"],
        },
      ],
    });
  });

  /** A VFIO export of gpu0, then `tail`; the attach fields default to a good importer. */
  const run = (tail: ReturnType<typeof ev>[]) =>
    feed(createI4Monitor(), [
      ev("vfio", "registration.get", { device: "gpu0", refs: 2 }),
      ev("dmabuf", "export", { buf: BUF, size: 4096, dynamic: false }),
      ev("vfio", "export", { device: "gpu0", buf: BUF, bar: 1, size: 4096, fd: 3, revoked: false, memoryEnabled: true }),
      ...tail,
    ]).map(summary);
  const attach = (fields: object = {}) => ev("dmabuf", "attach", { buf: BUF, attach: 0, importer: "nic0", peer2peer: true, revocable: true, ...fields });

  it("hand-written: attach while revoked (revoke.marked, cleanup section) fires; after restore it is fine; other exporters' buffers are ignored", () => {
    const revoked = run([ev("dmabuf", "revoke.marked", { buf: BUF }), attach()]);
    expect(revoked).toEqual([
      {
        invariant: "I4",
        message: `gpu0 ${BUF}: nic0 attachment 0 was accepted while the export is revoked (must be -ENODEV) [kernel.md §c.3]`,
        event: "dmabuf/attach",
        chain: ["vfio/export", "dmabuf/revoke.marked", "dmabuf/attach"],
      },
    ]);
    expect(run([ev("dmabuf", "revoke.marked", { buf: BUF }), ev("vfio", "restore", { device: "gpu0", buf: BUF }), attach()])).toEqual([]);
    const closed = run([
      ev("vfio", "cleanup", { device: "gpu0", buf: BUF }),
      attach(),
      ev("dmabuf", "resv.lock", { buf: BUF, holder: "gpu0:close" }),
      attach({ attach: 1 }),
    ]);
    expect(closed.map((v) => [v?.message.slice(0, 40), v?.chain])).toEqual([
      [`gpu0 ${BUF}: nic0 attachment 1 was `, ["vfio/export", "vfio/cleanup", "dmabuf/attach"]],
    ]);
    expect(run([attach({ peer2peer: false })]).map((v) => v?.message)).toEqual([
      `gpu0 ${BUF}: nic0 attachment 0 was accepted although the importer is not peer-to-peer capable (must be -EOPNOTSUPP) [kernel.md §c.3]`,
    ]);
    expect(feed(createI4Monitor(), [ev("dmabuf", "export", { buf: "other" }), attach({ buf: "other", revocable: false })])).toEqual([]);
  });
});
