/**
 * L2 [kernel.md §f L2]: close of a VFIO device fd always completes, whatever the exports' revoke
 * state before it (revoke is idempotent). Rests on §c.4's last row (close's cleanup drains only an
 * export that no earlier revoke drained); E13 drained again, underflowed the kref and waited
 * forever on a completion already consumed.
 */

import { ms } from "../fabric/time.js";
import type { TraceEvent } from "../fabric/trace.js";
import { strField } from "./export-support.js";
import type { Monitor } from "./monitor.js";
import { Obligations, obligationMonitor } from "./revoke-obligations.js";

/** Options of {@link createL2Monitor}. */
export interface L2Options {
  /** The bound on a close, in simulated ps. Default 10 ms, as L1's: a close is one revoke per export at most. */
  readonly boundPs?: number;
}

/**
 * Creates the L2 monitor.
 *
 * Observes: `vfio/close.begin` → `vfio/close.done` per device; on its chain, each export's latest
 * `vfio/revoke.done` before the close (the earlier drain that makes a second one wrong), and the
 * close's `vfio/cleanup`, `vfio/kref.underflow` and `vfio/registration.put` events.
 *
 * Flags: a close still open `boundPs` after it began, and at {@link Monitor.end} any close still
 * open. Chain: the earlier revokes of the exports it cleans up, the close and its cleanup steps.
 */
export function createL2Monitor(options: L2Options = {}): Monitor {
  const open = new Obligations("L2", options.boundPs ?? ms(10));
  /** Buffer → its latest `vfio/revoke.done`. */
  const drained = new Map<string, TraceEvent>();
  /** Buffer → the device whose close is cleaning it up (`kref.underflow` names the buffer only). */
  const cleaning = new Map<string, string>();
  return obligationMonitor("L2", open, check);

  function check(event: TraceEvent) {
    if (event.layer !== "vfio") return undefined;
    const device = strField(event, "device");
    const buf = strField(event, "buf");
    switch (event.kind) {
      case "revoke.done":
        if (buf !== undefined) drained.set(buf, event);
        return undefined;
      case "restore":
        if (buf !== undefined) drained.delete(buf);
        return undefined;
      case "close.begin":
        if (device !== undefined) open.openAt(device, `${device}: the close of the device fd`, event);
        return undefined;
      case "close.done":
        for (const [cleaned, closer] of cleaning) if (closer === device) cleaning.delete(cleaned);
        return device === undefined ? undefined : open.discharge(device, event);
      case "cleanup": {
        if (device === undefined || buf === undefined || !open.has(device)) return undefined;
        cleaning.set(buf, device);
        const before = buf === undefined ? undefined : drained.get(buf);
        if (before !== undefined) open.note(device, before);
        open.note(device, event);
        return undefined;
      }
      case "kref.underflow": {
        const closing = buf === undefined ? undefined : cleaning.get(buf);
        if (closing !== undefined) open.note(closing, event);
        return undefined;
      }
      case "registration.put":
        if (device !== undefined) open.note(device, event);
        return undefined;
      default:
        return undefined;
    }
  }
}
