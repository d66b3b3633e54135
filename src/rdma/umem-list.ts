/**
 * `umem_list`: the buffers user space passed in one `UVERBS_ATTR_BUFFERS` array, pinned and filed
 * by slot, for CQ and QP creation to consume (seed v2, the default design) [kernel.md §d.3, §d.4].
 *
 * Lifecycle:
 * 1. Create ({@link ibUmemListCreate}): validate the attribute, then each descriptor in array
 *    order, pinning it before the next is looked at; any error releases everything pinned so far.
 * 2. Insert ({@link UmemList.insert}): the core files a buffer from the legacy CQ attributes
 *    into the CQ buffer slot, marked provided.
 * 3. Load ({@link UmemList.load}, {@link UmemList.loadOrGet}): the driver takes each buffer it
 *    understands, which marks it loaded; `loadOrGet` falls back to the driver's own VA.
 * 4. Check ({@link UmemList.checkConsumed}): a provided buffer nobody loaded fails the command.
 * 5. Release ({@link UmemList.release}): at object destroy (or on a create error path) every
 *    umem still in a slot is released; umems the driver owns go through
 *    {@link UmemList.releaseNonListed}.
 *
 * Ownership (invariant I16: every pinned umem is released exactly once): a umem in a slot belongs
 * to the list; `replace` and `insert` hand the new umem to the list and release the one they
 * displace, except out of range, where nothing is stored and the caller keeps ownership.
 *
 * Kernel functions that take a possibly NULL list have free-function twins here
 * (`ibUmemListLoad(undefined, …)`), so that callers modelling "no list" keep the kernel's NULL
 * semantics.
 */

import type { Result } from "../dmabuf/errno.js";
import { assert } from "../fabric/assert.js";
import {
  decodeBufferDesc,
  IB_UVERBS_BUFFER_DESC_SIZE,
  type IbUverbsBufferDesc,
  type KernelWordBits,
  narrowToKernelWord,
  pinBufferDesc,
  type Umem,
  type UmemPinner,
} from "./buffer-desc.js";

/** The attribute header's `len` is a u16, so no attribute is longer than this. */
export const UVERBS_ATTR_LEN_MAX = 0xffff;

/** Model switches for {@link ibUmemListCreate}. */
export interface UmemListOptions {
  /** `BITS_PER_LONG`: the bitmask width (slot limit) and the width addr/length are narrowed to. Default 64. */
  readonly wordBits?: KernelWordBits;
  /** Fault injection: the list's allocation fails (-ENOMEM) [§d.3 step 4]. Default false. */
  readonly allocationFails?: boolean;
}

/** `struct ib_umem_list`: `count` slots, `provided` and `loaded` bitmasks, one umem per slot. */
export class UmemList {
  /** `slot_max + 1`. */
  readonly count: number;
  private readonly umems: Array<Umem | undefined>;
  private providedBits = 0n;
  private loadedBits = 0n;
  private releasedValue = false;

  /** Use {@link ibUmemListCreate}; the constructor only allocates. */
  constructor(
    count: number,
    /** The device's pinner: `load_or_get` pins through it. */
    private readonly pinner: UmemPinner,
  ) {
    assert(Number.isSafeInteger(count) && count >= 1, "a list has at least one slot");
    this.count = count;
    this.umems = new Array<Umem | undefined>(count).fill(undefined);
  }

  /** Bit i set: slot i was filled from user input (a descriptor or a legacy attribute). */
  get provided(): bigint {
    return this.providedBits;
  }

  /** Bit i set: the driver loaded slot i. */
  get loaded(): bigint {
    return this.loadedBits;
  }

  /** Whether {@link UmemList.release} ran. */
  get released(): boolean {
    return this.releasedValue;
  }

  /** The slots, index by index (empty = `undefined`). */
  get slots(): ReadonlyArray<Umem | undefined> {
    return this.umems;
  }

  /**
   * `ib_umem_list_release`: releases every non-empty slot in slot order, then frees the list.
   * A second call releases the same umems again instead of throwing: that is the double free of
   * bug E19, and the umems (and the I16 monitor) are where it must show, not here.
   */
  release(): void {
    this.releasedValue = true;
    for (const umem of this.umems) umem?.release();
  }

  /**
   * `ib_umem_list_check_consumed` [kernel.md §d.3, I20].
   * @returns ok iff every provided slot was also loaded; -EINVAL otherwise.
   */
  checkConsumed(): Result<undefined> {
    this.assertLive();
    return (this.providedBits & ~this.loadedBits) === 0n ? { ok: true, value: undefined } : { ok: false, errno: "EINVAL" };
  }

