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
 * Revoke (§c.4): a MEM clear, D3 entry, FLR, reset, hot reset, low-power entry or device close sets
 * `revoked` under memory_lock and resv, calls every importer's `moveNotify`, waits for fences and
 * unmaps, and only then lets the hardware change; restore clears it when memory is back (close is
 * permanent).
 *
 * In place so far: the uAPI layout, encoder and kernel-style copies (`uapi.ts`) and the validation
 * of steps 0-12 of §c.2 (`feature-dma-buf.ts`). Not yet: the exporter object, attach/map, revoke
 * and restore, which need src/dmabuf's objects.
 */
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
