/**
 * dma-buf umems (`struct ib_umem_dmabuf`, drivers/infiniband/core/umem_dmabuf.c) [kernel.md §d.1]:
 * an RDMA device as a dma-buf importer, in three flavours.
 *
 * ```
 *  get (all):   [overflow] offset+size wraps ─ EINVAL   [ops] importer ops lack invalidate ─ EINVAL (dynamic)
 *               [fd] dma_buf_get(fd) fails ─ its error  [size] dma-buf < offset+size ─ EINVAL
 *               [pages] zero pages ─ EINVAL            [attach] dma_buf_dynamic_attach ─ the exporter's veto
 *  dynamic:     done; the driver maps on a device page fault (resv held: mapPages)
 *  pinned:      lock resv ─ [pin] dma_buf_pin ─ [map] mapPages ─ unlock    (no invalidate: not revocable)
 *  pinned-rev.: lock resv ─ [pin] ─ [map] ─ return LOCKED; driver: setRevokeLocked, unlock
 * ```
 *
 * The names in brackets are the `step` of `rdma/umem.get.failed`.
 *
 * Revoke (`ib_umem_dmabuf_revoke`, resv held, once only): the driver's revoke callback if one is
 * installed (pinned-revocable, at most once, I22), then unmap, unpin if pinned, mark revoked; after
 * that `mapPages` fails -EINVAL for good (I5). It runs on the exporter's invalidate (pinned-revocable)
 * or as the first step of release. Release = revoke, detach, put.
 *
 * Inference [kernel.md §d.1]: the newest pinned ops carry no invalidate callback, yet the common get
 * refuses ops without one; so the check is modelled on the dynamic entry point only, where the
 * driver supplies the ops, and the pinned flavours pass their own ops. The zero-page check counts
 * pages of `size` alone (the get leaves `umem->iova` at 0), so a zero size fails whatever the offset.
 */
import { type DmaBufAttachment, type DmaBufImporterOps, dmaBufAttach, dmaBufDetach, dmaBufPin } from "../dmabuf/attachment.js";
import { type DmaBuf, dmaBufGet, dmaBufPut } from "../dmabuf/dma-buf.js";
import type { Errno, Result } from "../dmabuf/errno.js";
import type { SgEntry, SgTable } from "../dmabuf/map.js";
import type { DmaFence } from "../dmabuf/reservation.js";
import { assert } from "../fabric/assert.js";
import type { PciFunction } from "../pci/topology.js";
import { IbUmemBase, type IbUmemContext, type IbUmemKind, UMEM_PAGE_SIZE, umemGetFailed } from "./umem.js";
import { ibUmemDmabufMapPages, ibUmemDmabufRevoke, ibUmemDmabufRevokeLocked } from "./umem-dmabuf-map.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /** The exporter's invalidate reached the umem. */
    "umem.invalidate": { umem: string; buf: string };
  }
}

const U64_LIMIT = 1n << 64n;

/** The driver's importer ops for a dynamic umem (`struct dma_buf_attach_ops` with the umem as `importer_priv`). */
export interface IbUmemDmabufOps {
  /** `allow_peer2peer`: the device can DMA to peer BARs. */
  readonly allowPeer2peer: boolean;
  /** The driver's invalidate op, resv held by the exporter: stop the device and unmap ({@link ibUmemDmabufUnmapPages}). */
  readonly invalidateMappings?: (umem: IbUmemDmabuf) => void;
}

/** The arguments every dma-buf umem get takes (`device, offset, size, fd, access`). */
export interface IbUmemDmabufGetArgs {
  readonly device: PciFunction;
  /** The dma-buf itself (a reference is taken), or an fd resolved by `ctx.dmaBufGet`. */
  readonly dmabuf: DmaBuf | number;
  /** Offset into the dma-buf: an `unsigned long`. */
  readonly offset: bigint | number;
  /** Bytes: a `size_t`. */
  readonly size: bigint | number;
  /** `IB_ACCESS_*` bits. */
  readonly access: number;
}

