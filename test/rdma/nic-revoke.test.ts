// Goal: the NIC engine under a VFIO revoke reproduces the finding of kernel.md ("How p2psim uses
// this sheet"): a CQ buffer in a BAR is refused pinned by the newest exporter, works and stops
// cleanly when pinned-revocable, and violates I1 under `vfio-dmabuf-initial`; a dynamic MR in the
// BAR is zapped, drained (I1), faults back only after a restore, and fails with an error completion
// meanwhile (L5) [kernel.md §b.3, §c.4, §d.1, §d.2, §d.7, §f].
// Method: the RDMA-write world streaming 16 KiB WRITEs into gpu0's BAR1, one outstanding at a
// time (with more, a QP going to ERR trips an assertion of the engine: see the lead's report);
// the revoke is triggered by a trace event of the stream, so it always lands mid-stream.

import { describe, expect, it } from "vitest";
import type { TraceEvent } from "../../src/fabric/trace.js";
import type { IbUmemDmabuf } from "../../src/rdma/umem-dmabuf.js";
import { startRdmaWriteStream } from "../../src/scenario/rdma-write-stream.js";
import { type NicWorldOptions, nicWorld } from "./nic-world.js";

const BAR = "gpu0 BAR1";
type World = ReturnType<typeof nicWorld>;

/**
 * The world with `count` WRITEs of 16 KiB streamed into the BAR MR, and `revoke(w)` run at the
 * time of the first event `at` matches. `since()`: the trace from that event on.
 */
function scenario(options: NicWorldOptions, at: (e: TraceEvent) => boolean, revoke: (w: World) => void, count = 8) {
  const w = nicWorld({ tlpEvents: true, ...options });
  if (!w.sendCqResult.ok) throw new Error(`send CQ: ${w.sendCqResult.errno}`);
  const cq = w.sendCqResult.value;
  const { a } = w.connect(cq);
  const stream = startRdmaWriteStream(w, a, w.nic.cq(cq), { count, bytes: 16384, depth: 1, batch: 1 });
  let first = -1;
  w.engine.trace.subscribe((e) => {
    if (first >= 0 || !at(e)) return;
    first = w.trace.events.length - 1;
    w.engine.scheduleAt(e.t, () => revoke(w));
  });
  return { w, cq, a, stream, since: () => w.trace.events.slice(Math.max(first, 0)) };
}

const memOff = (w: World) => void w.gpu0.writeCommandMemory(false);
const dataWrite = (wrId: number) => (e: TraceEvent) => e.kind === "data.write" && e.wrId === wrId;
const cqeWrite = (wrId: number) => (e: TraceEvent) => e.kind === "cqe.write" && e.wrId === wrId;

const STORY = new Set([
  "revoke.begin",
  "revoke.marked",
  "revoke.fences-signaled",
  "revoke.done",
  "mr.zap",
  "mr.fault",
  "mr.fault.failed",
  "driver.drain",
  "driver.drained",
  "driver.drain.skipped",
  "umem.revoke.callback",
  "umem.map",
  "umem.unmap",
  "umem.revoke",
  "fence.add",
  "data.landed",
  "cqe.write",
  "cqe.landed",
  "wqe.failed",
  "qp.error",
  "async.event",
  "command.write",
  "restore",
  "cleanup",
]);

/** The events that tell the story, in order, as "kind detail" (no times: the order is the claim). */
function story(events: readonly TraceEvent[]): string[] {
  return events
    .filter((e) => STORY.has(e.kind))
    .map((e) => {
      const detail = [e.mr, e.umem, e.fence, e.usage, e.wrId, e.status, e.outcome, e.type, e.syndrome || undefined, e.memory, e.inFlight, e.fatal]
        .filter((v) => v !== undefined)
        .join(" ");
      const kind = `${e.layer}/${e.kind}`;
      return detail === "" ? kind : `${kind} ${detail}`;
    });
}

/**
 * I1's check: nic0's TLPs that reached the BAR after the revoke returned (`from`: the dmabuf
 * revoke.done, or for a close the vfio cleanup) and before a restore; how many the BAR refused
 * (UR), and the outcomes of the CQE writes that landed in that window.
 */
