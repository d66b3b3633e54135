/**
 * Revoke and restore of a device's exports (`vfio_pci_dma_buf_move`) and close's permanent revoke
 * (`vfio_pci_dma_buf_cleanup`) [kernel.md §c.4], as process bodies run by a trigger that holds the
 * device's memory_lock for write.
 *
 * Per export whose state differs (and whose file is not already being released):
 * - revoke, `vfio-dmabuf-wait`: the full sequence of §b.3 ({@link dmaBufRevokeBody}: resv, mark
 *   revoked, invalidate, wait for every fence, drop resv, wait for every unmap), then drop the base
 *   kref and wait for the completion; under `vfio-dmabuf-initial`: flag + invalidate only (E12);
 * - restore, `vfio-dmabuf-wait`: resv, invalidate (so importers re-map), wait for fences, drop resv,
 *   re-arm kref and completion, then clear `revoked` under resv; under `vfio-dmabuf-initial`: clear
 *   + invalidate under resv.
 */

import { dmaBufInvalidateMappings } from "../dmabuf/attachment.js";
import { dmaBufGet, dmaBufPut } from "../dmabuf/dma-buf.js";
import { dmaBufRevokeBody } from "../dmabuf/revoke.js";
import type { Engine } from "../fabric/engine.js";
import type { ProcessBody } from "../fabric/process.js";
import type { VfioPciDmaBuf } from "./dmabuf-export.js";
import type { MemoryLock } from "./memory-lock.js";
import type { VfioSettings } from "./profiles.js";
import "./trace-kinds.js";

/** What the move and cleanup bodies need from the device. */
export interface VfioMoveContext {
  readonly label: string;
  readonly engine: Engine;
  readonly memoryLock: MemoryLock;
  readonly settings: VfioSettings;
  /** The device's list of exports (`vdev->dmabufs`). */
  readonly exportList: readonly VfioPciDmaBuf[];
  /** `list_del_init`: takes `priv` off the device's list. */
  unlink(priv: VfioPciDmaBuf): void;
  /** `vfio_device_put_registration`. */
  registrationPut(): void;
}

/** Writes `priv->revoked`: I6 requires memory_lock (write) and the resv, both held by `holder`. */
function setRevoked(device: VfioMoveContext, priv: VfioPciDmaBuf, revoked: boolean, holder: string): void {
  device.memoryLock.assertWriteHeld(holder);
  priv.dmabuf.resv.assertHeld(holder);
  priv.revoked = revoked;
}

/**
 * `vfio_pci_dma_buf_move(vdev, revoked)`: revokes or restores every export of the device, one
 * after the other, as described in the module comment.
 * @param holder the trigger holding memory_lock for write; it also takes each resv.
 * @throws AssertionError when `holder` does not hold memory_lock for write.
 */
export function* vfioPciDmaBufMove(device: VfioMoveContext, revoked: boolean, holder: string): ProcessBody {
  device.memoryLock.assertWriteHeld(holder);
  const wait = device.settings.profile === "vfio-dmabuf-wait";
  const trace = device.engine.trace;
  for (const priv of [...device.exportList]) {
    const buf = priv.dmabuf;
    // get_file_active: a dma-buf whose last reference is gone is being released; skip it.
    if (buf.released || priv.revoked === revoked) continue;
    dmaBufGet(buf);
    const fields = { device: device.label, buf: priv.name };
    if (revoked) {
      trace.emit("vfio", "revoke", fields);
      yield* dmaBufRevokeBody(buf, {
        profile: device.settings.profile,
        holder,
        markRevoked: () => setRevoked(device, priv, true, holder),
      });
      if (wait) {
        priv.krefPut();
        yield* priv.waitForCompletion();
      }
      trace.emit("vfio", "revoke.done", fields);
    } else {
      yield buf.resv.acquire(holder);
      if (!wait) setRevoked(device, priv, false, holder);
      dmaBufInvalidateMappings(buf);
      if (wait) yield buf.resv.wait("bookkeep");
      buf.resv.unlock(holder);
      if (wait) {
        priv.rearm();
        yield buf.resv.acquire(holder);
        setRevoked(device, priv, false, holder);
        buf.resv.unlock(holder);
      }
      trace.emit("vfio", "restore", fields);
    }
    dmaBufPut(buf);
  }
}

/**
 * `vfio_pci_dma_buf_cleanup`, on device close: for every export whose file is live, under its resv
 * unlink it, clear its owner, mark it revoked for good and invalidate importers, wait for every
 * fence; then drain the mappings (only when it was not already revoked: a revoke already drained
 * it; mutant E13 drains again and hangs); then drop the registration reference.
 * @throws AssertionError when `holder` does not hold memory_lock for write.
 */
export function* vfioPciDmaBufCleanup(device: VfioMoveContext, holder: string): ProcessBody {
  device.memoryLock.assertWriteHeld(holder);
  const wait = device.settings.profile === "vfio-dmabuf-wait";
  for (const priv of [...device.exportList]) {
    const buf = priv.dmabuf;
    if (buf.released) continue;
    dmaBufGet(buf);
    device.engine.trace.emit("vfio", "cleanup", { device: device.label, buf: priv.name });
    yield buf.resv.acquire(holder);
    device.unlink(priv);
    priv.vdev = undefined;
    const wasRevoked = priv.revoked;
    setRevoked(device, priv, true, holder);
    dmaBufInvalidateMappings(buf);
    if (wait) yield buf.resv.wait("bookkeep");
    buf.resv.unlock(holder);
    if (wait && (!wasRevoked || device.settings.mutants.has("E13"))) {
      priv.krefPut();
      yield* priv.waitForCompletion();
    }
    device.registrationPut();
    dmaBufPut(buf);
  }
}