/**
 * The driver's revoke callback of a pinned-revocable umem: when it returns the device no longer
 * touches the region [kernel.md §d.1]. The kernel's callback blocks until the device has stopped;
 * a callback here cannot block, so it returns a fence (already added to the dma-buf's resv) that
 * signals when the device has drained, or undefined when it stopped at once. The revoke's unmap
 * and unpin wait for that fence, as they would wait for the kernel callback to return.
 */
export type IbUmemDmabufRevokeCallback = (umem: IbUmemDmabuf) => DmaFence | undefined;

/** A dma-buf umem. Created by the three get functions of this file. */
export class IbUmemDmabuf extends IbUmemBase {
  /** The name the umem's device locks the resv under (its function id). */
  readonly holder: string;
  /** `umem_dmabuf->pinned`. */
  pinned = false;
  /** `umem_dmabuf->revoked`: set once, by revoke; mapPages then fails -EINVAL for good. */
  revoked = false;
  /** Times the driver's revoke callback ran: at most 1 (I22). */
  revokeCallbackRuns = 0;
  /** The exporter's scatter list while mapped (`umem_dmabuf->sgt`). */
  private sgt: SgTable | undefined;
  private entries: readonly SgEntry[] = [];
  private revokeCallback: IbUmemDmabufRevokeCallback | undefined;
  private attachValue: DmaBufAttachment | undefined;

  constructor(
    ctx: IbUmemContext,
    kind: Exclude<IbUmemKind, "va">,
    device: PciFunction,
    /** The dma-buf, one reference held by the umem. */
    readonly buf: DmaBuf,
    offset: number,
    size: number,
    /** The driver's ops (dynamic kind only). */
    readonly driverOps: IbUmemDmabufOps | undefined,
  ) {
    super(ctx, kind, device, offset, size);
    this.holder = device.id;
  }

  /** `umem_dmabuf->attach`. */
  get attach(): DmaBufAttachment {
    assert(this.attachValue !== undefined, () => `${this.name}: not attached`);
    return this.attachValue;
  }

  /** Sets the attachment once, right after a successful attach. */
  setAttach(attach: DmaBufAttachment): void {
    assert(this.attachValue === undefined, () => `${this.name}: attached twice`);
    this.attachValue = attach;
  }

  get mapped(): boolean {
    return this.sgt !== undefined;
  }

  /** Whether a revoke callback is installed. */
  get hasRevokeCallback(): boolean {
    return this.revokeCallback !== undefined;
  }

  /** The page-aligned window of the dma-buf the umem covers: `[start, end)`. */
  get window(): { readonly start: number; readonly end: number } {
    const start = Math.floor(this.address / UMEM_PAGE_SIZE) * UMEM_PAGE_SIZE;
    return { start, end: Math.ceil((this.address + this.length) / UMEM_PAGE_SIZE) * UMEM_PAGE_SIZE };
  }

  /** Installs the driver's revoke callback (see {@link ibUmemDmabufSetRevokeLocked}). */
  setRevokeCallback(callback: IbUmemDmabufRevokeCallback): void {
    assert(this.kind === "dmabuf-pinned-revocable", () => `${this.name}: a revoke callback on a ${this.kind} umem`);
    assert(this.revokeCallback === undefined, () => `${this.name}: revoke callback set twice`);
    this.revokeCallback = callback;
  }

  /** Records a new mapping: the exporter's list and its trimmed copy. */
  setMapping(sgt: SgTable, entries: readonly SgEntry[]): void {
    assert(this.sgt === undefined, () => `${this.name}: mapped twice`);
    this.sgt = sgt;
    this.entries = entries;
  }

  /** Forgets the mapping and returns the exporter's list to unmap, if any. */
  takeMapping(): SgTable | undefined {
    const sgt = this.sgt;
    this.sgt = undefined;
    this.entries = [];
    return sgt;
  }

