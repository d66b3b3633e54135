/**
 * L6 [kernel.md §f L6, §d.7]: a CQ whose buffer becomes inaccessible yields a CQ-error async event
 * (at least one) and no further successful completion.
 *
 * "Inaccessible" is what the trace shows of the CQ's current buffer umem while the CQ exists: its
 * `rdma/umem.unmap`, `umem.revoke` or `umem.release` (a release by `cq.resize`'s replace, of the
 * buffer being swapped out, does not count). A UR or IOMMU fault on a CQE write is not a trigger:
 * the memory may come back (a restore), and a posted write's refusal is not reported to the NIC.
 *
 * Observes those umem events, `rdma/cq.create` / `cq.resize` / `cq.destroy`, `rdma/qp.create`
 * (which CQs a QP completes into), `rdma/cqe.write`, `rdma/qp.error`, `rdma/wqe.failed` and
 * `rdma/async.event` (`IB_EVENT_CQ_ERR` naming the CQ).
 *
 * Flags at once a CQE write that landed (`outcome` ok) on the CQ after the trigger; and at
 * {@link Monitor.end}, a CQ that a completion was attempted on after the trigger (a CQE write issued
 * after it, or an error or flush of a QP bound to it) without any CQ_ERR event for it. A CQ nobody completes into
 * after its buffer went away owes no event: the hardware reports the error when it tries to write.
 */
import type { TraceEvent } from "../fabric/trace.js";
import type { Monitor } from "./monitor.js";
import { chainOf, RdmaObjects } from "./rdma-objects.js";

interface CqState {
  create: TraceEvent;
  trigger: TraceEvent | undefined;
  attempt: TraceEvent | undefined;
  cqErr: boolean;
}

const TRIGGERS = new Set(["umem.unmap", "umem.revoke", "umem.release"]);

/** Creates a fresh L6 monitor. */
export function createL6Monitor(): Monitor {
  const objects = new RdmaObjects();
  const cqs = new Map<string, CqState>();
  const cqsOfQp = new Map<string, readonly string[]>();
  /** A completion into `cq` issued at `issuedPs`: an attempt if issued after the trigger (one in flight across it is not). */
  const attempted = (cq: string, e: TraceEvent, issuedPs: number) => {
    const s = cqs.get(cq);
    if (s?.trigger !== undefined && s.attempt === undefined && issuedPs > s.trigger.t) s.attempt = e;
  };
  return {
    id: "L6",
    observe(e) {
      objects.observe(e);
      if (e.layer !== "rdma") return undefined;
      if (e.kind === "cq.create") cqs.set(String(e.cq), { create: e, trigger: undefined, attempt: undefined, cqErr: false });
      else if (e.kind === "cq.destroy") cqs.delete(String(e.cq));
      else if (e.kind === "cq.resize") {
        const s = cqs.get(String(e.cq));
        if (s !== undefined && s.trigger !== undefined && s.trigger.umem !== e.buf) s.trigger = undefined;
      } else if (e.kind === "qp.create") cqsOfQp.set(String(e.qp), [String(e.sendCq), String(e.recvCq)]);
      else if (e.kind === "async.event" && e.type === "IB_EVENT_CQ_ERR") {
        const s = cqs.get(String(e.object));
        if (s !== undefined) s.cqErr = true;
      } else if (TRIGGERS.has(e.kind)) {
        for (const [cq, s] of cqs) if (s.trigger === undefined && objects.bufferOf(cq)?.umem.name === e.umem) s.trigger = e;
      } else if (e.kind === "qp.error" || e.kind === "wqe.failed") {
        for (const cq of cqsOfQp.get(String(e.qp)) ?? []) attempted(cq, e, e.t);
      } else if (e.kind === "cqe.write") {
        const cq = String(e.cq);
        const s = cqs.get(cq);
        attempted(cq, e, Number(e.issuedPs));
        if (s?.trigger !== undefined && e.outcome === "ok") {
          const message = `${cq} completed wr ${String(e.wrId)} of ${String(e.qp)} successfully after its buffer ${String(s.trigger.umem)} became inaccessible (${s.trigger.kind} at ${s.trigger.t} ps)`;
          return { invariant: "L6", timePs: e.t, message, event: e, chain: chainOf(s.create, s.trigger, e) };
        }
      }
      return undefined;
    },
    end(nowPs) {
      for (const [cq, s] of cqs) {
        if (s.trigger === undefined || s.attempt === undefined || s.cqErr) continue;
        const message = `${cq}'s buffer ${String(s.trigger.umem)} became inaccessible (${s.trigger.kind} at ${s.trigger.t} ps) and a completion was attempted, but no IB_EVENT_CQ_ERR was raised`;
        return { invariant: "L6", timePs: nowPs, message, event: undefined, chain: chainOf(s.create, s.trigger, s.attempt) };
      }
      return undefined;
    },
  };
}
