/**
 * The device's umem pinner: the adapter from the real umems (umem-va.ts, umem-dmabuf.ts) to the
 * narrow {@link UmemPinner} interface that `umem_list` and the v8 buffer helpers pin through
 * [kernel.md §d.3 step 5, §d.4].
 *
 * - A DMABUF descriptor becomes `ib_umem_dmabuf_get_pinned(dev, offset, size, fd, access)`: pinned,
 *   mapped at once, and **not revocable**, so the newest VFIO exporter refuses it at attach with
 *   -EOPNOTSUPP [kernel.md §d.6 inferred, §c.3]. The option `dmabuf: "pinned-revocable"` models
 *   the alternative the spec names (the path moved to the revocable API [UMD-REV]).
 * - A VA descriptor (and `load_or_get`'s fallback) becomes `ib_umem_get(dev, addr, size, access)`.
 *
 * Precision: `addr` and `length` arrive as u64 `bigint`s and are handed on as `bigint`s, because
 * both umem getters take a `bigint` and do their own u64 arithmetic. Nothing is converted to a JS
 * number until a getter has proved the value fits its buffer (VA: below TASK_SIZE, else -EFAULT or
 * -EINVAL; dma-buf: within the dma-buf, else -EINVAL). So a value above 2^53 fails with the
 * kernel's own errno instead of losing bits in the simulator, and no extra refusal is needed.
 * The kernel's silent 64-to-32-bit narrowing (E22) is modelled before the pinner, in umem-list.ts
 * (`wordBits`), and the v8 -EOVERFLOW check in umem-buffer-attr-v8.ts.
 */
import type { Result } from "../dmabuf/errno.js";
import type { DmaFence } from "../dmabuf/reservation.js";
import { assert } from "../fabric/assert.js";
import type { PciFunction } from "../pci/topology.js";
import type { UmemPinner } from "./buffer-desc.js";
import type { IbUmem, IbUmemContext } from "./umem.js";
import { type IbUmemDmabuf, ibUmemDmabufGetPinned, ibUmemDmabufGetPinnedRevocableAndLock } from "./umem-dmabuf.js";
import { ibUmemDmabufSetRevokeLocked } from "./umem-dmabuf-map.js";
import { ibUmemGet } from "./umem-va.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /** A pinned-revocable descriptor umem was revoked by its exporter; the device must stop using it (I22). */
    "pinner.revoke": { umem: string; device: string };
  }
}

const U64_LIMIT = 1n << 64n;

/** Which pinned dma-buf API a DMABUF descriptor goes through. */
export type UmemPinnerDmabufMode =
  /** `ib_umem_dmabuf_get_pinned` (v2 and v8 as posted): not revocable; VFIO refuses it (-EOPNOTSUPP). */
  | "pinned"
  /** `ib_umem_dmabuf_get_pinned_revocable_and_lock` [UMD-REV]: VFIO accepts it and revokes it later. */
  | "pinned-revocable";

/** Options of {@link ibUmemPinner}. */
export interface UmemPinnerOptions {
  /** Default `"pinned"`, the posted design. */
  readonly dmabuf?: UmemPinnerDmabufMode;
  /** The driver's revoke callback for `"pinned-revocable"` umems (after the `pinner.revoke` trace); returns its drain fence, if any. */
  readonly onRevoke?: (umem: IbUmemDmabuf) => DmaFence | undefined;
}

/** A {@link UmemPinner} whose umems are real {@link IbUmem}s. */
export interface IbUmemPinner extends UmemPinner {
  /** The device the umems are mapped for. */
  readonly device: PciFunction;
  pinDmabuf(fd: number, offset: bigint, length: bigint, access: number): Result<IbUmem>;
  getVa(addr: bigint, length: bigint, access: number): Result<IbUmem>;
}

/**
 * Builds the pinner of one RDMA device.
 * @param ctx the umem context (engine, user memory, IOMMU, `dma_buf_get`).
 * @param device the NIC function the umems are mapped for.
 * @param options which pinned dma-buf API to use.
 * @returns a pinner whose errors are the umem getters' errnos, unchanged.
 * Preconditions (asserted): `addr`/`offset` and `length` are u64s.
 */
export function ibUmemPinner(ctx: IbUmemContext, device: PciFunction, options: UmemPinnerOptions = {}): IbUmemPinner {
  const mode = options.dmabuf ?? "pinned";
  return {
    device,
    pinDmabuf(fd, offset, length, access) {
      assertU64(offset, "offset");
      assertU64(length, "length");
      const args = { device, dmabuf: fd, offset, size: length, access };
      if (mode === "pinned") return ibUmemDmabufGetPinned(ctx, args);
      const got = ibUmemDmabufGetPinnedRevocableAndLock(ctx, args);
      if (!got.ok) return got;
      const umem = got.value;
      // The driver installs its callback under the resv the get returned with, then unlocks [§d.1].
      ibUmemDmabufSetRevokeLocked(umem, (revoked) => {
        ctx.engine.trace.emit("rdma", "pinner.revoke", { umem: revoked.name, device: device.label });
        return options.onRevoke?.(revoked);
      });
      umem.buf.resv.unlock(umem.holder);
      return got;
    },
    getVa(addr, length, access) {
      assertU64(addr, "addr");
      assertU64(length, "length");
      return ibUmemGet(ctx, { device, addr, length, access });
    },
  };
}

function assertU64(value: bigint, what: string): void {
  assert(value >= 0n && value < U64_LIMIT, () => `pinner: ${what} is a u64, got ${value}`);
}
