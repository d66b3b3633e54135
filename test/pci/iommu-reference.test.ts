/**
 * Model-based test: random sequences of attach, map, unmap and translate run against the Iommu and
 * against a deliberately naive reference (pages in arrays, linear searches, the IOTLB as an array
 * in LRU order). Every result, the counters and the final IOTLB contents must agree.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  IOMMU_PAGE_1G,
  IOMMU_PAGE_2M,
  IOMMU_PAGE_4K,
  Iommu,
  type IommuAccess,
  type IommuPageSize,
  type IommuPerms,
  type IommuPte,
} from "../../src/pci/iommu.js";

const SIZES: readonly IommuPageSize[] = [IOMMU_PAGE_4K, IOMMU_PAGE_2M, IOMMU_PAGE_1G];
const DEVICES = ["a", "b"] as const;
const CAPACITY = 3;
const WALK_PS = 260_000;

/** An IOVA in a small space so that pages of all sizes collide: 1 GiB × g + 2 MiB × m + 4 KiB × k. */
const address = fc.record({ g: fc.integer({ min: 0, max: 1 }), m: fc.integer({ min: 0, max: 1 }), k: fc.integer({ min: 0, max: 1 }) });
const iovaOf = ({ g, m, k }: { g: number; m: number; k: number }) => g * IOMMU_PAGE_1G + m * IOMMU_PAGE_2M + k * IOMMU_PAGE_4K;

const command = fc.oneof(
  { weight: 1, arbitrary: fc.record({ op: fc.constant("attach" as const), device: fc.constantFrom(...DEVICES), domain: fc.constantFrom("s1", "s2") }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("map" as const),
      device: fc.constantFrom(...DEVICES),
      at: address,
      level: fc.integer({ min: 0, max: 2 }),
      pages: fc.integer({ min: 1, max: 3 }),
      perms: fc.constantFrom<IommuPerms>("r", "w", "rw"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("unmap" as const),
      device: fc.constantFrom(...DEVICES),
      at: address,
      // Mostly a few 4 KiB pages; sometimes enough to cover 2 MiB pages whole.
      pages4K: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 1100 })),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("translate" as const),
      device: fc.constantFrom(...DEVICES),
      at: address,
      offset: fc.integer({ min: 0, max: IOMMU_PAGE_4K - 1 }),
      access: fc.constantFrom<IommuAccess>("r", "w"),
    }),
  },
);
type Command = typeof command extends fc.Arbitrary<infer C> ? C : never;

class Reference {
  readonly attached = new Map<string, string>();
  readonly pages = new Map<string, IommuPte[]>();
  iotlb: Array<{ domain: string; pte: IommuPte }> = [];
  stats = { hits: 0, misses: 0, walks: 0, invalidations: 0, evictions: 0, faults: 0, staleHits: 0 };

  domainOf(device: string): string {
    const domain = this.attached.get(device) ?? `default:${device}`;
    this.attached.set(device, domain);
    if (!this.pages.has(domain)) this.pages.set(domain, []);
    return domain;
  }

  private intersecting(domain: string, start: number, end: number): IommuPte[] {
    return (this.pages.get(domain) ?? []).filter((p) => p.iova < end && start < p.iova + p.pageSize).sort((x, y) => x.iova - y.iova);
  }