function afterRevokeDone(w: World, from = "revoke.done") {
  const done = w.trace.events.find((e) => (e.layer === "dmabuf" || e.layer === "vfio") && e.kind === from);
  const t = done?.t ?? Number.POSITIVE_INFINITY;
  const end = w.trace.events.find((e) => e.layer === "vfio" && e.kind === "restore")?.t ?? Number.POSITIVE_INFINITY;
  const inWindow = (at: number) => at > t && at < end;
  const late = w.trace.events.filter((e) => e.layer === "pci" && e.kind === "tlp" && e.requester === "nic0" && e.target === BAR && inWindow(e.atPs as number));
  // pci/tlp.ur names the requester by its id, not its label: the CPU's polls are "cpu".
  const urs = w.trace.events.filter((e) => e.kind === "tlp.ur" && e.target === BAR && e.requester !== "cpu" && inWindow(e.t)).length;
  const cqeLanded = w.trace.events.filter((e) => e.kind === "cqe.landed" && inWindow(e.t)).map((e) => e.outcome);
  return { done: done !== undefined, tlps: late.length, ur: urs, cqeLanded };
}

describe("finding (a): a pinned CQ in the BAR under the default exporter", () => {
  it("fails EOPNOTSUPP at attach and leaves only the MR's attachment", () => {
    const w = nicWorld({ cqInBar: true, cqPin: "pinned" });
    expect(w.sendCqResult).toEqual({ ok: false, errno: "EOPNOTSUPP" });
    expect([w.buf.attachments.length, w.buf.mappingCount, w.buf.attachments[0] === (w.dst.umem as IbUmemDmabuf).attach]).toEqual([1, 1, true]);
  });
});

describe("finding (b): a pinned-revocable CQ in the BAR, MEM cleared mid-stream (default exporter)", () => {
  it("stops the CQ, drains MR and CQ behind BOOKKEEP fences before revoke.done; the next completion fails (CQ_ERR, QP fatal); nothing lands after (I1, I22, L6)", () => {
    // The revoke starts as WRITE 2's CQE is issued: its data and its CQE are both in flight.
    const s = scenario({ cqInBar: true, cqPin: "pinned-revocable" }, cqeWrite(2), memOff);
    // A WRITE posted after the revoke: its data faults (ENODEV), its error completion meets the stopped CQ.
    s.w.engine.scheduleAt(30_000_000, () => void s.a.postSend([s.w.write(100, 4096)]));
    expect(s.w.run()).toBe("quiet");
    expect(story(s.since())).toEqual([
      "rdma/cqe.write 2 SUCCESS",
      "dmabuf/revoke.begin",
      "dmabuf/revoke.marked",
      "rdma/mr.zap nic0/mr#1",
      "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep",
      "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 1",
      "rdma/umem.revoke.callback nic0/umem#2",
      "dmabuf/fence.add nic0/umem#2/drain#1 bookkeep",
      "rdma/driver.drain nic0/umem#2 nic0/umem#2/drain#1 1",
      "rdma/data.landed nic0/mr#1 2 ok",
      "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
      "rdma/umem.unmap nic0/umem#1",
      "rdma/cqe.landed 2 ok",
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
    expect(afterRevokeDone(s.w)).toEqual({ done: true, tlps: 0, ur: 0, cqeLanded: [] });
    expect(s.w.nic.asyncEvents.map((e) => [e.type, e.object, e.syndrome])).toEqual([
      ["IB_EVENT_CQ_ERR", "nic0/cq#0", 2],
      ["IB_EVENT_QP_FATAL", "nic0/qp#0", undefined],
    ]);
  });
});

describe("finding (c): a pinned CQ in the BAR under vfio-dmabuf-initial (E12)", () => {
  const initial: NicWorldOptions = { cqInBar: true, cqPin: "pinned", vfio: { profile: "vfio-dmabuf-initial" } };

  it("is accepted; a MEM clear mid-stream returns at once and the NIC's data and CQE still reach the BAR after revoke.done, refused UR (I1 violated)", () => {
    const s = scenario(initial, dataWrite(2), memOff);
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
      "rdma/cqe.write 2 SUCCESS",
      "rdma/data.landed nic0/mr#1 2 ur",
      "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
      "rdma/umem.unmap nic0/umem#1",
      "rdma/cqe.landed 2 ur",
    ]);
    // 64 data TLPs of 256 B and the CQE: every one after revoke.done, every one UR.
    expect(afterRevokeDone(s.w)).toEqual({ done: true, tlps: 65, ur: 65, cqeLanded: ["ur"] });
  });

  it("a revoke that leaves memory enabled (close) lets the CQE writes land in the BAR after it", () => {
    const s = scenario(initial, dataWrite(2), (w) => void w.gpu0.close());
    expect(s.w.run()).toBe("quiet");
    const late = afterRevokeDone(s.w, "cleanup");
    expect([late.tlps > 64, late.ur, late.cqeLanded]).toEqual([true, 0, ["ok", "ok", "ok", "ok", "ok", "ok"]]);
    expect(s.stream.reaped().map((wc) => `${wc.wrId} ${wc.status}`)).toEqual([
      "0 SUCCESS",
      "1 SUCCESS",
      "2 SUCCESS",
      "3 REM_ACCESS_ERR",
      "4 WR_FLUSH_ERR",
      "5 WR_FLUSH_ERR",
      "6 WR_FLUSH_ERR",
      "7 WR_FLUSH_ERR",
    ]);
  });
});

