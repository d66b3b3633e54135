/**
 * Attachments: an importer device joined to a dma-buf (`struct dma_buf_attachment`) [kernel.md §b.1-§b.3].
 *
 * - Static importer: attached without importer ops; the exporter pins on map (when it can pin)
 *   and `peer2peer` is false.
 * - Dynamic importer: attached with {@link DmaBufImporterOps}; `peer2peer` is copied from
 *   `allowPeer2peer`; it may pin explicitly ({@link dmaBufPin}, a "pinned" RDMA umem) and, when it
 *   registers `invalidateMappings`, it is revocable ({@link dmaBufAttachRevocable}).
 *
 * Locking [§b.1], asserted: importers must not hold the reservation lock for attach and detach
 * (they lock it as their function id, `attach.importer.id`, so that is the holder checked), and
 * must hold it for pin and unpin; the exporter must hold it to send the invalidate notification,
 * and importers may not attach or detach from inside that callback.
 */
import { assert } from "../fabric/assert.js";
import type { PciFunction } from "../pci/topology.js";
import type { DmaBuf } from "./dma-buf.js";
import type { Errno, Result } from "./errno.js";
import type { SgTable } from "./map.js";

declare module "./dma-buf.js" {
  interface DmaBufTraceKinds {
    /** `revocable`: {@link dmaBufAttachRevocable} (I4); `importerId`: the importer's resv holder name (I13). */
    attach: { buf: string; attach: number; importer: string; dynamic: boolean; peer2peer: boolean; revocable: boolean; importerId: string };
    "attach.refused": { buf: string; importer: string; errno: Errno };
    /** `importerId`: the importer's resv holder name, which must not hold the resv here (I13). */
    detach: { buf: string; attach: number; importer: string; importerId: string };
    pin: { buf: string; attach: number; importer: string };
    "pin.refused": { buf: string; attach: number; importer: string; errno: Errno };
    unpin: { buf: string; attach: number; importer: string };
    invalidate: { buf: string; attach: number; importer: string };
  }
}

/**
 * `struct dma_buf_attach_ops`: what a dynamic importer gives at attach. A method signature, like
 * {@link DmaBufOps}, so a `DmaBuf<P>` widens to `DmaBuf<unknown>` for importers.
 */
export interface DmaBufImporterOps<P = unknown> {
  /** `allow_peer2peer`: the importer can handle DMA addresses of peer PCI BARs (copied to `peer2peer`). */
  readonly allowPeer2peer: boolean;
  /**
   * `invalidate_mappings` (formerly `move_notify`), called with the resv held by the exporter:
   * drop cached mappings; after a revoke, unmap within bounded time [§b.3]. Optional; an importer
   * without it is not revocable.
   */
  invalidateMappings?(attach: DmaBufAttachment<P>): void;
}

/** One attachment. Created by {@link dmaBufAttach}. */
export class DmaBufAttachment<P = unknown> {
  /** Whether it is still on the buffer's list. */
  attached = true;
  /** Explicit pins ({@link dmaBufPin}) not yet unpinned. */
  pinCount = 0;
  /** Live mappings, in map order (owned by map.ts). */
  readonly sgts: SgTable[] = [];
  /** Exporter's per-attachment data (`attach->priv`), free for the exporter's ops to set. */
  exporterPriv: unknown = undefined;

  constructor(
    readonly buf: DmaBuf<P>,
    /** Attachment number within the buffer, in attach order. */
    readonly id: number,
    /** The importing device (`attach->dev`). */
    readonly importer: PciFunction,
    /** Undefined for a static importer. */
    readonly importerOps: DmaBufImporterOps<P> | undefined,
  ) {}

  /** `attach->peer2peer`: copied from `allowPeer2peer`, false for static importers [§b.1]. */
  get peer2peer(): boolean {
    return this.importerOps?.allowPeer2peer ?? false;
  }

  /** `dma_buf_attachment_is_dynamic`: the importer gave ops. */
  get dynamic(): boolean {
    return this.importerOps !== undefined;
  }

  /** Live mappings. */
  get mapCount(): number {
    return this.sgts.length;
  }

  /** The fields every trace event of this attachment carries. */
  traceFields(): { buf: string; attach: number; importer: string } {
    return { buf: this.buf.name, attach: this.id, importer: this.importer.label };
  }
}

/**
 * `dma_buf_attach` (no ops: static) / `dma_buf_dynamic_attach` (with ops) [§b.1].
 * @param buf the buffer (not released).
 * @param importer the device that will DMA.
 * @param importerOps the dynamic importer's ops; omit for a static importer.
 * @returns the attachment, on the buffer's list; or the errno of the exporter's `attach` op (veto),
 * with nothing attached.
 * @throws AssertionError when the buffer is released, the importer holds the resv, or this is
 * called from inside an invalidate callback.
 */
