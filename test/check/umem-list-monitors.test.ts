// Goal: the umem_list monitors (I16 released once, I17 creation rules, I18 long enough, I20
// consumed) stay silent on correct CQ and QP creates and fire on the mutants and profiles that
// break them: E19 (double free), E20 (leak before the object exists), E21 (v2 default: a buffer
// given twice), E22 (32-bit narrowing), and hand-written traces where no model path reaches.
// Method: the rdma test world with a verbs device on nic0, the monitor fed the recorded trace.
import { describe, expect, it } from "vitest";
import { createI16Monitor } from "../../src/check/i16-umem-released-once.js";
import { createI17Monitor, umemListRuleBroken } from "../../src/check/i17-umem-list-create-rules.js";
import { createI18Monitor } from "../../src/check/i18-umem-long-enough.js";
import { createI20Monitor } from "../../src/check/i20-umem-list-consumed.js";
import type { MonitorFactory } from "../../src/check/monitor.js";
import { RDMA_MONITORS } from "../../src/check/monitors-rdma.js";
import { encodeBufferDescs, IB_UVERBS_BUFFER_TYPE, type IbUverbsBufferDesc } from "../../src/rdma/buffer-desc.js";
import { ibCreateCq, ibDestroyCq, ibResizeCq } from "../../src/rdma/verbs-cq.js";
import { type IbDeviceCaps, ibDevice } from "../../src/rdma/verbs-device.js";
import { ibAllocPd } from "../../src/rdma/verbs-pd.js";
import { type IbQpOptions, ibCreateQp, ibDestroyQp, UVERBS_BUF_QP } from "../../src/rdma/verbs-qp.js";
import { rdmaWorld } from "../rdma/world.js";
import { events, replay, summary } from "./rdma-check-support.js";

const va = (index: number, addr: bigint, length: bigint): IbUverbsBufferDesc => ({ fd: -1, type: IB_UVERBS_BUFFER_TYPE.VA, index, reserved: 0, addr, length });
const UCMD = { bufAddr: 0x50_0000n, dbAddr: 0x60_0000n };
const CQ_UCMD = { bufAddr: 0x70_0000n, dbAddr: 0x80_0000n };

/** A device, a PD and a CQ (umem#0, umem#1); `qp` creates a QP on it with the given descriptors. */
function world(caps: Partial<IbDeviceCaps> = {}) {
  const w = rdmaWorld();
  const device = ibDevice(w.ctx, w.nic0, { caps });
  const pd = ibAllocPd(device);
  const created = ibCreateCq(device, { entries: 64, ucmd: CQ_UCMD });
  if (!created.ok) throw new Error(created.errno);
  const cq = created.value;
  const qp = (descs: IbUverbsBufferDesc[] | undefined, options: IbQpOptions = {}) =>
    ibCreateQp({ pd, sendCq: cq, recvCq: cq, bufSize: 8192, ucmd: UCMD, ...(descs === undefined ? {} : { buffers: encodeBufferDescs(descs) }) }, options);
  return { ...w, device, pd, cq, qp };
}

/** Every umem_list monitor over one recorded trace: the violations by id (undefined = silent). */
function all(w: ReturnType<typeof world>) {
  const ids = ["I16", "I17", "I18", "I20"] as const;
  return Object.fromEntries(ids.map((id) => [id, summary(replay((RDMA_MONITORS[id] as MonitorFactory)(), w.trace.events))?.message]));
}

describe("umem_list monitors on correct creates", () => {
  it("stay silent through QP and CQ creates with descriptors, the fallbacks, a consumption failure, resize and destroy", () => {
    const w = world();
    const a = w.qp([va(UVERBS_BUF_QP.DBR_BUF, 0x20_0000n, 8n), va(UVERBS_BUF_QP.BUF, 0x10_0000n, 8192n)]);
    const b = w.qp(undefined);
    const c = w.qp([va(UVERBS_BUF_QP.RQ_BUF, 0x30_0000n, 4096n)]); // never loaded: fails EINVAL
    const d = w.qp([va(UVERBS_BUF_QP.BUF, 0x10_0000n, 8192n), va(UVERBS_BUF_QP.BUF, 0x20_0000n, 8192n)]); // duplicate: fails
    if (!a.ok || !b.ok) throw new Error("QP create failed");
    ibDestroyQp(a.value);
    ibDestroyQp(b.value);
    const cq = ibCreateCq(w.device, { entries: 16, buffers: encodeBufferDescs([va(0, 0x90_0000n, 1024n), va(1, 0xa0_0000n, 8n)]), ucmd: CQ_UCMD });
    if (!cq.ok) throw new Error(cq.errno);
    expect(ibResizeCq(cq.value, 32, 0xb0_0000n).ok).toBe(true);
    expect(ibDestroyCq(cq.value).ok).toBe(true);
    expect([c.ok, d.ok]).toEqual([false, false]);
    expect(all(w)).toEqual({ I16: undefined, I17: undefined, I18: undefined, I20: undefined });
  });
});

