/**
 * I7 [kernel.md §f I7]: a new VFIO export's `revoked` state equals "device memory disabled" at the
 * moment it is inserted into the device's list, and the insertion happens under the device's
 * memory_lock (write) [§c.3]. E7 computed the state before taking the lock, so an export racing a
 * MEM clear stayed usable.
 */
import type { TraceEvent } from "../fabric/trace.js";
import { boolField, firstViolation, strField, violationAt } from "./export-support.js";
import { LockTracker } from "./lock-tracker.js";
import type { Monitor } from "./monitor.js";

/** Kinds that change (or may change) a device's memory-enabled state [§c.4]. */
const MEMORY_CHANGES = new Set(["open", "command.write", "power.set", "reset.begin", "reset.end", "low-power.entry", "low-power.exit"]);

/**
 * Creates the I7 monitor.
 *
 * Observes: memory_lock and resv events (through {@link LockTracker}); a new VFIO export's first
 * resv section (the link, between `dmabuf/export` and `vfio/export`); the device's memory-state
 * events (`vfio/command.write`, `power.set`, `reset.*`, `low-power.*`, `open`), kept for the chain;
 * `vfio/export` with `revoked` and `memoryEnabled` (the state the model read at insertion).
 *
 * Flags at `vfio/export`: the link's resv section did not run under the device's memory_lock
 * held for write by the same context, or `revoked` differs from `!memoryEnabled`. Chain: the last
 * memory-state change of the device, the linker's memory_lock and resv acquisitions, the export.
 */
export function createI7Monitor(): Monitor {
  const locks = new LockTracker();
  /** VFIO buffers exported, waiting for their link section. */
  const linking = new Set<string>();
  /** Buffer → the link's resv lock event and the linker's memory_lock event (if it held it). */
  const links = new Map<string, { readonly resv: TraceEvent; readonly memoryLock: TraceEvent | undefined }>();
  /** Device → its latest memory-state event. */
  const lastChange = new Map<string, TraceEvent>();

  return firstViolation("I7", (event) => {
    const found = check(event);
    locks.observe(event);
    // The tracker learns a new export's device from `dmabuf/export` itself, so this follows observe.
    const buf = strField(event, "buf");
    if (buf !== undefined && event.layer === "dmabuf" && event.kind === "export" && locks.deviceOf(buf) !== undefined) linking.add(buf);
    return found;
  });

  function check(event: TraceEvent) {
    const buf = strField(event, "buf");
    const device = strField(event, "device");
    if (event.layer === "vfio" && device !== undefined && MEMORY_CHANGES.has(event.kind)) lastChange.set(device, event);
    if (buf === undefined) return undefined;
    if (event.layer === "dmabuf" && event.kind === "resv.lock" && linking.delete(buf)) {
      const linker = locks.deviceOf(buf);
      const writer = linker === undefined ? undefined : locks.memoryWriter(linker);
      links.set(buf, { resv: event, memoryLock: writer?.holder === strField(event, "holder") ? writer?.event : undefined });
      return undefined;
    }
    if (event.layer === "vfio" && event.kind === "export" && device !== undefined) return checkExport(event, buf, device);
    return undefined;
  }

  function checkExport(event: TraceEvent, buf: string, device: string) {
    const link = links.get(buf);
    links.delete(buf);
    const change = lastChange.get(device);
    if (link === undefined || link.memoryLock === undefined) {
      const how = link === undefined ? "without a resv section" : `under the resv held by ${String(link.resv.holder)} without memory_lock of ${device}`;
      return violationAt("I7", event, `${device} ${buf} was inserted into the export list ${how} [kernel.md §c.3, §c.5]`, [change, link?.resv]);
    }
    const revoked = boolField(event, "revoked");
    const enabled = boolField(event, "memoryEnabled");
    if (revoked === undefined || enabled === undefined || revoked === !enabled) return undefined;
    const state = enabled ? "enabled" : "disabled";
    const message = `${device} ${buf} was inserted with revoked=${revoked} while ${device}'s memory was ${state}: its initial state must be revoked=${!enabled} (E7) [kernel.md §c.3]`;
    return violationAt("I7", event, message, [change, link.memoryLock, link.resv]);
  }
}
