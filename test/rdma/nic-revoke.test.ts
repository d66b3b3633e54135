// Goal: the NIC engine under a VFIO revoke reproduces the finding of kernel.md ("How p2psim uses
// this sheet"): a CQ buffer in a BAR is refused pinned by the newest exporter, works and stops
// cleanly when pinned-revocable, and violates I1 under `vfio-dmabuf-initial`; a dynamic MR in the
// BAR is zapped, drained (I1), faults back only after a restore, and fails with an error completion
// meanwhile (L5) [kernel.md §b.3, §c.4, §d.1, §d.2, §d.7, §f].
// Method: the RDMA-write world streaming 16 KiB WRITEs into gpu0's BAR1, revoked 1 ps after a
// chosen data or CQE write of the stream was issued (so it is in flight). Each outcome twice: one
// WR outstanding at a time (the whole story, short), and 32 WRs posted at once at the stream's
// default depth (the SQ depth, 64), where the revoke meets several WRITEs in flight and the
// QP's error flushes the rest — the I1/I22 checks must hold (or fail) there too.

import { describe, expect, it } from "vitest";
import type { IbUmemDmabuf } from "../../src/rdma/umem-dmabuf.js";
import { afterRevokeDone, cqeIssued, dataIssued, each, memOff, reaped, scenario, story } from "./nic-revoke-support.js";
import { type NicWorldOptions, nicWorld } from "./nic-world.js";

/** 32 WRITEs, all outstanding (the stream's default depth is the SQ depth, 64). */
const DEEP = { count: 32 };
const flushed = (from: number, to: number) => each(from, to, (i) => `rdma/wqe.failed ${i} WR_FLUSH_ERR`);

describe("finding (a): a pinned CQ in the BAR under the default exporter", () => {
  it("fails EOPNOTSUPP at attach and leaves only the MR's attachment", () => {
    const w = nicWorld({ cqInBar: true, cqPin: "pinned" });
    expect(w.sendCqResult).toEqual({ ok: false, errno: "EOPNOTSUPP" });
    expect([w.buf.attachments.length, w.buf.mappingCount, w.buf.attachments[0] === (w.dst.umem as IbUmemDmabuf).attach]).toEqual([1, 1, true]);
  });
});