  /**
   * `ib_umem_list_load`: the driver takes slot i, at least `size` bytes long.
   * @param i slot index (an unsigned int; out of range is not an error).
   * @param size bytes the driver needs.
   * @returns the umem (slot marked loaded); `undefined` for i >= count or an empty slot;
   *   -EINVAL when the slot is shorter than `size`, and then the loaded bit stays clear (I18).
   */
  load(i: number, size: number): Result<Umem | undefined> {
    this.assertLive();
    assertIndex(i);
    assert(Number.isSafeInteger(size) && size >= 0, "size is a size_t");
    if (i >= this.count) return { ok: true, value: undefined };
    const umem = this.umems[i];
    if (umem === undefined) return { ok: true, value: undefined };
    if (umem.length < size) return { ok: false, errno: "EINVAL" };
    this.loadedBits |= bit(i);
    return { ok: true, value: umem };
  }

  /**
   * `ib_umem_list_load_or_get`: {@link UmemList.load}, else pin the driver's own VA with
   * `ib_umem_get(addr, size, access)` and file it in slot i (if i < count) WITHOUT setting
   * provided or loaded: the list then releases it, and consumption is unaffected.
   * @returns the loaded or pinned umem; load's -EINVAL; the pinner's errno (nothing stored).
   */
  loadOrGet(i: number, addr: bigint, size: number, access: number): Result<Umem> {
    return loadOrGetIn(this, this.pinner, i, addr, size, access);
  }

  /**
   * `ib_umem_list_replace` (CQ resize): store `u` in slot i and release the previous umem if it
   * differs and is not empty. Out of range: nothing happens, the caller keeps owning `u`.
   */
  replace(i: number, u: Umem | undefined): void {
    this.assertLive();
    assertIndex(i);
    if (i >= this.count) return;
    const previous = this.umems[i];
    this.umems[i] = u;
    if (previous !== undefined && previous !== u) previous.release();
  }

  /**
   * `ib_umem_list_insert` (legacy CQ buffer): {@link UmemList.replace}, then mark slot i provided
   * if `u` is not empty. **[inferred]** The bit is set even when i >= count (the kernel has no
   * bounds guard there), which makes the later consumption check fail; i >= BITS_PER_LONG would
   * be undefined behaviour in C and is asserted.
   */
  insert(i: number, u: Umem | undefined): void {
    this.replace(i, u);
    assert(i < 64, "insert: slot index below BITS_PER_LONG");
    if (u !== undefined) this.providedBits |= bit(i);
  }

  /**
   * `ib_umem_list_release_non_listed`: the driver is done with `u`; release it unless slot i
   * holds exactly it (then the list releases it later).
   */
  releaseNonListed(i: number, u: Umem | undefined): void {
    this.assertLive();
    assertIndex(i);
    if (u !== undefined && this.umems[i] !== u) u.release();
  }

  /** @internal Files a umem pinned by load_or_get: no bits change. */
  storeUnlisted(i: number, u: Umem): void {
    assert(i < this.count && this.umems[i] === undefined, "load_or_get stores only into an empty slot");
    this.umems[i] = u;
  }

  /** @internal Files a umem pinned from a descriptor and marks its slot provided (create only). */
  fillProvided(i: number, u: Umem): void {
    assert(i < this.count && this.umems[i] === undefined, "create fills only empty slots");
    this.umems[i] = u;
    this.providedBits |= bit(i);
  }

  /** Using a freed list is a bug in the caller (the kernel would touch freed memory). */
  private assertLive(): void {
    assert(!this.releasedValue, "umem_list used after release");
  }
}

