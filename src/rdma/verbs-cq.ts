/**
 * Completion queues created through the ioctl path with a `umem_list` (umem_list v2, the default
 * design) and through the legacy write() path, with an mlx5-like driver [kernel.md §d.4].
 *
 * ```
 * ioctl create:  ib_umem_list_create(BUFFERS, slot_max = CQ_DBR)          ─ its errno
 *                legacy attrs: rule check ─ pin (VA: ib_umem_get, FD: pinned dma-buf)
 *                               ─ insert at CQ_BUF (marked provided)      ─ EINVAL / pin errno
 *                allocate the CQ, attach the list                          ─ ENOMEM
 *                driver create: loadOrGet(CQ_BUF, entries x cqe, ucmd.buf_addr), load(CQ_DBR, 8)
 *                                                                          ─ its errno
 *                check_consumed ─ fails: driver destroy, free CQ, release list, EINVAL (I20)
 * destroy:       EBUSY while QPs use it; driver destroy, then release the list
 * resize:        pin the new VA buffer, replace(CQ_BUF) releases the old one
 * write() path:  an always-empty list, the same driver create, no consumption check
 * ```
 * Every failure before the CQ exists releases the list, except under the opt-in mutant `e20`,
 * which leaks it (the list and every umem in it stay pinned: I16 broken). After the CQ exists,
 * the CQ owns the list.
 *
 * E21 is the v2 default, not a mutant: a BUFFERS descriptor for CQ_BUF and legacy attributes both
 * accepted; the insert silently releases the descriptor's umem and keeps the legacy one (I17).
 *
 * mlx5 details simplified: `entries` is taken as the driver's final CQE count (no power-of-two
 * rounding); a doorbell record not given in CQ_DBR is a page of `ucmd.db_addr` pinned per CQ (the
 * kernel shares one pinned page among the process's objects).
 */
import type { Errno, Result } from "../dmabuf/errno.js";
import { assert } from "../fabric/assert.js";
import { IB_ACCESS_LOCAL_WRITE, type Umem } from "./buffer-desc.js";
import type { CqLegacyBufferAttrs } from "./umem-buffer-attr-v8.js";
import { ibUmemListCreate, type UmemList, type UmemListOptions, type UmemListTraceFields, umemListTraceFields, umemNamesSince } from "./umem-list.js";
import type { IbDevice } from "./verbs-device.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /**
     * `legacy`: the buffer the legacy attributes named; `bufSize`/`dbrSize`: the bytes the driver
     * asked of its buffer and doorbell record (I18); the list's slots, bits and descriptors (I17, I20).
     */
    "cq.create": {
      cq: string;
      path: IbCqPath;
      buf: string;
      dbr: string;
      entries: number;
      legacy: "none" | "va" | "fd";
      bufSize: number;
      dbrSize: number;
    } & UmemListTraceFields;
    /**
     * Creation failed at `step`; `leaked` is true when mutant E20 left the list pinned. `umems`:
     * every umem the command created, all of which must be released by now (I16, I17).
     */
    "cq.create.failed": { device: string; step: string; errno: Errno; leaked: boolean; umems: string[] };
    "cq.destroy": { cq: string };
    "cq.destroy.failed": { cq: string; errno: Errno };
    "cq.resize": { cq: string; buf: string; entries: number };
  }
}

/** The CQ slots of `UVERBS_ATTR_BUFFERS` (uAPI enum, patch 12) [§d.4]. */
export const UVERBS_BUF_CQ = { BUF: 0, DBR: 1 } as const;
/** `UVERBS_BUF_CQ_MAX`: the list's slot_max. */
export const UVERBS_BUF_CQ_MAX = UVERBS_BUF_CQ.DBR;
/** An mlx5 doorbell record: two big-endian u32s. */
export const MLX5_DBR_SIZE = 8;
/** The page a legacy doorbell record is pinned by. */
const DB_PAGE = 4096n;

/** Which uverbs entry point created the CQ. */
export type IbCqPath = "ioctl" | "write";

/** The mlx5 `ucmd` of CQ creation: the driver's own buffer and doorbell addresses. */
export interface Mlx5CqUcmd {
  readonly bufAddr: bigint;
  readonly dbAddr: bigint;
}

