/**
 * Memory regions: `ib_reg_user_mr` (user VA) and `ib_reg_user_mr_dmabuf` (a dma-buf window), the
 * device's address translation for them, and dereg, as an mlx5-like driver does it [kernel.md §d.2].
 *
 * A dma-buf MR is a **dynamic** importer (it needs on-demand paging, else -EOPNOTSUPP):
 * ```
 *  reg:        access check ─ ODP check ─ ib_umem_dmabuf_get (driver invalidate op) ─ mkey
 *              ─ resv: map_pages + enable the translation (mlx5_ib_init_dmabuf_mr)
 *  invalidate: (exporter holds resv) back-pointer set and mapped? ─ zap the MTTs (mapped = false),
 *              unmap the umem; back-pointer clear ─ nothing (the MR is being deregistered)
 *  use:        mrTranslate: zapped ─ page fault: resv, map_pages (fails after a revoke), re-enable
 *  dereg:      resv: revoke the mkey, clear the back-pointer ─ release the umem ─ put the PD
 * ```
 * Clearing the back-pointer under the resv is the fix of bug E18 (cc668a11e6ac): an invalidate
 * arriving between the mkey revoke and the umem release must not touch the freed key (I19). The
 * opt-in mutant `e18: true` skips the clearing; such an invalidate is then traced as
 * `mr.invalidate.use_after_free` (in the kernel the UMR completes in error and the UMR QP dies).
 * {@link mlx5RevokeMr} is exported separately so a test can open that window.
 *
 * The access check on registration is `ib_check_mr_access` (include/rdma/ib_verbs.h), which
 * kernel.md does not list: REMOTE_WRITE or REMOTE_ATOMIC without LOCAL_WRITE -> -EINVAL; a bit
 * outside `IB_ACCESS_SUPPORTED` -> -EINVAL; ON_DEMAND without device ODP -> -EOPNOTSUPP.
 */
import type { DmaBuf } from "../dmabuf/dma-buf.js";
import type { Errno, Result } from "../dmabuf/errno.js";
import type { SgEntry } from "../dmabuf/map.js";
import { assert } from "../fabric/assert.js";
import type { Suspension } from "../fabric/process.js";
import { driverDrainFence } from "./driver-drain.js";
import { IB_ACCESS, type IbUmem } from "./umem.js";
import { IbUmemDmabuf, ibUmemDmabufGet } from "./umem-dmabuf.js";
import { ibUmemDmabufMapPages, ibUmemDmabufMapPagesWait, ibUmemDmabufUnmapPages, sgTrimToWindow, withResvHeld } from "./umem-dmabuf-map.js";
import { ibUmemGet } from "./umem-va.js";
import type { IbPd } from "./verbs-pd.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    "mr.reg": { mr: string; type: IbMrType; umem: string; lkey: number; rkey: number; access: number };
    /** Registration failed at `step` (`access`, `odp`, `umem`, `map`); nothing stays pinned. */
    "mr.reg.failed": { pd: string; type: IbMrType; step: string; errno: Errno };
    /** The invalidate op rewrote every MTT entry as not present ("zap"). */
    "mr.zap": { mr: string };
    /** The invalidate op found no MR behind the umem (dereg cleared the back-pointer): nothing done. */
    "mr.invalidate.skipped": { umem: string };
    /** Mutant E18: an invalidate used the key of an MR whose mkey dereg had already revoked (I19). */
    "mr.invalidate.use_after_free": { mr: string; lkey: number };
    /** A device access hit the zapped translation and the page fault re-mapped it. */
    "mr.fault": { mr: string };
    /** The page fault could not re-map: the access fails. */
    "mr.fault.failed": { mr: string; errno: Errno };
    /** An access was refused without touching memory. */
    "mr.access.failed": { mr: string; error: IbMrAccessError; reason: string };
    "mr.mkey.revoke": { mr: string; lkey: number };
    "mr.dereg": { mr: string };
    /** Mutant `invalidateIgnored`: the invalidate op left the MR mapped in the device. */
    "mr.invalidate.ignored": { mr: string };
  }
}

