/**
 * `vfio_pci_core_feature_dma_buf`: the validation of a `VFIO_DEVICE_FEATURE_DMA_BUF` request, every
 * step of [kernel.md §c.2] in the kernel's order and with the kernel's errno, as one pure function
 * from the user's bytes and a view of the device to a verdict. Creating the dma-buf object, its
 * revoked state and its registration reference is the exporter's job; this file only decides
 * whether the kernel would get that far, and with which ranges and size.
 *
 * Step 0 is not in the sheet: it is `vfio_ioctl_device_feature` in vfio_main.c, which copies and
 * checks the 8-byte `struct vfio_device_feature` header and dispatches on the feature id before the
 * DMA_BUF handler (step 1) runs. Arbitrary bytes reach it first, so it is modelled too.
 */
import type { Errno } from "../dmabuf/errno.js";
import type { Bar } from "../pci/topology.js";
import {
  copyDmaBufHeader,
  copyFeatureHeader,
  memdupDmaRanges,
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_HEADER_BYTES,
  VFIO_DEVICE_FEATURE_MASK,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
  VFIO_DMA_BUF_HEADER_BYTES,
  VFIO_PCI_ROM_REGION_INDEX,
  type VfioRegionDmaRange,
} from "./uapi.js";

/** `PAGE_SIZE` of the modelled kernel: 4 KiB. Offsets and lengths must be multiples of it [kernel.md §c.2 step 7]. */
export const PAGE_SIZE = 4096n;
/** `DMA_IOVA_USE_SWIOTLB`: bit 63 of an IOVA-state size is a marker, so a total with it set is refused [kernel.md §c.2 step 7]. */
export const DMA_IOVA_USE_SWIOTLB = 1n << 63n;
const U64_MODULUS = 1n << 64n;

/** Step numbers: 0 is the generic ioctl dispatch, 1-12 are the steps of [kernel.md §c.2]. */
export type DmaBufFeatureStep = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12;

/** What the handler can learn about one BAR (`pci_resource_start/len/flags` and `pcim_p2pdma_provider`). */
export interface VfioDmaBufBar {
  /** `pci_resource_len`, u64. */
  readonly sizeBytes: bigint;
  /** `pci_resource_start`: CPU physical address, u64. */
  readonly cpuAddress: bigint;
  /** The resource is IORESOURCE_MEM (an I/O BAR is not) [kernel.md §a.1]. */
  readonly isMemory: boolean;
  /** `pcim_p2pdma_init` succeeded and the device is not `non_mappable_bars` [kernel.md §a.1]. */
  readonly hasProvider: boolean;
}

/** The device as the DMA_BUF handler sees it, with fault knobs for the steps whose failure is not in the bytes. */
export interface VfioDmaBufDevice {
  /** The driver's `pci_ops->get_dmabuf_phys` exists: plain vfio-pci yes, variant drivers that alter BARs no [kernel.md §c.2 step 1, §e E2]. */
  readonly hasGetDmabufPhys: boolean;
  /** BAR `index` (0-5), or undefined when the BAR is not implemented. */
  bar(index: number): VfioDmaBufBar | undefined;
  /** Requesting the BAR's PCI resources (setting up the BAR map) fails [kernel.md §c.2 step 5, §e E11]. */
  readonly requestResourcesFails?: boolean;
  /** The `kzalloc`/`kcalloc` of the private object and its phys_vec fail [kernel.md §c.2 step 8]. */
  readonly privAllocationFails?: boolean;
  /** `vfio_device_try_get_registration` succeeds (false while the device is going away) [kernel.md §c.2 step 11]. */
  readonly registrationAvailable: boolean;
  /** `dma_buf_export` fails with this errno [kernel.md §c.2 step 12]. */
  readonly exportFails?: Errno;
  /** `dma_buf_fd` fails with this errno (fd exhaustion is -EMFILE in the kernel, which the model's Errno lacks) [kernel.md §c.2 step 12, §e E10]. */
  readonly fdFails?: Errno;
}