  /** Runs the revoke callback, if installed and not run yet (I22); returns its drain fence, if any. */
  runRevokeCallback(): DmaFence | undefined {
    if (this.revokeCallback === undefined || this.revokeCallbackRuns > 0) return undefined;
    this.revokeCallbackRuns++;
    this.engine.trace.emit("rdma", "umem.revoke.callback", this.traceFields());
    return this.revokeCallback(this);
  }

  /** `{ umem, buf }`, the fields of this file's trace events. */
  traceFields(): { umem: string; buf: string } {
    return { umem: this.name, buf: this.buf.name };
  }

  protected sgEntries(): readonly SgEntry[] {
    return this.entries;
  }

  /** `ib_umem_dmabuf_release`: revoke (taking the resv, which must be free), detach, put. */
  protected releaseResources(): void {
    ibUmemDmabufRevoke(this);
    dmaBufDetach(this.attach);
    dmaBufPut(this.buf);
  }
}

/** `get` steps shared by the three flavours, up to and including attach (nothing left on failure). */
function umemDmabufGet(
  ctx: IbUmemContext,
  kind: Exclude<IbUmemKind, "va">,
  args: IbUmemDmabufGetArgs,
  driverOps: IbUmemDmabufOps | undefined,
  importerOps: (umem: () => IbUmemDmabuf) => DmaBufImporterOps,
): Result<IbUmemDmabuf> {
  const { device } = args;
  const offset = BigInt(args.offset);
  const size = BigInt(args.size);
  assert(offset >= 0n && offset < U64_LIMIT, () => `dma-buf umem: offset is an unsigned long, got ${offset}`);
  assert(size >= 0n && size < U64_LIMIT, () => `dma-buf umem: size is a size_t, got ${size}`);
  const fail = (step: string, errno: Errno) => umemGetFailed<IbUmemDmabuf>(ctx.engine, kind, device, step, errno);
  const end = offset + size;
  if (end >= U64_LIMIT) return fail("overflow", "EINVAL");
  if (kind === "dmabuf-dynamic" && driverOps?.invalidateMappings === undefined) return fail("ops", "EINVAL");
  let buf: DmaBuf;
  if (typeof args.dmabuf === "number") {
    assert(ctx.dmaBufGet !== undefined, "dma-buf umem from an fd needs ctx.dmaBufGet");
    const got = ctx.dmaBufGet(args.dmabuf);
    if (!got.ok) return fail("fd", got.errno);
    buf = got.value;
  } else {
    buf = dmaBufGet(args.dmabuf);
  }
  const putAndFail = (step: string, errno: Errno) => {
    dmaBufPut(buf);
    return fail(step, errno);
  };
  if (BigInt(buf.size) < end) return putAndFail("size", "EINVAL");
  if (size === 0n) return putAndFail("pages", "EINVAL");
  let umem: IbUmemDmabuf | undefined;
  const self = () => {
    assert(umem !== undefined, "importer callback before the umem exists");
    return umem;
  };
  const attached = dmaBufAttach(buf, device, importerOps(self));
  if (!attached.ok) return putAndFail("attach", attached.errno);
  umem = new IbUmemDmabuf(ctx, kind, device, buf, Number(offset), Number(size), driverOps);
  umem.setAttach(attached.value);
  return { ok: true, value: umem };
}

/** Undoes a get whose pin or map failed (`err_unpin` / `err_release`), resv held by the umem's device, and unlocks. */
function unwindLocked(umem: IbUmemDmabuf): void {
  ibUmemDmabufRevokeLocked(umem);
  umem.buf.resv.unlock(umem.holder);
  dmaBufDetach(umem.attach);
  dmaBufPut(umem.buf);
}