describe("finding (b): a pinned-revocable CQ in the BAR, MEM cleared mid-stream (default exporter)", () => {
  const revocable: NicWorldOptions = { cqInBar: true, cqPin: "pinned-revocable" };

  it("stops the CQ, drains MR and CQ behind BOOKKEEP fences before revoke.done; the next completion fails (CQ_ERR, QP fatal); nothing lands after (I1, I22, L6)", () => {
    // The revoke starts as WRITE 2's CQE is issued: its data and its CQE are both in flight.
    const s = scenario(revocable, cqeIssued(2), memOff);
    // A WRITE posted after the revoke: its data faults (ENODEV), its error completion meets the stopped CQ.
    s.w.engine.scheduleAt(30_000_000, () => void s.a.postSend([s.w.write(100, 4096)]));
    expect(s.w.run()).toBe("quiet");
    expect(story(s.since())).toEqual([
      "dmabuf/revoke.begin",
      "dmabuf/revoke.marked",
      "rdma/mr.zap nic0/mr#1",
      "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep",
      "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 1",
      "rdma/umem.revoke.callback nic0/umem#2",
      "dmabuf/fence.add nic0/umem#2/drain#1 bookkeep",
      "rdma/driver.drain nic0/umem#2 nic0/umem#2/drain#1 1",
      "rdma/data.write nic0/mr#1 2 ok",
      "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
      "rdma/umem.unmap nic0/umem#1",
      "rdma/cqe.write 2 SUCCESS ok",
      "rdma/driver.drained nic0/umem#2 nic0/umem#2/drain#1",
      "rdma/umem.unmap nic0/umem#2",
      "rdma/umem.revoke nic0/umem#2",
      "dmabuf/revoke.fences-signaled",
      "dmabuf/revoke.done",
      "vfio/revoke.done",
      "vfio/command.write false",
      "rdma/mr.fault.failed nic0/mr#1",
      "rdma/wqe.failed 100 REM_ACCESS_ERR",
      "rdma/async.event IB_EVENT_CQ_ERR 2",
      "rdma/qp.error true",
      "rdma/async.event IB_EVENT_QP_FATAL",
    ]);
    expect(afterRevokeDone(s.w)).toEqual({ done: true, tlps: 0, ur: 0, data: [], cqes: [] });
    expect(s.w.nic.asyncEvents.map((e) => [e.type, e.object, e.syndrome])).toEqual([
      ["IB_EVENT_CQ_ERR", "nic0/cq#0", 2],
      ["IB_EVENT_QP_FATAL", "nic0/qp#0", undefined],
    ]);
  });

  it("with 32 WRs outstanding: two messages drain behind each fence, WRITE 9 fails into the stopped CQ, 10 to 31 are flushed without a CQE; nothing lands after (I1, I22)", () => {
    // The revoke starts as WRITE 8's CQE is issued: WRITE 7's data and CQE and WRITE 8's data and CQE are in flight.
    const s = scenario(revocable, cqeIssued(8), memOff, DEEP);
    expect(s.w.run()).toBe("quiet");
    expect(story(s.since())).toEqual([
      "dmabuf/revoke.begin",
      "dmabuf/revoke.marked",
      "rdma/mr.zap nic0/mr#1",
      "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep",
      "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 2",
      "rdma/umem.revoke.callback nic0/umem#2",
      "dmabuf/fence.add nic0/umem#2/drain#1 bookkeep",
      "rdma/driver.drain nic0/umem#2 nic0/umem#2/drain#1 2",
      "rdma/data.write nic0/mr#1 7 ok",
      "rdma/cqe.write 7 SUCCESS ok",
      "rdma/data.write nic0/mr#1 8 ok",
      "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
      "rdma/umem.unmap nic0/umem#1",
      "rdma/cqe.write 8 SUCCESS ok",
      "rdma/driver.drained nic0/umem#2 nic0/umem#2/drain#1",
      "rdma/umem.unmap nic0/umem#2",
      "rdma/umem.revoke nic0/umem#2",
      "dmabuf/revoke.fences-signaled",
      // Two messages reach the responder after the zap (WRITEs 9 and 10, by the flushes that follow): both faults fail ENODEV.
      "rdma/mr.fault.failed nic0/mr#1",
      "dmabuf/revoke.done",
      "vfio/revoke.done",
      "vfio/command.write false",
      "rdma/wqe.failed 9 REM_ACCESS_ERR",
      "rdma/async.event IB_EVENT_CQ_ERR 2",
      "rdma/qp.error true",
      "rdma/async.event IB_EVENT_QP_FATAL",
      ...flushed(10, 31),
    ]);
    expect(afterRevokeDone(s.w)).toEqual({ done: true, tlps: 0, ur: 0, data: [], cqes: [] });
  });
});

