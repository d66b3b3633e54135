/**
 * One vfio-pci dma-buf export (`struct vfio_pci_dma_buf`) and the exporter ops every export uses
 * (`vfio_pci_dmabuf_ops`) [kernel.md §c.3]:
 *
 * - attach: the importer must be peer-to-peer capable (-EOPNOTSUPP), the export not revoked
 *   (-ENODEV), and the importer revocable (-EOPNOTSUPP; not checked by `vfio-dmabuf-initial`);
 * - map (resv held): -ENODEV while revoked, else the scatter list of `dmaBufPhysVecToSgt` for the
 *   BAR's provider and the importer, and one kref per live mapping;
 * - unmap: frees the list and drops that kref (the last one completes a revoke's drain);
 * - release: unlinks the export from its device and drops its registration reference, unless
 *   close already did (I8), then frees the private object.
 *
 * The kref and completion are the wait fix's [VDB]: the export holds a base reference; a revoke
 * drops it and waits for the completion, which the last unmap signals.
 */
import type { DmaBufAttachment } from "../dmabuf/attachment.js";
import { dmaBufAttachRevocable } from "../dmabuf/attachment.js";
import type { DmaBuf, DmaBufOps } from "../dmabuf/dma-buf.js";
import type { Errno, Result } from "../dmabuf/errno.js";
import { DmaBufDma, dmaBufFreeSgt, dmaBufPhysVecToSgt, type PhysVec, type PhysVecToSgtOptions, type SgTable } from "../dmabuf/map.js";
import { assert } from "../fabric/assert.js";
import type { ProcessBody } from "../fabric/process.js";
import { Condition } from "../fabric/signal.js";
import type { P2pdmaProvider } from "../pci/p2pdma.js";
import "./trace-kinds.js";

/** What an export needs from the device that owns it (`priv->vdev`). */
export interface VfioDmaBufOwner {
  /** The device's label, for traces. */
  readonly label: string;
  /**
   * Release's side of the device: unlink `priv` under memory_lock (later, in a process, when a
   * trigger holds the lock: a final fput blocks behind a reset [§c.5]), drop its registration
   * reference, then call `free`.
   */
  releaseExport(priv: VfioPciDmaBuf, free: () => void): void;
}

/** What the device fixes about an export when it creates it. */
export interface VfioPciDmaBufInit {
  readonly name: string;
  readonly owner: VfioDmaBufOwner;
  readonly barIndex: number;
  /** `priv->phys_vec`: CPU physical ranges inside the BAR. */
  readonly physVec: readonly PhysVec[];
  /** Bytes: the sum of the range lengths. */
  readonly size: number;
  /** `priv->provider`: the BAR's p2pdma provider (or, under mutant E27, the device's single one). */
  readonly provider: P2pdmaProvider;
  /** p2pdma state, IOMMU and chunk size for `dmaBufPhysVecToSgt`. */
  readonly mapOptions: PhysVecToSgtOptions;
  /** Attach refuses importers without an invalidate callback (false under `vfio-dmabuf-initial`). */
  readonly requireRevocable: boolean;
}

/** `struct vfio_pci_dma_buf`: the private object of one export. */
export class VfioPciDmaBuf {
  readonly name: string;
  readonly barIndex: number;
  readonly physVec: readonly PhysVec[];
  readonly size: number;
  readonly provider: P2pdmaProvider;
  readonly mapOptions: PhysVecToSgtOptions;
  readonly requireRevocable: boolean;
  /** `priv->vdev`: the owning device; cleared by close (then attach and map fail forever). */
  vdev: VfioDmaBufOwner | undefined;
  /** On the device's list (`dmabufs_elm` linked). */
  linked = false;
  /** `priv->revoked`: written with memory_lock (write) and resv held (I6). */
  revoked = false;
  /** `priv->kref`: the base reference plus one per live mapping. */
  kref = 1;
  /** Times the private object was freed: exactly one after release (I8); two is E10's double free. */
  frees = 0;
  private bufValue: DmaBuf<VfioPciDmaBuf> | undefined;
  private completionDone = 0;
  private readonly completion: Condition;

  constructor(init: VfioPciDmaBufInit) {
    this.name = init.name;
    this.vdev = init.owner;
    this.barIndex = init.barIndex;
    this.physVec = init.physVec;
    this.size = init.size;
    this.provider = init.provider;
    this.mapOptions = init.mapOptions;
    this.requireRevocable = init.requireRevocable;
    this.completion = new Condition(`${init.name}/comp`);
  }

