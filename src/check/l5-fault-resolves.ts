/**
 * L5 [kernel.md §f L5, §d.2, §d.7]: every device page fault on a zapped dma-buf MR either re-maps
 * or fails the access with an error completion or asynchronous event; it never stalls.
 *
 * Observes the NIC's fault processes (`fabric/process.spawn` / `process.exit` of a process named
 * `<mr>/fault`), `rdma/mr.fault.failed` (the fault could not re-map) and the error outcomes
 * `rdma/wqe.failed`, `rdma/qp.error`, `rdma/async.event` and `rdma/responder.nak`.
 *
 * Flags at {@link Monitor.end}: a fault process that never exited (stalled, e.g. on a resv or a
 * drain that never comes), and a failed fault after which no error outcome at all was traced. The
 * error is not matched to the faulting QP (the fault names only its MR, and a responder's failure
 * completes on the requester's QP, possibly on another NIC), so any later error outcome discharges
 * a failed fault: the check is sound (it never flags a fault whose failure was reported) but weak.
 */
import type { TraceEvent } from "../fabric/trace.js";
import type { Monitor } from "./monitor.js";
import { chainOf } from "./rdma-objects.js";

/**
 * A responder's NAK fails the access too: its requester completes in error, or had already
 * flushed the WR when its own QP went to ERR first (a CQ revoked in the same reset, say).
 */
const ERROR_OUTCOMES = new Set(["wqe.failed", "qp.error", "async.event", "responder.nak"]);

/** Creates a fresh L5 monitor. */
export function createL5Monitor(): Monitor {
  /** Fault processes running: pid → spawn. */
  const running = new Map<number, TraceEvent>();
  /** Failed faults not yet followed by an error outcome, with their spawn. */
  const unreported: Array<{ failed: TraceEvent; spawn: TraceEvent | undefined }> = [];
  const spawnOf = new Map<string, TraceEvent>();
  return {
    id: "L5",
    observe(e) {
      if (e.layer === "fabric") {
        if (e.kind === "process.spawn" && String(e.process).endsWith("/fault")) {
          running.set(Number(e.pid), e);
          spawnOf.set(String(e.process).slice(0, -"/fault".length), e);
        } else if (e.kind === "process.exit") running.delete(Number(e.pid));
        return undefined;
      }
      if (e.layer !== "rdma") return undefined;
      if (e.kind === "mr.fault.failed") unreported.push({ failed: e, spawn: spawnOf.get(String(e.mr)) });
      else if (ERROR_OUTCOMES.has(e.kind)) unreported.length = 0;
      return undefined;
    },
    end(nowPs) {
      for (const spawn of running.values()) {
        const message = `${String(spawn.process)} (page fault since ${spawn.t} ps) never re-mapped nor failed the access: stalled`;
        return { invariant: "L5", timePs: nowPs, message, event: undefined, chain: [spawn] };
      }
      const first = unreported[0];
      if (first === undefined) return undefined;
      const message = `${String(first.failed.mr)}'s page fault failed (${String(first.failed.errno)}) at ${first.failed.t} ps, and no error completion or async event followed`;
      return { invariant: "L5", timePs: nowPs, message, event: undefined, chain: chainOf(first.spawn, first.failed) };
    },
  };
}
