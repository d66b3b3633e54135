/**
 * Error completions, QP ERR and CQ errors of the NIC engine [kernel.md §d.7, L5, L6]: the
 * responder's refusals (REM_ACCESS_ERR), a local key refused (LOC_PROT_ERR), flushes, posting
 * errors, unsignaled WRs, CQ overrun and a CQ whose dma-buf the exporter revoked.
 */
import { describe, expect, it } from "vitest";
import type { IbWc } from "../../src/rdma/ib-wr.js";
import { eventsOf, type NicPair, nicPair, readWr, sendWr } from "./nic-trace.js";

/**
 * From issue to landing of a CQE write into host memory on an idle path: the 64 B MWr (88 B on the
 * wire, 3.096 ns on a Gen4 x16 link) + nic0 link 50 + switch 115 + root-port link 50 + root complex
 * 120 ns. A CQE is traced when it lands; `issuedPs` is when the QP completed the WQE.
 */
const CQE_UP = 338_096;
/** The next CQE MWr right behind one on nic0's link. */
const CQE_NEXT = 3_096;

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
      // The NAK reaches the requester 101.64 ns later (82 B + 100 ns): the WQE fails, the QP goes to ERR.
      [nakPs + 101640, "rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 1, status: "REM_ACCESS_ERR" }],
      [nakPs + 101640, "rdma/qp.error", { qp: "nic0/qp#0", from: "RTS", reason: "the responder refused", fatal: false }],
      [
        nakPs + 101640 + CQE_UP,
        "rdma/cqe.write",
        { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 1, status: "REM_ACCESS_ERR", issuedPs: nakPs + 101640, outcome: "ok" },
      ],
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

  it("with two more WRs outstanding behind the refused one: both flushed when the NAK arrives, their late ACKs ignored", () => {
    const p = nicPair();
    p.a.postSend([{ ...p.write(1, 64), remote: { rkey: 999, offset: 0 } }, p.write(2, 64), p.write(3, 64)]);
    expect(p.run()).toBe("quiet");
    // The three go on the wire together (fetched in one MRd, so the NAK is 4.503 ns later than with
    // one WR); WRs 2 and 3 are still waiting for their ACKs when the NAK of WR 1 reaches the requester.
    const nakPs = 2_091_151;
    const at = nakPs + 101_640;
    const cqe = (wrId: number, status: string, n: number) =>
      [at + CQE_UP + n * CQE_NEXT, "rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId, status, issuedPs: at, outcome: "ok" }] as const;
    expect(outcome(p)).toEqual([
      [nakPs, "rdma/responder.nak", { qp: "nic0/qp#1", wrId: 1, status: "REM_ACCESS_ERR" }],
      [at, "rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 1, status: "REM_ACCESS_ERR" }],
      [at, "rdma/qp.error", { qp: "nic0/qp#0", from: "RTS", reason: "the responder refused", fatal: false }],
      [at, "rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 2, status: "WR_FLUSH_ERR" }],
      [at, "rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 3, status: "WR_FLUSH_ERR" }],
      cqe(1, "REM_ACCESS_ERR", 0),
      cqe(2, "WR_FLUSH_ERR", 1),
      cqe(3, "WR_FLUSH_ERR", 2),
    ]);
    expect(pollAll(p)).toEqual([
      [1, "REM_ACCESS_ERR"],
      [2, "WR_FLUSH_ERR"],
      [3, "WR_FLUSH_ERR"],
    ]);
    // After its error NAK the responder executes nothing more of its peer's (packet sequence
    // numbers would stop it): WRs 2 and 3 reach it, are discarded, and write no data.
    expect(eventsOf(p.trace, "rdma/responder.discard", "rdma/data.write").map(([, kind, e]) => [kind, e.wrId])).toEqual([
      ["rdma/responder.discard", 2],
      ["rdma/responder.discard", 3],
    ]);
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
      [1973712, "rdma/qp.error", { qp: "nic0/qp#0", from: "RTS", reason: "local key refused", fatal: false }],
      [1973712 + CQE_UP, "rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 5, status: "LOC_PROT_ERR", issuedPs: 1973712, outcome: "ok" }],
    ]);
    expect(pollAll(p)).toEqual([[5, "LOC_PROT_ERR"]]);
  });

  // Three WRs in one post, the first with an lkey no MR has: the NIC reads the WQEs in one fetch
  // (an MRd of 3 × 64 B; its CplD of 192 B is back 4.503 ns later than one of 64 B, at 1139.430 ns)
  // and, 50 ns of processing later, refuses the first one's lkey before reading any data: the QP
  // goes to ERR and the other two, fetched but not executed, are flushed behind it.
  it.each([
    ["RDMA WRITE", (p: NicPair) => p.write(1, 64)],
    ["SEND", (p: NicPair) => sendWr(p, 1, 64)],
  ])("%s whose lkey no MR has, first of three in one post: LOC_PROT_ERR at once, the other two flushed", (_name, first) => {
    const p = nicPair();
    expect(p.a.postSend([{ ...first(p), sge: { lkey: 999, offset: 0, length: 64 } }, p.write(2, 64), p.write(3, 64)]).ok).toBe(true);
    expect(p.run()).toBe("quiet");
    const at = 1_189_430;
    const cqe = (wrId: number, status: string, n: number) =>
      [at + CQE_UP + n * CQE_NEXT, "rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId, status, issuedPs: at, outcome: "ok" }] as const;
    expect(outcome(p)).toEqual([
      [at, "rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 1, status: "LOC_PROT_ERR" }],
      [at, "rdma/qp.error", { qp: "nic0/qp#0", from: "RTS", reason: "local key refused", fatal: false }],
      [at, "rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 2, status: "WR_FLUSH_ERR" }],
      [at, "rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 3, status: "WR_FLUSH_ERR" }],
      cqe(1, "LOC_PROT_ERR", 0),
      cqe(2, "WR_FLUSH_ERR", 1),
      cqe(3, "WR_FLUSH_ERR", 2),
    ]);
    // Nothing went on the wire: no data read, no message, no responder activity.
    expect(eventsOf(p.trace, "rdma/data.write", "rdma/responder", "pci/tlp.ur")).toEqual([]);
    expect(pollAll(p)).toEqual([
      [1, "LOC_PROT_ERR"],
      [2, "WR_FLUSH_ERR"],
      [3, "WR_FLUSH_ERR"],
    ]);
    expect(p.a.qp.state).toBe("ERR");
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
      [2203908 + CQE_UP, "rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 4, status: "SUCCESS", issuedPs: 2203908, outcome: "ok" }],
    ]);
    // All four WRITEs ran (the unsignaled ones just write no CQE): four data writes, all landed.
    expect(eventsOf(p.trace, "rdma/data.write").map(([, , f]) => [f.wrId, f.outcome])).toEqual([
      [1, "ok"],
      [2, "ok"],
      [3, "ok"],
      [4, "ok"],
    ]);
    expect(pollAll(p)).toEqual([[4, "SUCCESS"]]);
    // Now the SQ has room again; a QP taken back to RESET refuses.
    p.a.qp.state = "RESET";
    expect(p.a.postSend([p.write(6, 64)])).toEqual({ ok: false, errno: "EINVAL" });
  });
});

describe("CQ errors [kernel.md §d.7]", () => {
  const cqErr = { type: "IB_EVENT_CQ_ERR", object: "nic0/cq#0", syndrome: 1 };
  const qpError = { qp: "nic0/qp#0", from: "RTS", reason: "completion refused by nic0/cq#0", fatal: true };
  const qpFatal = { type: "IB_EVENT_QP_FATAL", object: "nic0/qp#0", syndrome: 0 };
  const ok = (wrId: number, issuedPs: number) => ({ cq: "nic0/cq#0", qp: "nic0/qp#0", wrId, status: "SUCCESS", issuedPs, outcome: "ok" });
  const overrun: Array<[string, (p: NicPair) => void, unknown[]]> = [
    [
      // Each WR posted once the one before is done: WR 3's ACK overruns the CQ; WR 4 is posted to a
      // QP in ERR and flushed when its doorbell lands (8365.890 ns), without a CQE (the CQ is in error).
      "one WR at a time",
      (p) => {
        for (const id of [1, 2, 3, 4]) {
          p.a.postSend([p.write(id, 64)]);
          p.run();
        }
      },
      [
        [2188288 + CQE_UP, "rdma/cqe.write", ok(1, 2188288)],
        [5050798 + CQE_UP, "rdma/cqe.write", ok(2, 5050798)],
        [7913308, "rdma/async.event", cqErr],
        [7913308, "rdma/qp.error", qpError],
        [7913308, "rdma/async.event", qpFatal],
        [8365890, "rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 4, status: "WR_FLUSH_ERR" }],
      ],
    ],
    [
      // All four in one post, on the wire together; their ACKs come back about 2.955 ns apart (paced
      // by the CplDs of their 64 B data reads: 84 B each on nic0's link). The third overruns the CQ
      // (the first two CQEs are still on their way up); WR 4, in flight, is flushed then and its
      // ACK, 2.955 ns later, is ignored.
      "four WRs outstanding",
      (p) => {
        p.a.postSend([1, 2, 3, 4].map((id) => p.write(id, 64)));
        p.run();
      },
      [
        [2200953, "rdma/async.event", cqErr],
        [2200953, "rdma/qp.error", qpError],
        [2200953, "rdma/async.event", qpFatal],
        [2200953, "rdma/wqe.failed", { qp: "nic0/qp#0", wrId: 4, status: "WR_FLUSH_ERR" }],
        [2195042 + CQE_UP, "rdma/cqe.write", ok(1, 2195042)],
        [2195042 + CQE_UP + CQE_NEXT, "rdma/cqe.write", ok(2, 2197998)],
      ],
    ],
  ];
  it.each(overrun)(
    "overrun, %s: a CQ of 2 entries nobody polls; the third CQE raises CQ_ERR syndrome 1, the QP goes fatal, no CQE is written after",
    (_name, post, expected) => {
      const p = nicPair({ cqEntries: 2 });
      post(p);
      expect(p.run()).toBe("quiet");
      expect(outcome(p)).toEqual(expected);
      expect(p.nic.asyncEvents.map((e) => [e.type, e.object, e.syndrome])).toEqual([
        ["IB_EVENT_CQ_ERR", "nic0/cq#0", 1],
        ["IB_EVENT_QP_FATAL", "nic0/qp#0", undefined],
      ]);
      expect(p.cq.error).toBe("overrun");
      expect(p.a.qp.state).toBe("ERR");
    },
  );

  it("a pinned-revocable CQ in the BAR whose export VFIO revoked (MEM clear): the next completion raises CQ_ERR syndrome 2 and QP fatal; no TLP reaches the BAR after revoke.done", () => {
    const p = nicPair({ cqInBar: true, cqPin: "pinned-revocable", tlpEvents: true });
    p.a.postSend([p.write(1, 64)]);
    p.run();
    p.gpu0.writeCommandMemory(false);
    p.run();
    p.a.postSend([p.write(2, 64)]);
    p.run();
    expect(outcome(p).map(([, k, f]) => [k, f])).toEqual([
      ["rdma/cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 1, status: "SUCCESS", issuedPs: 2188288, outcome: "ok" }],
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