  run(c: Command): unknown {
    switch (c.op) {
      case "attach":
        this.attached.set(c.device, c.domain);
        if (!this.pages.has(c.domain)) this.pages.set(c.domain, []);
        return undefined;
      case "map": {
        const domain = this.domainOf(c.device);
        const pageSize = SIZES[c.level] as IommuPageSize;
        const iova = iovaOf(c.at);
        if (iova % pageSize !== 0) return { ok: false, reason: "misaligned-iova", alignment: pageSize };
        const size = c.pages * pageSize;
        const [conflict] = this.intersecting(domain, iova, iova + size);
        if (conflict !== undefined) return { ok: false, reason: "overlap", conflict };
        for (let i = 0; i < c.pages; i++)
          this.pages.get(domain)?.push({ iova: iova + i * pageSize, phys: iova + i * pageSize + 0x100_0000_0000, pageSize, perms: c.perms, mmio: false });
        return { ok: true, range: { iova, phys: iova + 0x100_0000_0000, size, pageSize, perms: c.perms, mmio: false }, pages: c.pages };
      }
      case "unmap": {
        const domain = this.domainOf(c.device);
        const start = iovaOf(c.at);
        const end = start + c.pages4K * IOMMU_PAGE_4K;
        const hit = this.intersecting(domain, start, end);
        const split = hit.find((p) => p.iova < start || p.iova + p.pageSize > end);
        if (split !== undefined) return { ok: false, reason: "splits-large-page", page: split };
        this.pages.set(
          domain,
          (this.pages.get(domain) ?? []).filter((p) => !hit.includes(p)),
        );
        const before = this.iotlb.length;
        this.iotlb = this.iotlb.filter((e) => !(e.domain === domain && hit.includes(e.pte)));
        this.stats.invalidations += before - this.iotlb.length;
        return { ok: true, pages: hit.length, bytes: hit.reduce((sum, p) => sum + p.pageSize, 0), iotlbInvalidated: before - this.iotlb.length };
      }
      case "translate": {
        const domain = this.attached.get(c.device) ?? `default:${c.device}`;
        const iova = iovaOf(c.at) + c.offset;
        const index = this.iotlb.findIndex((e) => e.domain === domain && e.pte.iova <= iova && iova < e.pte.iova + e.pte.pageSize);
        let pte: IommuPte | undefined;
        if (index >= 0) {
          const [entry] = this.iotlb.splice(index, 1);
          if (entry === undefined) throw new Error("unreachable");
          this.iotlb.push(entry);
          pte = entry.pte;
          this.stats.hits++;
        } else {
          this.stats.misses++;
          this.stats.walks++;
          pte = (this.pages.get(domain) ?? []).find((p) => p.iova <= iova && iova < p.iova + p.pageSize);
          if (pte !== undefined) {
            if (this.iotlb.length === CAPACITY) {
              this.iotlb.shift();
              this.stats.evictions++;
            }
            this.iotlb.push({ domain, pte });
          }
        }
        const latencyPs = index >= 0 ? 0 : WALK_PS;
        if (pte === undefined || !pte.perms.includes(c.access)) {
          this.stats.faults++;
          return { ok: false, fault: pte === undefined ? "unmapped" : "permission", iova, latencyPs };
        }
        return { ok: true, phys: pte.phys + iova - pte.iova, pageSize: pte.pageSize, iotlbHit: index >= 0, latencyPs, mmio: false };
      }
    }
  }
}

function runIommu(iommu: Iommu, c: Command): unknown {
  switch (c.op) {
    case "attach":
      iommu.attach(c.device, c.domain);
      return undefined;
    case "map": {
      const iova = iovaOf(c.at);
      const pageSize = SIZES[c.level] as IommuPageSize;
      return iommu.map(iommu.domainOf(c.device), iova, iova + 0x100_0000_0000, c.pages * pageSize, pageSize, c.perms);
    }
    case "unmap": {
      const result = iommu.unmap(iommu.domainOf(c.device), iovaOf(c.at), c.pages4K * IOMMU_PAGE_4K);
      // The reference does not coalesce; compare the counts (coalescing has its own test).
      return result.ok ? { ok: true, pages: result.pages, bytes: result.bytes, iotlbInvalidated: result.iotlbInvalidated } : result;
    }
    case "translate":
      return iommu.translate(c.device, iovaOf(c.at) + c.offset, c.access);
  }
}

describe("Iommu against a naive reference", () => {
  it("agrees on every result, the counters and the IOTLB's LRU order over random command sequences", () => {
    const seen = { hits: 0, invalidations: 0, evictions: 0, faults: 0, largeHits: 0, overlaps: 0, splits: 0 };
    fc.assert(
      fc.property(fc.array(command, { minLength: 10, maxLength: 80, size: "max" }), (commands) => {
        const iommu = new Iommu({ iotlbEntries: CAPACITY });
        const reference = new Reference();
        for (const c of commands) {
          const result = runIommu(iommu, c);
          expect([c, result]).toEqual([c, reference.run(c)]);
          const probe = (result ?? {}) as { iotlbHit?: boolean; pageSize?: number; reason?: string };
          if (probe.iotlbHit === true && probe.pageSize !== IOMMU_PAGE_4K) seen.largeHits++;
          if (probe.reason === "overlap") seen.overlaps++;
          if (probe.reason === "splits-large-page") seen.splits++;
        }
        const stats = iommu.stats();
        seen.hits += stats.hits;
        seen.invalidations += stats.invalidations;
        seen.evictions += stats.evictions;
        seen.faults += stats.faults;
        expect(iommu.stats()).toEqual(reference.stats);
        expect(iommu.iotlbContents()).toEqual(reference.iotlb);
        for (const [domain, pages] of reference.pages) expect([domain, iommu.pageCount(domain)]).toEqual([domain, pages.length]);
      }),
      { numRuns: 300 },
    );
    // The generator must reach the interesting paths, or agreement proves little.
    expect(Object.entries(seen).filter(([, count]) => count < 50)).toEqual([]);
  });
});