/** The arguments of {@link ibCreateCq}. */
export interface IbCreateCqArgs {
  /** CQEs. */
  readonly entries: number;
  /** The `UVERBS_ATTR_BUFFERS` bytes, or absent. */
  readonly buffers?: Uint8Array;
  /** The legacy `UVERBS_ATTR_CREATE_CQ_BUFFER_*` attributes passed. */
  readonly legacy?: CqLegacyBufferAttrs;
  readonly ucmd: Mlx5CqUcmd;
}

/** Model switches of CQ creation. */
export interface IbCqOptions {
  /** Mutant E20: a failure before the CQ exists does not release the list. Default false. */
  readonly e20?: boolean;
  /** Fault injection: the CQ object's allocation fails (-ENOMEM). Default false. */
  readonly allocationFails?: boolean;
  /** Passed to `ib_umem_list_create`. */
  readonly list?: UmemListOptions;
}

/** `struct ib_cq` with the mlx5 buffers. */
export class IbCq {
  readonly name: string;
  /** QPs bound to this CQ (`cq->usecnt`). */
  usecnt = 0;
  destroyed = false;
  /** The CQ buffer the device writes CQEs to (owned by the list). */
  buf: Umem | undefined;
  /** The doorbell record (in the list when given in CQ_DBR, else the driver's own). */
  dbr: Umem | undefined;

  constructor(
    readonly device: IbDevice,
    readonly path: IbCqPath,
    public entries: number,
    /** `cq->umem_list`: owned by the CQ from here on. */
    readonly umemList: UmemList,
  ) {
    this.name = `${device.name}/cq#${device.cqCount++}`;
  }
}

/**
 * The legacy CQ buffer attribute rules [UVCQ, §d.4], in the kernel's order.
 * @param legacy the attributes passed.
 * @param createCqUmem whether the driver has `create_cq_umem`.
 * @returns which buffer they name, or -EINVAL: VA without LENGTH or with FD/OFFSET; FD without
 *   OFFSET or LENGTH, or with VA; OFFSET or LENGTH alone; any buffer without `create_cq_umem`.
 *   **[inferred]** Upstream reports a missing mandatory companion attribute as `uverbs_copy_from`'s
 *   -ENOENT; the model follows kernel.md's -EINVAL, and ENOENT is not in the errno set.
 */
export function cqLegacyBufferRule(legacy: CqLegacyBufferAttrs, createCqUmem: boolean): Result<"none" | "va" | "fd"> {
  const va = legacy.bufferVa !== undefined;
  const fd = legacy.bufferFd !== undefined;
  const offset = legacy.bufferOffset !== undefined;
  const length = legacy.bufferLength !== undefined;
  const einval: Result<never> = { ok: false, errno: "EINVAL" };
  if (va) return length && !fd && !offset && createCqUmem ? { ok: true, value: "va" } : einval;
  if (fd) return offset && length && createCqUmem ? { ok: true, value: "fd" } : einval;
  return offset || length ? einval : { ok: true, value: "none" };
}

/**
 * The ioctl `UVERBS_METHOD_CQ_CREATE` with a umem_list (steps and errnos in the module comment).
 * @param device the verbs device (its pinner pins descriptors and legacy buffers).
 * @param args entries, BUFFERS bytes, legacy attributes, mlx5 ucmd.
 * @param options mutant E20, allocation failure, list options.
 * @returns the CQ; or the first errno, with everything pinned released (except under `e20`).
 */