/** Which registration made an MR. */
export type IbMrType = "va" | "dmabuf";

/** `IB_ACCESS_SUPPORTED`: the ordinary bits up to HUGETLB (bit 7) and the optional range (bits 20-29). */
export const IB_ACCESS_SUPPORTED = 0xff | (((1 << 30) - 1) & ~((1 << 20) - 1));

/** The completion error an access failure turns into. */
export type IbMrAccessError =
  /** `IB_WC_LOC_PROT_ERR`: a local access without the right, outside the MR, or with a revoked key. */
  | "local-protection"
  /** `IB_WC_REM_ACCESS_ERR`: the same for an access that needed a REMOTE_* right. */
  | "remote-access";

/** What {@link mrTranslate} returns. */
export type MrTranslateResult =
  /** The DMA addresses of `[offset, offset + length)`, in order. */
  | { readonly ok: true; readonly entries: readonly SgEntry[] }
  /** Refused before any memory access; `reason` is `access`, `range` or `key`. */
  | { readonly ok: false; readonly error: IbMrAccessError; readonly reason: "access" | "range" | "key" }
  /** The page fault failed to re-map (the exporter revoked: ENODEV; the umem was revoked: EINVAL). */
  | { readonly ok: false; readonly error: "fault-failed"; readonly errno: Errno };

/** Model switches of an MR. */
export interface IbMrOptions {
  /** Mutant E18: dereg does not clear the umem's back-pointer to the MR. Default false. */
  readonly e18?: boolean;
}

/** `umem_dmabuf->private`: the invalidate op's way back to the MR, cleared by dereg. */
interface MrBackPointer {
  mr: IbMr | undefined;
}

/** `struct ib_mr` with the mlx5 state the model needs. */
export class IbMr {
  readonly name: string;
  readonly lkey: number;
  readonly rkey: number;
  /** Whether the device's translation (the MTTs) is present; a dma-buf invalidate zaps it. */
  mapped = true;
  /** The mkey was revoked (dereg's first step): the key is dead. */
  mkeyRevoked = false;
  deregistered = false;

  constructor(
    readonly pd: IbPd,
    readonly type: IbMrType,
    readonly umem: IbUmem,
    /** `IB_ACCESS_*` bits granted. */
    readonly access: number,
    readonly options: IbMrOptions,
    /** Set for dma-buf MRs only. */
    readonly backPointer: MrBackPointer | undefined,
  ) {
    const device = pd.device;
    const index = ++device.mkeyCount;
    assert(index < 2 ** 24, "mkey index is 24 bits");
    this.name = `${device.name}/mr#${index - 1}`;
    // mlx5: mkey = index << 8 | an 8-bit variant; lkey and rkey are the same mkey.
    this.lkey = index * 256 + (index & 0xff);
    this.rkey = this.lkey;
  }

  /** `mr->length`. */
  get length(): number {
    return this.umem.length;
  }
}

/** The arguments of {@link ibRegUserMr}. */
export interface IbRegUserMrArgs {
  readonly pd: IbPd;
  /** User VA: a u64. */
  readonly start: bigint | number;
  readonly length: bigint | number;
  readonly access: number;
}

/** The arguments of {@link ibRegUserMrDmabuf}. */
export interface IbRegUserMrDmabufArgs {
  readonly pd: IbPd;
  /** The dma-buf, or its fd. */
  readonly dmabuf: DmaBuf | number;
  readonly offset: bigint | number;
  readonly length: bigint | number;
  readonly access: number;
}

/**
 * `ib_check_mr_access`.
 * @param access the requested `IB_ACCESS_*` bits.
 * @param odp whether the device supports on-demand paging.
 * @returns ok; -EINVAL (remote write/atomic without local write, unknown bit); -EOPNOTSUPP (ON_DEMAND without ODP).
 */
