/**
 * I16 [kernel.md §f I16, §d.3, §d.4; bugs E19, E20]: every pinned umem is released exactly once —
 * by the list's release, by `release_non_listed` or by the driver, never by two of them.
 *
 * Observes `rdma/umem.get` (pinned), `rdma/umem.release`, `rdma/qp.umem_list.double_free` (the
 * model's record of mutant E19's second list release, naming the umems it would free again) and
 * the failed creates `rdma/cq.create.failed` / `rdma/qp.create.failed`, whose `umems` lists every
 * umem the command created.
 *
 * Flags:
 * - at once, a release (or a recorded second list release) of a umem already released: double free;
 * - at {@link Monitor.end}, a umem created by a CQ or QP create that failed and never released
 *   since. A umem still pinned at the end of a run is not a leak in general (its MR, CQ or QP may
 *   simply still exist), but one whose owning object was never created has no owner left that
 *   could release it: that, and only that, is flagged (E20). The check waits for the end rather
 *   than flagging at the failure so that a later release (which no correct path would do, but
 *   which would make the count right) is not called a leak.
 */
import type { TraceEvent } from "../fabric/trace.js";
import type { Monitor, Violation } from "./monitor.js";
import { chainOf } from "./rdma-objects.js";

/** Creates a fresh I16 monitor. */
export function createI16Monitor(): Monitor {
  const got = new Map<string, TraceEvent>();
  const released = new Map<string, TraceEvent>();
  /** Umems of failed creates not released at the failure: umem → the failure event. */
  const orphans = new Map<string, TraceEvent>();

  const doubleFree = (umem: string, e: TraceEvent, how: string): Violation => ({
    invariant: "I16",
    timePs: e.t,
    message: `${umem} released twice: ${how} after its release at ${released.get(umem)?.t} ps`,
    event: e,
    chain: chainOf(got.get(umem), released.get(umem), e),
  });

  return {
    id: "I16",
    observe(e) {
      if (e.layer !== "rdma") return undefined;
      switch (e.kind) {
        case "umem.get":
          got.set(String(e.umem), e);
          return undefined;
        case "umem.release": {
          const umem = String(e.umem);
          if (released.has(umem)) return doubleFree(umem, e, "umem.release");
          released.set(umem, e);
          orphans.delete(umem);
          return undefined;
        }
        case "qp.umem_list.double_free": {
          const umem = (e.umems as readonly string[]).find((u) => released.has(u));
          return umem === undefined ? undefined : doubleFree(umem, e, `${String(e.qp)}'s umem_list released again`);
        }
        case "cq.create.failed":
        case "qp.create.failed":
          for (const umem of e.umems as readonly string[]) if (got.has(umem) && !released.has(umem)) orphans.set(umem, e);
          return undefined;
        default:
          return undefined;
      }
    },
    end(nowPs) {
      for (const [umem, failure] of orphans) {
        const what = `${failure.kind === "cq.create.failed" ? "CQ" : "QP"} create of ${String(failure.device)} (step ${String(failure.step)}, ${String(failure.errno)})`;
        return {
          invariant: "I16",
          timePs: nowPs,
          message: `${umem} never released: the ${what} failed and left it pinned with no owner`,
          event: undefined,
          chain: chainOf(got.get(umem), failure),
        };
      }
      return undefined;
    },
  };
}
