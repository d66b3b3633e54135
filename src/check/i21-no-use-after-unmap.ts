/**
 * I21 [kernel.md §f I21, §b.4, §b.5, §d.1]: no device access goes through a umem's scatter list
 * (its DMA addresses: sg table, IOVA) after the umem was unmapped or released — neither issued
 * after, nor still in flight when the unmap or release happened.
 *
 * Observes the umem lifecycle (`rdma/umem.get`, `umem.map`, `umem.unmap`, `umem.release`), the
 * bindings of MRs, CQs and QPs to their buffer umems (`rdma/mr.reg`, `cq.create`, `cq.resize`,
 * `qp.create`) and the NIC's accesses: `rdma/data.write` (through an MR) and `rdma/cqe.write`
 * (into a CQ buffer), both traced when done with their issue time `issuedPs`, and `rdma/wqe.fetch`
 * (a QP buffer read, traced at issue).
 *
 * Flags the first access whose umem was released, or unmapped and not mapped again, when the
 * access is seen, or whose current mapping is newer than the access's issue (it was issued under a
 * mapping that has since been unmapped) — e.g. a driver whose invalidate returned before the DMA
 * in flight drained (`callbackReturnsBeforeDrain`), or that ignored it (`invalidateIgnored`).
 * Accesses through objects whose binding was not seen, and `pci/tlp` events (which name no umem),
 * are not checked here (I1 checks TLPs against the dma-buf's ranges).
 */
import type { Monitor } from "./monitor.js";
import { chainOf, RdmaObjects, staleMapping } from "./rdma-objects.js";

/** Creates a fresh I21 monitor. */
export function createI21Monitor(): Monitor {
  const objects = new RdmaObjects();
  return {
    id: "I21",
    observe(e) {
      objects.observe(e);
      const access = objects.access(e);
      if (access === undefined) return undefined;
      const gone = staleMapping(access.umem, access.issuedPs);
      if (gone === undefined) return undefined;
      const verb = gone.kind === "umem.release" ? "release" : "unmap";
      return {
        invariant: "I21",
        timePs: e.t,
        message: `${access.what} (issued at ${access.issuedPs} ps) used ${access.umem.name} after its ${verb} at ${gone.t} ps`,
        event: e,
        chain: chainOf(access.umem.get, access.binding, gone, e),
      };
    },
  };
}
