/**
 * Queue pairs created with a `umem_list` (umem_list v2, patch 10), an mlx5-like driver, and the
 * QP state machine [kernel.md §d.4].
 *
 * ```
 * create:  ib_umem_list_create(BUFFERS, slot_max = DBR_BUF)              ─ its errno
 *          ib_create_qp_user: no create_qp op ─ EOPNOTSUPP; allocation ─ ENOMEM   (no QP yet)
 *          QP exists and owns the list; driver create: loadOrGet(QP_BUF, size, ucmd.buf_addr),
 *          doorbell load(DBR_BUF, 8) or the ucmd page                     ─ its errno, list released
 *          bind PD, send CQ, recv CQ
 *          check_consumed ─ fails: ib_destroy_qp_user (releases the list), EINVAL (I20)
 * destroy: driver destroy, release the list, unbind
 * ```
 * Two opt-in mutants break I16:
 * - `e19`: the consumption-failure path releases the list again after `ib_destroy_qp_user` did
 *   (the 2026-03-25 posting). The second release is detected and traced as
 *   `qp.umem_list.double_free` with the umems it would free twice, instead of asserting.
 * - `e20` **[inferred]**: a failure before the QP exists neither stores nor releases the list
 *   (leak): the umems stay pinned.
 *
 * The mlx5-like driver here creates RC QPs: it loads QP_BUF and DBR_BUF only, so a buffer given in
 * RQ_BUF or SQ_BUF (raw packet QPs use them) is never loaded and fails the consumption check.
 */
import type { Errno, Result } from "../dmabuf/errno.js";
import { assert } from "../fabric/assert.js";
import { IB_ACCESS_LOCAL_WRITE, type Umem } from "./buffer-desc.js";
import { ibUmemListCreate, type UmemList, type UmemListOptions, type UmemListTraceFields, umemListTraceFields, umemNamesSince } from "./umem-list.js";
import { type IbCq, loadDbr, MLX5_DBR_SIZE } from "./verbs-cq.js";
import type { IbPd } from "./verbs-pd.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /** `bufSize`/`dbrSize`: the bytes the driver asked (I18); the list's slots, bits and descriptors (I17, I20). */
    "qp.create": { qp: string; pd: string; sendCq: string; recvCq: string; buf: string; dbr: string; bufSize: number; dbrSize: number } & UmemListTraceFields;
    /**
     * Creation failed at `step`; `leaked` is true when mutant E20 left the list pinned. `umems`:
     * every umem the command created, all of which must be released by now (I16, I17).
     */
    "qp.create.failed": { device: string; step: string; errno: Errno; leaked: boolean; umems: string[] };
    "qp.destroy": { qp: string };
    /** Mutant E19: the list was released a second time; `umems` would have been freed twice (I16). */
    "qp.umem_list.double_free": { qp: string; umems: readonly string[] };
    "qp.modify": { qp: string; from: IbQpState; to: IbQpState };
    "qp.modify.failed": { qp: string; from: IbQpState; to: IbQpState; errno: "EINVAL" };
  }
}

/** The QP slots of `UVERBS_ATTR_BUFFERS` (uAPI enum, patch 14) [§d.4]. */
export const UVERBS_BUF_QP = { BUF: 0, RQ_BUF: 1, SQ_BUF: 2, DBR_BUF: 3 } as const;
/** `UVERBS_BUF_QP_MAX`: the list's slot_max. */
export const UVERBS_BUF_QP_MAX = UVERBS_BUF_QP.DBR_BUF;

/** The QP states modelled (SQD and SQE are not). */
export type IbQpState = "RESET" | "INIT" | "RTR" | "RTS" | "ERR";

/** Every modelled state, in lifecycle order. */
export const IB_QP_STATES: readonly IbQpState[] = ["RESET", "INIT", "RTR", "RTS", "ERR"];

/**
 * The legal transitions: `qp_state_table` of `ib_modify_qp_is_ok` (drivers/infiniband/core/verbs.c,
 * not in kernel.md) restricted to the modelled states. Any state may go to RESET or ERR.
 */
const QP_TRANSITIONS: Readonly<Record<IbQpState, readonly IbQpState[]>> = {
  RESET: ["RESET", "INIT", "ERR"],
  INIT: ["RESET", "INIT", "RTR", "ERR"],
  RTR: ["RESET", "RTS", "ERR"],
  RTS: ["RESET", "RTS", "ERR"],
  ERR: ["RESET", "ERR"],
};

