/**
 * Error completions, QP ERR and CQ errors of the NIC engine [kernel.md §d.7, L5, L6]: the
 * responder's refusals (REM_ACCESS_ERR), a local key refused (LOC_PROT_ERR), flushes, posting
 * errors, unsignaled WRs, CQ overrun and a CQ whose dma-buf the exporter revoked.
 */
import { describe, expect, it } from "vitest";
import type { IbWc } from "../../src/rdma/ib-wr.js";
import { eventsOf, type NicPair, nicPair, readWr } from "./nic-trace.js";

/** The completion events of the requester's QP and CQ, without the addresses. */
const outcome = (p: NicPair) =>
  eventsOf(p.trace, "rdma/wqe.failed", "rdma/cqe.write", "rdma/qp.error", "rdma/async.event", "rdma/responder.nak", "rdma/post.failed").map(([t, k, f]) => {
    const { address: _a, slot: _s, ...rest } = f;
    return [t, k, rest];
  });

const pollAll = (p: NicPair) => {
  const got: IbWc[] = [];
  p.cq.poll(64, (r) => got.push(...(r.ok ? r.wcs : [])));
  p.run();
  return got.map((wc) => [wc.wrId, wc.status]);
};

describe("the responder refuses: REM_ACCESS_ERR, the QP goes to ERR, later posts are flushed", () => {
  const cases: Array<[string, (p: NicPair) => { rkey: number; offset: number }, number, string]> = [
    ["an rkey no MR has", () => ({ rkey: 999, offset: 0 }), 2086648, "rdma/nic.key.invalid"],
    ["an MR without REMOTE_WRITE (src)", (p) => ({ rkey: p.src.rkey, offset: 0 }), 2086648, "rdma/mr.access.failed"],
    ["a range past the end of the BAR MR", () => ({ rkey: -1, offset: 2 ** 20 - 32 }), 2086648, "rdma/mr.access.failed"],
  ];
  it.each(cases)("%s", (_name, remote, nakPs, why) => {
    const p = nicPair();
    const r = remote(p);
    p.a.postSend([{ ...p.write(1, 64), remote: r.rkey === -1 ? { rkey: p.dst.rkey, offset: r.offset } : r }]);
    p.run();
    expect(eventsOf(p.trace, why)).toHaveLength(1);
    expect(outcome(p)).toEqual([
      [nakPs, "rdma/responder.nak", { qp: "nic0/qp#1", wrId: 1, status: "REM_ACCESS_ERR" }],
      [nakPs + 101640, "rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 1, status: "REM_ACCESS_ERR" }],
      [nakPs + 101640, "rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 1, status: "REM_ACCESS_ERR" }],
      [nakPs + 101640, "rdma/qp.error", { qp: "nic0/qp#0", from: "RTS", reason: "the responder refused", fatal: false }],
    ]);
    expect(p.a.qp.state).toBe("ERR");
    // A post in ERR is taken and flushed when its doorbell lands; an unsignaled one too (errors always complete).
    p.trace.events.length = 0;
    expect(p.a.postSend([p.write(2, 64), { ...p.write(3, 64), signaled: false }]).ok).toBe(true);
    p.run();
    expect(outcome(p).map(([, k, f]) => [k, (f as { wrId: number }).wrId, (f as { status: string }).status])).toEqual([
      ["rdma/wqe.failed", 2, "WR_FLUSH_ERR"],
      ["rdma/wqe.failed", 3, "WR_FLUSH_ERR"],
      ["rdma/cqe.write", 2, "WR_FLUSH_ERR"],
      ["rdma/cqe.write", 3, "WR_FLUSH_ERR"],
    ]);
    expect(pollAll(p)).toEqual([
      [1, "REM_ACCESS_ERR"],
      [2, "WR_FLUSH_ERR"],
      [3, "WR_FLUSH_ERR"],
    ]);
    expect(p.nic.asyncEvents).toEqual([]);
  });
});

describe("a local key refused: LOC_PROT_ERR", () => {
  it("an RDMA READ whose lkey no MR has completes LOC_PROT_ERR when the response arrives; the QP goes to ERR", () => {
    // The response leaves after the last CplD from the BAR (1861.832 ns) and takes (512 + 82) B × 20 ps + 100 ns: 1973.712 ns.
    const p = nicPair();
    p.a.postSend([readWr(p, 5, 512, 0, 0, 999)]);
    p.run();
    expect(outcome(p)).toEqual([
      [1973712, "rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 5, status: "LOC_PROT_ERR" }],
      [1973712, "rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 5, status: "LOC_PROT_ERR" }],
      [1973712, "rdma/qp.error", { qp: "nic0/qp#0", from: "RTS", reason: "local key refused", fatal: false }],
    ]);
    expect(pollAll(p)).toEqual([[5, "LOC_PROT_ERR"]]);
  });
});

describe("posting errors and unsignaled WRs", () => {
  it("a QP in RESET refuses posts (EINVAL); a full SQ refuses the whole post (ENOMEM); only signaled successes write CQEs", () => {
    const p = nicPair({ sqDepth: 4 });
    expect(p.a.postSend([1, 2, 3, 4, 5].map((i) => p.write(i, 64)))).toEqual({ ok: false, errno: "ENOMEM" });
    expect(p.a.postSend([1, 2, 3, 4].map((i) => ({ ...p.write(i, 64), signaled: i === 4 }))).ok).toBe(true);
    expect(p.a.postSend([p.write(5, 64)])).toEqual({ ok: false, errno: "ENOMEM" });
    p.run();
    expect(outcome(p)).toEqual([
      [0, "rdma/post.failed", { qp: "nic0/qp#0", errno: "ENOMEM" }],
      [0, "rdma/post.failed", { qp: "nic0/qp#0", errno: "ENOMEM" }],
      [2203908, "rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 4, status: "SUCCESS" }],
    ]);
    expect(eventsOf(p.trace, "rdma/data.landed")).toHaveLength(4);
    expect(pollAll(p)).toEqual([[4, "SUCCESS"]]);
    // Now the SQ has room again; a QP taken back to RESET refuses.
    p.a.qp.state = "RESET";
    expect(p.a.postSend([p.write(6, 64)])).toEqual({ ok: false, errno: "EINVAL" });
  });
});

describe("CQ errors [kernel.md §d.7]", () => {
  it("overrun: a CQ of 2 entries nobody polls; the third CQE raises CQ_ERR syndrome 1, the QP goes fatal, no CQE is written after", () => {
    const p = nicPair({ cqEntries: 2 });
    // One WR at a time, so that no other WQE is on the wire when the QP goes to ERR (see the report: a
    // WQE flushed while in flight crashes the engine when its ACK arrives).
    for (const id of [1, 2, 3, 4]) {
      p.a.postSend([p.write(id, 64)]);
      p.run();
    }
    expect(outcome(p).map(([, k, f]) => [k, f])).toEqual([
      ["rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 1, status: "SUCCESS" }],
      ["rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 2, status: "SUCCESS" }],
      ["rdma/async.event", { type: "IB_EVENT_CQ_ERR", object: "nic0/cq#0", syndrome: 1 }],
      ["rdma/qp.error", { qp: "nic0/qp#0", from: "RTS", reason: "completion refused by nic0/cq#0", fatal: true }],
      ["rdma/async.event", { type: "IB_EVENT_QP_FATAL", object: "nic0/qp#0", syndrome: 0 }],
      ["rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 4, status: "WR_FLUSH_ERR" }],
    ]);
    expect(p.nic.asyncEvents.map((e) => [e.type, e.object, e.syndrome])).toEqual([
      ["IB_EVENT_CQ_ERR", "nic0/cq#0", 1],
      ["IB_EVENT_QP_FATAL", "nic0/qp#0", undefined],
    ]);
    expect(p.cq.error).toBe("overrun");
  });

  it("a pinned-revocable CQ in the BAR whose export VFIO revoked (MEM clear): the next completion raises CQ_ERR syndrome 2 and QP fatal; no TLP reaches the BAR after revoke.done", () => {
    const p = nicPair({ cqInBar: true, cqPin: "pinned-revocable", tlpEvents: true });
    p.a.postSend([p.write(1, 64)]);
    p.run();
    p.gpu0.writeCommandMemory(false);
    p.run();
    p.a.postSend([p.write(2, 64)]);
    p.run();
    expect(outcome(p).map(([, k, f]) => [k, f])).toEqual([
      ["rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 1, status: "SUCCESS" }],
      // The BAR MR was zapped; its fault fails (the export is revoked): REM_ACCESS_ERR, never a stall (L5).
      ["rdma/responder.nak", { qp: "nic0/qp#1", wrId: 2, status: "REM_ACCESS_ERR" }],
      ["rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 2, status: "REM_ACCESS_ERR" }],
      ["rdma/async.event", { type: "IB_EVENT_CQ_ERR", object: "nic0/cq#0", syndrome: 2 }],
      ["rdma/qp.error", { qp: "nic0/qp#0", from: "RTS", reason: "completion refused by nic0/cq#0", fatal: true }],
      ["rdma/async.event", { type: "IB_EVENT_QP_FATAL", object: "nic0/qp#0", syndrome: 0 }],
    ]);
    const done = eventsOf(p.trace, "dmabuf/revoke.done");
    expect(done).toHaveLength(1);
    const donePs = done[0]?.[0] as number;
    const bar = eventsOf(p.trace, "pci/tlp").filter(([, k, f]) => k === "pci/tlp" && f.target === "gpu0 BAR1");
    expect(bar.length).toBeGreaterThan(0);
    expect(bar.filter(([, , f]) => (f.atPs as number) >= donePs)).toEqual([]);
    expect(p.cq.error).toBe("access");
  });
});
