/**
 * `src/dmabuf`: the dma-buf contract between an exporter (vfio-pci) and its importers (RDMA),
 * the neutral ground where `src/vfio` and `src/rdma` meet [kernel.md §b]. It imports only
 * `src/fabric` and `src/pci`.
 *
 * Lifecycle of a dma-buf:
 * 1. Export: the exporter calls {@link exportDmaBuf} with its ops table (validated once: `map`,
 *    `unmap`, `release` mandatory; `pin`/`unpin` together) and its private object.
 * 2. Hand over: the fd goes to an importer, which takes a reference ({@link dmaBufGet}).
 * 3. Attach: {@link dmaBufAttach}, resv NOT held; static without ops, dynamic with
 *    `{ allowPeer2peer, invalidateMappings? }`. The exporter's `attach` op may veto with an errno
 *    (VFIO refuses importers that are not peer-to-peer capable or not revocable).
 * 4. Map: with the resv held ({@link DmaResv.lock} / `acquire`), {@link dmaBufMapAttachment}
 *    returns a scatter list of DMA addresses; MMIO exporters build it with
 *    {@link dmaBufPhysVecToSgt}: a bus address, an IOVA or a physical address by map type, or -EINVAL.
 *    A dynamic importer may pin first ({@link dmaBufPin}).
 * 5. Use: the importer's DMA targets the listed addresses, after waiting for the buffer's fences
 *    ({@link DmaResv.wait}).
 * 6. Unmap: {@link dmaBufUnmapAttachment} (resv held); the exporter frees the list ({@link dmaBufFreeSgt}).
 * 7. Detach: {@link dmaBufDetach}, resv NOT held, nothing mapped or pinned.
 * 8. Release: the last {@link dmaBufPut} calls the exporter's `release`.
 *
 * Revoke means invalidate: the exporter runs {@link dmaBufRevoke} (take resv, mark revoked,
 * `invalidateMappings` of every importer that registered it, wait for all fences, drop resv, wait
 * for every unmap), after which no importer accesses the memory. Profile `"vfio-dmabuf-initial"`
 * keeps the first merged form that did not wait (bug E12).
 *
 * Every step is a `dmabuf/...` trace event (`export`, `attach`, `map`, `unmap`, `invalidate`,
 * `revoke.begin`, `revoke.done`, …); expected failures are errno values ({@link Result}), misuse
 * (a missing op, a broken locking rule, a double put) throws.
 */
export {
  DmaBufAttachment,
  type DmaBufImporterOps,
  dmaBufAttach,
  dmaBufAttachRevocable,
  dmaBufDetach,
  dmaBufInvalidateMappings,
  dmaBufPin,
  dmaBufUnpin,
} from "./attachment.js";
export { DmaBuf, type DmaBufExportInfo, type DmaBufOps, type DmaBufTraceKinds, dmaBufGet, dmaBufPut, exportDmaBuf } from "./dma-buf.js";
export { ERRNO, type Errno, formatErrno, type Result } from "./errno.js";
export {
  DmaBufDma,
  type DmaBufDmaKind,
  DmaIommu,
  dmaBufFreeSgt,
  dmaBufMapAttachment,
  dmaBufPhysVecToSgt,
  dmaBufUnmapAttachment,
  PAGE_SIZE,
  type PhysVec,
  type PhysVecToSgtOptions,
  SG_CHUNK_2G,
  SG_CHUNK_UINT_MAX,
  type SgEntry,
  type SgTable,
  sgTableAssertValid,
} from "./map.js";
export { DMA_RESV_USAGES, DmaFence, DmaResv, type DmaResvUsage } from "./reservation.js";
export { DMA_BUF_REVOKE_PROFILES, type DmaBufRevokeOptions, type DmaBufRevokeProfile, dmaBufRevoke, dmaBufRevokeBody } from "./revoke.js";
