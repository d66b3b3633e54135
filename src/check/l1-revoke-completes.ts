/**
 * L1 [kernel.md §f L1]: every revoke completes in bounded simulated time: each attached importer
 * unmaps within a bound after the invalidate, and every fence signals. Rests on §b.3 (the
 * exporter's waits are unbounded, so only revocable importers that unmap promptly may attach);
 * broken by a driver that ignores the invalidate and by close's second drain (E13).
 */

import { ms } from "../fabric/time.js";
import type { TraceEvent } from "../fabric/trace.js";
import { strField } from "./export-support.js";
import type { Monitor } from "./monitor.js";
import { Obligations, obligationMonitor } from "./revoke-obligations.js";

/** Options of {@link createL1Monitor}. */
export interface L1Options {
  /**
   * The bound, in simulated ps. Default 10 ms: kernel.md gives no figure ("bounded time", §b.3);
   * the drains of the bundled worlds take microseconds, a PCIe completion timeout at most 50 ms
   * of which no revoke waits for more than a few in flight.
   */
  readonly boundPs?: number;
}

/** Kinds that tell how a revoke or cleanup went, kept on its chain. */
const STORY = new Set(["dmabuf/revoke.marked", "dmabuf/invalidate", "dmabuf/revoke.fences-signaled", "dmabuf/unmap", "vfio/kref.underflow"]);

/**
 * Creates the L1 monitor.
 *
 * Observes: `vfio/revoke` → `vfio/revoke.done` (one export's revoke under memory_lock, drain of its
 * kref included), `dmabuf/revoke.begin` → `dmabuf/revoke.done` (the §b.3 sequence, any exporter),
 * `vfio/cleanup` → the device's next `vfio/registration.put` (close's permanent revoke, dropped
 * only after its drain); and on each chain the buffer's `revoke.marked`, `invalidate`,
 * `revoke.fences-signaled`, `unmap`, `kref.underflow`.
 *
 * Flags: a revoke still open `boundPs` after it began (noticed at the first event past the
 * deadline, or at its late completion), and at {@link Monitor.end} any revoke still open. The
 * message names the buffer; the chain is the revoke's own events, oldest first.
 */
export function createL1Monitor(options: L1Options = {}): Monitor {
  const open = new Obligations("L1", options.boundPs ?? ms(10));
  /** Device → buffers whose cleanup has not dropped its registration yet, in order. */
  const cleanups = new Map<string, string[]>();
  return obligationMonitor("L1", open, check);

  function check(event: TraceEvent) {
    const kind = `${event.layer}/${event.kind}`;
    const buf = strField(event, "buf");
    const device = strField(event, "device");
    switch (kind) {
      case "vfio/revoke":
        if (buf !== undefined) open.openAt(`vfio:${buf}`, `${device ?? "?"} ${buf}: the revoke`, event);
        return undefined;
      case "vfio/revoke.done":
        return buf === undefined ? undefined : open.discharge(`vfio:${buf}`, event);
      case "dmabuf/revoke.begin":
        open.note(`vfio:${buf}`, event);
        if (buf !== undefined) open.openAt(`dmabuf:${buf}`, `${buf}: the dma-buf revoke`, event);
        return undefined;
      case "dmabuf/revoke.done":
        open.note(`vfio:${buf}`, event);
        return buf === undefined ? undefined : open.discharge(`dmabuf:${buf}`, event);
      case "vfio/cleanup":
        if (buf === undefined || device === undefined) return undefined;
        open.openAt(`cleanup:${buf}`, `${device} ${buf}: close's revoke (cleanup)`, event);
        queueOf(cleanups, device).push(buf);
        return undefined;
      case "vfio/registration.put": {
        const done = device === undefined ? undefined : cleanups.get(device)?.shift();
        return done === undefined ? undefined : open.discharge(`cleanup:${done}`, event);
      }
      default:
        if (buf !== undefined && STORY.has(kind)) {
          for (const key of [`vfio:${buf}`, `dmabuf:${buf}`, `cleanup:${buf}`]) open.note(key, event);
        }
        return undefined;
    }
  }
}

function queueOf(map: Map<string, string[]>, key: string): string[] {
  let queue = map.get(key);
  if (queue === undefined) {
    queue = [];
    map.set(key, queue);
  }
  return queue;
}
