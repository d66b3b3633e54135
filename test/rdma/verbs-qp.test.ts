// Goal: QP creation consumes its umem_list as kernel.md §d.4 says (the QP owns the list once it
// exists), the state machine accepts exactly the legal transitions, PDs refuse dealloc while used,
// and mutants E19 (double release) and E20 (leak before the QP exists) are visible.
// Method: the rdma test world with a verbs device on nic0; umem gets and releases read from the trace.
import { describe, expect, it } from "vitest";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { encodeBufferDescs, IB_UVERBS_BUFFER_TYPE, type IbUverbsBufferDesc } from "../../src/rdma/buffer-desc.js";
import { ibCreateCq, ibDestroyCq } from "../../src/rdma/verbs-cq.js";
import { type IbDeviceCaps, ibDevice } from "../../src/rdma/verbs-device.js";
import { ibAllocPd, ibDeallocPd } from "../../src/rdma/verbs-pd.js";
import { IB_QP_STATES, type IbQpOptions, ibCreateQp, ibDestroyQp, ibModifyQp, UVERBS_BUF_QP } from "../../src/rdma/verbs-qp.js";
import { rdmaWorld } from "./world.js";

const vaDesc = (index: number, addr: bigint, length: bigint): IbUverbsBufferDesc => ({
  fd: -1,
  type: IB_UVERBS_BUFFER_TYPE.VA,
  index,
  reserved: 0,
  addr,
  length,
});
const attr = (...descs: IbUverbsBufferDesc[]): Uint8Array => encodeBufferDescs(descs);
const QP_DESC = vaDesc(UVERBS_BUF_QP.BUF, 0x10_0000n, 8192n);
const DBR_DESC = vaDesc(UVERBS_BUF_QP.DBR_BUF, 0x20_0000n, 8n);
const RQ_DESC = vaDesc(UVERBS_BUF_QP.RQ_BUF, 0x30_0000n, 4096n);
const UCMD = { bufAddr: 0x50_0000n, dbAddr: 0x60_0000n };

/** Umem gets and releases and QP events after the CQs exist, names without `nic0/`. */
function log(events: readonly TraceEvent[]): string[] {
  const out: string[] = [];
  const short = (v: unknown) => String(v).replace("nic0/", "");
  for (const e of events) {
    if (e.layer !== "rdma") continue;
    if (e.kind === "umem.get") out.push(`get ${short(e.umem)} @${Number(e.address).toString(16)}`);
    else if (e.kind === "umem.release") out.push(`release ${short(e.umem)}`);
    else if (e.kind === "qp.umem_list.double_free") out.push(`double free ${(e.umems as string[]).map(short).join(" ")}`);
    else if (e.kind.startsWith("qp.")) out.push(`${e.kind} ${[e.step, e.errno].filter((v) => v !== undefined).join(" ")}`.trim());
  }
  return out;
}

/** A device, a PD and one CQ used as send and recv CQ; its umems are umem#0 and umem#1. */
function world(caps: Partial<IbDeviceCaps> = {}) {
  const w = rdmaWorld();
  const device = ibDevice(w.ctx, w.nic0, { caps });
  const pd = ibAllocPd(device);
  const created = ibCreateCq(device, { entries: 64, ucmd: { bufAddr: 0x70_0000n, dbAddr: 0x80_0000n } });
  if (!created.ok) throw new Error(created.errno);
  const cq = created.value;
  const since = w.trace.events.length;
  const pinnedBefore = w.mm.pinnedVm;
  const create = (buffers: Uint8Array | undefined, options: IbQpOptions = {}) =>
    ibCreateQp({ pd, sendCq: cq, recvCq: cq, bufSize: 8192, ucmd: UCMD, ...(buffers === undefined ? {} : { buffers }) }, options);
  return { ...w, device, pd, cq, create, pinnedBefore, log: () => log(w.trace.events.slice(since)) };
}

