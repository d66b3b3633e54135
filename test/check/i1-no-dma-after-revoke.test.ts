// Goal: I1 stays silent when the NIC's drain finishes before the revoke returns (dynamic MR and
// pinned-revocable CQ, one WR or 32 in flight) and fires when data reaches the BAR after the
// revoke returned: driver mutant callbackReturnsBeforeDrain, and the `vfio-dmabuf-initial` profile
// (E12); the in-flight case and a usable export over the same range are pinned by hand.
import { describe, expect, it } from "vitest";
import { createI1Monitor } from "../../src/check/i1-no-dma-after-revoke.js";
import { cqeIssued, dataIssued } from "../rdma/nic-revoke-support.js";
import { feed, handWritten, row } from "./revoke-support.js";
import { rdmaRun } from "./revoke-worlds.js";

// The export, the work requests the write came from (the latest post and WQE fetch of nic0), the revoke, its return, the TLP.
const CHAIN = ["vfio/export", "rdma/post.send", "rdma/wqe.fetch", "vfio/revoke", "vfio/revoke.done", "pci/tlp"];

describe("I1 in the RDMA-write world, MEM cleared mid-stream", () => {
  it("is silent with a correct driver (dynamic MR, pinned-revocable CQ; one WR or 32 outstanding)", () => {
    const runs = [
      rdmaRun([createI1Monitor()], {}, dataIssued(2)),
      rdmaRun([createI1Monitor()], {}, dataIssued(8), { count: 32 }),
      rdmaRun([createI1Monitor()], { cqInBar: true, cqPin: "pinned-revocable" }, cqeIssued(2)),
    ];
    expect(runs.map((r) => [r.status, r.violations.map(row)])).toEqual([
      ["quiet", []],
      ["quiet", []],
      ["quiet", []],
    ]);
  });

  it("fires for callbackReturnsBeforeDrain: WRITE 2's data reaches the BAR after the revoke returned", () => {
    const run = rdmaRun([createI1Monitor()], { mutants: { callbackReturnsBeforeDrain: true } }, dataIssued(2));
    expect(run.violations.map(row)).toEqual([
      [
        "I1",
        "gpu0 gpu0/bar1#0: nic0 MWr of 256 B at BAR offset 0x8000 reaches the BAR at 11521219 ps, after the revoke returned at 11296369 ps [kernel.md §b.3, §c.4]",
        "pci/tlp",
        CHAIN,
      ],
    ]);
  });

  it("fires for vfio-dmabuf-initial (E12): the revoke returns at once", () => {
    const run = rdmaRun([createI1Monitor()], { cqInBar: true, cqPin: "pinned", vfio: { profile: "vfio-dmabuf-initial" } }, dataIssued(2));
    expect(run.violations.map(row)).toEqual([
      [
        "I1",
        "gpu0 gpu0/bar1#0: nic0 MWr of 256 B at BAR offset 0x8000 reaches the BAR at 12931375 ps, after the revoke returned at 12706525 ps [kernel.md §b.3, §c.4]",
        "pci/tlp",
        CHAIN,
      ],
    ]);
  });
});

describe("I1's state, by hand", () => {
  const ev = handWritten();
  const buf = { device: "gpu0", buf: "gpu0/bar1#0" };
  const exported = (name: string, offset: number, revoked = false) =>
    ev(0, "vfio/export", { device: "gpu0", buf: name, bar: 1, revoked, memoryEnabled: true, ranges: [{ offset, length: 8192 }] });
  const tlp = (t: number, atPs: number, barOffset: number, requester = "nic0") =>
    ev(t, "pci/tlp", { requester, tlp: "MWr", bytes: 256, target: "gpu0 BAR1", barOffset, status: "SC", atPs, address: 0 });

  it("flags a TLP seen before the revoke returned that arrives after (in flight); ignores the CPU, other ranges, and after a restore", () => {
    const inFlight = [exported(buf.buf, 0), ev(10, "vfio/revoke", buf), tlp(11, 30, 4096), ev(20, "vfio/revoke.done", buf)];
    expect(feed(createI1Monitor(), inFlight)).toEqual([
      [
        "I1",
        "gpu0 gpu0/bar1#0: the revoke returned at 20 ps with nic0 MWr of 256 B at BAR offset 0x1000 still in flight (it reaches the BAR at 30 ps) [kernel.md §b.3, §c.4]",
        "vfio/revoke.done",
        ["vfio/export", "vfio/revoke", "pci/tlp", "vfio/revoke.done"],
      ],
    ]);
    const fine = [
      exported(buf.buf, 0),
      ev(10, "vfio/revoke", buf),
      ev(20, "vfio/revoke.done", buf),
      tlp(21, 21, 4096, "cpu"),
      tlp(22, 22, 16384),
      ev(30, "vfio/restore", buf),
      tlp(31, 31, 0),
    ];
    expect(feed(createI1Monitor(), fine)).toEqual([]);
  });

  it("a TLP in a revoked export's range that a usable export of the same BAR also covers is that export's access", () => {
    const other = { device: "gpu0", buf: "gpu0/bar1#1" };
    const events = [
      exported(buf.buf, 0),
      exported(other.buf, 4096),
      ev(10, "vfio/revoke", buf),
      ev(20, "vfio/revoke.done", buf),
      tlp(21, 21, 4096),
      tlp(22, 22, 0),
    ];
    expect(feed(createI1Monitor(), events).map(([id, , kind]) => [id, kind])).toEqual([["I1", "pci/tlp"]]);
  });
});