describe("I16: every pinned umem released exactly once", () => {
  it("E19: the consumption failure releases the QP's list twice; caught at the second release (slot 0 first: the ucmd fallback umem#3)", () => {
    const w = world();
    w.qp([va(UVERBS_BUF_QP.RQ_BUF, 0x30_0000n, 4096n)], { e19: true });
    expect(summary(replay(createI16Monitor(), w.trace.events))).toEqual({
      invariant: "I16",
      message: "nic0/umem#3 released twice: nic0/qp#0's umem_list released again after its release at 0 ps",
      event: "qp.umem_list.double_free",
      chain: ["rdma/umem.get", "rdma/umem.release", "rdma/qp.umem_list.double_free"],
    });
  });

  it.each([
    ["QP, no create_qp op", { createQp: false }, false, "QP create of nic0 (step create-op, EOPNOTSUPP)"],
    ["QP, allocation failure", {}, true, "QP create of nic0 (step alloc, ENOMEM)"],
  ] as const)("E20 (%s): the list is leaked; silent without the mutant, caught at the end with it", (_name, caps, allocationFails, what) => {
    const outcomes = [false, true].map((e20) => {
      const w = world(caps);
      w.qp([va(UVERBS_BUF_QP.BUF, 0x10_0000n, 8192n)], { e20, allocationFails });
      return summary(replay(createI16Monitor(), w.trace.events));
    });
    expect(outcomes).toEqual([
      undefined,
      {
        invariant: "I16",
        message: `nic0/umem#2 never released: the ${what} failed and left it pinned with no owner`,
        event: undefined,
        chain: ["rdma/umem.get", "rdma/qp.create.failed"],
      },
    ]);
  });

  it("E20 on a CQ: the legacy buffer's pin then the allocation failure leaks the descriptor and the legacy umem", () => {
    const w = world();
    ibCreateCq(
      w.device,
      { entries: 16, buffers: encodeBufferDescs([va(1, 0xa0_0000n, 8n)]), legacy: { bufferVa: 0x90_0000n, bufferLength: 1024n }, ucmd: CQ_UCMD },
      { e20: true, allocationFails: true },
    );
    expect(summary(replay(createI16Monitor(), w.trace.events))?.message).toBe(
      "nic0/umem#2 never released: the CQ create of nic0 (step alloc, ENOMEM) failed and left it pinned with no owner",
    );
  });

  it("a umem released later than its failed create is no leak; a umem still in use at the end is none either", () => {
    const seq = events(
      [0, "rdma", "umem.get", { umem: "nic0/umem#0", type: "va", length: 4096, address: 0 }],
      [1, "rdma", "umem.get", { umem: "nic0/umem#1", type: "va", length: 4096, address: 0 }],
      [2, "rdma", "qp.create.failed", { device: "nic0", step: "alloc", errno: "ENOMEM", leaked: true, umems: ["nic0/umem#1"] }],
      [3, "rdma", "umem.release", { umem: "nic0/umem#1", type: "va" }],
    );
    expect(replay(createI16Monitor(), seq)).toBeUndefined();
  });

  it("a plain second umem.release (driver and list both) is a double free", () => {
    const seq = events(
      [0, "rdma", "umem.get", { umem: "nic0/umem#0", type: "va", length: 4096, address: 0 }],
      [1, "rdma", "umem.release", { umem: "nic0/umem#0", type: "va" }],
      [2, "rdma", "umem.release", { umem: "nic0/umem#0", type: "va" }],
    );
    expect(summary(replay(createI16Monitor(), seq))).toEqual({
      invariant: "I16",
      message: "nic0/umem#0 released twice: umem.release after its release at 1 ps",
      event: "umem.release",
      chain: ["rdma/umem.get", "rdma/umem.release", "rdma/umem.release"],
    });
  });
});