/** `struct dma_buf_phys_vec`: one range as a CPU physical address and length. */
export interface DmaBufPhysVec {
  readonly paddr: bigint;
  readonly len: bigint;
}

/** A request that passed every step: what the exporter builds the dma-buf from. */
export interface DmaBufRequest {
  readonly regionIndex: number;
  /** Passed to export and fd creation unchecked [kernel.md §c.2]. */
  readonly openFlags: number;
  readonly ranges: readonly VfioRegionDmaRange[];
  /** `priv->phys_vec`: BAR start + offset per range. */
  readonly physVec: readonly DmaBufPhysVec[];
  /** The dma-buf size: the sum of the range lengths, overlaps counted twice [kernel.md §c.2 step 10]. */
  readonly sizeBytes: bigint;
}

/** The verdict: a PROBE answered, a request accepted, or the errno of the first step that failed. */
export type DmaBufFeatureResult =
  | { readonly ok: true; readonly probe: true }
  | { readonly ok: true; readonly probe: false; readonly request: DmaBufRequest }
  | { readonly ok: false; readonly errno: Errno; readonly step: DmaBufFeatureStep; readonly reason: string };

type Failure = Extract<DmaBufFeatureResult, { ok: false }>;

function fail(step: DmaBufFeatureStep, errno: Errno, reason: string): Failure {
  return { ok: false, errno, step, reason };
}

/**
 * Runs the `VFIO_DEVICE_FEATURE` ioctl with `bytes` as its argument on `device`, for the DMA_BUF
 * feature: steps 0-12, stopping at the first that fails, as the kernel does.
 * @param bytes the whole user buffer: `struct vfio_device_feature` header, then the dma-buf request.
 * @param device what the handler reads about the device, and which later steps fail.
 * @returns `{ ok: true, probe: true }` for a PROBE the device supports; `{ ok: true, probe: false,
 * request }` for an accepted export; otherwise `{ ok: false, errno, step, reason }`. Never throws, for
 * any bytes.
 */
export function validateDmaBufFeature(bytes: Uint8Array, device: VfioDmaBufDevice): DmaBufFeatureResult {
  const dispatched = checkDeviceFeatureIoctl(bytes);
  if (!dispatched.ok) return dispatched;
  const { argsz, flags } = dispatched;

  if (!device.hasGetDmabufPhys) return fail(1, "EOPNOTSUPP", "the driver has no get_dmabuf_phys (variant driver with its own BAR view)");

  // vfio_ioctl_device_feature hands the handler `feature.argsz - minsz`, the size of `data[]`, so the
  // sheet's "argsz below the 16-byte header" [kernel.md §c.2 step 2] compares that with
  // sizeof(struct vfio_device_feature_dma_buf): a user argsz below 8 + 16 = 24 fails here.
  const checked = vfioCheckFeature(flags, argsz - VFIO_DEVICE_FEATURE_HEADER_BYTES, VFIO_DMA_BUF_HEADER_BYTES);
  if (checked !== "run") return checked;

  const header = copyDmaBufHeader(bytes);
  if (!header.ok) return fail(3, header.errno, "copy_from_user of the 16-byte dma-buf header ran past the user buffer");
  const { regionIndex, openFlags, nrRanges } = header.value;

  if (nrRanges === 0) return fail(4, "EINVAL", "nr_ranges is 0");
  if (header.value.flags !== 0) return fail(4, "EINVAL", `flags is ${header.value.flags}, must be 0`);

  if (regionIndex >= VFIO_PCI_ROM_REGION_INDEX) return fail(5, "ENODEV", `region_index ${regionIndex} is not a BAR (0-5)`);
  // The 2026 fix (E11) claims the BAR before any dma-buf exists; the sheet gives -ENODEV for its
  // failure, which is followed here rather than the errno of the resource request itself.
  if (device.requestResourcesFails === true) return fail(5, "ENODEV", `requesting the resources of BAR ${regionIndex} failed`);

  const copied = memdupDmaRanges(bytes, nrRanges);
  if (!copied.ok) return fail(6, copied.errno, `memdup_array_user of ${nrRanges} ranges failed`);
  const ranges = copied.value;

  const total = validateDmabufInput(ranges);
  if (typeof total !== "bigint") return total;

  if (device.privAllocationFails === true) return fail(8, "ENOMEM", "allocating the private object or its phys_vec failed");

  const bar = device.bar(regionIndex);
  if (bar === undefined || !bar.isMemory || !bar.hasProvider) {
    const why = bar === undefined ? "is not implemented" : !bar.isMemory ? "is an I/O BAR" : "has no p2pdma provider";
    return fail(9, "EINVAL", `pcim_p2pdma_provider returned NULL: BAR ${regionIndex} ${why}`);
  }
  const physVec = fillPhysVec(ranges, bar.cpuAddress, bar.sizeBytes);
  if (!Array.isArray(physVec)) return physVec;

  if (!device.registrationAvailable) return fail(11, "ENODEV", "the device registration reference cannot be taken (device going away)");
  if (device.exportFails !== undefined) return fail(12, device.exportFails, "dma_buf_export failed; the registration reference is dropped");
  // E10 [kernel.md §e]: after a failed dma_buf_fd the kernel drops the dma-buf, whose release puts
  // the registration reference once; the unwind must not put it (or free priv) a second time.
  if (device.fdFails !== undefined) return fail(12, device.fdFails, "dma_buf_fd failed; the dma-buf is dropped and its release puts the registration once");

  return { ok: true, probe: false, request: { regionIndex, openFlags, ranges, physVec, sizeBytes: total } };
}