export function ibCheckMrAccess(access: number, odp: boolean): Result<undefined> {
  const remoteWriting = (access & (IB_ACCESS.REMOTE_WRITE | IB_ACCESS.REMOTE_ATOMIC)) !== 0;
  if (remoteWriting && (access & IB_ACCESS.LOCAL_WRITE) === 0) return { ok: false, errno: "EINVAL" };
  if ((access & ~IB_ACCESS_SUPPORTED) !== 0) return { ok: false, errno: "EINVAL" };
  if ((access & IB_ACCESS.ON_DEMAND) !== 0 && !odp) return { ok: false, errno: "EOPNOTSUPP" };
  return { ok: true, value: undefined };
}

/**
 * `ib_reg_user_mr`: pins `[start, start + length)` and registers it in `pd`.
 * @returns the MR (mapped; lkey = rkey, deterministic per device); or the access check's errno,
 *   or `ib_umem_get`'s (EINVAL, EOPNOTSUPP for ON_DEMAND, ENOMEM, EFAULT). Nothing pinned on error.
 */
export function ibRegUserMr(args: IbRegUserMrArgs, options: IbMrOptions = {}): Result<IbMr> {
  const { pd, access } = args;
  const device = pd.device;
  const checked = ibCheckMrAccess(access, device.caps.odp);
  if (!checked.ok) return regFailed(pd, "va", "access", checked.errno);
  const got = ibUmemGet(device.ctx, { device: device.fn, addr: args.start, length: args.length, access });
  if (!got.ok) return regFailed(pd, "va", "umem", got.errno);
  return { ok: true, value: registered(new IbMr(pd, "va", got.value, access, options, undefined)) };
}

/**
 * `ib_reg_user_mr_dmabuf` (mlx5: a dynamic dma-buf umem whose invalidate op zaps the MR) [§d.2].
 * Precondition: the dma-buf's resv is free and no KERNEL fence is pending (the initial map runs here).
 * @returns the MR, mapped; or, in order: the access check's errno; -EOPNOTSUPP without ODP; the
 *   errors of `ib_umem_dmabuf_get` (a revoked VFIO export refuses the attach with -ENODEV); the
 *   initial map's errno. Nothing stays attached on error.
 */
export function ibRegUserMrDmabuf(args: IbRegUserMrDmabufArgs, options: IbMrOptions = {}): Result<IbMr> {
  const { pd, access } = args;
  const device = pd.device;
  const checked = ibCheckMrAccess(access, device.caps.odp);
  if (!checked.ok) return regFailed(pd, "dmabuf", "access", checked.errno);
  if (!device.caps.odp) return regFailed(pd, "dmabuf", "odp", "EOPNOTSUPP");
  const back: MrBackPointer = { mr: undefined };
  const umemArgs = { device: device.fn, dmabuf: args.dmabuf, offset: args.offset, size: args.length, access };
  const got = ibUmemDmabufGet(device.ctx, umemArgs, { allowPeer2peer: true, invalidateMappings: (umem) => mlx5DmabufInvalidate(back, umem) });
  if (!got.ok) return regFailed(pd, "dmabuf", "umem", got.errno);
  const umem = got.value;
  // mlx5_ib_init_dmabuf_mr: map at once and enable the mkey, under the resv.
  umem.buf.resv.lock(umem.holder);
  const mappedNow = ibUmemDmabufMapPages(umem);
  umem.buf.resv.unlock(umem.holder);
  if (!mappedNow.ok) {
    umem.release();
    return regFailed(pd, "dmabuf", "map", mappedNow.errno);
  }
  const mr = new IbMr(pd, "dmabuf", umem, access, options, back);
  back.mr = mr;
  return { ok: true, value: registered(mr) };
}

