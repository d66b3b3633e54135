/**
 * The VFIO uAPI of the dma-buf export feature, byte for byte as a user program passes it to the
 * `VFIO_DEVICE_FEATURE` ioctl [kernel.md §c.1]:
 *
 * ```
 *  offset  size  field
 *   0       4    vfio_device_feature.argsz          (u32, little-endian, whole buffer as the user counts it)
 *   4       4    vfio_device_feature.flags          (u32: feature id in bits 0-15, GET 16, SET 17, PROBE 18)
 *   8       4    vfio_device_feature_dma_buf.region_index
 *  12       4                               .open_flags
 *  16       4                               .flags          (must be 0)
 *  20       4                               .nr_ranges
 *  24    16*n                               .dma_ranges[n]  { u64 offset; u64 length; }
 * ```
 *
 * The encoder builds such buffers for tests and scenario files. The copy functions read them the
 * way the kernel does, one `copy_from_user` at a time, so a buffer shorter than a copy is the
 * -EFAULT of that copy: the bytes the "user" handed over are all the memory there is.
 */

import type { Result } from "../dmabuf/errno.js";
import { assert } from "../fabric/assert.js";

/** `VFIO_DEVICE_FEATURE_MASK`: the feature id lives in the low 16 bits of `flags`. */
export const VFIO_DEVICE_FEATURE_MASK = 0xffff;
/** `VFIO_DEVICE_FEATURE_GET`: read the feature (for DMA_BUF: create the dma-buf). */
export const VFIO_DEVICE_FEATURE_GET = 1 << 16;
/** `VFIO_DEVICE_FEATURE_SET`: write the feature (DMA_BUF does not support it). */
export const VFIO_DEVICE_FEATURE_SET = 1 << 17;
/** `VFIO_DEVICE_FEATURE_PROBE`: only ask whether the feature and the ops are supported. */
export const VFIO_DEVICE_FEATURE_PROBE = 1 << 18;
/** `VFIO_DEVICE_FEATURE_DMA_BUF`: export ranges of a BAR as a dma-buf [kernel.md §c.1]. */
export const VFIO_DEVICE_FEATURE_DMA_BUF = 11;
/** `VFIO_PCI_ROM_REGION_INDEX`: region indexes below it are BARs 0-5 [kernel.md §c.2 step 5]. */
export const VFIO_PCI_ROM_REGION_INDEX = 6;

/** `sizeof(struct vfio_device_feature)` without `data[]`: argsz and flags. */
export const VFIO_DEVICE_FEATURE_HEADER_BYTES = 8;
/** `sizeof(struct vfio_device_feature_dma_buf)` without `dma_ranges[]`. */
export const VFIO_DMA_BUF_HEADER_BYTES = 16;
/** `sizeof(struct vfio_region_dma_range)`. */
export const VFIO_REGION_DMA_RANGE_BYTES = 16;
/** Where `dma_ranges[0]` starts in the whole ioctl buffer (`&arg->dma_ranges`). */
export const VFIO_DMA_RANGES_OFFSET = VFIO_DEVICE_FEATURE_HEADER_BYTES + VFIO_DMA_BUF_HEADER_BYTES;

/**
 * `KMALLOC_MAX_SIZE` on x86-64 with 4 KiB pages and the default `MAX_PAGE_ORDER` of 10: the largest
 * buffer `memdup_user` (a kmalloc) can return. Past it the copy of the range array fails -ENOMEM
 * before any byte is read. [inferred] from mm/util.c and slab.h; the sheet only says -ENOMEM
 * [kernel.md §c.2 step 6].
 */
export const KMALLOC_MAX_SIZE = 4 * 1024 * 1024;

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;
/** `SIZE_MAX` of a 64-bit kernel, for `check_mul_overflow` in `memdup_array_user`. */
const SIZE_MAX = U64_MAX;

/** `struct vfio_region_dma_range`: one page-aligned window of the BAR, offset from the BAR start. */
export interface VfioRegionDmaRange {
  /** u64 byte offset into the BAR. */
  readonly offset: bigint;
  /** u64 length in bytes. */
  readonly length: bigint;
}

/** `struct vfio_device_feature` without `data[]`, as `vfio_ioctl_device_feature` copies it. */
export interface VfioDeviceFeatureHeader {
  readonly argsz: number;
  readonly flags: number;
}

/** `struct vfio_device_feature_dma_buf` without `dma_ranges[]`, as the DMA_BUF handler copies it. */
export interface VfioDmaBufHeader {
  readonly regionIndex: number;
  readonly openFlags: number;
  /** Must be 0 [kernel.md §c.1]. */
  readonly flags: number;
  readonly nrRanges: number;
}

/** What {@link encodeDmaBufFeature} builds; every field a user program sets, with the kernel's names in camel case. */
export interface DmaBufFeatureInput {
  /** `vfio_device_feature.argsz`. Default: the byte length of the encoded buffer (8 + 16 + 16 × ranges). */
  readonly argsz?: number;
  /** `vfio_device_feature.flags`. Default: `VFIO_DEVICE_FEATURE_DMA_BUF | VFIO_DEVICE_FEATURE_GET`. */
  readonly flags?: number;
  readonly regionIndex: number;
  readonly openFlags: number;
  /** `vfio_device_feature_dma_buf.flags` (must be 0 to pass). */
  readonly dmaBufFlags: number;
  /** `nr_ranges`. Default: `ranges.length`; set it apart from the ranges to build a lying request. */
  readonly nrRanges?: number;
  readonly ranges: readonly VfioRegionDmaRange[];
}