describe("QP create and destroy [kernel.md §d.4]", () => {
  it("descriptors for QP_BUF and DBR_BUF: loaded, bound to PD and CQs, released in slot order at destroy", () => {
    const w = world();
    const result = w.create(attr(DBR_DESC, QP_DESC));
    if (!result.ok) throw new Error(result.errno);
    const qp = result.value;
    expect([qp.name, qp.state, qp.buf?.name, qp.dbr?.name, w.pd.usecnt, w.cq.usecnt]).toEqual(["nic0/qp#0", "RESET", "nic0/umem#3", "nic0/umem#2", 1, 2]);
    expect(ibDestroyCq(w.cq)).toEqual({ ok: false, errno: "EBUSY" });
    ibDestroyQp(qp);
    expect([w.pd.usecnt, w.cq.usecnt]).toEqual([0, 0]);
    expect(w.log()).toEqual(["get umem#2 @200000", "get umem#3 @100000", "qp.create", "release umem#3", "release umem#2", "qp.destroy"]);
    expect(w.mm.pinnedVm).toBe(w.pinnedBefore);
  });

  it("no descriptors: the driver pins ucmd.buf_addr (filed in the list) and its own doorbell page (released first)", () => {
    const w = world();
    const result = w.create(undefined);
    if (!result.ok) throw new Error(result.errno);
    ibDestroyQp(result.value);
    expect(w.log()).toEqual(["get umem#2 @500000", "get umem#3 @600000", "qp.create", "release umem#3", "release umem#2", "qp.destroy"]);
  });

  it("an unconsumed RQ_BUF: ib_destroy_qp_user releases everything once, PD and CQs unbound, EINVAL (I20)", () => {
    const w = world();
    expect(w.create(attr(QP_DESC, RQ_DESC))).toEqual({ ok: false, errno: "EINVAL" });
    expect(w.log()).toEqual([
      "get umem#2 @100000",
      "get umem#3 @300000",
      "get umem#4 @600000",
      "release umem#4",
      "release umem#2",
      "release umem#3",
      "qp.destroy",
      "qp.create.failed consumed EINVAL",
    ]);
    expect([w.pd.usecnt, w.cq.usecnt, w.mm.pinnedVm]).toEqual([0, 0, w.pinnedBefore]);
  });

  it("E19: the mutant releases the list a second time; the double free of both listed umems is recorded", () => {
    const w = world();
    expect(w.create(attr(QP_DESC, RQ_DESC), { e19: true })).toEqual({ ok: false, errno: "EINVAL" });
    expect(w.log().slice(-3)).toEqual(["qp.destroy", "double free umem#2 umem#3", "qp.create.failed consumed EINVAL"]);
  });

  it("E20: a failure before the QP exists releases the list by default and leaks it under the mutant", () => {
    const rows: Array<[string, Partial<IbDeviceCaps>, IbQpOptions, string]> = [
      ["no create_qp op", { createQp: false }, {}, "create-op EOPNOTSUPP"],
      ["allocation fails", {}, { allocationFails: true }, "alloc ENOMEM"],
    ];
    const outcomes = rows.flatMap(([name, caps, options]) =>
      [false, true].map((e20) => {
        const w = world(caps);
        w.create(attr(QP_DESC), { ...options, e20 });
        return [name, e20, w.log(), w.mm.pinnedVm - w.pinnedBefore];
      }),
    );
    expect(outcomes).toEqual(
      rows.flatMap(([name, , , failure]) => [
        [name, false, ["get umem#2 @100000", "release umem#2", `qp.create.failed ${failure}`], 0],
        [name, true, ["get umem#2 @100000", `qp.create.failed ${failure}`], 2],
      ]),
    );
  });
});

describe("QP state transitions (ib_modify_qp_is_ok)", () => {
  const LEGAL: Record<string, string> = {
    RESET: "RESET INIT ERR",
    INIT: "RESET INIT RTR ERR",
    RTR: "RESET RTS ERR",
    RTS: "RESET RTS ERR",
    ERR: "RESET ERR",
  };

  it("accepts exactly the legal from x to pairs and leaves the state unchanged on EINVAL", () => {
    const w = world();
    const result = w.create(undefined);
    if (!result.ok) throw new Error(result.errno);
    const qp = result.value;
    const matrix = IB_QP_STATES.map((from) =>
      IB_QP_STATES.map((to) => {
        qp.state = from;
        const r = ibModifyQp(qp, to);
        return `${r.ok ? "ok" : r.errno}:${qp.state}`;
      }),
    );
    const expected = IB_QP_STATES.map((from) => IB_QP_STATES.map((to) => ((LEGAL[from] ?? "").split(" ").includes(to) ? `ok:${to}` : `EINVAL:${from}`)));
    expect(matrix).toEqual(expected);
  });

  it("walks RESET -> INIT -> RTR -> RTS -> ERR -> RESET", () => {
    const w = world();
    const result = w.create(undefined);
    if (!result.ok) throw new Error(result.errno);
    const walk = (["INIT", "RTR", "RTS", "ERR", "RESET"] as const).map((to) => ibModifyQp(result.value, to).ok);
    expect(walk).toEqual([true, true, true, true, true]);
  });
});

describe("PD dealloc", () => {
  it("is refused with EBUSY while a QP uses the PD and succeeds once it is destroyed", () => {
    const w = world();
    const result = w.create(undefined);
    if (!result.ok) throw new Error(result.errno);
    expect(ibDeallocPd(w.pd)).toEqual({ ok: false, errno: "EBUSY" });
    ibDestroyQp(result.value);
    expect(ibDeallocPd(w.pd)).toEqual({ ok: true, value: undefined });
    expect(w.pd.deallocated).toBe(true);
  });
});
