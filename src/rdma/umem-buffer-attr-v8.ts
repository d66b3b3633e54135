/**
 * Kernel profile `umem-buffer-attr-v8`: the design the umem_list series ended as (v8,
 * 2026-05-27) [kernel.md §d.6]. There is no list and no slot index: each buffer is its own
 * `UVERBS_ATTR_UMEM` attribute holding one v8 descriptor, a helper turns it into a umem, and the
 * driver owns that umem from then on (it releases it itself).
 *
 * What the profile changes against the v2 default (`ibUmemListCreate` in umem-list.ts):
 * - `flags` is strict (a bit the kernel does not know -> -EINVAL), `optional_flags` advisory
 *   (unknown bits dropped); both known-bit masks are 0 today.
 * - A CQ buffer given both as a UMEM attribute and through the legacy CQ attributes -> -EINVAL
 *   (E21: v2 accepted both and silently released one).
 * - `addr` and `length` that do not fit the kernel's `unsigned long` / `size_t` -> -EOVERFLOW
 *   (E22: v2 narrowed them silently), as proposed in the v8 review.
 * - The size is checked after pinning: too small -> release, -EINVAL.
 *
 * **[inferred]** The order of the checks inside one attribute (size, flags, type, overflow,
 * pin, length) and the exact-size rule for the attribute follow the usual uverbs pattern; the
 * v8 code for them was summarised, not quoted. The v8 consumption check is **[unverified]**
 * and not modelled.
 */
import type { Result } from "../dmabuf/errno.js";
import {
  decodeBufferDescV8,
  fitsKernelWord,
  IB_ACCESS_LOCAL_WRITE,
  IB_UVERBS_BUFFER_DESC_SIZE,
  IB_UVERBS_BUFFER_TYPE,
  type KernelWordBits,
  narrowToKernelWord,
  pinBufferDesc,
  type Umem,
  type UmemPinner,
} from "./buffer-desc.js";

/** The profile's name, as scenarios select it. */
export const UMEM_BUFFER_ATTR_V8_PROFILE = "umem-buffer-attr-v8";

/** `UVERBS_ATTR_CREATE_CQ_BUF_UMEM`: its value in the create-CQ attribute enum [kernel.md §d.6]. */
export const UVERBS_ATTR_CREATE_CQ_BUF_UMEM = 12;

/** Strict `flags` bits the kernel knows: none yet, so any set bit fails. */
export const IB_UVERBS_BUFFER_DESC_FLAGS_KNOWN = 0;

/** Advisory `optional_flags` bits the kernel knows: none yet, so every bit is dropped. */
export const IB_UVERBS_BUFFER_DESC_OPTIONAL_FLAGS_KNOWN = 0;

/** Model switches for the v8 helpers. */
export interface UmemAttrV8Options {
  /** The kernel's `unsigned long` / `size_t` width, for the -EOVERFLOW check. Default 64. */
  readonly wordBits?: KernelWordBits;
}

/**
 * The legacy CQ buffer attributes [UVCQ, kernel.md §d.4]: `UVERBS_ATTR_CREATE_CQ_BUFFER_VA`,
 * `_LENGTH`, `_FD`, `_OFFSET`. A field present means user space passed the attribute.
 */
export interface CqLegacyBufferAttrs {
  readonly bufferVa?: bigint;
  readonly bufferLength?: bigint;
  readonly bufferFd?: number;
  readonly bufferOffset?: bigint;
}

/**
 * Turns one `UVERBS_ATTR_UMEM` attribute into a pinned umem, for any object (CQ, QP buffers,
 * mlx5 doorbell records) [kernel.md §d.6].
 * @param attrBytes the attribute's bytes, or `undefined` when it was not passed.
 * @param size bytes the caller needs; checked against the pinned umem.
 * @param pinner the device's umem pinner.
 * @param options the kernel word width.
 * @returns `undefined` when the attribute is absent; the umem, which the caller now owns; or
 *   -EINVAL (size other than one descriptor, unknown `flags` bit, unknown type, umem shorter than
 *   `size`, after releasing it), -EOVERFLOW (addr or length wider than the kernel word), or the
 *   pinner's errno. Nothing stays pinned on error.
 */
export function ibUmemGetBufferAttr(
  attrBytes: Uint8Array | undefined,
  size: number,
  pinner: UmemPinner,
  options: UmemAttrV8Options = {},
): Result<Umem | undefined> {
  if (attrBytes === undefined) return { ok: true, value: undefined };
  // One fixed-size struct per attribute: shorter fails the parser's minimum, longer its maximum.
  if (attrBytes.byteLength !== IB_UVERBS_BUFFER_DESC_SIZE) return { ok: false, errno: "EINVAL" };
  const desc = decodeBufferDescV8(attrBytes);
  if ((desc.flags & ~IB_UVERBS_BUFFER_DESC_FLAGS_KNOWN) !== 0) return { ok: false, errno: "EINVAL" };
  // `optional_flags & IB_UVERBS_BUFFER_DESC_OPTIONAL_FLAGS_KNOWN` is what the kernel would act
  // on; with no known bit there is nothing to act on, and the rest is dropped without an error.
  if (desc.type !== IB_UVERBS_BUFFER_TYPE.DMABUF && desc.type !== IB_UVERBS_BUFFER_TYPE.VA) return { ok: false, errno: "EINVAL" };
  const wordBits = options.wordBits ?? 64;
  if (!fitsKernelWord(desc.addr, wordBits) || !fitsKernelWord(desc.length, wordBits)) return { ok: false, errno: "EOVERFLOW" };
  return checkedSize(pinBufferDesc(desc.type, desc.fd, desc.addr, desc.length, pinner), size);
}