/** The mlx5 `ucmd` of QP creation. */
export interface Mlx5QpUcmd {
  readonly bufAddr: bigint;
  readonly dbAddr: bigint;
}

/** The arguments of {@link ibCreateQp}. */
export interface IbCreateQpArgs {
  readonly pd: IbPd;
  readonly sendCq: IbCq;
  readonly recvCq: IbCq;
  /** Bytes of the work queue buffer the driver needs (RQ + SQ). */
  readonly bufSize: number;
  /** The `UVERBS_ATTR_BUFFERS` bytes, or absent. */
  readonly buffers?: Uint8Array;
  readonly ucmd: Mlx5QpUcmd;
}

/** Model switches of QP creation. */
export interface IbQpOptions {
  /** Mutant E19: the consumption-failure path releases the list twice. Default false. */
  readonly e19?: boolean;
  /** Mutant E20: a failure before the QP exists leaks the list. Default false. */
  readonly e20?: boolean;
  /** Fault injection: the QP object's allocation fails (-ENOMEM). Default false. */
  readonly allocationFails?: boolean;
  readonly list?: UmemListOptions;
}

/** `struct ib_qp` with the mlx5 buffers. */
export class IbQp {
  readonly name: string;
  state: IbQpState = "RESET";
  destroyed = false;
  buf: Umem | undefined;
  dbr: Umem | undefined;

  constructor(
    readonly pd: IbPd,
    readonly sendCq: IbCq,
    readonly recvCq: IbCq,
    /** `qp->umem_list`: the QP owns it from the moment it exists (v2). */
    readonly umemList: UmemList,
  ) {
    this.name = `${pd.device.name}/qp#${pd.device.qpCount++}`;
  }
}

/**
 * The ioctl `UVERBS_METHOD_QP_CREATE` with a umem_list (steps in the module comment).
 * @param args PD, CQs, buffer size, BUFFERS bytes, mlx5 ucmd.
 * @param options mutants E19 and E20, allocation failure, list options.
 * @returns the QP in RESET, bound to its PD and CQs; or the first errno, with every umem released
 *   exactly once (unless a mutant is on).
 * @throws AssertionError when the PD or a CQ is already gone.
 */
export function ibCreateQp(args: IbCreateQpArgs, options: IbQpOptions = {}): Result<IbQp> {
  const { pd, sendCq, recvCq } = args;
  const device = pd.device;
  assert(!pd.deallocated && !sendCq.destroyed && !recvCq.destroyed, "QP create on a freed PD or CQ");
  const first = device.ctx.umemCount;
  const failed = (p: IbPd, step: string, errno: Errno, leaked: boolean) => createFailed(p, first, step, errno, leaked);
  const created = ibUmemListCreate(args.buffers, UVERBS_BUF_QP_MAX, device.pinner, options.list);
  if (!created.ok) return failed(pd, "umem_list", created.errno, false);
  const list = created.value;
  const early = (step: string, errno: Errno): Result<IbQp> => {
    const leaked = options.e20 === true;
    if (!leaked) list.release();
    return failed(pd, step, errno, leaked);
  };
  if (!device.caps.createQp) return early("create-op", "EOPNOTSUPP");
  if (options.allocationFails === true) return early("alloc", "ENOMEM");
  const qp = new IbQp(pd, sendCq, recvCq, list);
  const driver = mlx5CreateQpUser(qp, args);
  if (!driver.ok) {
    list.release();
    return failed(pd, "driver", driver.errno, false);
  }
  pd.get();
  sendCq.usecnt++;
  recvCq.usecnt++;
  const consumed = list.checkConsumed();
  if (!consumed.ok) {
    ibDestroyQp(qp);
    if (options.e19 === true) releaseAgain(qp);
    return failed(pd, "consumed", consumed.errno, false);
  }
  // One literal, not `{ ...names, bufSize, …, ...umemListTraceFields() }`: V8 gives every
  // spread-then-extend literal a fresh map in old space, which keeps the run's young objects alive
  // through scavenges. The order of the fields is the trace's (fingerprints hash it).
  const listFields = umemListTraceFields(list, args.buffers);
  device.engine.trace.emit("rdma", "qp.create", {
    qp: qp.name,
    pd: pd.name,
    sendCq: sendCq.name,
    recvCq: recvCq.name,
    buf: qp.buf?.name ?? "",
    dbr: qp.dbr?.name ?? "",
    bufSize: args.bufSize,
    dbrSize: MLX5_DBR_SIZE,
    slots: listFields.slots,
    provided: listFields.provided,
    loaded: listFields.loaded,
    descriptors: listFields.descriptors,
  });
  return { ok: true, value: qp };
}