/**
 * Encodes a `VFIO_DEVICE_FEATURE` buffer for `VFIO_DEVICE_FEATURE_DMA_BUF`, little-endian, as a user
 * program lays it out: the 8-byte feature header, the 16-byte dma-buf header, then `ranges`.
 * @param input the fields; `argsz`, `flags` and `nrRanges` default to what a correct program writes.
 * @returns a new buffer of exactly 24 + 16 × `ranges.length` bytes.
 * @throws AssertionError when a field does not fit its u32/u64 type (a bug in the caller).
 */
export function encodeDmaBufFeature(input: DmaBufFeatureInput): Uint8Array {
  const byteLength = VFIO_DMA_RANGES_OFFSET + VFIO_REGION_DMA_RANGE_BYTES * input.ranges.length;
  const bytes = new Uint8Array(byteLength);
  const view = new DataView(bytes.buffer);
  const u32 = (offset: number, value: number, name: string): void => {
    assert(Number.isInteger(value) && value >= 0 && value <= U32_MAX, () => `${name} must be a u32, got ${value}`);
    view.setUint32(offset, value, true);
  };
  u32(0, input.argsz ?? byteLength, "argsz");
  u32(4, input.flags ?? VFIO_DEVICE_FEATURE_DMA_BUF | VFIO_DEVICE_FEATURE_GET, "flags");
  u32(8, input.regionIndex, "regionIndex");
  u32(12, input.openFlags, "openFlags");
  u32(16, input.dmaBufFlags, "dmaBufFlags");
  u32(20, input.nrRanges ?? input.ranges.length, "nrRanges");
  input.ranges.forEach((range, i) => {
    assert(range.offset >= 0n && range.offset <= U64_MAX, () => `ranges[${i}].offset must be a u64, got ${range.offset}`);
    assert(range.length >= 0n && range.length <= U64_MAX, () => `ranges[${i}].length must be a u64, got ${range.length}`);
    const at = VFIO_DMA_RANGES_OFFSET + VFIO_REGION_DMA_RANGE_BYTES * i;
    view.setBigUint64(at, range.offset, true);
    view.setBigUint64(at + 8, range.length, true);
  });
  return bytes;
}

/** A `copy_from_user` of `size` bytes at `offset`: a view of them, or -EFAULT when the user buffer ends first. */
function copyFromUser(bytes: Uint8Array, offset: number, size: number): Result<DataView> {
  if (offset + size > bytes.length) return { ok: false, errno: "EFAULT" };
  return { ok: true, value: new DataView(bytes.buffer, bytes.byteOffset + offset, size) };
}

/**
 * Copies the `struct vfio_device_feature` header (argsz, flags) the way `vfio_ioctl_device_feature` does.
 * @param bytes the whole user buffer.
 * @returns the header, or -EFAULT when the buffer is shorter than 8 bytes.
 */
export function copyFeatureHeader(bytes: Uint8Array): Result<VfioDeviceFeatureHeader> {
  const copy = copyFromUser(bytes, 0, VFIO_DEVICE_FEATURE_HEADER_BYTES);
  if (!copy.ok) return copy;
  return { ok: true, value: { argsz: copy.value.getUint32(0, true), flags: copy.value.getUint32(4, true) } };
}

/**
 * Copies `struct vfio_device_feature_dma_buf` (without the ranges) from `arg->data`, step 3 of
 * [kernel.md §c.2].
 * @param bytes the whole user buffer (the dma-buf header starts at byte 8).
 * @returns the header, or -EFAULT when the buffer ends before byte 24.
 */
export function copyDmaBufHeader(bytes: Uint8Array): Result<VfioDmaBufHeader> {
  const copy = copyFromUser(bytes, VFIO_DEVICE_FEATURE_HEADER_BYTES, VFIO_DMA_BUF_HEADER_BYTES);
  if (!copy.ok) return copy;
  const v = copy.value;
  return {
    ok: true,
    value: { regionIndex: v.getUint32(0, true), openFlags: v.getUint32(4, true), flags: v.getUint32(8, true), nrRanges: v.getUint32(12, true) },
  };
}

/**
 * `memdup_array_user(&arg->dma_ranges, nr_ranges, sizeof(range))`, step 6 of [kernel.md §c.2]: the
 * size is checked for overflow, then allocated, then copied, in that order, so a huge `nr_ranges`
 * is -ENOMEM even when the user buffer is also too short. `argsz` plays no part: the kernel never
 * compares it with `nr_ranges`.
 * @param bytes the whole user buffer (the ranges start at byte 24).
 * @param nrRanges the u32 `nr_ranges` of the header.
 * @returns the ranges; -EOVERFLOW when the byte count overflows `size_t` (impossible on a 64-bit kernel
 * with a u32 count, kept to mirror the code); -ENOMEM past {@link KMALLOC_MAX_SIZE}; -EFAULT when the
 * buffer ends before the last range.
 */
export function memdupDmaRanges(bytes: Uint8Array, nrRanges: number): Result<readonly VfioRegionDmaRange[]> {
  const size = BigInt(nrRanges) * BigInt(VFIO_REGION_DMA_RANGE_BYTES);
  if (size > SIZE_MAX) return { ok: false, errno: "EOVERFLOW" };
  if (size > BigInt(KMALLOC_MAX_SIZE)) return { ok: false, errno: "ENOMEM" };
  const copy = copyFromUser(bytes, VFIO_DMA_RANGES_OFFSET, Number(size));
  if (!copy.ok) return copy;
  const ranges: VfioRegionDmaRange[] = [];
  for (let i = 0; i < nrRanges; i++) {
    const at = VFIO_REGION_DMA_RANGE_BYTES * i;
    ranges.push({ offset: copy.value.getBigUint64(at, true), length: copy.value.getBigUint64(at + 8, true) });
  }
  return { ok: true, value: ranges };
}
