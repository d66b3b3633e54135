/**
 * `src/rdma`: an RDMA device (NIC) as a DMA **importer**: umems, umem_list, and the verbs objects
 * (PD, MR, CQ, QP) built on them, and the NIC's DMA engine that runs work requests as fabric
 * traffic on a DMA bus (src/pci/dma-bus.ts). It meets the exporter (src/vfio)
 * only through src/dmabuf, as in the kernel, and never imports src/vfio.
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
 * - `buffer-desc.ts`: `struct ib_uverbs_buffer_desc` (v2 and v8 layouts) as bytes.
 * - `umem-list.ts`: `ib_umem_list` and its operations [kernel.md §d.3].
 * - `umem-buffer-attr-v8.ts`: the v8 per-attribute design, the `umem-buffer-attr-v8` profile [§d.6].
 * - `umem-pinner.ts`: descriptors to real umems (pinned, or pinned-revocable).
 * - `verbs-device.ts`, `verbs-pd.ts`, `verbs-mr.ts`, `verbs-cq.ts`, `verbs-qp.ts`: the verbs objects [§d.2, §d.4].
 * - `ib-wr.ts`: work requests, work completions, async events.
 * - `nic.ts` (the device: doorbells, DMA in flight per umem, async events), `nic-qp.ts` (requester),
 *   `nic-responder.ts`, `nic-cq.ts` (CQE writes, polls, CQ errors), `nic-mr-access.ts` (keys,
 *   rights, page faults), `rdma-wire.ts` (the network), `driver-drain.ts` (the driver's drain
 *   fence on invalidate and revoke) [§d.1, §d.2, §d.7].
 */

export {
  decodeBufferDesc,
  decodeBufferDescV8,
  encodeBufferDesc,
  encodeBufferDescs,
  encodeBufferDescV8,
  fitsKernelWord,
  IB_ACCESS_LOCAL_WRITE,
  IB_UVERBS_BUFFER_DESC_SIZE,
  IB_UVERBS_BUFFER_TYPE,
  type IbUverbsBufferDesc,
  type IbUverbsBufferDescV8,
  type KernelWordBits,
  narrowToKernelWord,
  pinBufferDesc,
  type Umem,
  type UmemPinner,
} from "./buffer-desc.js";
export { driverDrainFence } from "./driver-drain.js";
export type { IbAsyncEvent, IbEventType, IbRecvWr, IbSendWr, IbSge, IbWc, IbWcStatus, IbWrOpcode } from "./ib-wr.js";
export { NIC_CONFIG_DEFAULT, NIC_DOORBELL_BAR, NIC_DOORBELL_OFFSET, Nic, type NicConfig } from "./nic.js";
export { type CqPollResult, NicCq } from "./nic-cq.js";
export { nicMrAccess } from "./nic-mr-access.js";
export { NicQp } from "./nic-qp.js";
export { type NicQpLayout, nicConnect, RQ_WQE_BYTES, SQ_WQE_BYTES, type Wqe } from "./nic-queue.js";
export { RdmaWire, type RdmaWireConfig } from "./rdma-wire.js";
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
  type CqLegacyBufferAttrs,
  IB_UVERBS_BUFFER_DESC_FLAGS_KNOWN,
  IB_UVERBS_BUFFER_DESC_OPTIONAL_FLAGS_KNOWN,
  ibUmemGetBufferAttr,
  ibUmemGetCqBuf,
  ibUmemGetCqBufOrVa,
  UMEM_BUFFER_ATTR_V8_PROFILE,
  type UmemAttrV8Options,
  UVERBS_ATTR_CREATE_CQ_BUF_UMEM,
} from "./umem-buffer-attr-v8.js";
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
  withResvHeld,
} from "./umem-dmabuf-map.js";
export {
  ibUmemListCheckConsumed,
  ibUmemListCreate,
  ibUmemListInsert,
  ibUmemListLoad,
  ibUmemListLoadOrGet,
  ibUmemListRelease,
  ibUmemListReleaseNonListed,
  ibUmemListReplace,
  UmemList,
  type UmemListOptions,
  UVERBS_ATTR_LEN_MAX,
} from "./umem-list.js";
export {
  type IbUmemPinner,
  ibUmemPinner,
  type UmemPinnerDmabufMode,
  type UmemPinnerOptions,
} from "./umem-pinner.js";
export { type IbUmemGetArgs, IbUmemVa, ibUmemGet } from "./umem-va.js";
export { HOST_PAGE_SIZE, TASK_SIZE, UserMm, type UserMmOptions } from "./user-mm.js";
export {
  cqLegacyBufferRule,
  IbCq,
  type IbCqOptions,
  type IbCqPath,
  type IbCreateCqArgs,
  ibCreateCq,
  ibCreateCqWrite,
  ibDestroyCq,
  ibResizeCq,
  loadDbr,
  MLX5_DBR_SIZE,
  type Mlx5CqUcmd,
  UVERBS_BUF_CQ,
  UVERBS_BUF_CQ_MAX,
} from "./verbs-cq.js";
export {
  IbDevice,
  type IbDeviceCaps,
  type IbDeviceHw,
  type IbDeviceOptions,
  type IbDriverMutants,
  ibDevice,
} from "./verbs-device.js";
export {
  IB_ACCESS_SUPPORTED,
  IbMr,
  type IbMrAccessError,
  type IbMrOptions,
  type IbMrType,
  type IbRegUserMrArgs,
  type IbRegUserMrDmabufArgs,
  ibCheckMrAccess,
  ibDeregMr,
  ibRegUserMr,
  ibRegUserMrDmabuf,
  type MrTranslateResult,
  mlx5PageFaultBody,
  mlx5RevokeMr,
  mrCheckAccess,
  mrEntries,
  mrTranslate,
} from "./verbs-mr.js";
export {
  IbPd,
  ibAllocPd,
  ibDeallocPd,
} from "./verbs-pd.js";
export {
  IB_QP_STATES,
  type IbCreateQpArgs,
  IbQp,
  type IbQpOptions,
  type IbQpState,
  ibCreateQp,
  ibDestroyQp,
  ibModifyQp,
  ibModifyQpIsOk,
  type Mlx5QpUcmd,
  UVERBS_BUF_QP,
  UVERBS_BUF_QP_MAX,
} from "./verbs-qp.js";
