// Goal: I5 stays silent in the RDMA world, where the dynamic MR's re-map after the revoke is
// refused ENODEV (mr.fault.failed) and the pinned-revocable CQ umem is revoked for good, and fires
// for a map that succeeds on a revoked export, a refusal with the wrong errno, and a revoked umem
// that maps again. The VFIO map op and the umem both check their revoked flag first, so no model
// mutant reaches it: the broken cases are written by hand.
import { describe, expect, it } from "vitest";
import { createI5Monitor } from "../../src/check/i5-no-map-after-revoke.js";
import { cqeIssued, dataIssued } from "../rdma/nic-revoke-support.js";
import { feed, handWritten, row } from "./revoke-support.js";
import { rdmaRun } from "./revoke-worlds.js";

describe("I5 in the model", () => {
  it("is silent in the RDMA world: the MR's re-map is refused ENODEV, the CQ umem stays revoked", () => {
    const mr = rdmaRun([createI5Monitor()], {}, dataIssued(2));
    const cq = rdmaRun([createI5Monitor()], { cqInBar: true, cqPin: "pinned-revocable" }, cqeIssued(2));
    const refused = mr.s.w.trace.events.filter((e) => e.kind === "map.refused").map((e) => e.errno);
    expect([mr.violations.map(row), refused, cq.violations.map(row)]).toEqual([[], ["ENODEV"], []]);
  });
});

describe("I5 by hand (no mutant reaches it)", () => {
  const ev = handWritten();
  const buf = { device: "gpu0", buf: "gpu0/bar1#0" };
  const attach = { buf: buf.buf, attach: 0, importer: "nic0" };
  const revoked = () => [
    ev(0, "vfio/export", { ...buf, bar: 1, revoked: false, memoryEnabled: true }),
    ev(1, "vfio/revoke", buf),
    ev(1, "dmabuf/revoke.marked", { buf: buf.buf }),
  ];

  it("flags a map of a revoked export and a refusal other than ENODEV; a restore re-arms the map", () => {
    expect(feed(createI5Monitor(), [...revoked(), ev(2, "dmabuf/map", attach)])).toEqual([
      [
        "I5",
        "gpu0 gpu0/bar1#0: nic0 attachment 0 mapped the export while it is revoked (must be -ENODEV) [kernel.md §c.3]",
        "dmabuf/map",
        ["vfio/export", "vfio/revoke", "dmabuf/revoke.marked", "dmabuf/map"],
      ],
    ]);
    expect(feed(createI5Monitor(), [...revoked(), ev(2, "dmabuf/map.refused", { ...attach, errno: "EINVAL" })]).map(([, message]) => message)).toEqual([
      "gpu0 gpu0/bar1#0: nic0 attachment 0: a map of the revoked export failed EINVAL instead of ENODEV [kernel.md §c.3]",
    ]);
    const restored = [...revoked(), ev(2, "dmabuf/map.refused", { ...attach, errno: "ENODEV" }), ev(3, "vfio/restore", buf), ev(4, "dmabuf/map", attach)];
    expect(feed(createI5Monitor(), restored)).toEqual([]);
  });

  it("close's cleanup revokes for good from the closer's resv section on, not before", () => {
    const lock = (holder: string) => ev(5, "dmabuf/resv.lock", { buf: buf.buf, holder });
    const events = [
      ev(0, "vfio/export", { ...buf, bar: 1, revoked: false, memoryEnabled: true }),
      ev(5, "vfio/memory_lock.down_write", { device: "gpu0", holder: "gpu0:close" }),
      ev(5, "vfio/cleanup", buf),
      lock("nic0"),
      ev(5, "dmabuf/map", attach),
      lock("gpu0:close"),
      ev(6, "dmabuf/map", attach),
    ];
    expect(feed(createI5Monitor(), events).map(([id, , kind, chain]) => [id, kind, chain])).toEqual([
      ["I5", "dmabuf/map", ["vfio/export", "vfio/cleanup", "dmabuf/map"]],
    ]);
  });

  it("flags a revoked umem that maps again, or fails with another errno than EINVAL", () => {
    const umem = { umem: "nic0/umem#2", buf: buf.buf };
    expect(
      feed(createI5Monitor(), [ev(0, "rdma/umem.revoke", umem), ev(1, "rdma/umem.map.failed", { ...umem, errno: "EINVAL" }), ev(2, "rdma/umem.map", umem)]),
    ).toEqual([["I5", "nic0/umem#2 mapped again after its revoke (must be -EINVAL) [kernel.md §d.1]", "rdma/umem.map", ["rdma/umem.revoke", "rdma/umem.map"]]]);
    expect(
      feed(createI5Monitor(), [ev(0, "rdma/umem.revoke.callback", umem), ev(1, "rdma/umem.map.failed", { ...umem, errno: "ENODEV" })]).map(([, m]) => m),
    ).toEqual(["nic0/umem#2: a map after its revoke failed ENODEV instead of EINVAL [kernel.md §d.1]"]);
  });
});