/**
 * The device's translation of an access to `[offset, offset + length)` of the MR, as the NIC's
 * DMA engine performs it: checks, then (dma-buf MR, zapped) the page fault that re-maps [§d.2].
 * Precondition: the dma-buf's resv is free (the fault handler takes it) and no KERNEL fence pending;
 * the NIC, which may meet a held resv, uses {@link mrCheckAccess} and {@link mlx5PageFaultBody}.
 * @param access the `IB_ACCESS_*` rights the operation needs (0 for a local read).
 * @returns the DMA addresses; or an access error value (local-protection / remote-access, with
 *   the reason: missing right, outside the MR, revoked key); or `fault-failed` with the map errno.
 * @throws AssertionError on a deregistered MR or a negative or non-integer range.
 */
export function mrTranslate(mr: IbMr, offset: number, length: number, access: number): MrTranslateResult {
  const refused = mrCheckAccess(mr, offset, length, access);
  if (refused !== undefined) return refused;
  if (!mr.mapped) {
    const faulted = mlx5PageFault(mr);
    if (!faulted.ok) return { ok: false, error: "fault-failed", errno: faulted.errno };
  }
  return { ok: true, entries: mrEntries(mr, offset, length) };
}

/**
 * The checks of an access before any translation: a revoked key, a missing right, a range
 * outside the MR. Traces `rdma/mr.access.failed` on refusal.
 * @returns undefined when the access may go on, else the refusal.
 * @throws AssertionError on a deregistered MR or a negative or non-integer range.
 */
export function mrCheckAccess(mr: IbMr, offset: number, length: number, access: number): Extract<MrTranslateResult, { reason: string }> | undefined {
  assert(!mr.deregistered, () => `${mr.name} used after dereg`);
  assert(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length >= 0, "offset and length are non-negative integers");
  const remote = (access & (IB_ACCESS.REMOTE_WRITE | IB_ACCESS.REMOTE_READ | IB_ACCESS.REMOTE_ATOMIC)) !== 0;
  const refuse = (reason: "access" | "range" | "key") => {
    const error: IbMrAccessError = remote ? "remote-access" : "local-protection";
    mr.pd.device.engine.trace.emit("rdma", "mr.access.failed", { mr: mr.name, error, reason });
    return { ok: false as const, error, reason };
  };
  if (mr.mkeyRevoked) return refuse("key");
  if ((access & ~mr.access) !== 0) return refuse("access");
  if (offset + length > mr.length) return refuse("range");
  return undefined;
}

/**
 * The DMA addresses of `[offset, offset + length)` of a mapped MR, in order.
 * @throws AssertionError when the MR's translation is zapped (fault it in first).
 */
export function mrEntries(mr: IbMr, offset: number, length: number): readonly SgEntry[] {
  assert(mr.mapped, () => `${mr.name}: translation used while zapped`);
  const start = mr.umem.offset + offset;
  return sgTrimToWindow(mr.umem.sg(), start, start + length);
}

/**
 * `mlx5_revoke_mr`, dereg's first step: for a dma-buf MR, under the resv, revoke the mkey and
 * clear the umem's back-pointer (unless mutant `e18`). Idempotent. After it the key is dead.
 * Precondition: the resv is free.
 */
export function mlx5RevokeMr(mr: IbMr): void {
  assert(!mr.deregistered, () => `${mr.name} revoked after dereg`);
  if (mr.mkeyRevoked) return;
  const umem = mr.umem instanceof IbUmemDmabuf ? mr.umem : undefined;
  umem?.buf.resv.lock(umem.holder);
  mr.mkeyRevoked = true;
  mr.pd.device.engine.trace.emit("rdma", "mr.mkey.revoke", { mr: mr.name, lkey: mr.lkey });
  if (mr.backPointer !== undefined && mr.options.e18 !== true) mr.backPointer.mr = undefined;
  umem?.buf.resv.unlock(umem.holder);
}

/**
 * `ib_dereg_mr_user`: revoke the mkey ({@link mlx5RevokeMr}, if not yet), release the umem, put the PD.
 * Precondition: the resv is free.
 * @throws AssertionError on a second dereg.
 */
export function ibDeregMr(mr: IbMr): void {
  assert(!mr.deregistered, () => `${mr.name} deregistered twice`);
  mlx5RevokeMr(mr);
  mr.umem.release();
  mr.deregistered = true;
  mr.pd.device.mrs.delete(mr.lkey);
  mr.pd.put();
  mr.pd.device.engine.trace.emit("rdma", "mr.dereg", { mr: mr.name });
}