/**
 * `ib_umem_list_create(dev, attrs, slot_max)`: builds the list from the `UVERBS_ATTR_BUFFERS`
 * bytes, applying every rule of [kernel.md §d.3] in the kernel's order:
 * 1. slot_max >= BITS_PER_LONG -> -EINVAL (a WARN in the kernel: a driver bug guard).
 * 2. Attribute absent -> an empty list. Shorter than one descriptor -> -EINVAL (the attribute
 *    parser's minimum size); length not a multiple of 32 -> -EINVAL.
 * 3. More descriptors than `count` -> -EINVAL.
 * 4. Allocation failure -> -ENOMEM.
 * 5. Each descriptor in array order, pinned before the next is read: reserved != 0, index >=
 *    count, index already provided, unknown type -> -EINVAL; DMABUF -> pinned dma-buf umem, VA ->
 *    `ib_umem_get`, both with LOCAL_WRITE, errors propagate; the provided bit is set only after
 *    the pin succeeded. addr and length are narrowed to `unsigned long` without a check (E22).
 * 6. On any error in step 5 the list is released (slot order) before the error is returned, so
 *    descriptors 0..k-1 were pinned and unpinned when descriptor k is bad.
 * @param attrBytes the attribute's copied bytes, or `undefined` when user space did not pass it.
 * @param slotMax the object's last slot (`UVERBS_BUF_CQ_MAX`, `UVERBS_BUF_QP_MAX`); a non-negative integer.
 * @param pinner the device's umem pinner.
 * @param options word width and fault injection.
 * @returns the list, or the errno; on error nothing stays pinned (I17).
 */
export function ibUmemListCreate(attrBytes: Uint8Array | undefined, slotMax: number, pinner: UmemPinner, options: UmemListOptions = {}): Result<UmemList> {
  const wordBits = options.wordBits ?? 64;
  assert(Number.isSafeInteger(slotMax) && slotMax >= 0, "slot_max is a non-negative integer");
  if (slotMax >= wordBits) return { ok: false, errno: "EINVAL" };
  const count = slotMax + 1;
  let descCount = 0;
  if (attrBytes !== undefined) {
    assert(attrBytes.byteLength <= UVERBS_ATTR_LEN_MAX, "an attribute's len is a u16");
    if (attrBytes.byteLength < IB_UVERBS_BUFFER_DESC_SIZE) return { ok: false, errno: "EINVAL" };
    if (attrBytes.byteLength % IB_UVERBS_BUFFER_DESC_SIZE !== 0) return { ok: false, errno: "EINVAL" };
    descCount = attrBytes.byteLength / IB_UVERBS_BUFFER_DESC_SIZE;
    if (descCount > count) return { ok: false, errno: "EINVAL" };
  }
  if (options.allocationFails === true) return { ok: false, errno: "ENOMEM" };
  const list = new UmemList(count, pinner);
  for (let k = 0; k < descCount && attrBytes !== undefined; k++) {
    const pinned = pinListedDesc(decodeBufferDesc(attrBytes, k * IB_UVERBS_BUFFER_DESC_SIZE), list, pinner, wordBits);
    if (!pinned.ok) {
      list.release();
      return pinned;
    }
  }
  return { ok: true, value: list };
}

/** `ib_umem_list_release(list)`: NULL is a no-op. */
export function ibUmemListRelease(list: UmemList | undefined): void {
  list?.release();
}

/** `ib_umem_list_check_consumed(list)`. **[inferred]** A NULL list has nothing unconsumed. */
export function ibUmemListCheckConsumed(list: UmemList | undefined): Result<undefined> {
  return list === undefined ? { ok: true, value: undefined } : list.checkConsumed();
}

/** `ib_umem_list_load(list, i, size)`: a NULL list loads nothing. See {@link UmemList.load}. */
export function ibUmemListLoad(list: UmemList | undefined, i: number, size: number): Result<Umem | undefined> {
  return list === undefined ? { ok: true, value: undefined } : list.load(i, size);
}

/**
 * `ib_umem_list_load_or_get(list, i, dev, addr, size, access)`: with a NULL list the VA umem is
 * pinned and handed to the caller, who owns it. See {@link UmemList.loadOrGet}.
 */
export function ibUmemListLoadOrGet(list: UmemList | undefined, i: number, pinner: UmemPinner, addr: bigint, size: number, access: number): Result<Umem> {
  return loadOrGetIn(list, pinner, i, addr, size, access);
}

/** `ib_umem_list_replace(list, i, u)`: a NULL list leaves `u` with the caller. See {@link UmemList.replace}. */
export function ibUmemListReplace(list: UmemList | undefined, i: number, u: Umem | undefined): void {
  list?.replace(i, u);
}

/** `ib_umem_list_insert(list, i, u)`: no NULL guard in the kernel, so a missing list is a caller bug (asserted). */
export function ibUmemListInsert(list: UmemList | undefined, i: number, u: Umem | undefined): void {
  assert(list !== undefined, "ib_umem_list_insert needs a list");
  list.insert(i, u);
}