export function dmaBufAttach<P>(buf: DmaBuf<P>, importer: PciFunction, importerOps?: DmaBufImporterOps<P>): Result<DmaBufAttachment<P>> {
  assert(!buf.released, () => `attach to released dma-buf ${buf.name}`);
  assert(!buf.invalidating, () => `attach to ${buf.name} from inside its invalidate notification`);
  buf.resv.assertNotHeld(importer.id);
  const attach = new DmaBufAttachment(buf, buf.takeAttachId(), importer, importerOps);
  const errno = buf.ops.attach?.(buf, attach);
  if (errno !== undefined) {
    buf.engine.trace.emit("dmabuf", "attach.refused", { buf: buf.name, importer: importer.label, errno });
    return { ok: false, errno };
  }
  buf.attachmentList.push(attach);
  const revocable = dmaBufAttachRevocable(attach);
  // traceFields() spelled out here and below: V8 gives every `{ ...fields(), more }` literal a
  // fresh map in old space, which keeps the run's young objects alive through scavenges.
  buf.engine.trace.emit("dmabuf", "attach", {
    buf: attach.buf.name,
    attach: attach.id,
    importer: attach.importer.label,
    dynamic: attach.dynamic,
    peer2peer: attach.peer2peer,
    revocable,
    importerId: importer.id,
  });
  return { ok: true, value: attach };
}

/**
 * `dma_buf_detach`: removes the attachment, then calls the exporter's `detach`.
 * @throws AssertionError when it is not attached, still mapped or pinned, the importer holds the
 * resv, or this is called from inside an invalidate callback.
 */
export function dmaBufDetach<P>(attach: DmaBufAttachment<P>): void {
  const buf = attach.buf;
  assert(attach.attached, () => `detach of ${buf.name} attachment ${attach.id} twice`);
  assert(!buf.invalidating, () => `detach from ${buf.name} inside its invalidate notification`);
  buf.resv.assertNotHeld(attach.importer.id);
  assert(attach.mapCount === 0, () => `detach of ${buf.name} attachment ${attach.id} with ${attach.mapCount} mapping(s) left`);
  assert(attach.pinCount === 0, () => `detach of ${buf.name} attachment ${attach.id} while pinned`);
  buf.attachmentList.splice(buf.attachmentList.indexOf(attach), 1);
  attach.attached = false;
  buf.ops.detach?.(buf, attach);
  buf.engine.trace.emit("dmabuf", "detach", { buf: attach.buf.name, attach: attach.id, importer: attach.importer.label, importerId: attach.importer.id });
}

/**
 * `dma_buf_pin`: a dynamic importer pins the backing store (resv held) [§b.2]. Exporters without
 * `pin` accept it trivially.
 * @returns ok, or the errno of the exporter's `pin`.
 * @throws AssertionError for a static importer, a detached attachment, or without the resv held.
 */
export function dmaBufPin<P>(attach: DmaBufAttachment<P>): Result<void> {
  assert(attach.attached, () => `pin of detached attachment ${attach.id} of ${attach.buf.name}`);
  assert(attach.dynamic, () => `dma_buf_pin on static attachment ${attach.id} of ${attach.buf.name}`);
  attach.buf.resv.assertHeld();
  const errno = attach.buf.ops.pin?.(attach);
  if (errno !== undefined) {
    attach.buf.engine.trace.emit("dmabuf", "pin.refused", { buf: attach.buf.name, attach: attach.id, importer: attach.importer.label, errno });
    return { ok: false, errno };
  }
  attach.pinCount++;
  attach.buf.engine.trace.emit("dmabuf", "pin", attach.traceFields());
  return { ok: true, value: undefined };
}

/**
 * `dma_buf_unpin` (resv held).
 * @throws AssertionError for a static importer, without the resv held, or without a pin to undo.
 */
export function dmaBufUnpin<P>(attach: DmaBufAttachment<P>): void {
  assert(attach.dynamic, () => `dma_buf_unpin on static attachment ${attach.id} of ${attach.buf.name}`);
  attach.buf.resv.assertHeld();
  assert(attach.pinCount > 0, () => `unpin without pin on attachment ${attach.id} of ${attach.buf.name}`);
  attach.pinCount--;
  attach.buf.ops.unpin?.(attach);
  attach.buf.engine.trace.emit("dmabuf", "unpin", attach.traceFields());
}

/**
 * `dma_buf_attach_revocable`: true iff the importer registered an invalidate callback [§b.3]
 * (exporters call it in their attach op to refuse importers that could block a revoke forever).
 */
export function dmaBufAttachRevocable<P>(attach: DmaBufAttachment<P>): boolean {
  return attach.importerOps?.invalidateMappings !== undefined;
}

/**
 * `dma_buf_invalidate_mappings` (formerly `dma_buf_move_notify`): the exporter, holding the resv,
 * calls the invalidate callback of every attachment that has one, in attach order, tracing each [§b.3].
 * @returns how many callbacks ran.
 * @throws AssertionError without the resv held.
 */
export function dmaBufInvalidateMappings<P>(buf: DmaBuf<P>): number {
  buf.resv.assertHeld();
  let count = 0;
  buf.invalidating = true;
  try {
    for (const attach of [...buf.attachmentList]) {
      const callback = attach.importerOps?.invalidateMappings;
      if (callback === undefined) continue;
      buf.engine.trace.emit("dmabuf", "invalidate", attach.traceFields());
      callback(attach);
      count++;
    }
  } finally {
    buf.invalidating = false;
  }
  return count;
}
