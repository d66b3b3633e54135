/**
 * I4 [kernel.md §f I4]: only importers that are peer-to-peer capable AND revocable may attach to a
 * VFIO export, and an attach while the export is revoked fails -ENODEV. Rests on the exporter's
 * attach op [§c.3] and `dma_buf_attach_revocable` [§b.3]; the revocable check is what keeps an
 * importer that could block a revoke forever away (E17: `vfio-dmabuf-initial` lacks it).
 */
import type { TraceEvent } from "../fabric/trace.js";
import { boolField, firstViolation, strField, violationAt } from "./export-support.js";
import { LockTracker } from "./lock-tracker.js";
import type { Monitor } from "./monitor.js";

/**
 * Creates the I4 monitor.
 *
 * Observes: `vfio/export` (initial `revoked`), `dmabuf/revoke.marked` (revoked set),
 * `vfio/restore` (cleared), `vfio/cleanup` then the closer's next `dmabuf/resv.lock` of that buffer
 * (revoked for good, written inside that section), and `dmabuf/attach` with its `peer2peer` and
 * `revocable` fields; VFIO exports are told apart by {@link LockTracker}.
 *
 * Flags: a successful `dmabuf/attach` to a VFIO export by an importer that is not peer-to-peer
 * capable or not revocable, or while the export is revoked. Chain: the export, the revoke or
 * cleanup that revoked it (when that is the reason), the attach.
 */
export function createI4Monitor(): Monitor {
  const locks = new LockTracker();
  /** VFIO buffer → its `vfio/export` event. */
  const exports = new Map<string, TraceEvent>();
  /** VFIO buffer → the event that revoked it, while revoked. */
  const revokedBy = new Map<string, TraceEvent>();
  /** Buffer → the cleanup whose resv section will revoke it. */
  const cleanups = new Map<string, TraceEvent>();

  return firstViolation("I4", (event) => {
    const buf = strField(event, "buf");
    const found = buf === undefined ? undefined : check(event, buf);
    locks.observe(event);
    return found;
  });

  function check(event: TraceEvent, buf: string) {
    const kind = `${event.layer}/${event.kind}`;
    switch (kind) {
      case "vfio/export":
        exports.set(buf, event);
        if (boolField(event, "revoked") === true) revokedBy.set(buf, event);
        return undefined;
      case "dmabuf/revoke.marked":
        if (locks.deviceOf(buf) !== undefined) revokedBy.set(buf, event);
        return undefined;
      case "vfio/restore":
        revokedBy.delete(buf);
        return undefined;
      case "vfio/cleanup":
        cleanups.set(buf, event);
        return undefined;
      case "dmabuf/resv.lock": {
        const cleanup = cleanups.get(buf);
        if (cleanup !== undefined) {
          cleanups.delete(buf);
          revokedBy.set(buf, cleanup);
        }
        return undefined;
      }
      case "dmabuf/attach":
        return checkAttach(event, buf);
      default:
        return undefined;
    }
  }

  function checkAttach(event: TraceEvent, buf: string) {
    const device = locks.deviceOf(buf);
    if (device === undefined) return undefined;
    const importer = strField(event, "importer") ?? "?";
    const who = `${device} ${buf}: ${importer} attachment ${String(event.attach)}`;
    const exported = exports.get(buf);
    if (boolField(event, "peer2peer") !== true) {
      return violationAt("I4", event, `${who} was accepted although the importer is not peer-to-peer capable (must be -EOPNOTSUPP) [kernel.md §c.3]`, [
        exported,
      ]);
    }
    const revoked = revokedBy.get(buf);
    if (revoked !== undefined) {
      return violationAt("I4", event, `${who} was accepted while the export is revoked (must be -ENODEV) [kernel.md §c.3]`, [exported, revoked]);
    }
    if (boolField(event, "revocable") === false) {
      const why = "the importer has no invalidate callback, so it is not revocable and could block a revoke forever (must be -EOPNOTSUPP; E17)";
      return violationAt("I4", event, `${who} was accepted although ${why} [kernel.md §c.3, §b.3]`, [exported]);
    }
    return undefined;
  }
}
