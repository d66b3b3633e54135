/**
 * Mapping and revoking a dma-buf umem [kernel.md §d.1]: `ib_umem_dmabuf_map_pages` (resv held:
 * revoked -> -EINVAL; map the attachment; trim the first and last sg entries to the umem's window;
 * wait for KERNEL fences), `ib_umem_dmabuf_unmap_pages`, and `ib_umem_dmabuf_revoke` (once only:
 * the driver's revoke callback if installed, unmap, unpin if pinned, mark revoked).
 *
 * The exporter's scatter list is kept untouched (it goes back to the exporter at unmap, as the
 * kernel restores its in-place edit first); the umem holds a trimmed copy for the device.
 */
import { dmaBufUnpin } from "../dmabuf/attachment.js";
import type { Errno, Result } from "../dmabuf/errno.js";
import { dmaBufMapAttachment, dmaBufUnmapAttachment, type SgEntry } from "../dmabuf/map.js";
import { assert } from "../fabric/assert.js";
import type { Suspension } from "../fabric/process.js";
import type { IbUmemDmabuf, IbUmemDmabufRevokeCallback } from "./umem-dmabuf.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /** `mapPages` mapped the attachment and trimmed it to the umem's window. */
    "umem.map": { umem: string; buf: string; nents: number; bytes: number };
    /** `mapPages` failed: the umem is revoked (EINVAL) or the exporter refused (its errno). */
    "umem.map.failed": { umem: string; buf: string; errno: Errno };
    "umem.unmap": { umem: string; buf: string };
    /** The driver's revoke callback runs (pinned-revocable; at most once, I22). */
    "umem.revoke.callback": { umem: string; buf: string };
    /** The umem is revoked for good: unmapped, unpinned. */
    "umem.revoke": { umem: string; buf: string };
  }
}

/** Entries of `entries` inside `[start, end)` of the buffer, the first and last trimmed (map_pages' in-place edit). */
export function sgTrimToWindow(entries: readonly SgEntry[], start: number, end: number): SgEntry[] {
  const out: SgEntry[] = [];
  let cur = 0;
  for (const entry of entries) {
    const lo = Math.max(cur, start);
    const hi = Math.min(cur + entry.length, end);
    if (lo < hi) out.push({ dmaAddress: entry.dmaAddress + (lo - cur), length: hi - lo });
    cur += entry.length;
  }
  assert(out.reduce((sum, e) => sum + e.length, 0) === end - start, () => `sg trimmed to [${start}, ${end}) covers the wrong length`);
  return out;
}

/**
 * The mapping half of `ib_umem_dmabuf_map_pages` (resv held): -EINVAL when revoked; nothing to do
 * when mapped; else map the attachment and trim the list to the umem's page-aligned window.
 */
function mapPagesNoWait(umem: IbUmemDmabuf): Result<void> {
  umem.buf.resv.assertHeld();
  assert(!umem.released, () => `mapPages of ${umem.name} after release (I21)`);
  const failed = (errno: Errno): Result<void> => {
    umem.engine.trace.emit("rdma", "umem.map.failed", { umem: umem.name, buf: umem.buf.name, errno });
    return { ok: false, errno };
  };
  if (umem.revoked) return failed("EINVAL");
  if (umem.mapped) return { ok: true, value: undefined };
  const result = dmaBufMapAttachment(umem.attach);
  if (!result.ok) return failed(result.errno);
  const { start, end } = umem.window;
  const entries = sgTrimToWindow(result.value.entries, start, end);
  umem.setMapping(result.value, entries);
  // The fields of traceFields() spelled out: `{ ...fields(), more }` costs a fresh V8 map per event.
  umem.engine.trace.emit("rdma", "umem.map", { umem: umem.name, buf: umem.buf.name, nents: entries.length, bytes: end - start });
  return { ok: true, value: undefined };
}

/**
 * `ib_umem_dmabuf_map_pages` from code that cannot wait [§d.1]: map (see the module comment).
 * Precondition: every KERNEL fence of the buffer has signaled (the kernel then waits
 * uninterruptibly; a process uses {@link ibUmemDmabufMapPagesWait}).
 * @returns ok (the umem is mapped); EINVAL when revoked; the exporter's errno (VFIO: ENODEV while revoked).
 * @throws AssertionError without the resv held, after release, or with a KERNEL fence pending.
 */