/** `mlx5_ib_dmabuf_invalidate_cb` (resv held by the exporter): zap and unmap if the MR exists and is mapped. */
function mlx5DmabufInvalidate(back: MrBackPointer, umem: IbUmemDmabuf): void {
  umem.buf.resv.assertHeld();
  const mr = back.mr;
  const trace = umem.engine.trace;
  if (mr === undefined) {
    trace.emit("rdma", "mr.invalidate.skipped", { umem: umem.name });
    return;
  }
  if (!umem.mapped) return;
  const device = mr.pd.device;
  if (device.mutants.invalidateIgnored === true) {
    trace.emit("rdma", "mr.invalidate.ignored", { mr: mr.name });
    return;
  }
  if (mr.mkeyRevoked) trace.emit("rdma", "mr.invalidate.use_after_free", { mr: mr.name, lkey: mr.lkey });
  else trace.emit("rdma", "mr.zap", { mr: mr.name });
  mr.mapped = false;
  // Zapped: the device issues nothing new through the MR; what it issued must land before the unmap.
  const draining = driverDrainFence(device, umem);
  if (draining === undefined) ibUmemDmabufUnmapPages(umem);
  else draining.addCallback(() => withResvHeld(umem, () => ibUmemDmabufUnmapPages(umem)));
}

/**
 * The page-fault handler as a process body, for the NIC, which may find the resv held by an
 * exporter in the middle of a revoke: wait for the resv, map_pages (waiting for KERNEL fences),
 * rewrite the MTTs, unlock. `const r = yield* mlx5PageFaultBody(mr)`.
 * @returns ok (mapped again); the map's errno (the exporter revoked: ENODEV; the umem: EINVAL).
 */
export function* mlx5PageFaultBody(mr: IbMr): Generator<Suspension, Result<undefined>, unknown> {
  const umem = mr.umem;
  assert(umem instanceof IbUmemDmabuf, () => `${mr.name}: only a dma-buf MR is ever zapped`);
  yield umem.buf.resv.acquire(umem.holder);
  const result = mr.mapped ? { ok: true as const, value: undefined } : yield* ibUmemDmabufMapPagesWait(umem);
  umem.buf.resv.unlock(umem.holder);
  return faulted(mr, result);
}

function faulted(mr: IbMr, result: Result<void>): Result<undefined> {
  const trace = mr.pd.device.engine.trace;
  if (!result.ok) {
    trace.emit("rdma", "mr.fault.failed", { mr: mr.name, errno: result.errno });
    return result;
  }
  if (!mr.mapped) trace.emit("rdma", "mr.fault", { mr: mr.name });
  mr.mapped = true;
  return { ok: true, value: undefined };
}

/** The page-fault handler: resv, map_pages, rewrite the MTTs. */
function mlx5PageFault(mr: IbMr): Result<undefined> {
  const umem = mr.umem;
  assert(umem instanceof IbUmemDmabuf, () => `${mr.name}: only a dma-buf MR is ever zapped`);
  umem.buf.resv.lock(umem.holder);
  const result = ibUmemDmabufMapPages(umem);
  umem.buf.resv.unlock(umem.holder);
  return faulted(mr, result);
}

function registered(mr: IbMr): IbMr {
  mr.pd.get();
  mr.pd.device.mrs.set(mr.lkey, mr);
  mr.pd.device.engine.trace.emit("rdma", "mr.reg", { mr: mr.name, type: mr.type, umem: mr.umem.name, lkey: mr.lkey, rkey: mr.rkey, access: mr.access });
  return mr;
}

function regFailed(pd: IbPd, type: IbMrType, step: string, errno: Errno): Result<IbMr> {
  pd.device.engine.trace.emit("rdma", "mr.reg.failed", { pd: pd.name, type, step, errno });
  return { ok: false, errno };
}
