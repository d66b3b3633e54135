/**
 * I8 [kernel.md §f I8]: each successful VFIO export takes one device registration reference, which
 * is dropped exactly once, either at dma-buf release or at device close (whichever unlinks the
 * export first), and the private object is freed exactly once [§c.3]. E10: a `dma_buf_fd` failure
 * fell through the whole unwind after the release had already undone it (double put, double free).
 */
import type { TraceEvent } from "../fabric/trace.js";
import { firstViolation, numField, strField, violationAt } from "./export-support.js";
import type { Monitor } from "./monitor.js";

/**
 * Creates the I8 monitor.
 *
 * Observes: `vfio/registration.get` (and the `dmabuf/export` that follows it in the same step,
 * which names the export), `vfio/release.unlink` and `vfio/cleanup` (each owes one
 * `registration.put` of its device), `vfio/registration.put`, `vfio/export`, `vfio/export.failed`,
 * `vfio/priv.free`.
 *
 * Flags: a `registration.put` that no unlink or cleanup of that device owes (a second put); an
 * export unlinked twice (release after close, or close twice); a `vfio/export` whose buffer took
 * no registration reference; a second `priv.free` of one buffer. Chain: the export's
 * `registration.get`, its failure if any, the unlink or cleanup and the put that settled it, the
 * breaking event.
 */
export function createI8Monitor(): Monitor {
  /** Device whose `registration.get` waits for its `dmabuf/export`. */
  let getting: TraceEvent | undefined;
  /** Buffer → the `registration.get` it took. */
  const gets = new Map<string, TraceEvent>();
  /** Buffer → its `export.failed` (step 12: the fd failed after the export). */
  const failures = new Map<string, TraceEvent>();
  /** Buffer → the unlink or cleanup that dropped it from its device, and the put that paid it. */
  const dropped = new Map<string, { readonly by: TraceEvent; put: TraceEvent | undefined }>();
  /** Device → unlinks/cleanups still owed a put, oldest first. */
  const owed = new Map<string, string[]>();
  /** Buffer → its first `priv.free`. */
  const frees = new Map<string, TraceEvent>();
  /** The buffer of the latest export attempt per device (for the step-12 failure). */
  const latest = new Map<string, string>();

  return firstViolation("I8", (event) => {
    if (event.layer === "dmabuf" && event.kind === "export") {
      const buf = strField(event, "buf");
      if (getting !== undefined && buf !== undefined) {
        gets.set(buf, getting);
        const device = strField(getting, "device");
        if (device !== undefined) latest.set(device, buf);
      }
      getting = undefined;
      return undefined;
    }
    if (event.layer !== "vfio") return undefined;
    return checkVfio(event);
  });

  function checkVfio(event: TraceEvent) {
    const device = strField(event, "device") ?? "?";
    const buf = strField(event, "buf");
    switch (event.kind) {
      case "registration.get":
        getting = event;
        return undefined;
      case "export.failed": {
        const last = latest.get(device);
        if (last !== undefined && numField(event, "step") === 12) failures.set(last, event);
        return undefined;
      }
      case "export":
        if (buf === undefined || gets.has(buf)) return undefined;
        return violationAt("I8", event, `${device} ${buf} was exported without taking a registration reference [kernel.md §c.3]`, []);
      case "release.unlink":
      case "cleanup":
        return buf === undefined ? undefined : onDrop(event, device, buf);
      case "registration.put":
        return onPut(event, device);
      case "priv.free":
        return buf === undefined ? undefined : onFree(event, buf);
      default:
        return undefined;
    }
  }

  function onDrop(event: TraceEvent, device: string, buf: string) {
    const before = dropped.get(buf);
    if (before !== undefined) {
      const message = `${device} ${buf} is dropped from its device twice (${before.by.kind}, then ${event.kind}): its registration reference would be put twice [kernel.md §c.3]`;
      return violationAt("I8", event, message, [gets.get(buf), before.by, before.put]);
    }
    dropped.set(buf, { by: event, put: undefined });
    const queue = owed.get(device) ?? [];
    queue.push(buf);
    owed.set(device, queue);
    return undefined;
  }

  function onPut(event: TraceEvent, device: string) {
    const buf = owed.get(device)?.shift();
    if (buf !== undefined) {
      const drop = dropped.get(buf);
      if (drop !== undefined) drop.put = event;
      return undefined;
    }
    // No unlink or cleanup owes this put: it is a second put for an export already settled.
    const last = latest.get(device);
    const settled = last === undefined ? undefined : dropped.get(last);
    const refs = numField(event, "refs");
    const which = last === undefined ? "" : ` (the last export, ${last}, was already put at its ${settled?.by.kind ?? "release"})`;
    const message = `${device}: registration put with no export left to release${which}; refs ${refs ?? "?"}: an unbalanced put (E10) [kernel.md §c.3]`;
    return violationAt("I8", event, message, last === undefined ? [] : [gets.get(last), failures.get(last), settled?.by, settled?.put]);
  }

  function onFree(event: TraceEvent, buf: string) {
    const first = frees.get(buf);
    if (first === undefined && (numField(event, "frees") ?? 1) <= 1) {
      frees.set(buf, event);
      return undefined;
    }
    const message = `${buf}: private object freed a second time (double free, E10) [kernel.md §c.3]`;
    return violationAt("I8", event, message, [gets.get(buf), failures.get(buf), first]);
  }
}
