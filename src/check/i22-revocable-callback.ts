/**
 * I22 [kernel.md §f I22, §d.1]: a pinned-revocable umem's revoke callback runs at most once, and
 * once it has returned the device issues no access to the region.
 *
 * Observes `rdma/umem.get` (the umem's kind), `rdma/umem.revoke.callback` (the callback starts),
 * `rdma/umem.revoke` (the callback has returned — after its drain — and the umem is unmapped and
 * unpinned for good), the bindings of MRs, CQs and QPs to their buffer umems and the NIC's
 * accesses (`rdma/data.write`, `rdma/cqe.write`, both traced when done, `rdma/wqe.fetch`).
 *
 * Flags a second callback on the same umem, and any access to a pinned-revocable umem seen after
 * its `umem.revoke`: the callback must stop the hardware (CQs, QPs) and drain before returning, so
 * nothing may land or be issued after — a driver that ignores the callback (`invalidateIgnored`)
 * leaves the CQ context writing where the revoked buffer was; one that returns before its drain
 * (`callbackReturnsBeforeDrain`) lets in-flight CQEs land after.
 */
import type { TraceEvent } from "../fabric/trace.js";
import type { Monitor } from "./monitor.js";
import { chainOf, RdmaObjects } from "./rdma-objects.js";

/** Creates a fresh I22 monitor. */
export function createI22Monitor(): Monitor {
  const objects = new RdmaObjects();
  const callbacks = new Map<string, TraceEvent>();
  return {
    id: "I22",
    observe(e) {
      objects.observe(e);
      if (e.layer === "rdma" && e.kind === "umem.revoke.callback") {
        const umem = String(e.umem);
        const first = callbacks.get(umem);
        if (first === undefined) {
          callbacks.set(umem, e);
          return undefined;
        }
        const message = `the revoke callback of ${umem} ran twice (first at ${first.t} ps)`;
        return { invariant: "I22", timePs: e.t, message, event: e, chain: chainOf(objects.facts(umem).get, first, e) };
      }
      const access = objects.access(e);
      if (access === undefined || access.umem.kind !== "dmabuf-pinned-revocable") return undefined;
      const revoked = access.umem.revoked;
      if (revoked === undefined) return undefined;
      return {
        invariant: "I22",
        timePs: e.t,
        message: `${access.what} (issued at ${access.issuedPs} ps) reached pinned-revocable ${access.umem.name} after its revoke callback returned at ${revoked.t} ps`,
        event: e,
        chain: chainOf(access.umem.get, access.binding, callbacks.get(access.umem.name), revoked, e),
      };
    },
  };
}