describe("I17: umem_list creation rules", () => {
  it("E21 (the v2 default): a CQ_BUF descriptor and legacy attributes both accepted; the monitor flags the double specification", () => {
    const w = world();
    const r = ibCreateCq(w.device, {
      entries: 16,
      buffers: encodeBufferDescs([va(0, 0x90_0000n, 1024n)]),
      legacy: { bufferVa: 0xc0_0000n, bufferLength: 1024n },
      ucmd: CQ_UCMD,
    });
    expect(r.ok).toBe(true);
    expect(summary(replay(createI17Monitor(), w.trace.events))).toEqual({
      invariant: "I17",
      message: "nic0/cq#1 created although CQ_BUF given twice: by a descriptor and by the legacy va attributes",
      event: "cq.create",
      chain: ["rdma/cq.create"],
    });
  });

  it("the rules, one table: each broken rule named, a well-formed list accepted", () => {
    const d = (index: number, type = 1, reserved = 0) => ({ index, type, reserved });
    expect([
      umemListRuleBroken(2, [d(0), d(1)], "none"),
      umemListRuleBroken(2, [d(0), d(1), d(0)], "none"),
      umemListRuleBroken(2, [d(0, 1, 7)], "none"),
      umemListRuleBroken(2, [d(2)], "none"),
      umemListRuleBroken(2, [d(1), d(1)], "none"),
      umemListRuleBroken(2, [d(0, 2)], "none"),
      umemListRuleBroken(2, [d(1)], "fd"),
      umemListRuleBroken(2, [d(0, 0)], "fd"),
    ]).toEqual([
      undefined,
      "3 descriptors for 2 slots",
      "descriptor 0 has reserved = 7",
      "descriptor 0 has index 2 >= count 2",
      "descriptor 1 repeats index 1",
      "descriptor 0 has unknown type 2",
      undefined,
      "CQ_BUF given twice: by a descriptor and by the legacy fd attributes",
    ]);
  });

  it("a failed list creation that leaves a umem pinned (no model path does) is flagged at the failure", () => {
    const seq = events(
      [0, "rdma", "umem.get", { umem: "nic0/umem#4", type: "va", length: 4096, address: 0 }],
      [0, "rdma", "qp.create.failed", { device: "nic0", step: "umem_list", errno: "EINVAL", leaked: false, umems: ["nic0/umem#4", "nic0/umem#5"] }],
    );
    expect(summary(replay(createI17Monitor(), seq))).toEqual({
      invariant: "I17",
      message: "umem_list creation on nic0 failed (EINVAL) and left nic0/umem#4 pinned",
      event: "qp.create.failed",
      chain: ["rdma/umem.get", "rdma/qp.create.failed"],
    });
  });
});

describe("I18: loaded umems are long enough and not narrowed", () => {
  it("E22 (v2 on a 32-bit kernel): a 4 GiB + 8 KiB QP_BUF length narrowed to 8 KiB is accepted; caught against the descriptor (64-bit pins all of it)", () => {
    const outcomes = ([64, 32] as const).map((wordBits) => {
      const w = world();
      const r = w.qp([va(UVERBS_BUF_QP.BUF, 0x10_0000n, 2n ** 32n + 8192n)], { list: { wordBits } });
      return [r.ok, summary(replay(createI18Monitor(), w.trace.events))];
    });
    expect(outcomes).toEqual([
      [true, undefined],
      [
        true,
        {
          invariant: "I18",
          message: "nic0/qp#0's buf nic0/umem#2 is 8192 bytes but its descriptor asked 4294975488 (narrowed)",
          event: "qp.create",
          chain: ["rdma/umem.get", "rdma/qp.create"],
        },
      ],
    ]);
  });

  it("a buffer shorter than the driver asked (no model path loads one) is flagged", () => {
    const seq = events(
      [0, "rdma", "umem.get", { umem: "nic0/umem#0", type: "va", length: 512, address: 0 }],
      [
        0,
        "rdma",
        "cq.create",
        { cq: "nic0/cq#0", buf: "nic0/umem#0", dbr: "", bufSize: 1024, dbrSize: 8, legacy: "none", slots: 2, provided: [0], loaded: [0], descriptors: [] },
      ],
    );
    expect(summary(replay(createI18Monitor(), seq))?.message).toBe("nic0/cq#0's buf nic0/umem#0 is 512 bytes, shorter than the 1024 the driver asked");
  });
});

describe("I20: provided buffers are consumed", () => {
  it("the model's consumption failure is EINVAL (silent); a create reporting an unloaded provided slot is flagged", () => {
    const w = world();
    w.qp([va(UVERBS_BUF_QP.RQ_BUF, 0x30_0000n, 4096n)]);
    const silent = replay(createI20Monitor(), w.trace.events);
    const seq = events([
      0,
      "rdma",
      "qp.create",
      { qp: "nic0/qp#0", buf: "", dbr: "", bufSize: 1, dbrSize: 8, slots: 4, provided: [0, 1], loaded: [0], descriptors: [] },
    ]);
    expect([silent, summary(replay(createI20Monitor(), seq))]).toEqual([
      undefined,
      { invariant: "I20", message: "nic0/qp#0 created with provided slot(s) 1 never loaded", event: "qp.create", chain: ["rdma/qp.create"] },
    ]);
  });
});
