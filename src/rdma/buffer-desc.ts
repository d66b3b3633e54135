/**
 * RDMA buffer descriptors: the 32-byte uAPI records through which user space hands the kernel a
 * CQ or QP buffer as a dma-buf window or a user virtual address, and the one step that turns a
 * descriptor into a pinned umem [kernel.md §d.3, §d.6].
 *
 * Two layouts exist, both little-endian and 32 bytes:
 *
 * ```
 * v2 (default, umem_list)          v8 (profile umem-buffer-attr-v8)
 * off  0  s32 fd                   off  0  u32 type
 * off  4  u32 type                 off  4  s32 fd
 * off  8  u32 index                off  8  u32 flags           (strict)
 * off 12  u32 reserved             off 12  u32 optional_flags  (advisory)
 * off 16  u64 addr                 off 16  u64 addr
 * off 24  u64 length               off 24  u64 length
 * ```
 *
 * `addr` and `length` stay `bigint` from the bytes to the pinner, because a u64 above 2^53 would
 * lose bits as a JS number: that would be the simulator's own silent narrowing, the very bug
 * (E22) the v8 profile checks for.
 *
 * The umems themselves are another file's concept; this file names only the narrow interface
 * the descriptor code needs ({@link UmemPinner}, {@link Umem}), so that tests can count every
 * pin and release.
 */

import type { Result } from "../dmabuf/errno.js";
import { assert } from "../fabric/assert.js";
import { IB_ACCESS } from "./umem.js";

/** `enum ib_uverbs_buffer_type` [kernel.md §d.3]. Any other value is rejected with -EINVAL. */
export const IB_UVERBS_BUFFER_TYPE = {
  /** `fd` is a dma-buf, `addr` the offset into it: pinned dma-buf umem. */
  DMABUF: 0,
  /** `addr` is a user virtual address: `ib_umem_get`. */
  VA: 1,
} as const;

/** Size of one descriptor in bytes, in both layouts. */
export const IB_UVERBS_BUFFER_DESC_SIZE = 32;

/** `IB_ACCESS_LOCAL_WRITE`: the access every descriptor is pinned with (the device writes CQEs and doorbells). */
export const IB_ACCESS_LOCAL_WRITE = IB_ACCESS.LOCAL_WRITE;

/** `struct ib_uverbs_buffer_desc`, v2 layout (seed 000) [kernel.md §d.3]. */
export interface IbUverbsBufferDesc {
  /** s32: dma-buf fd (DMABUF) or ignored (VA). */
  readonly fd: number;
  /** u32: an {@link IB_UVERBS_BUFFER_TYPE} value, or garbage the kernel rejects. */
  readonly type: number;
  /** u32: the slot this buffer fills. */
  readonly index: number;
  /** u32: must be 0. */
  readonly reserved: number;
  /** u64: dma-buf offset or user VA. */
  readonly addr: bigint;
  /** u64: bytes. */
  readonly length: bigint;
}

/** The v8 descriptor [kernel.md §d.6]: no index (one attribute per buffer), the reserved words became flags. */
export interface IbUverbsBufferDescV8 {
  /** u32: an {@link IB_UVERBS_BUFFER_TYPE} value, or garbage the kernel rejects. */
  readonly type: number;
  /** s32: dma-buf fd (DMABUF) or ignored (VA). */
  readonly fd: number;
  /** u32: strict flags; a bit the kernel does not know fails the command. */
  readonly flags: number;
  /** u32: advisory flags; bits the kernel does not know are dropped. */
  readonly optionalFlags: number;
  /** u64: dma-buf offset or user VA. */
  readonly addr: bigint;
  /** u64: bytes. */
  readonly length: bigint;
}

/** A pinned umem as the descriptor code sees it: a name for traces and tests, its length, and its release. */
export interface Umem {
  /** Stable identity for traces and tests. */
  readonly name: string;
  /** `umem->length` in bytes: what `load` compares the driver's size against. */
  readonly length: number;
  /** `ib_umem_release`: unpin (and for dma-buf umems unmap, detach, put). Called exactly once per umem (I16). */
  release(): void;
}

/**
 * What pins umems for the descriptor code: the two kernel entry points a descriptor can reach.
 * Errors are values (a bad fd, a refused attach, a too-small dma-buf) and propagate unchanged.
 */
export interface UmemPinner {
  /** `ib_umem_dmabuf_get_pinned(dev, offset, size, fd, access)` [kernel.md §d.1]. */
  pinDmabuf(fd: number, offset: bigint, length: bigint, access: number): Result<Umem>;
  /** `ib_umem_get(dev, addr, size, access)`. */
  getVa(addr: bigint, length: bigint, access: number): Result<Umem>;
}

/** The kernel's `unsigned long` / `size_t` width, which `addr` and `length` are narrowed to. */
export type KernelWordBits = 32 | 64;

/**
 * Narrows a u64 to the kernel word the way a C assignment does: the high bits vanish silently.
 * This is what v2 does on a 32-bit kernel (bug E22); v8 checks {@link fitsKernelWord} first.
 * @param value a u64.
 * @param wordBits the kernel's `unsigned long` width.
 * @returns `value mod 2^wordBits`.
 */
export function narrowToKernelWord(value: bigint, wordBits: KernelWordBits): bigint {
  assertU64(value, "value");
  return BigInt.asUintN(wordBits, value);
}

/**
 * Whether a u64 survives narrowing to the kernel word unchanged (the v8 -EOVERFLOW check, E22).
 * @param value a u64.
 * @param wordBits the kernel's `unsigned long` width.
 */
export function fitsKernelWord(value: bigint, wordBits: KernelWordBits): boolean {
  return narrowToKernelWord(value, wordBits) === value;
}

