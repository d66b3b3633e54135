/**
 * I6 [kernel.md §f I6]: every write of a VFIO export's `revoked` flag happens with the device's
 * memory_lock held for write and that dma-buf's resv held (by the same context); every read holds
 * at least one of them. Rests on §c.3 (initial state under both), §c.4 (revoke, restore, cleanup
 * under memory_lock, the flag under resv) and §c.5.
 *
 * The flag has no event of its own, so each write is located by the event the model emits at it:
 * - link: the first resv section of a new VFIO export (between `dmabuf/export` and `vfio/export`);
 * - revoke: `dmabuf/revoke.marked`, emitted right after the write, resv still held;
 * - restore: the buffer's last resv section before `vfio/restore`, which follows it at once;
 * - close: the closer's first resv section of the buffer after `vfio/cleanup`.
 * The read that decides anything is the map op's (`dmabuf/map`, `dmabuf/map.refused` on a VFIO
 * export). The attach op's lockless early-out is the kernel's too (map re-checks under resv), so it
 * is not counted.
 */
import type { TraceEvent } from "../fabric/trace.js";
import { firstViolation, strField, violationAt } from "./export-support.js";
import { LockTracker } from "./lock-tracker.js";
import type { Monitor } from "./monitor.js";

/** One resv section of a VFIO export: who locked it and whether that holder had memory_lock for write. */
interface Section {
  readonly lock: TraceEvent;
  readonly holder: string;
  /** The holder's `memory_lock.down_write` of the device, when it held it at the lock. */
  readonly memoryLock: TraceEvent | undefined;
}

/**
 * Creates the I6 monitor.
 *
 * Observes: memory_lock and resv events (through {@link LockTracker}), `dmabuf/export`,
 * `dmabuf/revoke.marked`, `vfio/restore`, `vfio/cleanup`, `vfio/export`, `dmabuf/map`,
 * `dmabuf/map.refused`.
 *
 * Flags: a write (located as in the module comment) whose context does not hold both the device's
 * memory_lock for write and the buffer's resv, and a map-op read holding neither. Chain: the
 * memory_lock and resv acquisitions in force, the trigger event (cleanup), the breaking event.
 */
export function createI6Monitor(): Monitor {
  const locks = new LockTracker();
  /** VFIO buffers exported but not yet linked (their first resv section is the link's write). */
  const linking = new Set<string>();
  /** Buffer → its cleanup, until the closer's resv section that writes the flag. */
  const cleanups = new Map<string, TraceEvent>();
  /** Buffer → its latest resv section. */
  const sections = new Map<string, Section>();

  return firstViolation("I6", (event) => {
    const buf = strField(event, "buf");
    const found = buf === undefined ? undefined : check(event, buf);
    locks.observe(event);
    if (buf !== undefined && event.layer === "dmabuf" && event.kind === "export" && locks.deviceOf(buf) !== undefined) linking.add(buf);
    return found;
  });

  function check(event: TraceEvent, buf: string) {
    const device = locks.deviceOf(buf);
    if (device === undefined) return undefined;
    const kind = `${event.layer}/${event.kind}`;
    switch (kind) {
      case "dmabuf/resv.lock":
        return onResvLock(event, buf, device);
      case "dmabuf/revoke.marked": {
        const held = locks.resvHolder(buf);
        const section = held === undefined ? undefined : sectionOf(held.event, held.holder, device);
        return checkWrite(event, buf, device, "revoke sets revoked", section, []);
      }
      case "vfio/restore":
        return checkWrite(event, buf, device, "restore clears revoked", sections.get(buf), [], true);
      case "vfio/cleanup":
        cleanups.set(buf, event);
        return undefined;
      case "dmabuf/map":
      case "dmabuf/map.refused":
        if (locks.resvHolder(buf) !== undefined || locks.memoryHeld(device)) return undefined;
        return violationAt("I6", event, `${device} ${buf}: the map op reads revoked holding neither the resv nor memory_lock [kernel.md §c.3, §c.5]`, []);
      default:
        return undefined;
    }
  }

  function onResvLock(event: TraceEvent, buf: string, device: string) {
    const holder = strField(event, "holder") ?? "?";
    const section = sectionOf(event, holder, device);
    sections.set(buf, section);
    if (linking.delete(buf)) return checkWrite(event, buf, device, "the link writes the initial revoked", section, []);
    const cleanup = cleanups.get(buf);
    if (cleanup === undefined) return undefined;
    cleanups.delete(buf);
    return checkWrite(event, buf, device, "close marks revoked for good", section, [cleanup]);
  }

  function sectionOf(lock: TraceEvent, holder: string, device: string): Section {
    const writer = locks.memoryWriter(device);
    return { lock, holder, memoryLock: writer?.holder === holder ? writer.event : undefined };
  }

  /**
   * The write located at `event` ran in `section`: it needs a section (resv held) whose holder had
   * memory_lock for write; with `stillHeld`, the holder must also hold memory_lock now (the
   * restore's event follows its section, inside the same memory_lock critical section).
   */
  function checkWrite(event: TraceEvent, buf: string, device: string, what: string, section: Section | undefined, causes: TraceEvent[], stillHeld = false) {
    const where = `${device} ${buf}: ${what}`;
    if (section === undefined) return violationAt("I6", event, `${where} without holding the resv [kernel.md §c.3, §c.5]`, causes);
    const writer = locks.memoryWriter(device);
    const held = section.memoryLock !== undefined && (!stillHeld || writer?.holder === section.holder);
    if (held) return undefined;
    const other = writer === undefined ? "nobody holds it" : `it is held by ${writer.holder}`;
    const message = `${where} under the resv held by ${section.holder}, which does not hold memory_lock of ${device} for write (${other}) [kernel.md §c.4, §c.5]`;
    return violationAt("I6", event, message, [writer?.event, ...causes, section.lock]);
  }
}