/**
 * `ib_umem_get_cq_buf`: the CQ buffer from the UMEM attribute or the legacy CQ attributes, with
 * no VA fallback.
 * @param umemAttr the `UVERBS_ATTR_CREATE_CQ_BUF_UMEM` bytes, or `undefined`.
 * @param legacy the legacy CQ buffer attributes that were passed.
 * @param size bytes the driver needs (entries x CQE size).
 * @param pinner the device's umem pinner.
 * @param options the kernel word width.
 * @returns `undefined` when nothing supplies a buffer; the umem (the driver owns it); -EINVAL
 *   for malformed legacy attributes or a buffer given both ways (E21, checked before any pin);
 *   the errors of {@link ibUmemGetBufferAttr}; the pinner's errno. Nothing stays pinned on error.
 */
export function ibUmemGetCqBuf(
  umemAttr: Uint8Array | undefined,
  legacy: CqLegacyBufferAttrs,
  size: number,
  pinner: UmemPinner,
  options: UmemAttrV8Options = {},
): Result<Umem | undefined> {
  const legacyShape = cqLegacyShape(legacy);
  if (legacyShape === "invalid") return { ok: false, errno: "EINVAL" };
  if (umemAttr !== undefined && legacyShape !== "none") return { ok: false, errno: "EINVAL" };
  if (umemAttr !== undefined) return ibUmemGetBufferAttr(umemAttr, size, pinner, options);
  const wordBits = options.wordBits ?? 64;
  // The legacy attributes keep their upstream handling: narrowed to the kernel word unchecked.
  const narrow = (value: bigint | undefined): bigint => narrowToKernelWord(value ?? 0n, wordBits);
  switch (legacyShape) {
    case "none":
      return { ok: true, value: undefined };
    case "va":
      return checkedSize(pinner.getVa(narrow(legacy.bufferVa), narrow(legacy.bufferLength), IB_ACCESS_LOCAL_WRITE), size);
    case "fd":
      return checkedSize(pinner.pinDmabuf(legacy.bufferFd ?? -1, narrow(legacy.bufferOffset), narrow(legacy.bufferLength), IB_ACCESS_LOCAL_WRITE), size);
  }
}

/**
 * `ib_umem_get_cq_buf_or_va`: {@link ibUmemGetCqBuf}, and when nothing supplied a buffer, the
 * driver's own VA (`ucmd.buf_addr`) pinned with `ib_umem_get(fallbackVa, size, LOCAL_WRITE)`.
 * @returns the umem (the driver owns it) or the first errno; nothing stays pinned on error.
 */
export function ibUmemGetCqBufOrVa(
  umemAttr: Uint8Array | undefined,
  legacy: CqLegacyBufferAttrs,
  size: number,
  fallbackVa: bigint,
  pinner: UmemPinner,
  options: UmemAttrV8Options = {},
): Result<Umem> {
  const got = ibUmemGetCqBuf(umemAttr, legacy, size, pinner, options);
  if (!got.ok) return got;
  if (got.value !== undefined) return { ok: true, value: got.value };
  return pinner.getVa(fallbackVa, BigInt(size), IB_ACCESS_LOCAL_WRITE);
}

/**
 * Which buffer the legacy attributes name [UVCQ]: VA needs LENGTH and excludes FD and OFFSET; FD
 * needs OFFSET and LENGTH and excludes VA; OFFSET or LENGTH alone is invalid.
 */
function cqLegacyShape(legacy: CqLegacyBufferAttrs): "none" | "va" | "fd" | "invalid" {
  const va = legacy.bufferVa !== undefined;
  const fd = legacy.bufferFd !== undefined;
  const offset = legacy.bufferOffset !== undefined;
  const length = legacy.bufferLength !== undefined;
  if (va) return !fd && !offset && length ? "va" : "invalid";
  if (fd) return offset && length ? "fd" : "invalid";
  return offset || length ? "invalid" : "none";
}

/** The v8 size check, after pinning: a umem shorter than the caller needs is released again. */
function checkedSize(pinned: Result<Umem>, size: number): Result<Umem> {
  if (!pinned.ok) return pinned;
  if (pinned.value.length >= size) return pinned;
  pinned.value.release();
  return { ok: false, errno: "EINVAL" };
}