describe("finding (c): a pinned CQ in the BAR under vfio-dmabuf-initial (E12)", () => {
  const initial: NicWorldOptions = { cqInBar: true, cqPin: "pinned", vfio: { profile: "vfio-dmabuf-initial" } };

  it("is accepted; a MEM clear mid-stream returns at once and the NIC's data and CQE still reach the BAR after revoke.done, refused UR (I1 violated)", () => {
    const s = scenario(initial, dataIssued(2), memOff);
    expect(s.w.run()).toBe("quiet");
    // The pinned CQ is not even invalidated (invalidated: the MR only); the MR's drain fence is not waited for.
    expect(story(s.since())).toEqual([
      "dmabuf/revoke.begin",
      "dmabuf/revoke.marked",
      "rdma/mr.zap nic0/mr#1",
      "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep",
      "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 1",
      "dmabuf/revoke.done",
      "vfio/revoke.done",
      "vfio/command.write false",
      "rdma/data.write nic0/mr#1 2 ur",
      "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
      "rdma/umem.unmap nic0/umem#1",
      "rdma/cqe.write 2 SUCCESS ur",
    ]);
    // 64 data TLPs of 256 B and the CQE: every one after revoke.done, every one UR.
    expect(afterRevokeDone(s.w)).toEqual({ done: true, tlps: 65, ur: 65, data: ["2 ur"], cqes: ["2 ur"] });
  });

  it("with 32 WRs outstanding: WRITEs 7 and 8's data and every later CQE (successes, the error, the flushes) reach the BAR after revoke.done (I1 violated)", () => {
    const s = scenario(initial, dataIssued(8), memOff, DEEP);
    expect(s.w.run()).toBe("quiet");
    expect(story(s.since()).slice(0, 15)).toEqual([
      "dmabuf/revoke.begin",
      "dmabuf/revoke.marked",
      "rdma/mr.zap nic0/mr#1",
      "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep",
      "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 2",
      "dmabuf/revoke.done",
      "vfio/revoke.done",
      "vfio/command.write false",
      "rdma/data.write nic0/mr#1 7 ur",
      "rdma/cqe.write 7 SUCCESS ur",
      "rdma/data.write nic0/mr#1 8 ur",
      "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
      "rdma/umem.unmap nic0/umem#1",
      "rdma/mr.fault.failed nic0/mr#1",
      "rdma/cqe.write 8 SUCCESS ur",
    ]);
    // 3 of WRITE 7's 64 data TLPs landed before revoke.done: 61 + 64 data TLPs, and 25 CQEs (7 to 31).
    expect(afterRevokeDone(s.w)).toEqual({
      done: true,
      tlps: 150,
      ur: 150,
      data: ["7 ur", "8 ur"],
      cqes: ["7 ur", "8 ur", "9 ur", ...each(10, 31, (i) => `${i} ur`)],
    });
  });

  it("a revoke that leaves memory enabled (close) lets the data and CQE writes land in the BAR after it", () => {
    const s = scenario(initial, dataIssued(2), (w) => void w.gpu0.close());
    expect(s.w.run()).toBe("quiet");
    // WRITE 2's 64 data TLPs and the six CQEs (2 to 7), all accepted: memory stays enabled.
    expect(afterRevokeDone(s.w, "vfio/cleanup")).toEqual({ done: true, tlps: 70, ur: 0, data: ["2 ok"], cqes: each(2, 7, (i) => `${i} ok`) });
    expect(reaped(s.stream)).toEqual(["0 SUCCESS", "1 SUCCESS", "2 SUCCESS", "3 REM_ACCESS_ERR", ...each(4, 7, (i) => `${i} WR_FLUSH_ERR`)]);
  });
});

