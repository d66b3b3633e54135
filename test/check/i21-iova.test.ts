// Goal: I21 at the IOVA level [kernel.md §f I21, §c.6]: a request the IOMMU translates through an
// IOVA after that IOVA was unmapped is a use after unmap, whoever unmapped it; a request the IOMMU
// blocks is not (that is the IOMMU enforcing I21), and neither is an unmap that removed nothing.
// Method: feed a fresh monitor hand-made `iommu/unmap`, `iommu/stale-translation` and
// `pci/iommu.fault` events and compare its answers, message and chain included.
import { describe, expect, it } from "vitest";
import { createI21Monitor } from "../../src/check/i21-no-use-after-unmap.js";
import { ps } from "../../src/fabric/time.js";
import type { TraceEvent } from "../../src/fabric/trace.js";

let seq = 0;
const at = (t: number, layer: string, kind: string, fields: Record<string, string | number>): TraceEvent => ({ t: ps(t), seq: seq++, layer, kind, ...fields });

const UNMAP = {
  requester: "nic0",
  domain: "default:nic",
  buf: "gpu0/bar1#0",
  iova: 0x1_0020_0000,
  size: 0x20_0000,
  bytes: 0x20_0000,
  pages: 1,
  iotlbInvalidated: 0,
  iotlbStale: 1,
  cause: "iommu-unmap fault",
};
const stale = (t: number, requester: string, iova: number) =>
  at(t, "iommu", "stale-translation", {
    requester,
    domain: "default:nic",
    iova,
    access: "w",
    phys: 0x3800_0000_0000 + (iova - 0x1_0020_0000),
    page: 0x1_0020_0000,
    pageSize: 0x20_0000,
  });

/** The first violation of a fresh monitor over `events`, as [time, message, chain kinds]. */
function first(...events: TraceEvent[]) {
  const monitor = createI21Monitor();
  for (const e of events) {
    const v = monitor.observe(e);
    if (v !== undefined) return [v.timePs, v.message, v.chain.map((c) => `${c.layer}/${c.kind}@${c.t}`)];
  }
  return undefined;
}

describe("I21: translations through an unmapped IOVA", () => {
  it("flags a stale translation inside the unmapped range, naming the unmap; blocked requests and other requesters' IOVAs are not uses", () => {
    const unmap = at(1000, "iommu", "unmap", UNMAP);
    const blocked = at(1500, "pci", "iommu.fault", { requester: "nic0", tlp: "MWr", iova: 0x1_0020_0100, fault: "unmapped" });
    expect([first(unmap, blocked), first(unmap, blocked, stale(2000, "nic0", 0x1_0020_0a00)), first(unmap, stale(2000, "nic1", 0x1_0020_0a00))?.[1]]).toEqual([
      undefined,
      [
        2000,
        "nic0 write at IOVA 0x100200a00 of gpu0/bar1#0 was translated to 0x380000000a00 through a stale IOTLB entry 1000 ps after its unmap at 1000 ps (iommu-unmap fault): the IOVA was used after its unmap [kernel.md §c.6]",
        ["iommu/unmap@1000", "iommu/stale-translation@2000"],
      ],
      "nic1 write at IOVA 0x100200a00 was translated to 0x380000000a00 through a stale IOTLB entry after its unmap: the IOVA was used after its unmap [kernel.md §c.6]",
    ]);
  });

  it("a stale translation outside every recorded unmap, or after an unmap that removed nothing, is still flagged, without a cause in the chain", () => {
    const empty = at(1000, "iommu", "unmap", { ...UNMAP, bytes: 0, pages: 0, iotlbStale: 0 });
    expect([first(empty, stale(3000, "nic0", 0x1_0020_0000))?.[2], first(at(1000, "iommu", "unmap", UNMAP), stale(3000, "nic0", 0x1_0040_0000))?.[2]]).toEqual([
      ["iommu/stale-translation@3000"],
      ["iommu/stale-translation@3000"],
    ]);
  });
});