describe("a dynamic MR in the BAR, invalidated with a WRITE in flight (correct driver)", () => {
  /** MEM cleared as WRITE 2's data is issued; MEM set again at 40 µs; at 50 µs a new QP pair sends WRITE 100. */
  function run(profile: "vfio-dmabuf-wait" | "vfio-dmabuf-initial") {
    const s = scenario({ vfio: { profile } }, dataWrite(2), memOff, 4);
    s.w.engine.scheduleAt(40_000_000, () => void s.w.gpu0.writeCommandMemory(true));
    s.w.engine.scheduleAt(50_000_000, () => void s.w.connect(s.cq).a.postSend([s.w.write(100, 4096)]));
    expect(s.w.run()).toBe("quiet");
    return s;
  }
  const after = [
    "rdma/mr.fault.failed nic0/mr#1",
    "rdma/wqe.failed 3 REM_ACCESS_ERR",
    "rdma/cqe.write 3 REM_ACCESS_ERR",
    "rdma/qp.error false",
    "rdma/cqe.landed 3 ok",
    "vfio/command.write true",
    "vfio/restore",
    "rdma/umem.map nic0/umem#1",
    "rdma/mr.fault nic0/mr#1",
    "rdma/cqe.write 100 SUCCESS",
    "rdma/data.landed nic0/mr#1 100 ok",
    "rdma/cqe.landed 100 ok",
  ];

  it("default profile: zap, BOOKKEEP drain fence, unmap at the drain, revoke.done after it; later WRITEs fail REM_ACCESS_ERR (L5); after restore the MR faults back in", () => {
    const s = run("vfio-dmabuf-wait");
    expect(story(s.since())).toEqual([
      "dmabuf/revoke.begin",
      "dmabuf/revoke.marked",
      "rdma/mr.zap nic0/mr#1",
      "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep",
      "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 1",
      "rdma/cqe.write 2 SUCCESS",
      "rdma/data.landed nic0/mr#1 2 ok",
      "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
      "rdma/umem.unmap nic0/umem#1",
      "dmabuf/revoke.fences-signaled",
      "dmabuf/revoke.done",
      "vfio/revoke.done",
      "vfio/command.write false",
      "rdma/cqe.landed 2 ok",
      ...after,
    ]);
    // The CQ is in host memory here: its CQEs (2, 3) land after revoke.done, as they may.
    expect(afterRevokeDone(s.w)).toEqual({ done: true, tlps: 0, ur: 0, cqeLanded: ["ok", "ok"] });
    expect(s.stream.reaped().map((wc) => `${wc.wrId} ${wc.status}`)).toEqual(["0 SUCCESS", "1 SUCCESS", "2 SUCCESS", "3 REM_ACCESS_ERR", "100 SUCCESS"]);
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
      "rdma/cqe.write 2 SUCCESS",
      "rdma/data.landed nic0/mr#1 2 ur",
      "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
      "rdma/umem.unmap nic0/umem#1",
      "rdma/cqe.landed 2 ok",
      ...after,
    ]);
    expect(afterRevokeDone(s.w)).toEqual({ done: true, tlps: 64, ur: 64, cqeLanded: ["ok", "ok"] });
  });
});