/**
 * Decodes the v2 descriptor at `offset` of `bytes` (little-endian).
 * @param bytes the copied attribute.
 * @param offset byte offset of the descriptor; `offset + 32` must not pass the end (asserted).
 */
export function decodeBufferDesc(bytes: Uint8Array, offset = 0): IbUverbsBufferDesc {
  const view = descView(bytes, offset);
  return {
    fd: view.getInt32(0, true),
    type: view.getUint32(4, true),
    index: view.getUint32(8, true),
    reserved: view.getUint32(12, true),
    addr: view.getBigUint64(16, true),
    length: view.getBigUint64(24, true),
  };
}

/**
 * Encodes a v2 descriptor into 32 fresh bytes (what user space writes; used by scenarios and tests).
 * @param desc fields in range for their C types (asserted: an out-of-range field is a caller bug, not a kernel input).
 */
export function encodeBufferDesc(desc: IbUverbsBufferDesc): Uint8Array {
  assertS32(desc.fd, "fd");
  assertU32(desc.type, "type");
  assertU32(desc.index, "index");
  assertU32(desc.reserved, "reserved");
  const bytes = new Uint8Array(IB_UVERBS_BUFFER_DESC_SIZE);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, desc.fd, true);
  view.setUint32(4, desc.type, true);
  view.setUint32(8, desc.index, true);
  view.setUint32(12, desc.reserved, true);
  setU64(view, 16, desc.addr, "addr");
  setU64(view, 24, desc.length, "length");
  return bytes;
}

/**
 * Encodes a whole `UVERBS_ATTR_BUFFERS` array: the descriptors back to back, as user space passes them.
 * @param descs the descriptors in array order (each asserted in range, as {@link encodeBufferDesc}).
 */
export function encodeBufferDescs(descs: readonly IbUverbsBufferDesc[]): Uint8Array {
  const bytes = new Uint8Array(descs.length * IB_UVERBS_BUFFER_DESC_SIZE);
  descs.forEach((desc, k) => {
    bytes.set(encodeBufferDesc(desc), k * IB_UVERBS_BUFFER_DESC_SIZE);
  });
  return bytes;
}

/**
 * Decodes the v8 descriptor at `offset` of `bytes` (little-endian).
 * @param bytes the copied attribute.
 * @param offset byte offset of the descriptor; `offset + 32` must not pass the end (asserted).
 */
export function decodeBufferDescV8(bytes: Uint8Array, offset = 0): IbUverbsBufferDescV8 {
  const view = descView(bytes, offset);
  return {
    type: view.getUint32(0, true),
    fd: view.getInt32(4, true),
    flags: view.getUint32(8, true),
    optionalFlags: view.getUint32(12, true),
    addr: view.getBigUint64(16, true),
    length: view.getBigUint64(24, true),
  };
}

/**
 * Encodes a v8 descriptor into 32 fresh bytes.
 * @param desc fields in range for their C types (asserted).
 */
export function encodeBufferDescV8(desc: IbUverbsBufferDescV8): Uint8Array {
  assertU32(desc.type, "type");
  assertS32(desc.fd, "fd");
  assertU32(desc.flags, "flags");
  assertU32(desc.optionalFlags, "optionalFlags");
  const bytes = new Uint8Array(IB_UVERBS_BUFFER_DESC_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, desc.type, true);
  view.setInt32(4, desc.fd, true);
  view.setUint32(8, desc.flags, true);
  view.setUint32(12, desc.optionalFlags, true);
  setU64(view, 16, desc.addr, "addr");
  setU64(view, 24, desc.length, "length");
  return bytes;
}

/**
 * Pins the buffer one descriptor names, with `IB_ACCESS_LOCAL_WRITE`: the type switch shared by
 * `ib_umem_list_create` and the v8 helpers [kernel.md §d.3 step 5, §d.6].
 * @param type the descriptor's type word.
 * @param fd the descriptor's fd (used for DMABUF only).
 * @param addr dma-buf offset or user VA, already narrowed or checked by the caller's profile.
 * @param length bytes, already narrowed or checked by the caller's profile.
 * @param pinner where umems come from.
 * @returns the pinned umem; -EINVAL for an unknown type (nothing pinned); the pinner's errno unchanged.
 */
export function pinBufferDesc(type: number, fd: number, addr: bigint, length: bigint, pinner: UmemPinner): Result<Umem> {
  switch (type) {
    case IB_UVERBS_BUFFER_TYPE.DMABUF:
      return pinner.pinDmabuf(fd, addr, length, IB_ACCESS_LOCAL_WRITE);
    case IB_UVERBS_BUFFER_TYPE.VA:
      return pinner.getVa(addr, length, IB_ACCESS_LOCAL_WRITE);
    default:
      return { ok: false, errno: "EINVAL" };
  }
}

function descView(bytes: Uint8Array, offset: number): DataView {
  assert(Number.isSafeInteger(offset) && offset >= 0, "descriptor offset is a non-negative integer");
  assert(offset + IB_UVERBS_BUFFER_DESC_SIZE <= bytes.byteLength, "descriptor lies inside the attribute");
  return new DataView(bytes.buffer, bytes.byteOffset + offset, IB_UVERBS_BUFFER_DESC_SIZE);
}

function setU64(view: DataView, at: number, value: bigint, what: string): void {
  assertU64(value, what);
  view.setBigUint64(at, value, true);
}

function assertU64(value: bigint, what: string): void {
  assert(value >= 0n && value < 1n << 64n, () => `${what} is a u64: ${value}`);
}

function assertU32(value: number, what: string): void {
  assert(Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff, () => `${what} is a u32: ${value}`);
}

function assertS32(value: number, what: string): void {
  assert(Number.isInteger(value) && value >= -0x8000_0000 && value <= 0x7fff_ffff, () => `${what} is an s32: ${value}`);
}