describe("a dynamic MR in the BAR, invalidated with a WRITE in flight (correct driver)", () => {
  /** MEM cleared as WRITE 2's data is issued; MEM set again at 40 µs; at 50 µs a new QP pair sends WRITE 100. */
  function run(profile: "vfio-dmabuf-wait" | "vfio-dmabuf-initial") {
    const s = scenario({ vfio: { profile } }, dataIssued(2), memOff, { count: 4, depth: 1 });
    s.w.engine.scheduleAt(40_000_000, () => void s.w.gpu0.writeCommandMemory(true));
    s.w.engine.scheduleAt(50_000_000, () => void s.w.connect(s.cq).a.postSend([s.w.write(100, 4096)]));
    expect(s.w.run()).toBe("quiet");
    return s;
  }
  const after = [
    "rdma/mr.fault.failed nic0/mr#1",
    "rdma/wqe.failed 3 REM_ACCESS_ERR",
    "rdma/qp.error false",
    "rdma/cqe.write 3 REM_ACCESS_ERR ok",
    "vfio/command.write true",
    "vfio/restore",
    "rdma/umem.map nic0/umem#1",
    "rdma/mr.fault nic0/mr#1",
    "rdma/data.write nic0/mr#1 100 ok",
    "rdma/cqe.write 100 SUCCESS ok",
  ];

  it("default profile: zap, BOOKKEEP drain fence, unmap at the drain, revoke.done after it; later WRITEs fail REM_ACCESS_ERR (L5); after restore the MR faults back in", () => {
    const s = run("vfio-dmabuf-wait");
    expect(story(s.since())).toEqual([
      "dmabuf/revoke.begin",
      "dmabuf/revoke.marked",
      "rdma/mr.zap nic0/mr#1",
      "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep",
      "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 1",
      "rdma/data.write nic0/mr#1 2 ok",
      "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
      "rdma/umem.unmap nic0/umem#1",
      "dmabuf/revoke.fences-signaled",
      "dmabuf/revoke.done",
      "vfio/revoke.done",
      "vfio/command.write false",
      "rdma/cqe.write 2 SUCCESS ok",
      ...after,
    ]);
    // The CQ is in host memory here: its CQEs (2, 3) land after revoke.done, as they may, and are not counted.
    expect(afterRevokeDone(s.w)).toEqual({ done: true, tlps: 0, ur: 0, data: [], cqes: [] });
    expect(reaped(s.stream)).toEqual(["0 SUCCESS", "1 SUCCESS", "2 SUCCESS", "3 REM_ACCESS_ERR", "100 SUCCESS"]);
  });

  it("vfio-dmabuf-initial: the same driver drains, but revoke.done does not wait, and WRITE 2's data reaches the BAR after it (E12)", () => {
    const s = run("vfio-dmabuf-initial");
    expect(story(s.since())).toEqual([
      "dmabuf/revoke.begin",
      "dmabuf/revoke.marked",
      "rdma/mr.zap nic0/mr#1",
      "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep",
      "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 1",
      "dmabuf/revoke.done",
      "vfio/revoke.done",
      "vfio/command.write false",
      "rdma/data.write nic0/mr#1 2 ur",
      "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
      "rdma/umem.unmap nic0/umem#1",
      "rdma/cqe.write 2 SUCCESS ok",
      ...after,
    ]);
    expect(afterRevokeDone(s.w)).toEqual({ done: true, tlps: 64, ur: 64, data: ["2 ur"], cqes: [] });
  });

  it("with 32 WRs outstanding, the default profile drains WRITEs 7 and 8 before revoke.done (I1 holds) and vfio-dmabuf-initial does not (E12)", () => {
    const outcomes = (["vfio-dmabuf-wait", "vfio-dmabuf-initial"] as const).map((profile) => {
      const s = scenario({ vfio: { profile } }, dataIssued(8), memOff, DEEP);
      expect(s.w.run()).toBe("quiet");
      const lines = story(s.since());
      return [profile, lines.slice(0, lines.indexOf("vfio/revoke.done") + 1), afterRevokeDone(s.w), reaped(s.stream)];
    });
    const wcs = [...each(0, 8, (i) => `${i} SUCCESS`), "9 REM_ACCESS_ERR", ...each(10, 31, (i) => `${i} WR_FLUSH_ERR`)];
    expect(outcomes).toEqual([
      [
        "vfio-dmabuf-wait",
        [
          "dmabuf/revoke.begin",
          "dmabuf/revoke.marked",
          "rdma/mr.zap nic0/mr#1",
          "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep",
          "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 2",
          "rdma/data.write nic0/mr#1 7 ok",
          "rdma/cqe.write 7 SUCCESS ok",
          "rdma/data.write nic0/mr#1 8 ok",
          "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
          "rdma/umem.unmap nic0/umem#1",
          "dmabuf/revoke.fences-signaled",
          "dmabuf/revoke.done",
          "rdma/mr.fault.failed nic0/mr#1",
          "vfio/revoke.done",
        ],
        { done: true, tlps: 0, ur: 0, data: [], cqes: [] },
        wcs,
      ],
      [
        "vfio-dmabuf-initial",
        [
          "dmabuf/revoke.begin",
          "dmabuf/revoke.marked",
          "rdma/mr.zap nic0/mr#1",
          "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep",
          "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 2",
          "dmabuf/revoke.done",
          "vfio/revoke.done",
        ],
        // 61 of WRITE 7's data TLPs and all 64 of WRITE 8's, refused UR.
        { done: true, tlps: 125, ur: 125, data: ["7 ur", "8 ur"], cqes: [] },
        wcs,
      ],
    ]);
  });
});
