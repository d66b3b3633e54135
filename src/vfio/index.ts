/**
 * `src/vfio`: a vfio-pci device as a dma-buf **exporter** of its BAR ranges
 * (drivers/vfio/pci/vfio_pci_dmabuf.c). It meets its importers (src/rdma) only through src/dmabuf,
 * as in the kernel, and never imports src/rdma.
 *
 * Lifecycle of an export [kernel.md §c]:
 * 1. Export: the user calls `VFIO_DEVICE_FEATURE` with `VFIO_DEVICE_FEATURE_DMA_BUF | GET` and a
 *    list of page-aligned BAR ranges; every step of §c.2 validates it, in order, each with its errno
 *    ({@link validateDmaBufFeature}). A success creates the private object, takes one device
 *    registration reference, and starts revoked if device memory is disabled (§c.3).
 * 2. Hand over: the dma-buf fd goes to an importer (an RDMA NIC, another device).
 * 3. Attach: only peer-to-peer capable and revocable importers; -ENODEV while revoked (§c.3).
 * 4. Map: under the reservation lock; the scatter list holds bus addresses or IOVAs depending on the
 *    p2pdma map type between the BAR's provider and the importer (§a, §b.5).
 * 5. Use: the importer's DMA goes to the BAR over the fabric.
 * 6. Unmap: the importer drops the mapping (and its reference on the private object).
 * 7. Detach: the importer lets go of the attachment.
 * 8. Release: the last fd closes; the registration reference is put exactly once (§c.3, E10).
 *
 * Revoke (§c.4): a MEM clear, D3 entry, FLR, reset, hot reset, low-power entry or device close
 * takes the device's memory_lock for write and revokes every export first (set `revoked` under
 * resv, invalidate every importer, wait for fences and unmaps: `dmaBufRevoke`'s sequence), then
 * changes the hardware, then restores the exports only when memory is enabled again. Close is
 * permanent: the export is unlinked, its registration dropped, its owner cleared.
 *
 * Files:
 * - `uapi.ts`, `feature-dma-buf.ts`: the uAPI bytes and the validation of §c.2, pure.
 * - `vfio-pci-device.ts`: {@link VfioPciDevice}: open/close, the export ioctl, the export list,
 *   registration references, and one method per trigger.
 * - `dmabuf-export.ts`: the per-export object ({@link VfioPciDmaBuf}: revoked, kref, completion)
 *   and the exporter ops (attach, map, unmap, release).
 * - `dmabuf-move.ts`: revoke/restore of a device's exports and close's cleanup.
 * - `revoke-triggers.ts`, `hot-reset.ts`: the triggers of §c.4 as processes.
 * - `memory-lock.ts`: memory_lock as an asserted rw-semaphore, ordered before resv (I13).
 * - `profiles.ts`: `vfio-dmabuf-wait` (default), `vfio-dmabuf-initial` (E12), and the mutants
 *   E6, E7, E8, E10, E13, E27 as named options.
 * - `fd-table.ts`: the user's fds (`dma_buf_fd`, `dma_buf_get`, `close`); a full table is E10's trigger.
 * - `vfio-op.ts`: a request that takes simulated time and returns an errno or a value.
 * - `trace-kinds.ts`: every `vfio/...` trace event.
 */

export { VFIO_PCI_DMABUF_OPS, type VfioDmaBufOwner, VfioPciDmaBuf, type VfioPciDmaBufInit, vfioPciDmaBufFree } from "./dmabuf-export.js";
export { type VfioMoveContext, vfioPciDmaBufCleanup, vfioPciDmaBufMove } from "./dmabuf-move.js";
export { FdTable } from "./fd-table.js";
export {
  DMA_IOVA_USE_SWIOTLB,
  type DmaBufFeatureResult,
  type DmaBufFeatureStep,
  type DmaBufPhysVec,
  type DmaBufRequest,
  dmaBufBarFromPci,
  PAGE_SIZE,
  type VfioDmaBufBar,
  type VfioDmaBufDevice,
  validateDmaBufFeature,
} from "./feature-dma-buf.js";
export { type HotResetOptions, vfioPciHotReset } from "./hot-reset.js";
export { MemoryLock } from "./memory-lock.js";
export { VFIO_MUTANTS, VFIO_PROFILES, type VfioMutant, type VfioOptions, type VfioProfile, type VfioSettings, vfioSettings } from "./profiles.js";
export { pciResetFunctions, powerStateRank, type TriggerBody } from "./revoke-triggers.js";
export type { VfioTraceKinds } from "./trace-kinds.js";
export {
  copyDmaBufHeader,
  copyFeatureHeader,
  type DmaBufFeatureInput,
  encodeDmaBufFeature,
  KMALLOC_MAX_SIZE,
  memdupDmaRanges,
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_HEADER_BYTES,
  VFIO_DEVICE_FEATURE_MASK,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DMA_BUF_HEADER_BYTES,
  VFIO_DMA_RANGES_OFFSET,
  VFIO_PCI_ROM_REGION_INDEX,
  VFIO_REGION_DMA_RANGE_BYTES,
  type VfioDeviceFeatureHeader,
  type VfioDmaBufHeader,
  type VfioRegionDmaRange,
} from "./uapi.js";
export { failed, OK, spawnVfioOp, VfioOp, type VfioOpBody } from "./vfio-op.js";
export { VfioPciDevice, type VfioPciDeviceConfig } from "./vfio-pci-device.js";
