/**
 * Revoke: the exporter takes a dma-buf's memory away from every importer [kernel.md §b.3, §c.4].
 * In the dma-buf vocabulary, revoke means invalidate: the importers learn of it only through their
 * `invalidateMappings` callback.
 *
 * The full sequence (profile `"vfio-dmabuf-wait"`, the default), as a process in simulated time:
 *
 * ```
 *  revoke.begin
 *  take resv ─ mark revoked (exporter hook: no new mapping) ─ invalidate each importer
 *      └─ wait for every BOOKKEEP fence (= all fences) ─ drop resv
 *  wait until every importer has unmapped ─ revoke.done
 * ```
 *
 * After `revoke.done` the exporter can rely on zero access (invariant I1). Profile
 * `"vfio-dmabuf-initial"` is the first merged VFIO form (VDB-T, bug E12): take resv, mark, invalidate,
 * drop resv, done — no wait for fences or for unmaps, so importer DMA may still be in flight.
 */
import { assert } from "../fabric/assert.js";
import type { Process, ProcessBody } from "../fabric/process.js";
import { dmaBufInvalidateMappings } from "./attachment.js";
import type { DmaBuf } from "./dma-buf.js";

declare module "./dma-buf.js" {
  interface DmaBufTraceKinds {
    "revoke.begin": { buf: string; profile: DmaBufRevokeProfile };
    "revoke.marked": { buf: string };
    "revoke.fences-signaled": { buf: string };
    "revoke.done": { buf: string; profile: DmaBufRevokeProfile; invalidated: number };
  }
}

/** Which kernel's revoke runs [kernel.md "How p2psim uses this sheet", §c.4, §e E12]. */
export type DmaBufRevokeProfile =
  /** Newest behaviour [VDB], [DB-REVOKE]: wait for every fence under resv, then for every unmap. */
  | "vfio-dmabuf-wait"
  /** First merged VFIO revoke [VDB-T]: flag and notify under resv, no waiting at all (E12). */
  | "vfio-dmabuf-initial";

/** Every revoke profile; the first is the default. */
export const DMA_BUF_REVOKE_PROFILES: readonly DmaBufRevokeProfile[] = ["vfio-dmabuf-wait", "vfio-dmabuf-initial"];

/** Options of {@link dmaBufRevokeBody} and {@link dmaBufRevoke}. */
export interface DmaBufRevokeOptions<P> {
  /**
   * The exporter's hook, called with the resv held: set its `revoked` state so that its `attach`
   * and `map` ops refuse from now on (VFIO answers -ENODEV) [§c.3].
   */
  readonly markRevoked: (buf: DmaBuf<P>) => void;
  /** Default `"vfio-dmabuf-wait"`. */
  readonly profile?: DmaBufRevokeProfile;
  /** Who holds the resv during the revoke; default `exporter:<buf name>`. */
  readonly holder?: string;
}

/**
 * The revoke sequence as a process body (for exporters that run it inside their own process,
 * e.g. under a device's memory_lock): `yield* dmaBufRevokeBody(buf, { markRevoked })`.
 * The resv is taken with `acquire`, so an importer holding it delays the revoke, as in the kernel.
 * Waits are unbounded: an importer that never unmaps blocks the revoke forever (why exporters
 * refuse non-revocable importers, liveness L1).
 * @throws AssertionError when the buffer is released.
 */
export function* dmaBufRevokeBody<P>(buf: DmaBuf<P>, options: DmaBufRevokeOptions<P>): ProcessBody {
  const profile = options.profile ?? "vfio-dmabuf-wait";
  const holder = options.holder ?? `exporter:${buf.name}`;
  const trace = buf.engine.trace;
  assert(!buf.released, () => `revoke of released dma-buf ${buf.name}`);
  trace.emit("dmabuf", "revoke.begin", { buf: buf.name, profile });
  yield buf.resv.acquire(holder);
  options.markRevoked(buf);
  trace.emit("dmabuf", "revoke.marked", { buf: buf.name });
  const invalidated = dmaBufInvalidateMappings(buf);
  if (profile === "vfio-dmabuf-wait") {
    yield buf.resv.wait("bookkeep");
    trace.emit("dmabuf", "revoke.fences-signaled", { buf: buf.name });
  }
  buf.resv.unlock(holder);
  if (profile === "vfio-dmabuf-wait") {
    yield buf.unmapped.until(() => buf.mappingCount === 0);
  }
  trace.emit("dmabuf", "revoke.done", { buf: buf.name, profile, invalidated });
}

/**
 * Spawns {@link dmaBufRevokeBody} as a process named `revoke:<buf name>`, starting now.
 * @returns the process; `yield process.join()` waits for the revoke to complete.
 */
export function dmaBufRevoke<P>(buf: DmaBuf<P>, options: DmaBufRevokeOptions<P>): Process {
  return buf.engine.spawn(`revoke:${buf.name}`, () => dmaBufRevokeBody(buf, options));
}