/** Lock, pin, map: the pinned flavours' second half. Leaves the resv held on success. */
function pinAndMapLocked(ctx: IbUmemContext, umem: IbUmemDmabuf): Result<IbUmemDmabuf> {
  umem.buf.resv.lock(umem.holder);
  const pinned = dmaBufPin(umem.attach);
  if (pinned.ok) umem.pinned = true;
  const mapped = pinned.ok ? ibUmemDmabufMapPages(umem) : pinned;
  if (!mapped.ok) {
    unwindLocked(umem);
    return umemGetFailed(ctx.engine, umem.kind, umem.device, pinned.ok ? "map" : "pin", mapped.errno);
  }
  umem.traceGet();
  return { ok: true, value: umem };
}

/**
 * `ib_umem_dmabuf_get`: a dynamic umem. The driver's `invalidateMappings` must stop the device and
 * unmap; the driver maps on demand with {@link ibUmemDmabufMapPages} under the resv.
 * Precondition: the resv is not held by `args.device` (attach runs unlocked).
 * @returns the umem (attached, not mapped); or, in the order of §d.1: EINVAL (offset+size wraps),
 * EINVAL (no invalidate op), the fd lookup's errno, EINVAL (dma-buf too small), EINVAL (zero
 * size), the exporter's attach veto. Nothing stays attached or referenced on failure.
 */
export function ibUmemDmabufGet(ctx: IbUmemContext, args: IbUmemDmabufGetArgs, ops: IbUmemDmabufOps): Result<IbUmemDmabuf> {
  const result = umemDmabufGet(ctx, "dmabuf-dynamic", args, ops, (self) => ({
    allowPeer2peer: ops.allowPeer2peer,
    invalidateMappings: () => {
      const umem = self();
      ctx.engine.trace.emit("rdma", "umem.invalidate", umem.traceFields());
      ops.invalidateMappings?.(umem);
    },
  }));
  if (result.ok) result.value.traceGet();
  return result;
}

/**
 * `ib_umem_dmabuf_get_pinned`: attach with the pinned ops (peer-to-peer, **no** invalidate
 * callback: not revocable), then lock, `dma_buf_pin`, map, unlock. A VFIO export refuses the
 * attach with -EOPNOTSUPP (§c.3); the initial VFIO profile accepts it.
 * Precondition: the resv is free and no KERNEL fence is pending.
 * @returns the mapped umem; or the get errors of {@link ibUmemDmabufGet} (but not the ops check),
 * the pin's errno or mapPages' errno, with everything undone.
 */
export function ibUmemDmabufGetPinned(ctx: IbUmemContext, args: IbUmemDmabufGetArgs): Result<IbUmemDmabuf> {
  const got = umemDmabufGet(ctx, "dmabuf-pinned", args, undefined, () => ({ allowPeer2peer: true }));
  if (!got.ok) return got;
  const result = pinAndMapLocked(ctx, got.value);
  if (result.ok) result.value.buf.resv.unlock(result.value.holder);
  return result;
}

/**
 * `ib_umem_dmabuf_get_pinned_revocable_and_lock` [UMD-REV]: like the pinned get, but the ops carry
 * an invalidate callback (so VFIO accepts it) that revokes the umem: the driver's callback, then
 * unmap and unpin. Returns with the resv **held** by `umem.holder`: the driver installs its callback
 * with {@link ibUmemDmabufSetRevokeLocked}, then unlocks (`umem.buf.resv.unlock(umem.holder)`).
 * Precondition: the resv is free and no KERNEL fence is pending.
 * @returns the mapped umem, resv held; or the errors of {@link ibUmemDmabufGetPinned}, resv not held.
 */
export function ibUmemDmabufGetPinnedRevocableAndLock(ctx: IbUmemContext, args: IbUmemDmabufGetArgs): Result<IbUmemDmabuf> {
  const got = umemDmabufGet(ctx, "dmabuf-pinned-revocable", args, undefined, (self) => ({
    allowPeer2peer: true,
    invalidateMappings: () => {
      const umem = self();
      ctx.engine.trace.emit("rdma", "umem.invalidate", umem.traceFields());
      ibUmemDmabufRevokeLocked(umem);
    },
  }));
  if (!got.ok) return got;
  return pinAndMapLocked(ctx, got.value);
}
