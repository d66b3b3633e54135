/**
 * The dma-buf object and its exporter ops table (`struct dma_buf`, `struct dma_buf_ops`,
 * `dma_buf_export`) [kernel.md §b]. An exporter (vfio-pci in this model) describes its buffer with
 * an ops table, validated once at export as `dma_buf_export` does: a table missing a mandatory op
 * is misuse of our API and throws, it is not an errno [STYLE.md 8].
 *
 * References: the exporter's export holds the first reference (the file behind the fd); whoever
 * the fd is handed to takes more with {@link dmaBufGet}. The final {@link dmaBufPut} calls the
 * exporter's `release`, which requires every attachment to be gone.
 */
import { assert } from "../fabric/assert.js";
import type { Engine } from "../fabric/engine.js";
import { Condition } from "../fabric/signal.js";
import type { DmaBufAttachment } from "./attachment.js";
import type { Errno, Result } from "./errno.js";
import type { SgTable } from "./map.js";
import { DmaResv } from "./reservation.js";

declare module "../fabric/trace.js" {
  interface TraceKinds {
    dmabuf: DmaBufTraceKinds;
  }
}

/**
 * The `dmabuf` layer's trace kinds. Each file of the layer adds its own by augmenting this
 * interface (`declare module "./dma-buf.js"`), since `TraceKinds.dmabuf` can be declared only once.
 */
export interface DmaBufTraceKinds {
  export: { buf: string; size: number; dynamic: boolean };
  release: { buf: string };
}

/**
 * `struct dma_buf_ops`, the exporter's side. `map`, `unmap` and `release` are mandatory; `pin` and
 * `unpin` come together or not at all (an exporter with them is "dynamic"); the rest is optional.
 * Which ops run with the reservation lock held is fixed by §b.1 and asserted by the core.
 * The ops are method signatures on purpose: that makes `DmaBuf<P>` usable as `DmaBuf<unknown>`, so an
 * importer (which never sees `priv`) takes any exporter's buffer without a cast.
 */
export interface DmaBufOps<P = unknown> {
  /** `attach`, unlocked: may veto an importer by returning an errno (undefined accepts it). */
  attach?(buf: DmaBuf<P>, attach: DmaBufAttachment<P>): Errno | undefined;
  /** `detach`, unlocked. */
  detach?(buf: DmaBuf<P>, attach: DmaBufAttachment<P>): void;
  /** `pin`, resv held: keep the backing store where it is; undefined is success. */
  pin?(attach: DmaBufAttachment<P>): Errno | undefined;
  /** `unpin`, resv held. */
  unpin?(attach: DmaBufAttachment<P>): void;
  /** `map_dma_buf`, resv held: the scatter list of DMA addresses for the attachment's device, or an errno. */
  map(attach: DmaBufAttachment<P>): Result<SgTable>;
  /** `unmap_dma_buf`, resv held: undoes one `map`. */
  unmap(attach: DmaBufAttachment<P>, sgt: SgTable): void;
  /** `release`, unlocked: the last reference is gone. */
  release(buf: DmaBuf<P>): void;
}

const OPS_KEYS: ReadonlySet<string> = new Set(["attach", "detach", "pin", "unpin", "map", "unmap", "release"]);

/** What an exporter passes to {@link exportDmaBuf} (`struct dma_buf_export_info`). */
export interface DmaBufExportInfo<P> {
  /** Shown in traces; unique per run by convention (e.g. `gpu0/bar1#0`). */
  readonly name: string;
  /** Bytes. */
  readonly size: number;
  readonly ops: DmaBufOps<P>;
  /** The exporter's private object (`dmabuf->priv`); mandatory, as in the kernel. */
  readonly priv: P;
}

/** One dma-buf. Created by {@link exportDmaBuf}. */
export class DmaBuf<P = unknown> {
  /** The reservation object: lock and fences. */
  readonly resv: DmaResv;
  /** Notified whenever a mapping of any attachment goes away: what the revoke's last wait watches. */
  readonly unmapped: Condition;
  /** Attachments in attach order (`dmabuf->attachments`). Owned by attachment.ts. */
  readonly attachmentList: DmaBufAttachment<P>[] = [];
  /** References held (the exporter's, plus one per {@link dmaBufGet}). */
  refCount = 1;
  /** Set while the exporter's invalidate notification runs, when importers must not attach or detach [§b.1]. */
  invalidating = false;
  private attachIdNextValue = 0;

