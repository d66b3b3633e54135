/**
 * `src/rdma`: an RDMA device (NIC) as a DMA **importer**: umems now; umem_list, MRs, CQs, QPs and
 * the NIC's DMA engine build on them. It meets the exporter (src/vfio) only through src/dmabuf, as
 * in the kernel, and never imports src/vfio.
 *
 * Lifecycle of a dma-buf umem [kernel.md §d.1, §b]:
 * 1. Hand over: user space passes a dma-buf fd, offset and size (an MR registration, a CQ buffer);
 *    `dma_buf_get` takes a reference (`ctx.dmaBufGet`).
 * 2. Get: the checks of §d.1 in order, each with its errno, then `dma_buf_dynamic_attach` with the
 *    umem's importer ops: the driver's invalidate op ({@link ibUmemDmabufGet}), none
 *    ({@link ibUmemDmabufGetPinned}: not revocable, so a VFIO export refuses it with -EOPNOTSUPP),
 *    or a revoking one ({@link ibUmemDmabufGetPinnedRevocableAndLock}).
 * 3. Pin and map: pinned flavours pin and map at once, under the resv; a dynamic umem maps when
 *    the device faults ({@link ibUmemDmabufMapPages}: revoked -> -EINVAL, the exporter's errno, the
 *    list trimmed to the umem's window, KERNEL fences waited for).
 * 4. Use: the device DMAs to `umem.sg()`.
 * 5. Invalidate: the exporter's revoke calls the importer op with the resv held: a dynamic umem's
 *    driver stops the device and unmaps ({@link ibUmemDmabufUnmapPages}), and re-maps on the next
 *    fault once the exporter restores; a pinned-revocable umem runs the driver's revoke callback
 *    once, unmaps, unpins and stays revoked for good (I22, I5).
 * 6. Release (`umem.release()`, exactly once, I16): revoke if not yet (callback, unmap, unpin),
 *    detach, put.
 *
 * A user-VA umem ({@link ibUmemGet}) pins host pages of the process ({@link UserMm}) and maps them
 * through the IOMMU when it is on; release unmaps and unpins.
 *
 * Every step is an `rdma/...` trace event (`umem.get`, `umem.map`, `umem.invalidate`,
 * `umem.revoke.callback`, `umem.revoke`, `umem.release`, …); the layer's kinds are
 * {@link RdmaTraceKinds}, which each file augments. Expected failures are errno values; misuse (a
 * double release, mapping without the resv) throws.
 *
 * Files:
 * - `umem.ts`: {@link IbUmem}, its kinds, the context, access flags, the trace-kind root.
 * - `user-mm.ts`: the user's memory: deterministic host pages, pins, RLIMIT_MEMLOCK.
 * - `umem-va.ts`: `ib_umem_get`.
 * - `umem-dmabuf.ts`: the three dma-buf flavours (get, pin, release).
 * - `umem-dmabuf-map.ts`: mapPages (trim, fence wait), unmap, revoke.
 */
export {
  IB_ACCESS,
  type IbUmem,
  IbUmemBase,
  type IbUmemContext,
  type IbUmemKind,
  ibAccessWritable,
  ibUmemContext,
  type RdmaTraceKinds,
  UMEM_PAGE_SIZE,
  umemGetFailed,
} from "./umem.js";
export {
  IbUmemDmabuf,
  type IbUmemDmabufGetArgs,
  type IbUmemDmabufOps,
  type IbUmemDmabufRevokeCallback,
  ibUmemDmabufGet,
  ibUmemDmabufGetPinned,
  ibUmemDmabufGetPinnedRevocableAndLock,
} from "./umem-dmabuf.js";
export {
  ibUmemDmabufMapPages,
  ibUmemDmabufMapPagesWait,
  ibUmemDmabufRevoke,
  ibUmemDmabufRevokeLocked,
  ibUmemDmabufSetRevokeLocked,
  ibUmemDmabufUnmapPages,
  sgTrimToWindow,
} from "./umem-dmabuf-map.js";
export { type IbUmemGetArgs, IbUmemVa, ibUmemGet } from "./umem-va.js";
export { HOST_PAGE_SIZE, TASK_SIZE, UserMm, type UserMmOptions } from "./user-mm.js";