/** `ib_umem_list_release_non_listed(list, i, u)`: with a NULL list, `u` is always released. */
export function ibUmemListReleaseNonListed(list: UmemList | undefined, i: number, u: Umem | undefined): void {
  if (list === undefined) u?.release();
  else list.releaseNonListed(i, u);
}

/**
 * Step 5 for one descriptor: validate in the kernel's order, pin, and only then file the umem and
 * set its provided bit. Returns the errno of the first failed check or of the pin.
 */
function pinListedDesc(desc: IbUverbsBufferDesc, list: UmemList, pinner: UmemPinner, wordBits: KernelWordBits): Result<Umem> {
  if (desc.reserved !== 0) return { ok: false, errno: "EINVAL" };
  if (desc.index >= list.count) return { ok: false, errno: "EINVAL" };
  if ((list.provided & bit(desc.index)) !== 0n) return { ok: false, errno: "EINVAL" };
  // v2 hands the u64 fields to `unsigned long` / `size_t` parameters unchecked: on a 32-bit
  // kernel the high bits vanish (E22); the v8 profile checks instead.
  const pinned = pinBufferDesc(desc.type, desc.fd, narrowToKernelWord(desc.addr, wordBits), narrowToKernelWord(desc.length, wordBits), pinner);
  if (pinned.ok) list.fillProvided(desc.index, pinned.value);
  return pinned;
}

function loadOrGetIn(list: UmemList | undefined, pinner: UmemPinner, i: number, addr: bigint, size: number, access: number): Result<Umem> {
  const loaded = ibUmemListLoad(list, i, size);
  if (!loaded.ok) return loaded;
  if (loaded.value !== undefined) return { ok: true, value: loaded.value };
  const got = pinner.getVa(addr, BigInt(size), access);
  if (got.ok && list !== undefined && i < list.count) list.storeUnlisted(i, got.value);
  return got;
}

function bit(i: number): bigint {
  return 1n << BigInt(i);
}

function assertIndex(i: number): void {
  assert(Number.isInteger(i) && i >= 0 && i <= 0xffff_ffff, "slot index is an unsigned int");
}

/** One `UVERBS_ATTR_BUFFERS` descriptor as the create events show it (u64s as decimal strings). */
export type UmemListTraceDesc = { index: number; type: number; reserved: number; addr: string; length: string };

/** What `cq.create` and `qp.create` say about their list, for the umem_list monitors (I17, I18, I20). */
export interface UmemListTraceFields {
  /** `count`: the list's slots. */
  slots: number;
  /** Slots marked provided / loaded, ascending. */
  provided: number[];
  loaded: number[];
  /** The descriptors user space passed, in array order (decoded from the attribute bytes). */
  descriptors: UmemListTraceDesc[];
}

/**
 * The create events' view of a list and the attribute it was built from.
 * @param list the object's list.
 * @param attrBytes the `UVERBS_ATTR_BUFFERS` bytes (valid: the list was built from them), or undefined.
 */
export function umemListTraceFields(list: UmemList, attrBytes: Uint8Array | undefined): UmemListTraceFields {
  const descriptors: UmemListTraceDesc[] = [];
  const count = attrBytes === undefined ? 0 : Math.floor(attrBytes.byteLength / IB_UVERBS_BUFFER_DESC_SIZE);
  for (let k = 0; k < count && attrBytes !== undefined; k++) {
    const d = decodeBufferDesc(attrBytes, k * IB_UVERBS_BUFFER_DESC_SIZE);
    descriptors.push({ index: d.index, type: d.type, reserved: d.reserved, addr: d.addr.toString(), length: d.length.toString() });
  }
  return { slots: list.count, provided: bitList(list.provided), loaded: bitList(list.loaded), descriptors };
}

/**
 * The names of the umems one command created on `device` (numbered from `first`, the context's
 * `umemCount` when the command began): what a failed create's event lists, so that a monitor can
 * tell which umems the failure must have released (I16, I17). A number whose get failed names no
 * umem (no `umem.get` was traced for it).
 */
export function umemNamesSince(deviceLabel: string, first: number, next: number): string[] {
  const names: string[] = [];
  for (let n = first; n < next; n++) names.push(`${deviceLabel}/umem#${n}`);
  return names;
}

function bitList(bits: bigint): number[] {
  const out: number[] = [];
  for (let i = 0; bits >> BigInt(i) !== 0n; i++) if ((bits >> BigInt(i)) & 1n) out.push(i);
  return out;
}
