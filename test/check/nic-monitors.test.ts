// Goal: the NIC-side rdma monitors (I19 invalidate vs dereg, I21 use after unmap, I22 the
// pinned-revocable callback, L5 faults resolve, L6 CQ error) stay silent on the correct driver
// and fire on mutants E18, `callbackReturnsBeforeDrain` and `invalidateIgnored`; hand-written
// traces for what no mutant reaches (a stalled fault, a CQ that never reports its error).
// Method: the NIC revoke scenarios of test/rdma (16 KiB WRITEs into gpu0's BAR1, MEM cleared 1 ps
// after a chosen write was issued), every event from the world's creation on recorded through the
// world's `observe` hook and fed to fresh monitors.
import { describe, expect, it } from "vitest";
import { createI19Monitor } from "../../src/check/i19-no-invalidate-on-revoked-key.js";
import { createI21Monitor } from "../../src/check/i21-no-use-after-unmap.js";
import { createI22Monitor } from "../../src/check/i22-revocable-callback.js";
import { createL5Monitor } from "../../src/check/l5-fault-resolves.js";
import { createL6Monitor } from "../../src/check/l6-cq-error-on-inaccessible.js";
import type { MonitorFactory } from "../../src/check/monitor.js";
import { dmaBufInvalidateMappings } from "../../src/dmabuf/attachment.js";
import type { Engine } from "../../src/fabric/engine.js";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { IB_ACCESS } from "../../src/rdma/umem.js";
import { ibDevice } from "../../src/rdma/verbs-device.js";
import { ibDeregMr, ibRegUserMrDmabuf, mlx5RevokeMr } from "../../src/rdma/verbs-mr.js";
import { ibAllocPd } from "../../src/rdma/verbs-pd.js";
import { cqeIssued, dataIssued, type Moment, memOff, scenario } from "../rdma/nic-revoke-support.js";
import type { NicWorldOptions } from "../rdma/nic-world.js";
import { FD, rdmaWorld } from "../rdma/world.js";
import { events, replay, summary } from "./rdma-check-support.js";

const revocable: NicWorldOptions = { cqInBar: true, cqPin: "pinned-revocable" };
const crbd: NicWorldOptions = { mutants: { callbackReturnsBeforeDrain: true } };
const ignored: NicWorldOptions = { mutants: { invalidateIgnored: true } };

/** Runs the revoke scenario and returns every event of the measured world and its end time. */
function run(options: NicWorldOptions, moment: Moment) {
  let recorded: TraceEvent[] = [];
  const observe = (engine: Engine) => {
    const mine: TraceEvent[] = [];
    recorded = mine; // the scenario builds a probe world first: keep the last one
    engine.trace.subscribe((e) => void mine.push(e));
  };
  const s = scenario({ ...options, observe }, moment, memOff);
  expect(s.w.run()).toBe("quiet");
  return { events: recorded, now: s.w.engine.nowPs };
}

/** The five monitors over the same runs: the invariant each one flags (or "-"). */
const FACTORIES: ReadonlyArray<readonly [string, MonitorFactory]> = [
  ["I19", createI19Monitor],
  ["I21", createI21Monitor],
  ["I22", createI22Monitor],
  ["L5", createL5Monitor],
  ["L6", createL6Monitor],
];