/**
 * Step 0, `vfio_ioctl_device_feature` (vfio_main.c): copy the 8-byte header, check argsz, unknown
 * flag bits and GET|SET without PROBE, then dispatch on the feature id.
 */
function checkDeviceFeatureIoctl(bytes: Uint8Array): { ok: true; argsz: number; flags: number } | Failure {
  const header = copyFeatureHeader(bytes);
  if (!header.ok) return fail(0, header.errno, "copy_from_user of the 8-byte vfio_device_feature header ran past the user buffer");
  const { argsz, flags } = header.value;
  if (argsz < VFIO_DEVICE_FEATURE_HEADER_BYTES) return fail(0, "EINVAL", `argsz ${argsz} is below the 8-byte vfio_device_feature header`);
  const known = VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE;
  if ((flags & ~known) !== 0) return fail(0, "EINVAL", `unknown flag bits 0x${((flags & ~known) >>> 0).toString(16)}`);
  const get = (flags & VFIO_DEVICE_FEATURE_GET) !== 0;
  const set = (flags & VFIO_DEVICE_FEATURE_SET) !== 0;
  if ((flags & VFIO_DEVICE_FEATURE_PROBE) === 0 && get && set) return fail(0, "EINVAL", "GET and SET together without PROBE");
  const id = flags & VFIO_DEVICE_FEATURE_MASK;
  // Other ids go to other handlers in the kernel (or -ENOTTY when none knows them); p2psim models
  // only DMA_BUF, so every other id answers -ENOTTY here.
  if (id !== VFIO_DEVICE_FEATURE_DMA_BUF) return fail(0, "ENOTTY", `feature id ${id} is not VFIO_DEVICE_FEATURE_DMA_BUF (${VFIO_DEVICE_FEATURE_DMA_BUF})`);
  return { ok: true, argsz, flags };
}

/**
 * Step 2, `vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET, minsz)` (include/linux/vfio.h):
 * "run" to go on, a PROBE answer, or -EINVAL.
 */
