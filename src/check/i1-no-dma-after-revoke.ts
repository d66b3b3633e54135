/**
 * I1 [kernel.md §f I1]: after the exporter's revoke of a dma-buf returns, no importer-issued TLP
 * targets any range of it, and none is in flight. Rests on the revoke contract (§b.3: the exporter
 * waits for every fence and every unmap before it returns) and VFIO's wait on its kref and
 * completion (§c.4); `vfio-dmabuf-initial` returns at once (E12), and an importer whose callback
 * returns before its device drained breaks it too.
 */
import type { TraceEvent } from "../fabric/trace.js";
import { firstViolation, numField, strField, violationAt } from "./export-support.js";
import type { Monitor } from "./monitor.js";
import { type ExportState, ExportTable, overlapsRanges } from "./revoke-exports.js";

/** A revoke that returned: from then on, until a restore, the export's ranges are off limits. */
interface Returned {
  readonly event: TraceEvent;
  readonly export: ExportState;
}

/**
 * Creates the I1 monitor.
 *
 * Observes: `vfio/export` (device, BAR, ranges as BAR offsets), `vfio/revoke.done` (the revoke
 * returned), `vfio/cleanup` and the device's next `vfio/registration.put` (close's permanent revoke
 * returned, its drain done), `vfio/restore` (usable again), and `pci/tlp` MWr and MRd whose
 * requester is not `cpu`, with their `target` BAR, `barOffset`, `bytes` and `atPs` (when the TLP
 * is really at the BAR).
 *
 * Flags: (a) a TLP that reaches a range of a returned-revoked export after the revoke returned
 * (`atPs` later than the return), and (b) a revoke that returns while a TLP already seen on the
 * bus will reach its ranges only later (in flight). A TLP that also falls in a usable export of
 * the same BAR is legitimate and not flagged. Chain: the export, the requester's latest post and
 * WQE fetch before the TLP (the work requests it came from), the revoke, the TLP and the return,
 * in trace order.
 */
export function createI1Monitor(): Monitor {
  const exports = new ExportTable();
  /** Buffer → its revoke that returned, until a restore. */
  const returned = new Map<string, Returned>();
  /** Buffer → the TLP seen so far that reaches its ranges last. */
  const latest = new Map<string, TraceEvent>();
  /** Device → cleanups whose drain has not finished yet, in order. */
  const cleanups = new Map<string, ExportState[]>();
  /** Requester (`nic0`) → its latest WQE fetch and posts: which work requests the TLP came from. */
  const lastFetch = new Map<string, TraceEvent>();
  const lastPost = new Map<string, TraceEvent>();

  return firstViolation("I1", (event) => {
    const found = check(event);
    exports.observe(event);
    return found;
  });

  function check(event: TraceEvent) {
    if (event.layer === "pci") return event.kind === "tlp" ? checkTlp(event) : undefined;
    if (event.layer === "rdma" && (event.kind === "wqe.fetch" || event.kind === "post.send")) {
      // QP names start with their NIC's label, the requester a `pci/tlp` names.
      const nic = strField(event, "qp")?.split("/")[0];
      if (nic !== undefined) (event.kind === "wqe.fetch" ? lastFetch : lastPost).set(nic, event);
      return undefined;
    }
    if (event.layer !== "vfio") return undefined;
    const buf = strField(event, "buf");
    const state = buf === undefined ? undefined : exports.get(buf);
    switch (event.kind) {
      case "revoke.done":
        return state === undefined ? undefined : revokeReturned(state, event);
      case "restore":
        if (buf !== undefined) returned.delete(buf);
        return undefined;
      case "cleanup": {
        const device = strField(event, "device");
        if (state !== undefined && device !== undefined) queueOf(cleanups, device).push(state);
        return undefined;
      }
      case "registration.put": {
        const device = strField(event, "device");
        const done = device === undefined ? undefined : cleanups.get(device)?.shift();
        return done === undefined ? undefined : revokeReturned(done, event);
      }
      default:
        return undefined;
    }
  }

  function revokeReturned(state: ExportState, event: TraceEvent) {
    returned.set(state.buf, { event, export: state });
    const tlp = latest.get(state.buf);
    const atPs = tlp === undefined ? undefined : numField(tlp, "atPs");
    if (tlp === undefined || atPs === undefined || atPs <= event.t || coveredByUsable(tlp, state)) return undefined;
    const message = `${state.device} ${state.buf}: the revoke returned at ${event.t} ps with ${describe(tlp)} still in flight (it reaches the BAR at ${atPs} ps) [kernel.md §b.3, §c.4]`;
    const requester = strField(tlp, "requester") ?? "";
    return violationAt("I1", event, message, [state.exported, lastPost.get(requester), lastFetch.get(requester), state.lastRevoke, tlp]);
  }

  function checkTlp(event: TraceEvent) {
    const kind = strField(event, "tlp");
    if ((kind !== "MWr" && kind !== "MRd") || strField(event, "requester") === "cpu") return undefined;
    const target = strField(event, "target");
    const offset = numField(event, "barOffset");
    const atPs = numField(event, "atPs") ?? event.t;
    if (target === undefined || offset === undefined) return undefined;
    const bytes = numField(event, "bytes") ?? 1;
    for (const state of exports.ofTarget(target)) {
      if (!overlapsRanges(state.ranges, offset, bytes)) continue;
      const before = latest.get(state.buf);
      if (before === undefined || (numField(before, "atPs") ?? before.t) < atPs) latest.set(state.buf, event);
      const done = returned.get(state.buf);
      if (done === undefined || atPs <= done.event.t || coveredByUsable(event, state)) continue;
      const message = `${state.device} ${state.buf}: ${describe(event)} reaches the BAR at ${atPs} ps, after the revoke returned at ${done.event.t} ps [kernel.md §b.3, §c.4]`;
      const requester = strField(event, "requester") ?? "";
      return violationAt("I1", event, message, [state.exported, lastPost.get(requester), lastFetch.get(requester), state.lastRevoke, done.event]);
    }
    return undefined;
  }

  /** Whether the TLP also falls in a usable export of the same BAR (then it is that export's access). */
  function coveredByUsable(tlp: TraceEvent, revoked: ExportState): boolean {
    const offset = numField(tlp, "barOffset") ?? 0;
    const bytes = numField(tlp, "bytes") ?? 1;
    for (const other of exports.ofTarget(revoked.target)) {
      if (other !== revoked && !other.revoked && overlapsRanges(other.ranges, offset, bytes)) return true;
    }
    return false;
  }
}

/** `nic0 MWr of 256 B at BAR offset 0x4000`. */
function describe(tlp: TraceEvent): string {
  const offset = numField(tlp, "barOffset") ?? 0;
  return `${String(tlp.requester)} ${String(tlp.tlp)} of ${String(tlp.bytes)} B at BAR offset 0x${offset.toString(16)}`;
}

function queueOf(map: Map<string, ExportState[]>, key: string): ExportState[] {
  let queue = map.get(key);
  if (queue === undefined) {
    queue = [];
    map.set(key, queue);
  }
  return queue;
}