  /** `priv->dmabuf`. @throws AssertionError before the exporter set it. */
  get dmabuf(): DmaBuf<VfioPciDmaBuf> {
    assert(this.bufValue !== undefined, () => `${this.name}: the dma-buf is not exported yet`);
    return this.bufValue;
  }

  /** Sets `priv->dmabuf` once, right after `dma_buf_export`. */
  setDmaBuf(buf: DmaBuf<VfioPciDmaBuf>): void {
    assert(this.bufValue === undefined, () => `${this.name}: dma-buf set twice`);
    assert(buf.priv === this, () => `${this.name}: the dma-buf's priv is another object`);
    this.bufValue = buf;
  }

  /** `kref_get`, for a new mapping. */
  krefGet(): void {
    assert(this.kref > 0, () => `${this.name}: kref_get on a zero count (mapping while drained)`);
    this.kref++;
  }

  /**
   * `kref_put(&priv->kref, vfio_pci_dma_buf_done)`: the drop to zero completes the completion. A
   * put at zero is refcount_t's underflow: it warns and saturates, and nothing completes (E13).
   */
  krefPut(): void {
    if (this.kref <= 0) {
      this.dmabuf.engine.trace.emit("vfio", "kref.underflow", { buf: this.name });
      return;
    }
    this.kref--;
    if (this.kref === 0) {
      this.completionDone++;
      this.completion.notify();
    }
  }

  /** `wait_for_completion`: waits until completed, then consumes it (a second wait needs a second complete). */
  *waitForCompletion(): ProcessBody {
    yield this.completion.until(() => this.completionDone > 0);
    this.completionDone--;
  }

  /** `kref_init` + `reinit_completion`: re-arms the drain on restore. */
  rearm(): void {
    this.kref = 1;
    this.completionDone = 0;
  }
}

/** `kfree(priv)`: counts and traces the free; a second one is a double free (I8, E10). */
export function vfioPciDmaBufFree(priv: VfioPciDmaBuf): void {
  priv.frees++;
  priv.dmabuf.engine.trace.emit("vfio", "priv.free", { buf: priv.name, frees: priv.frees });
}

/** `vfio_pci_dma_buf_attach` [§c.3]. */
function attachOp(buf: DmaBuf<VfioPciDmaBuf>, attach: DmaBufAttachment<VfioPciDmaBuf>): Errno | undefined {
  if (!attach.peer2peer) return "EOPNOTSUPP";
  if (buf.priv.revoked) return "ENODEV";
  if (buf.priv.requireRevocable && !dmaBufAttachRevocable(attach)) return "EOPNOTSUPP";
  return undefined;
}

/** `vfio_pci_dma_buf_map` [§c.3]: resv held; -ENODEV while revoked; one kref per mapping. */
function mapOp(attach: DmaBufAttachment<VfioPciDmaBuf>): Result<SgTable> {
  const priv = attach.buf.priv;
  attach.buf.resv.assertHeld();
  if (priv.revoked) return { ok: false, errno: "ENODEV" };
  const result = dmaBufPhysVecToSgt(priv.provider, attach.importer, priv.physVec, priv.mapOptions);
  if (!result.ok) return result;
  priv.krefGet();
  return result;
}

/** `vfio_pci_dma_buf_unmap`: frees the list, drops the mapping's kref. */
function unmapOp(attach: DmaBufAttachment<VfioPciDmaBuf>, sgt: SgTable): void {
  assert(sgt instanceof DmaBufDma, () => `${attach.buf.name}: unmap of a scatter list this exporter did not build`);
  dmaBufFreeSgt(sgt);
  attach.buf.priv.krefPut();
}

/** `vfio_pci_dma_buf_release`: the owner (if close has not cleared it) unlinks and puts the registration; then kfree. */
function releaseOp(buf: DmaBuf<VfioPciDmaBuf>): void {
  const priv = buf.priv;
  const owner = priv.vdev;
  if (owner === undefined) vfioPciDmaBufFree(priv);
  else owner.releaseExport(priv, () => vfioPciDmaBufFree(priv));
}

/** `vfio_pci_dmabuf_ops`: no `pin`/`unpin`, since BAR memory never moves (a pinning importer's `dma_buf_pin` succeeds trivially). */
export const VFIO_PCI_DMABUF_OPS: DmaBufOps<VfioPciDmaBuf> = { attach: attachOp, map: mapOp, unmap: unmapOp, release: releaseOp };