describe("NIC monitors over the revoke scenarios", () => {
  it("one table: the correct driver keeps all five; each mutant breaks exactly the ones it should", () => {
    const cases: ReadonlyArray<readonly [string, NicWorldOptions, Moment]> = [
      ["dynamic MR, correct", {}, dataIssued(2)],
      ["dynamic MR, callbackReturnsBeforeDrain", crbd, dataIssued(2)],
      ["dynamic MR, invalidateIgnored", ignored, dataIssued(2)],
      ["revocable CQ, correct", revocable, cqeIssued(2)],
      ["revocable CQ, callbackReturnsBeforeDrain", { ...revocable, ...crbd }, cqeIssued(2)],
      ["revocable CQ, invalidateIgnored", { ...revocable, ...ignored }, cqeIssued(2)],
    ];
    const table = cases.map(([name, options, moment]) => {
      const r = run(options, moment);
      return [name, FACTORIES.filter(([, create]) => replay(create(), r.events, r.now) !== undefined).map(([id]) => id)];
    });
    expect(table).toEqual([
      ["dynamic MR, correct", []],
      // The data of WRITE 2 lands after the MR's umem was unmapped.
      ["dynamic MR, callbackReturnsBeforeDrain", ["I21"]],
      // The MR stays mapped: nothing is used after an unmap (I1 and L1 are what break).
      ["dynamic MR, invalidateIgnored", []],
      ["revocable CQ, correct", []],
      // WRITE 2's data through the MR and its CQE (refused UR) arrive after the unmaps and the callback's return.
      ["revocable CQ, callbackReturnsBeforeDrain", ["I21", "I22"]],
      // The CQ context keeps writing CQEs, which land, where the revoked buffer was.
      ["revocable CQ, invalidateIgnored", ["I21", "I22", "L6"]],
    ]);
  });

  it("I21, I22, L6 violations: message, breaking event and chain", () => {
    const dyn = run(crbd, dataIssued(2));
    const rev = run({ ...revocable, ...ignored }, cqeIssued(2));
    expect([
      summary(replay(createI21Monitor(), dyn.events)),
      summary(replay(createI22Monitor(), rev.events)),
      summary(replay(createL6Monitor(), rev.events)),
    ]).toEqual([
      {
        invariant: "I21",
        message: "nic0/mr#1 wr 2 (issued at 11296368 ps) used nic0/umem#1 after its unmap at 11296369 ps",
        event: "data.write",
        chain: ["rdma/umem.get", "rdma/mr.reg", "rdma/umem.unmap", "rdma/data.write"],
      },
      {
        invariant: "I22",
        message:
          "nic0/cq#0 CQE of nic0/qp#0 wr 2 (issued at 12808164 ps) reached pinned-revocable nic0/umem#2 after its revoke callback returned at 12808165 ps",
        event: "cqe.write",
        chain: ["rdma/umem.get", "rdma/cq.create", "rdma/umem.revoke.callback", "rdma/umem.revoke", "rdma/cqe.write"],
      },
      {
        invariant: "L6",
        message: "nic0/cq#0 completed wr 2 of nic0/qp#0 successfully after its buffer nic0/umem#2 became inaccessible (umem.unmap at 12808165 ps)",
        event: "cqe.write",
        chain: ["rdma/cq.create", "rdma/umem.unmap", "rdma/cqe.write"],
      },
    ]);
  });
});

describe("I19: no invalidate acts on a revoked key", () => {
  it("E18: an invalidate between the mkey revoke and the umem release is skipped when fixed, flagged under the mutant", () => {
    const outcomes = [false, true].map((e18) => {
      const w = rdmaWorld();
      const pd = ibAllocPd(ibDevice(w.ctx, w.nic0));
      const reg = ibRegUserMrDmabuf({ pd, dmabuf: FD, offset: 4096, length: 8192, access: IB_ACCESS.LOCAL_WRITE }, { e18 });
      if (!reg.ok) throw new Error(reg.errno);
      mlx5RevokeMr(reg.value);
      w.buf.resv.lock("exporter:test");
      dmaBufInvalidateMappings(w.buf);
      w.buf.resv.unlock("exporter:test");
      ibDeregMr(reg.value);
      return summary(replay(createI19Monitor(), w.trace.events));
    });
    expect(outcomes).toEqual([
      undefined,
      {
        invariant: "I19",
        message: "an invalidate acted on nic0/mr#0 (mr.invalidate.use_after_free) after its key was revoked by mr.mkey.revoke at 0 ps",
        event: "mr.invalidate.use_after_free",
        chain: ["rdma/mr.reg", "rdma/mr.mkey.revoke", "rdma/mr.invalidate.use_after_free"],
      },
    ]);
  });
});

