import { describe, expect, it } from "vitest";
import { AssertionError } from "../../src/fabric/assert.js";
import { IOMMU_PAGE_2M, IOMMU_PAGE_4K, Iommu } from "../../src/pci/iommu.js";
import { Iotlb } from "../../src/pci/iotlb.js";

const K4 = IOMMU_PAGE_4K;
const M2 = IOMMU_PAGE_2M;

/** An IOMMU whose device "dev" has pages 0..count-1 (4 KiB) mapped; page n goes to phys 0x100000 + n * 4 KiB. */
function iommuWithPages(iotlbEntries: number, count: number): Iommu {
  const iommu = new Iommu({ iotlbEntries });
  expect(iommu.map(iommu.domainOf("dev"), 0, 0x10_0000, count * K4, K4, "rw").ok).toBe(true);
  return iommu;
}

/** The IOTLB's pages, least recently used first, as page numbers. */
function lru(iommu: Iommu): number[] {
  return iommu.iotlbContents().map((entry) => entry.pte.iova / K4);
}

describe("IOTLB replacement", () => {
  it("is LRU: a 4-entry IOTLB over a scripted page trace gives this exact hit/miss and LRU-order table", () => {
    const iommu = iommuWithPages(4, 6);
    const trace = [0, 1, 2, 3, 0, 4, 1, 2, 0, 3, 5, 0].map((page) => {
      const t = iommu.translate("dev", page * K4 + 0x40, "r");
      return [page, t.ok && t.iotlbHit ? "hit" : "miss", lru(iommu)];
    });
    expect(trace).toEqual([
      [0, "miss", [0]],
      [1, "miss", [0, 1]],
      [2, "miss", [0, 1, 2]],
      [3, "miss", [0, 1, 2, 3]],
      [0, "hit", [1, 2, 3, 0]],
      [4, "miss", [2, 3, 0, 4]],
      [1, "miss", [3, 0, 4, 1]],
      [2, "miss", [0, 4, 1, 2]],
      [0, "hit", [4, 1, 2, 0]],
      [3, "miss", [1, 2, 0, 3]],
      [5, "miss", [2, 0, 3, 5]],
      [0, "hit", [2, 3, 5, 0]],
    ]);
    expect(iommu.stats()).toEqual({ hits: 3, misses: 9, walks: 9, invalidations: 0, evictions: 5, faults: 0, staleHits: 0 });
  });

  it("is one cache per IOMMU, tagged by domain: two devices with the same IOVAs evict each other", () => {
    const iommu = new Iommu({ iotlbEntries: 2 });
    for (const dev of ["a", "b"]) expect(iommu.map(iommu.domainOf(dev), 0, 0, 2 * K4, K4, "rw").ok).toBe(true);
    const steps: Array<[string, number]> = [
      ["a", 0],
      ["b", 0],
      ["a", 0],
      ["a", K4],
      ["b", 0],
    ];
    const trace = steps.map(([dev, iova]) => {
      const t = iommu.translate(dev, iova, "w");
      return [dev, iova, t.ok && t.iotlbHit, iommu.iotlbContents().map((e) => `${e.domain}@${e.pte.iova}`)];
    });
    expect(trace).toEqual([
      ["a", 0, false, ["default:a@0"]],
      ["b", 0, false, ["default:a@0", "default:b@0"]],
      ["a", 0, true, ["default:b@0", "default:a@0"]],
      ["a", K4, false, ["default:a@0", `default:a@${K4}`]],
      ["b", 0, false, [`default:a@${K4}`, "default:b@0"]],
    ]);
  });

  it("keeps 4 KiB and 2 MiB pages with the same page number apart, one entry per page whatever its size", () => {
    const iommu = new Iommu({ iotlbEntries: 4 });
    const domain = iommu.domainOf("dev");
    expect(iommu.map(domain, K4, 0x5000, K4, K4, "r").ok).toBe(true);
    expect(iommu.map(domain, M2, 0x40_0000, M2, M2, "r").ok).toBe(true);
    const probes = [K4, M2, M2 + M2 - 1, K4 + 1, M2 + K4];
    expect(probes.map((iova) => iommu.translate("dev", iova, "r"))).toEqual([
      { ok: true, phys: 0x5000, pageSize: K4, iotlbHit: false, latencyPs: 260_000, mmio: false },
      { ok: true, phys: 0x40_0000, pageSize: M2, iotlbHit: false, latencyPs: 260_000, mmio: false },
      { ok: true, phys: 0x40_0000 + M2 - 1, pageSize: M2, iotlbHit: true, latencyPs: 0, mmio: false },
      { ok: true, phys: 0x5001, pageSize: K4, iotlbHit: true, latencyPs: 0, mmio: false },
      { ok: true, phys: 0x40_0000 + K4, pageSize: M2, iotlbHit: true, latencyPs: 0, mmio: false },
    ]);
    expect(iommu.iotlbContents().map((e) => [e.pte.iova, e.pte.pageSize])).toEqual([
      [K4, K4],
      [M2, M2],
    ]);
  });

  it("with 0 entries, walks on every access", () => {
    const iommu = iommuWithPages(0, 1);
    const hits = [0, 0, 0].map(() => iommu.translate("dev", 0, "r")).map((t) => t.ok && t.iotlbHit);
    expect([hits, iommu.iotlbContents(), iommu.stats().walks]).toEqual([[false, false, false], [], 3]);
  });
});

describe("Iotlb", () => {
  it("rejects a negative capacity and a second insert of a cached page", () => {
    expect(() => new Iotlb(-1)).toThrow(AssertionError);
    const iotlb = new Iotlb(2);
    const pte = { iova: 0, phys: 0, pageSize: K4, perms: "r", mmio: false } as const;
    expect(iotlb.insert("d", pte)).toBeUndefined();
    expect(() => iotlb.insert("d", pte)).toThrow(AssertionError);
    expect([iotlb.invalidate("d", pte), iotlb.invalidate("d", pte), iotlb.size]).toEqual([true, false, 0]);
  });
});