  constructor(
    readonly engine: Engine,
    readonly name: string,
    /** Bytes. */
    readonly size: number,
    readonly ops: DmaBufOps<P>,
    readonly priv: P,
  ) {
    this.resv = new DmaResv(engine, name);
    this.unmapped = new Condition(`${name}/unmapped`);
  }

  /** Whether the final put has released the buffer. */
  get released(): boolean {
    return this.refCount === 0;
  }

  /** `dma_buf_is_dynamic`: the exporter has `pin` (and `unpin`). */
  get dynamic(): boolean {
    return this.ops.pin !== undefined;
  }

  /** Live attachments. */
  get attachments(): readonly DmaBufAttachment<P>[] {
    return this.attachmentList;
  }

  /** Live mappings over every attachment. */
  get mappingCount(): number {
    return this.attachmentList.reduce((sum, attach) => sum + attach.mapCount, 0);
  }

  /** Next attachment number (0, 1, …: the `attach` field of traces). */
  takeAttachId(): number {
    return this.attachIdNextValue++;
  }
}

/**
 * `dma_buf_export`: creates a dma-buf over the exporter's ops table.
 * @param engine the run's engine (for traces and waits).
 * @param info name, size in bytes, ops, private object.
 * @returns the buffer, holding one reference.
 * @throws AssertionError when `map`, `unmap` or `release` is missing, only one of `pin`/`unpin` is
 * given, an op is not a function or has an unknown name, `priv` is undefined, or the size is not a
 * positive safe integer (`dma_buf_export`'s WARN_ON checks, here misuse of our API).
 */
export function exportDmaBuf<P>(engine: Engine, info: DmaBufExportInfo<P>): DmaBuf<P> {
  const { name, size, ops, priv } = info;
  assert(name.length > 0, "dma_buf_export: a name is required");
  assert(Number.isSafeInteger(size) && size > 0, () => `dma_buf_export ${name}: size must be a positive safe integer, got ${size}`);
  for (const [key, value] of Object.entries(ops)) {
    assert(OPS_KEYS.has(key), () => `dma_buf_export ${name}: unknown op ${key}`);
    assert(value === undefined || typeof value === "function", () => `dma_buf_export ${name}: op ${key} is not a function`);
  }
  for (const key of ["map", "unmap", "release"] as const) {
    assert(typeof ops[key] === "function", () => `dma_buf_export ${name}: op ${key} is mandatory`);
  }
  assert((ops.pin === undefined) === (ops.unpin === undefined), () => `dma_buf_export ${name}: pin and unpin come together`);
  assert(priv !== undefined, () => `dma_buf_export ${name}: priv is mandatory`);
  const buf = new DmaBuf(engine, name, size, ops, priv);
  engine.trace.emit("dmabuf", "export", { buf: name, size, dynamic: buf.dynamic });
  return buf;
}

/**
 * `get_dma_buf`: one more reference (the fd handed to an importer, a dup).
 * @throws AssertionError when the buffer is already released.
 */
export function dmaBufGet<P>(buf: DmaBuf<P>): DmaBuf<P> {
  assert(!buf.released, () => `get of released dma-buf ${buf.name}`);
  buf.refCount++;
  return buf;
}

/**
 * `dma_buf_put`: drops a reference; the last one calls the exporter's `release`. Must be called
 * without the reservation lock [§b.1].
 * @throws AssertionError on a put of a released buffer (double put), with the resv held, or when
 * the last reference goes while attachments remain.
 */
export function dmaBufPut<P>(buf: DmaBuf<P>): void {
  assert(!buf.released, () => `double put of dma-buf ${buf.name}`);
  buf.resv.assertNotHeld();
  if (buf.refCount === 1) {
    assert(buf.attachmentList.length === 0, () => `release of dma-buf ${buf.name} with ${buf.attachmentList.length} attachment(s) left`);
  }
  buf.refCount--;
  if (buf.refCount > 0) return;
  buf.ops.release(buf);
  buf.engine.trace.emit("dmabuf", "release", { buf: buf.name });
}