describe("hand-written traces (no model mutant reaches these)", () => {
  it("I22: a second revoke callback on the same umem", () => {
    const seq = events(
      [0, "rdma", "umem.get", { umem: "nic0/umem#2", type: "dmabuf-pinned-revocable", length: 4096, address: 0 }],
      [5, "rdma", "umem.revoke.callback", { umem: "nic0/umem#2", buf: "gpu0/dmabuf#0" }],
      [9, "rdma", "umem.revoke.callback", { umem: "nic0/umem#2", buf: "gpu0/dmabuf#0" }],
    );
    expect(summary(replay(createI22Monitor(), seq))).toEqual({
      invariant: "I22",
      message: "the revoke callback of nic0/umem#2 ran twice (first at 5 ps)",
      event: "umem.revoke.callback",
      chain: ["rdma/umem.get", "rdma/umem.revoke.callback", "rdma/umem.revoke.callback"],
    });
  });

  it("L5: a fault process that never exits stalls; a failed fault with no error outcome; one followed by wqe.failed is fine", () => {
    const spawn = [3, "fabric", "process.spawn", { process: "nic0/mr#1/fault", pid: 7 }] as const;
    const failed = [4, "rdma", "mr.fault.failed", { mr: "nic0/mr#1", errno: "ENODEV" }] as const;
    const exit = [4, "fabric", "process.exit", { process: "nic0/mr#1/fault", pid: 7 }] as const;
    const error = [5, "rdma", "wqe.failed", { qp: "nic0/qp#1", wrId: 3, status: "REM_ACCESS_ERR" }] as const;
    expect([
      summary(replay(createL5Monitor(), events(spawn), 100)),
      summary(replay(createL5Monitor(), events(spawn, failed, exit), 100)),
      replay(createL5Monitor(), events(spawn, failed, exit, error), 100),
    ]).toEqual([
      {
        invariant: "L5",
        message: "nic0/mr#1/fault (page fault since 3 ps) never re-mapped nor failed the access: stalled",
        event: undefined,
        chain: ["fabric/process.spawn"],
      },
      {
        invariant: "L5",
        message: "nic0/mr#1's page fault failed (ENODEV) at 4 ps, and no error completion or async event followed",
        event: undefined,
        chain: ["fabric/process.spawn", "rdma/mr.fault.failed"],
      },
      undefined,
    ]);
  });

  it("L6: a completion attempted after the CQ buffer's revoke without CQ_ERR; with it, or with no attempt, silent; a resize's release is no trigger", () => {
    const create = [0, "rdma", "cq.create", { cq: "nic0/cq#0", buf: "nic0/umem#2" }] as const;
    const qp = [0, "rdma", "qp.create", { qp: "nic0/qp#0", buf: "nic0/umem#5", sendCq: "nic0/cq#0", recvCq: "nic0/cq#0" }] as const;
    const revoke = [10, "rdma", "umem.revoke", { umem: "nic0/umem#2", buf: "gpu0/dmabuf#0" }] as const;
    const qpErr = [20, "rdma", "qp.error", { qp: "nic0/qp#0", from: "RTS", reason: "CQ", fatal: true }] as const;
    const cqErr = [20, "rdma", "async.event", { type: "IB_EVENT_CQ_ERR", object: "nic0/cq#0", syndrome: 2 }] as const;
    const resizeRelease = [30, "rdma", "umem.release", { umem: "nic0/umem#2", type: "va" }] as const;
    const resize = [30, "rdma", "cq.resize", { cq: "nic0/cq#0", buf: "nic0/umem#9", entries: 32 }] as const;
    const okCqe = [40, "rdma", "cqe.write", { cq: "nic0/cq#0", qp: "nic0/qp#0", wrId: 1, issuedPs: 35, outcome: "ok" }] as const;
    expect([
      summary(replay(createL6Monitor(), events(create, qp, revoke, qpErr), 100)),
      replay(createL6Monitor(), events(create, qp, revoke, cqErr, qpErr), 100),
      replay(createL6Monitor(), events(create, qp, revoke), 100),
      replay(createL6Monitor(), events(create, qp, resizeRelease, resize, okCqe), 100),
    ]).toEqual([
      {
        invariant: "L6",
        message: "nic0/cq#0's buffer nic0/umem#2 became inaccessible (umem.revoke at 10 ps) and a completion was attempted, but no IB_EVENT_CQ_ERR was raised",
        event: undefined,
        chain: ["rdma/cq.create", "rdma/umem.revoke", "rdma/qp.error"],
      },
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("I21: an access issued under an older mapping, seen after a re-map, is flagged; one issued under the new mapping is not", () => {
    const base = [
      [0, "rdma", "umem.get", { umem: "nic0/umem#1", type: "dmabuf-dynamic", length: 8192, address: 0 }],
      [0, "rdma", "mr.reg", { mr: "nic0/mr#1", umem: "nic0/umem#1" }],
      [1, "rdma", "umem.map", { umem: "nic0/umem#1", buf: "b" }],
      [5, "rdma", "umem.unmap", { umem: "nic0/umem#1", buf: "b" }],
      [8, "rdma", "umem.map", { umem: "nic0/umem#1", buf: "b" }],
    ] as const;
    const write = (issuedPs: number) => [10, "rdma", "data.write", { qp: "nic0/qp#1", wrId: 4, mr: "nic0/mr#1", issuedPs, outcome: "ok" }] as const;
    expect([summary(replay(createI21Monitor(), events(...base, write(4))))?.message, replay(createI21Monitor(), events(...base, write(9)))]).toEqual([
      "nic0/mr#1 wr 4 (issued at 4 ps) used nic0/umem#1 after its unmap at 5 ps",
      undefined,
    ]);
  });
});