/**
 * `ib_destroy_qp_user`: the driver's destroy (its own doorbell page), the list's release, then
 * the PD and CQ references are dropped.
 * @throws AssertionError on a second destroy.
 */
export function ibDestroyQp(qp: IbQp): void {
  assert(!qp.destroyed, () => `${qp.name} destroyed twice`);
  qp.umemList.releaseNonListed(UVERBS_BUF_QP.DBR_BUF, qp.dbr);
  qp.dbr = undefined;
  qp.umemList.release();
  qp.destroyed = true;
  qp.pd.put();
  qp.sendCq.usecnt--;
  qp.recvCq.usecnt--;
  qp.pd.device.engine.trace.emit("rdma", "qp.destroy", { qp: qp.name });
}

/**
 * Whether `from -> to` is a legal QP transition (`ib_modify_qp_is_ok`, attributes not modelled).
 * @param from current state.
 * @param to requested state.
 */
export function ibModifyQpIsOk(from: IbQpState, to: IbQpState): boolean {
  return QP_TRANSITIONS[from].includes(to);
}

/**
 * `ib_modify_qp` of the state only.
 * @returns ok (the QP is in `to`); -EINVAL for an illegal transition (the state is unchanged).
 * @throws AssertionError on a destroyed QP.
 */
export function ibModifyQp(qp: IbQp, to: IbQpState): Result<undefined> {
  assert(!qp.destroyed, () => `${qp.name} modified after destroy`);
  const from = qp.state;
  const trace = qp.pd.device.engine.trace;
  if (!ibModifyQpIsOk(from, to)) {
    trace.emit("rdma", "qp.modify.failed", { qp: qp.name, from, to, errno: "EINVAL" });
    return { ok: false, errno: "EINVAL" };
  }
  qp.state = to;
  trace.emit("rdma", "qp.modify", { qp: qp.name, from, to });
  return { ok: true, value: undefined };
}

/** mlx5 `create_user_qp`: the work queue buffer from QP_BUF or the ucmd VA, the doorbell from DBR_BUF or the ucmd page. */
function mlx5CreateQpUser(qp: IbQp, args: IbCreateQpArgs): Result<undefined> {
  const list = qp.umemList;
  assert(Number.isSafeInteger(args.bufSize) && args.bufSize > 0, "bufSize is a positive integer");
  const buf = list.loadOrGet(UVERBS_BUF_QP.BUF, args.ucmd.bufAddr, args.bufSize, IB_ACCESS_LOCAL_WRITE);
  if (!buf.ok) return buf;
  const dbr = loadDbr(qp.pd.device, list, UVERBS_BUF_QP.DBR_BUF, args.ucmd.dbAddr);
  if (!dbr.ok) return dbr;
  qp.buf = buf.value;
  qp.dbr = dbr.value;
  return { ok: true, value: undefined };
}

/**
 * Mutant E19's second `ib_umem_list_release`: the list was freed by `ib_destroy_qp_user`, so the
 * kernel would free every umem in it again. The model records that instead of crashing.
 */
function releaseAgain(qp: IbQp): void {
  assert(qp.umemList.released, "E19 releases a list that was already released");
  const umems = qp.umemList.slots.flatMap((u) => (u === undefined ? [] : [u.name]));
  qp.pd.device.engine.trace.emit("rdma", "qp.umem_list.double_free", { qp: qp.name, umems });
}

function createFailed(pd: IbPd, first: number, step: string, errno: Errno, leaked: boolean): Result<IbQp> {
  const umems = umemNamesSince(pd.device.fn.label, first, pd.device.ctx.umemCount);
  pd.device.engine.trace.emit("rdma", "qp.create.failed", { device: pd.device.name, step, errno, leaked, umems });
  return { ok: false, errno };
}