export function ibCreateCq(device: IbDevice, args: IbCreateCqArgs, options: IbCqOptions = {}): Result<IbCq> {
  const first = device.ctx.umemCount;
  const failed = (step: string, errno: Errno, leaked: boolean) => createFailed(device, first, step, errno, leaked);
  const created = ibUmemListCreate(args.buffers, UVERBS_BUF_CQ_MAX, device.pinner, options.list);
  if (!created.ok) return failed("umem_list", created.errno, false);
  const list = created.value;
  const early = (step: string, errno: Errno): Result<IbCq> => {
    const leaked = options.e20 === true;
    if (!leaked) list.release();
    return failed(step, errno, leaked);
  };
  const legacy = args.legacy ?? {};
  const rule = cqLegacyBufferRule(legacy, device.caps.createCqUmem);
  if (!rule.ok) return early("legacy-attrs", rule.errno);
  if (rule.value !== "none") {
    const pinned = pinLegacyBuffer(device, legacy, rule.value);
    if (!pinned.ok) return early("legacy-pin", pinned.errno);
    // v2: insert, so a descriptor already in CQ_BUF is released and replaced (E21).
    list.insert(UVERBS_BUF_CQ.BUF, pinned.value);
  }
  if (options.allocationFails === true) return early("alloc", "ENOMEM");
  const cq = new IbCq(device, "ioctl", args.entries, list);
  const driver = mlx5CreateCqUser(cq, args.ucmd);
  if (!driver.ok) {
    list.release();
    return failed("driver", driver.errno, false);
  }
  const consumed = list.checkConsumed();
  if (!consumed.ok) {
    mlx5DestroyCq(cq);
    cq.destroyed = true;
    list.release();
    return failed("consumed", consumed.errno, false);
  }
  return { ok: true, value: traceCreated(cq, rule.value, args.buffers) };
}

/**
 * The legacy write() `IB_USER_VERBS_CMD_CREATE_CQ`: an always-empty list, the driver create, no
 * consumption check [§d.4].
 * @returns the CQ; or ENOMEM (list allocation, injected) or the driver's errno, nothing pinned.
 */
export function ibCreateCqWrite(device: IbDevice, args: Pick<IbCreateCqArgs, "entries" | "ucmd">, options: IbCqOptions = {}): Result<IbCq> {
  const first = device.ctx.umemCount;
  const created = ibUmemListCreate(undefined, UVERBS_BUF_CQ_MAX, device.pinner, options.list);
  if (!created.ok) return createFailed(device, first, "umem_list", created.errno, false);
  const cq = new IbCq(device, "write", args.entries, created.value);
  const driver = mlx5CreateCqUser(cq, args.ucmd);
  if (!driver.ok) {
    created.value.release();
    return createFailed(device, first, "driver", driver.errno, false);
  }
  return { ok: true, value: traceCreated(cq, "none", undefined) };
}

/**
 * `ib_destroy_cq_user`: the driver's destroy, then the list's release [§d.4].
 * @returns ok; -EBUSY while QPs use the CQ (nothing changes).
 * @throws AssertionError on a second destroy.
 */
export function ibDestroyCq(cq: IbCq): Result<undefined> {
  assert(!cq.destroyed, () => `${cq.name} destroyed twice`);
  if (cq.usecnt > 0) {
    cq.device.engine.trace.emit("rdma", "cq.destroy.failed", { cq: cq.name, errno: "EBUSY" });
    return { ok: false, errno: "EBUSY" };
  }
  mlx5DestroyCq(cq);
  cq.destroyed = true;
  cq.umemList.release();
  cq.device.engine.trace.emit("rdma", "cq.destroy", { cq: cq.name });
  return { ok: true, value: undefined };
}

/**
 * mlx5 `resize_user`: pins the new buffer at `bufAddr` (entries x cqe bytes) and swaps it in
 * with `replace(CQ_BUF)`, which releases the old buffer [§d.4 patch 05].
 * @returns ok; -EINVAL for a bad entry count; the pin's errno (the old buffer stays).
 */
export function ibResizeCq(cq: IbCq, entries: number, bufAddr: bigint): Result<undefined> {
  assert(!cq.destroyed, () => `${cq.name} resized after destroy`);
  if (!entriesValid(cq.device, entries)) return { ok: false, errno: "EINVAL" };
  const got = cq.device.pinner.getVa(bufAddr, BigInt(entries * cq.device.caps.cqeSize), IB_ACCESS_LOCAL_WRITE);
  if (!got.ok) return got;
  cq.umemList.replace(UVERBS_BUF_CQ.BUF, got.value);
  cq.buf = got.value;
  cq.entries = entries;
  cq.device.engine.trace.emit("rdma", "cq.resize", { cq: cq.name, buf: got.value.name, entries });
  return { ok: true, value: undefined };
}

