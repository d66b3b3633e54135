/**
 * The umem (`struct ib_umem`): a buffer an RDMA device may DMA to, pinned for as long as the umem
 * lives, with the scatter list of DMA addresses the device is programmed with [kernel.md §d.1].
 *
 * Four kinds exist, one per kernel entry point:
 * - `"va"`: user virtual memory, `ib_umem_get` (umem-va.ts): host pages pinned and DMA-mapped;
 * - `"dmabuf-dynamic"`: `ib_umem_dmabuf_get` (umem-dmabuf.ts): a dynamic dma-buf attachment with
 *   the driver's invalidate op, mapped lazily (on a device page fault) with `mapPages`;
 * - `"dmabuf-pinned"`: `ib_umem_dmabuf_get_pinned`: pinned and mapped at once, with no invalidate
 *   callback, so the attachment is not revocable (a VFIO export refuses it, -EOPNOTSUPP);
 * - `"dmabuf-pinned-revocable"`: `ib_umem_dmabuf_get_pinned_revocable_and_lock`: pinned and mapped,
 *   and the driver's revoke callback runs (at most once) when the exporter takes the memory away.
 *
 * Every umem is released exactly once (invariant I16): a second {@link IbUmemBase.release} is a
 * bug of the caller and throws. After release nothing may read its scatter list (I21).
 *
 * This file also declares the `rdma` layer's trace kinds ({@link RdmaTraceKinds}); each file of the
 * layer adds its own by augmenting that interface (`declare module "./umem.js"`).
 */

import type { DmaBuf } from "../dmabuf/dma-buf.js";
import type { Errno, Result } from "../dmabuf/errno.js";
import type { DmaIommu, SgEntry } from "../dmabuf/map.js";
import { assert } from "../fabric/assert.js";
import type { Engine } from "../fabric/engine.js";
import type { PciFunction } from "../pci/topology.js";
import type { UserMm } from "./user-mm.js";

declare module "../fabric/trace.js" {
  interface TraceKinds {
    rdma: RdmaTraceKinds;
  }
}

/**
 * The `rdma` layer's trace kinds. Each file of the layer adds its own by augmenting this interface
 * (`declare module "./umem.js"`), since `TraceKinds.rdma` can be declared only once.
 */
export interface RdmaTraceKinds {
  // A umem's kind is the field `type`: `kind` is reserved for the event's own kind.
  /** A umem was created (pinned, and for VA and pinned dma-buf umems mapped). */
  "umem.get": { umem: string; type: IbUmemKind; device: string; address: number; length: number };
  /** A `get` failed at check `step` (named in the get's module comment); nothing stays pinned, attached or referenced. */
  "umem.get.failed": { type: IbUmemKind; device: string; step: string; errno: Errno };
  /** `ib_umem_release` finished: every resource of the umem is gone (I16). */
  "umem.release": { umem: string; type: IbUmemKind };
}

/** Which kernel entry point made a umem, and so how it behaves on revoke and release. */
export type IbUmemKind =
  /** `ib_umem_get`: user VA, host pages pinned, DMA-mapped (through the IOMMU when it is on). */
  | "va"
  /** `ib_umem_dmabuf_get`: dynamic attachment, the driver's invalidate op, mapped on demand. */
  | "dmabuf-dynamic"
  /** `ib_umem_dmabuf_get_pinned`: pinned, mapped at once, no invalidate callback: not revocable. */
  | "dmabuf-pinned"
  /** `ib_umem_dmabuf_get_pinned_revocable_and_lock`: pinned, mapped, revoked through the driver's callback. */
  | "dmabuf-pinned-revocable";

/** PAGE_SIZE: the only page size a umem is described in here (the driver may pick larger blocks later). */
export const UMEM_PAGE_SIZE = 4096;

/** `enum ib_access_flags`, the bits umem creation reads. */
export const IB_ACCESS = {
  LOCAL_WRITE: 1,
  REMOTE_WRITE: 2,
  REMOTE_READ: 4,
  REMOTE_ATOMIC: 8,
  MW_BIND: 16,
  /** `ib_umem_get` refuses it with -EOPNOTSUPP: on-demand paging has its own umem type. */
  ON_DEMAND: 64,
} as const;

/** `ib_access_writable`: whether the device may write through the umem (the pin asks for FOLL_WRITE). */
export function ibAccessWritable(access: number): boolean {
  return (access & (IB_ACCESS.LOCAL_WRITE | IB_ACCESS.REMOTE_WRITE | IB_ACCESS.REMOTE_ATOMIC | IB_ACCESS.MW_BIND)) !== 0;
}

/**
 * What umem creation needs from the machine and the user process (the kernel reaches the same
 * things through `ib_device`, `current->mm` and the fd table).
 */
