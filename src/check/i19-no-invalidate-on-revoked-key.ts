/**
 * I19 [kernel.md §f I19, §d.2; bug E18]: no invalidate callback acts on an MR whose key has been
 * revoked or freed: dereg revokes the mkey and clears the umem's back-pointer under the resv, so a
 * later invalidate finds no MR.
 *
 * Observes `rdma/mr.mkey.revoke` and `rdma/mr.dereg` (the key is dead from then on) and the
 * invalidate's actions on an MR: `rdma/mr.zap` and `rdma/mr.invalidate.use_after_free` (the zap the
 * model records when it rewrites a revoked key's MTTs, mutant E18). Flags the first such action on
 * an MR whose key is dead. `mr.invalidate.skipped` (no MR behind the umem) is the fixed behaviour.
 */
import type { TraceEvent } from "../fabric/trace.js";
import type { Monitor } from "./monitor.js";
import { chainOf } from "./rdma-objects.js";

/** Creates a fresh I19 monitor. */
export function createI19Monitor(): Monitor {
  const reg = new Map<string, TraceEvent>();
  const dead = new Map<string, TraceEvent>();
  return {
    id: "I19",
    observe(e) {
      if (e.layer !== "rdma") return undefined;
      const mr = String(e.mr);
      switch (e.kind) {
        case "mr.reg":
          reg.set(mr, e);
          dead.delete(mr);
          return undefined;
        case "mr.mkey.revoke":
        case "mr.dereg":
          if (!dead.has(mr)) dead.set(mr, e);
          return undefined;
        case "mr.zap":
        case "mr.invalidate.use_after_free": {
          const killed = dead.get(mr);
          if (killed === undefined) return undefined;
          return {
            invariant: "I19",
            timePs: e.t,
            message: `an invalidate acted on ${mr} (${e.kind}) after its key was revoked by ${killed.kind} at ${killed.t} ps`,
            event: e,
            chain: chainOf(reg.get(mr), killed, e),
          };
        }
        default:
          return undefined;
      }
    },
  };
}