function vfioCheckFeature(flags: number, argsz: number, minsz: number): "run" | DmaBufFeatureResult {
  if ((flags & VFIO_DEVICE_FEATURE_SET) !== 0) return fail(2, "EINVAL", "SET requested; DMA_BUF supports GET only");
  if ((flags & VFIO_DEVICE_FEATURE_PROBE) !== 0) return { ok: true, probe: true };
  if ((flags & VFIO_DEVICE_FEATURE_GET) === 0) return fail(2, "EINVAL", "neither GET nor SET requested");
  if (argsz < minsz) return fail(2, "EINVAL", `argsz leaves ${argsz} bytes for data[], below the ${minsz}-byte dma-buf header`);
  return "run";
}

/**
 * Step 7, `validate_dmabuf_input`: per range in order, length 0 or a misaligned offset or length,
 * then a running total that wraps u64 (`check_add_overflow` on a 64-bit size_t); after the loop, a
 * total with bit 63 set. Each is -EINVAL [kernel.md §c.2 step 7, §e E5].
 * @returns the total length, or the failure.
 */
function validateDmabufInput(ranges: readonly VfioRegionDmaRange[]): bigint | Failure {
  let total = 0n;
  for (const [i, { offset, length }] of ranges.entries()) {
    if (length === 0n) return fail(7, "EINVAL", `range ${i}: length is 0`);
    if (offset % PAGE_SIZE !== 0n) return fail(7, "EINVAL", `range ${i}: offset 0x${offset.toString(16)} is not page aligned`);
    if (length % PAGE_SIZE !== 0n) return fail(7, "EINVAL", `range ${i}: length 0x${length.toString(16)} is not page aligned`);
    total += length;
    if (total >= U64_MODULUS) return fail(7, "EINVAL", `range ${i}: the running total of lengths overflows u64`);
  }
  if ((total & DMA_IOVA_USE_SWIOTLB) !== 0n) return fail(7, "EINVAL", `total length 0x${total.toString(16)} has bit 63 (DMA_IOVA_USE_SWIOTLB) set`);
  return total;
}

/**
 * Step 10, `vfio_pci_core_fill_phys_vec`: per range, length 0 -> -EINVAL (unreachable after step 7,
 * kept to mirror the code); BAR start + offset or that + length wrapping u64 -> -EOVERFLOW; an end
 * past the BAR end -> -EINVAL [kernel.md §c.2 step 10, §e E5].
 */
function fillPhysVec(ranges: readonly VfioRegionDmaRange[], start: bigint, len: bigint): DmaBufPhysVec[] | Failure {
  // The kernel computes max_addr = start + len without an overflow check; a BAR cannot wrap the
  // 64-bit space, but the wrap is reproduced rather than assumed away.
  const maxAddr = (start + len) % U64_MODULUS;
  const physVec: DmaBufPhysVec[] = [];
  for (const [i, { offset, length }] of ranges.entries()) {
    if (length === 0n) return fail(10, "EINVAL", `range ${i}: length is 0`);
    const paddr = start + offset;
    if (paddr >= U64_MODULUS) return fail(10, "EOVERFLOW", `range ${i}: BAR start + offset overflows u64`);
    const end = paddr + length;
    if (end >= U64_MODULUS) return fail(10, "EOVERFLOW", `range ${i}: BAR start + offset + length overflows u64`);
    if (end > maxAddr) return fail(10, "EINVAL", `range ${i}: ends at 0x${end.toString(16)}, past the BAR end 0x${maxAddr.toString(16)}`);
    physVec.push({ paddr, len: length });
  }
  return physVec;
}

/**
 * The handler's view of a topology BAR, for devices built from `src/pci`.
 * @param bar the BAR as the topology assigned it.
 * @param hasProvider whether p2pdma set up a provider for the device (false for `non_mappable_bars`).
 * @returns the view; an I/O BAR is reported as not memory, so it never has a provider [kernel.md §a.1].
 */
export function dmaBufBarFromPci(bar: Bar, hasProvider: boolean): VfioDmaBufBar {
  const isMemory = bar.type !== "io";
  return { sizeBytes: BigInt(bar.sizeBytes), cpuAddress: BigInt(bar.cpuAddress), isMemory, hasProvider: isMemory && hasProvider };
}