export interface IbUmemContext {
  readonly engine: Engine;
  /** The user process's memory, whose pages a VA umem pins. */
  readonly mm: UserMm;
  /** The IOMMU the NIC translates through when the IOMMU is on; omit for dma-direct. */
  readonly iommu?: DmaIommu;
  /**
   * `dma_buf_get(fd)`: a new reference to the dma-buf behind `fd`, or the error the kernel returns
   * (-EINVAL for an fd that is not a dma-buf). Needed only when a dma-buf umem is given an fd.
   */
  readonly dmaBufGet?: (fd: number) => Result<DmaBuf>;
  /** Umems created so far: numbers the names (`nic0/umem#0`, …). */
  umemCount: number;
}

/** Builds an {@link IbUmemContext}; `umemCount` starts at 0. */
export function ibUmemContext(init: Omit<IbUmemContext, "umemCount">): IbUmemContext {
  // The counter first: `{ ...init, umemCount }` would give every context a map of its own in old
  // space (V8 does that for spread-then-extend literals), keeping each run alive through scavenges.
  return { umemCount: 0, ...init };
}

/** A umem as its users (MR, CQ, QP, umem_list, the NIC's DMA engine) see it. */
export interface IbUmem {
  /** `nic0/umem#3`: unique per context, shown in traces. */
  readonly name: string;
  readonly kind: IbUmemKind;
  /** The device the umem is mapped for. */
  readonly device: PciFunction;
  /** `umem->address`: the user VA, or the offset into the dma-buf. */
  readonly address: number;
  /** `umem->length` in bytes. */
  readonly length: number;
  /** Always {@link UMEM_PAGE_SIZE}. */
  readonly pageSize: number;
  /** `ib_umem_offset`: where the umem starts inside its first page, i.e. inside the first sg entry. */
  readonly offset: number;
  /** Whether {@link sg} may be called: a VA umem until release; a dma-buf umem while mapped. */
  readonly mapped: boolean;
  readonly released: boolean;
  /**
   * The DMA addresses the device is programmed with: page-aligned entries covering every page the
   * umem touches (the first starts `offset` bytes before the umem).
   * @throws AssertionError when not {@link mapped} (a dynamic umem must fault it in first) or released (I21).
   */
  sg(): readonly SgEntry[];
  /**
   * `ib_umem_release`: undoes everything the get did.
   * @throws AssertionError on a second release (I16).
   */
  release(): void;
}

/** What every umem kind shares: identity, release exactly once, the use-after-release guard. */
export abstract class IbUmemBase implements IbUmem {
  readonly name: string;
  readonly pageSize = UMEM_PAGE_SIZE;
  private releasedValue = false;

  /** The run's engine (traces). */
  readonly engine: Engine;

  constructor(
    ctx: IbUmemContext,
    readonly kind: IbUmemKind,
    readonly device: PciFunction,
    readonly address: number,
    readonly length: number,
  ) {
    assert(Number.isSafeInteger(address) && address >= 0, () => `umem address must be a non-negative safe integer, got ${address}`);
    assert(Number.isSafeInteger(length) && length >= 0, () => `umem length must be a non-negative safe integer, got ${length}`);
    this.engine = ctx.engine;
    this.name = `${device.label}/umem#${ctx.umemCount++}`;
  }

  get offset(): number {
    return this.address % UMEM_PAGE_SIZE;
  }

  get released(): boolean {
    return this.releasedValue;
  }

  abstract get mapped(): boolean;

  sg(): readonly SgEntry[] {
    assert(!this.releasedValue, () => `sg of ${this.name} after release (I21)`);
    assert(this.mapped, () => `sg of ${this.name}, which is not mapped`);
    return this.sgEntries();
  }

  release(): void {
    assert(!this.releasedValue, () => `${this.name} released twice (I16)`);
    this.releasedValue = true;
    this.releaseResources();
    this.engine.trace.emit("rdma", "umem.release", { umem: this.name, type: this.kind });
  }

  /** The current DMA addresses; called only while mapped and not released. */
  protected abstract sgEntries(): readonly SgEntry[];

  /** The kind's release: unmap, unpin, detach, put. Called once. */
  protected abstract releaseResources(): void;

  /** Emits `rdma/umem.get`; called once by the get function when the umem is complete. */
  traceGet(): void {
    this.engine.trace.emit("rdma", "umem.get", { umem: this.name, type: this.kind, device: this.device.label, address: this.address, length: this.length });
  }
}

/**
 * A failed get: traces `rdma/umem.get.failed` and returns the errno as a value.
 * @param step which check failed (`"overflow"`, `"attach"`, …), for traces and tests.
 */
export function umemGetFailed<T>(engine: Engine, kind: IbUmemKind, device: PciFunction, step: string, errno: Errno): Result<T> {
  engine.trace.emit("rdma", "umem.get.failed", { type: kind, device: device.label, step, errno });
  return { ok: false, errno };
}