/** Pins the buffer the legacy attributes name: VA with `ib_umem_get`, FD with the pinned dma-buf API. */
function pinLegacyBuffer(device: IbDevice, legacy: CqLegacyBufferAttrs, shape: "va" | "fd"): Result<Umem> {
  const length = legacy.bufferLength ?? 0n;
  if (shape === "va") return device.pinner.getVa(legacy.bufferVa ?? 0n, length, IB_ACCESS_LOCAL_WRITE);
  return device.pinner.pinDmabuf(legacy.bufferFd ?? -1, legacy.bufferOffset ?? 0n, length, IB_ACCESS_LOCAL_WRITE);
}

/**
 * mlx5 `create_cq_user`: the CQ buffer from CQ_BUF or the ucmd VA, the doorbell from CQ_DBR or
 * the ucmd page. On failure the driver releases what it owns itself; listed umems stay for the list.
 */
function mlx5CreateCqUser(cq: IbCq, ucmd: Mlx5CqUcmd): Result<undefined> {
  const { device, umemList: list } = cq;
  if (!entriesValid(device, cq.entries)) return { ok: false, errno: "EINVAL" };
  const buf = list.loadOrGet(UVERBS_BUF_CQ.BUF, ucmd.bufAddr, cq.entries * device.caps.cqeSize, IB_ACCESS_LOCAL_WRITE);
  if (!buf.ok) return buf;
  const dbr = device.caps.cqDbrSlot ? loadDbr(device, list, UVERBS_BUF_CQ.DBR, ucmd.dbAddr) : pinDbPage(device, ucmd.dbAddr);
  if (!dbr.ok) return dbr;
  cq.buf = buf.value;
  cq.dbr = dbr.value;
  return { ok: true, value: undefined };
}

/** mlx5 `destroy_cq_user`: unmaps the doorbell (released only if the list does not own it). */
function mlx5DestroyCq(cq: IbCq): void {
  cq.umemList.releaseNonListed(UVERBS_BUF_CQ.DBR, cq.dbr);
  cq.dbr = undefined;
}

/**
 * mlx5 doorbell mapping (patch 13): `load(slot, 8)`; an empty slot falls back to pinning the
 * page of `dbAddr` (`mlx5_ib_db_map_user`), which the driver owns.
 * @param device the verbs device (its pinner).
 * @param list the object's list.
 * @param slot the DBR slot (CQ_DBR, QP DBR_BUF).
 * @param dbAddr the ucmd doorbell address.
 * @returns the doorbell umem (listed, or the driver's own page); load's -EINVAL (slot shorter than 8); the pin's errno.
 */
export function loadDbr(device: IbDevice, list: UmemList, slot: number, dbAddr: bigint): Result<Umem> {
  const loaded = list.load(slot, MLX5_DBR_SIZE);
  if (!loaded.ok) return loaded;
  if (loaded.value !== undefined) return { ok: true, value: loaded.value };
  return pinDbPage(device, dbAddr);
}

/** `mlx5_ib_db_map_user` without a list buffer: pins the page holding `dbAddr`; the driver owns it. */
function pinDbPage(device: IbDevice, dbAddr: bigint): Result<Umem> {
  return device.pinner.getVa(dbAddr - (dbAddr % DB_PAGE), DB_PAGE, IB_ACCESS_LOCAL_WRITE);
}

function entriesValid(device: IbDevice, entries: number): boolean {
  return Number.isSafeInteger(entries) && entries >= 1 && entries <= device.caps.cqEntriesMax;
}

function traceCreated(cq: IbCq, legacy: "none" | "va" | "fd", buffers: Uint8Array | undefined): IbCq {
  const fields = {
    cq: cq.name,
    path: cq.path,
    buf: cq.buf?.name ?? "",
    dbr: cq.dbr?.name ?? "",
    entries: cq.entries,
    legacy,
    bufSize: cq.entries * cq.device.caps.cqeSize,
    dbrSize: MLX5_DBR_SIZE,
    ...umemListTraceFields(cq.umemList, buffers),
  };
  cq.device.engine.trace.emit("rdma", "cq.create", fields);
  return cq;
}

function createFailed(device: IbDevice, first: number, step: string, errno: Errno, leaked: boolean): Result<IbCq> {
  const umems = umemNamesSince(device.fn.label, first, device.ctx.umemCount);
  device.engine.trace.emit("rdma", "cq.create.failed", { device: device.name, step, errno, leaked, umems });
  return { ok: false, errno };
}
