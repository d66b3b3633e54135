/**
 * I13 [kernel.md §f I13]: the lock order is memory_lock → resv and nothing is taken inside a resv
 * (no memory_lock while holding a resv); importers never call attach or detach holding the
 * buffer's resv, and the final put (release) runs unlocked; map, unmap, pin and unpin always run
 * with the resv held. Rests on §b.1 and §c.5.
 */
import type { TraceEvent } from "../fabric/trace.js";
import { firstViolation, strField, violationAt } from "./export-support.js";
import { LockTracker } from "./lock-tracker.js";
import type { Monitor } from "./monitor.js";

/** Importer calls that need the resv held [§b.1]. */
const LOCKED = new Set(["map", "map.refused", "unmap", "pin", "pin.refused", "unpin"]);

/**
 * Creates the I13 monitor.
 *
 * Observes: `vfio/memory_lock.down_write` / `down_read` (holder), `dmabuf/resv.lock` /
 * `resv.unlock` (through {@link LockTracker}), `dmabuf/attach` and `dmabuf/detach` (with the
 * importer's holder name `importerId`), `dmabuf/release`, and the map/unmap/pin/unpin events.
 *
 * Flags: a holder taking a memory_lock while it holds any resv (chain: its resv lock, the
 * memory_lock); an attach or detach whose importer holds the buffer's resv, or a release while
 * anybody does (chain: the resv lock, the call); a map, unmap, pin or unpin (or their refusals)
 * with the buffer's resv free (chain: the last unlock of that resv, the call).
 */
export function createI13Monitor(): Monitor {
  const locks = new LockTracker();
  /** Buffer → its last `resv.unlock`, for the chain of a call made without the lock. */
  const unlocks = new Map<string, TraceEvent>();

  return firstViolation("I13", (event) => {
    const found = check(event);
    locks.observe(event);
    const buf = strField(event, "buf");
    if (buf !== undefined && event.layer === "dmabuf" && event.kind === "resv.unlock") unlocks.set(buf, event);
    return found;
  });

  function check(event: TraceEvent) {
    if (event.layer === "vfio" && (event.kind === "memory_lock.down_write" || event.kind === "memory_lock.down_read")) return checkMemoryLock(event);
    if (event.layer !== "dmabuf") return undefined;
    const buf = strField(event, "buf");
    if (buf === undefined) return undefined;
    const held = locks.resvHolder(buf);
    const importer = strField(event, "importer") ?? "?";
    if (event.kind === "attach" || event.kind === "detach") {
      if (held === undefined || held.holder !== strField(event, "importerId")) return undefined;
      const message = `${buf}: ${importer} calls ${event.kind} holding the buffer's resv (importers must not) [kernel.md §b.1]`;
      return violationAt("I13", event, message, [held.event]);
    }
    if (event.kind === "release") {
      if (held === undefined) return undefined;
      return violationAt("I13", event, `${buf}: released (final dma_buf_put) while ${held.holder} holds its resv [kernel.md §b.1]`, [held.event]);
    }
    if (LOCKED.has(event.kind) && held === undefined) {
      const message = `${buf}: ${importer} calls ${event.kind} without the buffer's resv held [kernel.md §b.1]`;
      return violationAt("I13", event, message, [unlocks.get(buf)]);
    }
    return undefined;
  }

  function checkMemoryLock(event: TraceEvent) {
    const holder = strField(event, "holder");
    if (holder === undefined) return undefined;
    for (const [buf, lock] of locks.resvHeldBy(holder)) {
      const device = strField(event, "device") ?? "?";
      const message = `${holder} takes memory_lock of ${device} while holding the resv of ${buf}: the order is memory_lock → resv [kernel.md §c.5]`;
      return violationAt("I13", event, message, [lock]);
    }
    return undefined;
  }
}
