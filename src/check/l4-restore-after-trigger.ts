/**
 * L4 [kernel.md §f L4]: every revoke caused by a reset, a MEM clear, D3 or low-power entry is
 * followed by a restore on every exit path if, and only if, memory is enabled afterwards and the
 * device is still open; close is the only permanent revoke. Rests on §c.4: each trigger restores
 * after the hardware change, under the same memory_lock hold, when `__vfio_pci_memory_enabled`;
 * the hot reset restores in its reverse unlock loop on success and error paths alike. E6 revoked
 * again after an FLR; E8 restored only after a successful bus reset.
 */
import type { TraceEvent } from "../fabric/trace.js";
import { boolField, firstViolation, strField, violationAt } from "./export-support.js";
import type { Monitor } from "./monitor.js";
import { ExportTable } from "./revoke-exports.js";

/** What the trace tells of one device's memory state (undefined: not known yet). */
interface Memory {
  /** The emulated command register's MEM bit. */
  vconfig: boolean | undefined;
  /** Power state D3hot or deeper. */
  low: boolean | undefined;
}

/** One write hold of a device's memory_lock, and the trigger events inside it. */
interface Hold {
  readonly down: TraceEvent;
  /** The hardware changes and refusals inside the hold (the last few), for chains. */
  readonly changes: TraceEvent[];
  trigger: boolean;
}

/** Kinds that make a hold a trigger's (revoke, restore, hardware change). */
const TRIGGER_KINDS = new Set(["revoke", "restore", "command.write", "power.set", "reset.begin", "reset.end", "low-power.entry", "low-power.exit"]);
/** Kinds kept on a hold's chain. */
const CHANGE_KINDS = new Set(["command.write", "power.set", "reset.begin", "reset.end", "low-power.entry", "low-power.exit"]);
const CHANGES_MAX = 4;
const LOW_STATES = new Set(["D3hot", "D3cold"]);

/**
 * Creates the L4 monitor.
 *
 * Observes: the exports' revoked state ({@link ExportTable}); each device's memory state from
 * `vfio/export` (`memoryEnabled`), `vfio/command.write` (the MEM bit), `vfio/power.set`,
 * `vfio/reset.begin` (a reset brings the function to D0), `vfio/open` / `vfio/close.done` (the
 * emulated config comes and goes); the write holds of memory_lock (`vfio/memory_lock.down_write`
 * → `up_write`) and the trigger events inside them; `vfio/hot-reset.begin` / `hot-reset.done`
 * (whose devices go to D0 unless the locking failed, EBUSY, without an event of their own; the
 * checks of their holds wait for `hot-reset.done`).
 *
 * Flags, at the end of a trigger's hold (an exit path) on a device whose memory state is known: an
 * export still linked (the device is open) that is revoked although memory is enabled (no restore
 * on this path), or not revoked although memory is disabled (a restore without memory, or a
 * disable without revoke). Holds without a trigger event (an export, a release, a close) are not
 * checked. Chain: the export, its revoke, the state change that left it so, the hold's hardware
 * changes, the unlock.
 */
export function createL4Monitor(): Monitor {
  const exports = new ExportTable();
  const memory = new Map<string, Memory>();
  const holds = new Map<string, Hold>();
  /** Devices inside a hot reset → the holds that ended before `hot-reset.done`, with their unlock. */
  const hotReset = new Map<string, Array<{ hold: Hold; up: TraceEvent }>>();

  return firstViolation("L4", (event) => {
    const found = event.layer === "vfio" ? check(event) : undefined;
    exports.observe(event);
    return found;
  });

  function memoryOf(device: string): Memory {
    let state = memory.get(device);
    if (state === undefined) {
      state = { vconfig: undefined, low: undefined };
      memory.set(device, state);
    }
    return state;
  }

  function check(event: TraceEvent) {
    if (event.kind === "hot-reset.begin" || event.kind === "hot-reset.done") return hotResetEvent(event);
    const device = strField(event, "device");
    if (device === undefined) return undefined;
    const hold = holds.get(device);
    if (hold !== undefined && TRIGGER_KINDS.has(event.kind)) {
      hold.trigger = true;
      if (CHANGE_KINDS.has(event.kind)) {
        if (hold.changes.length >= CHANGES_MAX) hold.changes.shift();
        hold.changes.push(event);
      }
    }
    updateMemory(event, device);
    if (event.kind === "memory_lock.down_write") holds.set(device, { down: event, changes: [], trigger: false });
    if (event.kind !== "memory_lock.up_write" || hold === undefined) return undefined;
    holds.delete(device);
    if (!hold.trigger) return undefined;
    const deferred = hotReset.get(device);
    if (deferred !== undefined) {
      deferred.push({ hold, up: event });
      return undefined;
    }
    return checkExit(device, hold, event);
  }

  function updateMemory(event: TraceEvent, device: string): void {
    const state = memoryOf(device);
    switch (event.kind) {
      case "open":
      case "close.done":
        state.vconfig = undefined;
        return;
      case "export": {
        const enabled = boolField(event, "memoryEnabled");
        if (enabled === true) {
          state.vconfig = true;
          state.low = false;
        } else if (enabled === false) {
          if (state.vconfig === true) state.low = true;
          else if (state.low === false) state.vconfig = false;
        }
        return;
      }
      case "command.write":
        state.vconfig = boolField(event, "memory");
        return;
      case "power.set":
        state.low = LOW_STATES.has(strField(event, "state") ?? "");
        return;
      case "reset.begin":
        state.low = false;
        return;
      default:
        return;
    }
  }

  function hotResetEvent(event: TraceEvent) {
    const devices = Array.isArray(event.devices) ? (event.devices as readonly unknown[]).filter((d): d is string => typeof d === "string") : [];
    if (event.kind === "hot-reset.begin") {
      for (const device of devices) hotReset.set(device, []);
      return undefined;
    }
    // Without contention every device of the set was brought to D0 before the bus reset.
    const toD0 = strField(event, "errno") !== "EBUSY";
    let found: ReturnType<typeof checkExit>;
    for (const device of devices) {
      if (toD0) memoryOf(device).low = false;
      const deferred = hotReset.get(device) ?? [];
      hotReset.delete(device);
      for (const { hold, up } of deferred) found ??= checkExit(device, hold, up);
    }
    return found;
  }

  function checkExit(device: string, hold: Hold, up: TraceEvent) {
    const state = memoryOf(device);
    if (state.vconfig === undefined || state.low === undefined) return undefined;
    const enabled = state.vconfig && !state.low;
    for (const exported of exports.ofDevice(device)) {
      if (!exported.linked || exported.permanent || exported.revoked !== enabled) continue;
      const causes = [exported.exported, exported.lastRevoke, exported.stateBy, hold.down, ...hold.changes];
      const message = enabled
        ? `${device} ${exported.buf}: left revoked when memory_lock was released although memory is enabled and the device is open (no restore on this exit path) [kernel.md §c.4]`
        : `${device} ${exported.buf}: usable when memory_lock was released although memory is disabled (restored without memory, or never revoked) [kernel.md §c.4]`;
      return violationAt("L4", up, message, causes);
    }
    return undefined;
  }
}
