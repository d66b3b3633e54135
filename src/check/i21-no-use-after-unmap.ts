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
 *
 * The IOVA itself [§a.7, §c.6]: `iommu/unmap` (an IOVA range of a requester's mapping torn down in
 * the IOMMU, e.g. by the `iommu-unmap` fault) and `iommu/stale-translation` (the IOMMU translated a
 * request through an IOTLB entry of a page it no longer maps). A translation after the unmap is a
 * use of the IOVA after its unmap, whoever unmapped it: the TLP goes on to the old target. A request
 * the IOMMU blocks (`pci/iommu.fault`) is not a use: that is the IOMMU enforcing I21. A TLP translated
 * before the unmap and landing after it is not flagged here either (it is the importer's drain that
 * must cover it, checked above through its umem).
 */
import type { TraceEvent } from "../fabric/trace.js";
import { hex, num, str } from "./fabric-events.js";
import type { Monitor, Violation } from "./monitor.js";
import { chainOf, RdmaObjects, staleMapping } from "./rdma-objects.js";

/** Creates a fresh I21 monitor. */
export function createI21Monitor(): Monitor {
  const objects = new RdmaObjects();
  /** Requester → its IOVA ranges torn down in the IOMMU, oldest first. */
  const unmapped = new Map<string, TraceEvent[]>();
  return {
    id: "I21",
    observe(e) {
      if (e.layer === "iommu") return iova(unmapped, e);
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

/** The IOVA-level check: records `iommu/unmap`, flags `iommu/stale-translation`. */
function iova(unmapped: Map<string, TraceEvent[]>, e: TraceEvent): Violation | undefined {
  const requester = str(e, "requester") ?? "";
  const address = num(e, "iova") ?? 0;
  if (e.kind === "unmap") {
    if ((num(e, "bytes") ?? 0) > 0) unmapped.set(requester, [...(unmapped.get(requester) ?? []), e]);
    // IOVAs are never reused (DmaIommu bump-allocates), so a range once unmapped stays unmapped.
    return undefined;
  }
  if (e.kind !== "stale-translation") return undefined;
  const covers = (u: TraceEvent) => address >= (num(u, "iova") ?? 0) && address < (num(u, "iova") ?? 0) + (num(u, "size") ?? 0);
  const gone = [...(unmapped.get(requester) ?? [])].reverse().find(covers);
  const when = gone === undefined ? "after its unmap" : `${e.t - gone.t} ps after its unmap at ${gone.t} ps (${str(gone, "cause")})`;
  const buf = gone === undefined ? "" : ` of ${str(gone, "buf")}`;
  return {
    invariant: "I21",
    timePs: e.t,
    message: `${requester} ${str(e, "access") === "w" ? "write" : "read"} at IOVA ${hex(address)}${buf} was translated to ${hex(num(e, "phys") ?? 0)} through a stale IOTLB entry ${when}: the IOVA was used after its unmap [kernel.md §c.6]`,
    event: e,
    chain: chainOf(gone, e),
  };
}