export function ibUmemDmabufMapPages(umem: IbUmemDmabuf): Result<void> {
  const result = mapPagesNoWait(umem);
  if (result.ok) assert(umem.buf.resv.testSignaled("kernel"), () => `mapPages of ${umem.name} with a KERNEL fence pending: wait for it`);
  return result;
}

/**
 * `ib_umem_dmabuf_map_pages` as a process body: map, then wait for every KERNEL fence (with the
 * resv still held, as the kernel does). `const r = yield* ibUmemDmabufMapPagesWait(umem)`.
 * @returns as {@link ibUmemDmabufMapPages}.
 */
export function* ibUmemDmabufMapPagesWait(umem: IbUmemDmabuf): Generator<Suspension, Result<void>, unknown> {
  const result = mapPagesNoWait(umem);
  if (result.ok) yield umem.buf.resv.wait("kernel");
  return result;
}

/**
 * `ib_umem_dmabuf_unmap_pages` (resv held): unmaps the attachment if mapped; the umem stays usable
 * (a dynamic umem re-maps on the next fault).
 * @throws AssertionError without the resv held.
 */
export function ibUmemDmabufUnmapPages(umem: IbUmemDmabuf): void {
  umem.buf.resv.assertHeld();
  const sgt = umem.takeMapping();
  if (sgt === undefined) return;
  dmaBufUnmapAttachment(umem.attach, sgt);
  umem.engine.trace.emit("rdma", "umem.unmap", umem.traceFields());
}

/**
 * The body of `ib_umem_dmabuf_revoke`, resv held (by the exporter inside its invalidate, or by the
 * umem's device): once only; the driver's callback, unmap, unpin, mark revoked. The umem is marked
 * revoked at once (it never maps again); when the callback returned a drain fence, unmap and unpin
 * wait for it, as the kernel's wait for the callback to return.
 * @throws AssertionError without the resv held.
 */
export function ibUmemDmabufRevokeLocked(umem: IbUmemDmabuf): void {
  umem.buf.resv.assertHeld();
  if (umem.revoked) return;
  const draining = umem.runRevokeCallback();
  umem.revoked = true;
  const finish = () => {
    ibUmemDmabufUnmapPages(umem);
    if (umem.pinned) {
      dmaBufUnpin(umem.attach);
      umem.pinned = false;
    }
    umem.engine.trace.emit("rdma", "umem.revoke", umem.traceFields());
  };
  if (draining === undefined || draining.signaled) finish();
  else draining.addCallback(() => withResvHeld(umem, finish));
}

/**
 * Runs `body` with the umem's resv held, for work a driver callback finishes after its device
 * drained: when the resv is free the umem's device takes it around `body`; when it is held, the
 * holder is the exporter still inside the revoke that waits for this very drain (its wait for
 * fences runs under the resv), so `body` runs inside that hold, as it would inside the callback.
 */
export function withResvHeld(umem: IbUmemDmabuf, body: () => void): void {
  const resv = umem.buf.resv;
  if (resv.holder !== undefined) {
    body();
    return;
  }
  resv.lock(umem.holder);
  body();
  resv.unlock(umem.holder);
}

/**
 * `ib_umem_dmabuf_revoke`: takes the resv and revokes the umem once (a second call does nothing).
 * @throws AssertionError when the resv is held (synchronous code cannot wait for it).
 */
export function ibUmemDmabufRevoke(umem: IbUmemDmabuf): void {
  umem.buf.resv.lock(umem.holder);
  ibUmemDmabufRevokeLocked(umem);
  umem.buf.resv.unlock(umem.holder);
}

/**
 * `ib_umem_dmabuf_set_revoke_locked`: installs the driver's revoke callback on a pinned-revocable
 * umem, resv held by the umem's device (right after {@link ibUmemDmabufGetPinnedRevocableAndLock}).
 * @throws AssertionError on another kind, a second callback, or without the resv held by `umem.holder`.
 */
export function ibUmemDmabufSetRevokeLocked(umem: IbUmemDmabuf, callback: IbUmemDmabufRevokeCallback): void {
  umem.buf.resv.assertHeld(umem.holder);
  umem.setRevokeCallback(callback);
}
