/**
 * I2 [kernel.md §f I2]: revoke precedes the hardware change: no reset, MEM clear or D3 transition
 * of a device starts while one of its exports is not revoked. Rests on §c.4: every trigger takes
 * memory_lock for write and revokes every export before it changes the hardware (E28 is the bug of
 * a trigger that forgot to).
 */
import type { TraceEvent } from "../fabric/trace.js";
import { boolField, firstViolation, strField, violationAt } from "./export-support.js";
import type { Monitor } from "./monitor.js";
import { ExportTable } from "./revoke-exports.js";

/** Power states at which memory is disabled: D3hot and deeper [§c.4 `__vfio_pci_memory_enabled`]. */
const MEMORY_OFF_STATES = new Set(["D3hot", "D3cold"]);

/**
 * Creates the I2 monitor.
 *
 * Observes: the exports' revoked state ({@link ExportTable}: `vfio/export`, `dmabuf/revoke.marked`,
 * `vfio/restore`, `vfio/cleanup`, unlink and release), `vfio/memory_lock.down_write` (who started
 * the change), and the hardware changes: `vfio/reset.begin` (FLR or bus reset of a function),
 * `vfio/command.write` with `memory: false`, `vfio/power.set` to D3hot or D3cold.
 *
 * Flags: a hardware change of a device while one of its linked exports is not revoked. Chain: the
 * export, the event that last made it usable (the export or a restore), the lock the trigger took,
 * the change.
 */
export function createI2Monitor(): Monitor {
  const exports = new ExportTable();
  /** Device → the `memory_lock.down_write` of its current writer. */
  const writers = new Map<string, TraceEvent>();

  return firstViolation("I2", (event) => {
    const found = event.layer === "vfio" ? check(event) : undefined;
    exports.observe(event);
    return found;
  });

  function check(event: TraceEvent) {
    const device = strField(event, "device");
    if (device === undefined) return undefined;
    switch (event.kind) {
      case "memory_lock.down_write":
        writers.set(device, event);
        return undefined;
      case "memory_lock.up_write":
        writers.delete(device);
        return undefined;
      case "reset.begin":
        return checkChange(event, device, `the ${String(event.method)} reset`);
      case "command.write":
        return boolField(event, "memory") === false ? checkChange(event, device, "the MEM clear") : undefined;
      case "power.set": {
        const state = strField(event, "state") ?? "";
        return MEMORY_OFF_STATES.has(state) ? checkChange(event, device, `the transition to ${state}`) : undefined;
      }
      default:
        return undefined;
    }
  }

  function checkChange(event: TraceEvent, device: string, change: string) {
    for (const state of exports.ofDevice(device)) {
      if (!state.linked || state.revoked) continue;
      const message = `${device} ${state.buf}: ${change} started while the export was not revoked (revoke must come first, under memory_lock) [kernel.md §c.4]`;
      return violationAt("I2", event, message, [state.exported, state.stateBy, writers.get(device)]);
    }
    return undefined;
  }
}
