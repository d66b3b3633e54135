import { describe, expect, it } from "vitest";
import { AssertionError } from "../../src/fabric/assert.js";
import {
  IOMMU_CONFIG_DEFAULT,
  IOMMU_PAGE_1G,
  IOMMU_PAGE_2M,
  IOMMU_PAGE_4K,
  Iommu,
  type IommuAccess,
  type IommuPageSize,
  type IommuPerms,
} from "../../src/pci/iommu.js";

const K4 = IOMMU_PAGE_4K;
const M2 = IOMMU_PAGE_2M;
const G1 = IOMMU_PAGE_1G;
const KiB = 1024;
const MiB = 1024 * KiB;
const WALK_PS = 260_000;

describe("IOMMU_CONFIG_DEFAULT", () => {
  it("is 64 IOTLB entries (§5 row 6), a 260 ns walk (midpoint of §5 row 5's 226-293 ns, rounded) and free hits", () => {
    expect(IOMMU_CONFIG_DEFAULT).toEqual({ iotlbEntries: 64, walkLatencyPs: 260_000, hitLatencyPs: 0, flushIotlbOnUnmap: true });
    expect(Math.round((226_000 + 293_000) / 2 / 1000) * 1000).toBe(IOMMU_CONFIG_DEFAULT.walkLatencyPs);
    expect(new Iommu({ hitLatencyPs: 5 }).config).toEqual({ iotlbEntries: 64, walkLatencyPs: 260_000, hitLatencyPs: 5, flushIotlbOnUnmap: true });
  });

  it("rejects latencies that are not non-negative integers of picoseconds, and a negative entry count", () => {
    expect(() => new Iommu({ walkLatencyPs: 1.5 })).toThrow(AssertionError);
    expect(() => new Iommu({ hitLatencyPs: -1 })).toThrow(AssertionError);
    expect(() => new Iommu({ iotlbEntries: -1 })).toThrow(AssertionError);
  });
});

describe("Iommu map / translate / unmap round trip", () => {
  it.each([
    ["4 KiB", K4, 0x1_0000_0000, 0x8_0000_0000],
    ["2 MiB", M2, 0x1_0000_0000, 0x8_0000_0000],
    ["1 GiB", G1, 0x1_0000_0000, 0x8_0000_0000],
  ] as Array<[string, IommuPageSize, number, number]>)(
    "with %s pages: two pages translate byte for byte, then fault after unmap",
    (_, pageSize, iova, phys) => {
      const iommu = new Iommu({ walkLatencyPs: 100, hitLatencyPs: 7 });
      const domain = iommu.domainOf("dev");
      expect(iommu.map(domain, iova, phys, 2 * pageSize, pageSize, "rw")).toEqual({
        ok: true,
        range: { iova, phys, size: 2 * pageSize, pageSize, perms: "rw", mmio: false },
        pages: 2,
      });
      const offsets = [0, pageSize - 1, pageSize, 2 * pageSize - 1, 1, 2 * pageSize];
      expect(offsets.map((offset) => iommu.translate("dev", iova + offset, "r"))).toEqual([
        { ok: true, phys, pageSize, iotlbHit: false, latencyPs: 100, mmio: false },
        { ok: true, phys: phys + pageSize - 1, pageSize, iotlbHit: true, latencyPs: 7, mmio: false },
        { ok: true, phys: phys + pageSize, pageSize, iotlbHit: false, latencyPs: 100, mmio: false },
        { ok: true, phys: phys + 2 * pageSize - 1, pageSize, iotlbHit: true, latencyPs: 7, mmio: false },
        { ok: true, phys: phys + 1, pageSize, iotlbHit: true, latencyPs: 7, mmio: false },
        { ok: false, fault: "unmapped", iova: iova + 2 * pageSize, latencyPs: 100 },
      ]);
      expect(iommu.unmap(domain, iova, 2 * pageSize)).toEqual({
        ok: true,
        removed: [{ iova, phys, size: 2 * pageSize, pageSize, perms: "rw", mmio: false }],
        pages: 2,
        bytes: 2 * pageSize,
        iotlbInvalidated: 2,
        iotlbStale: 0,
      });
      expect([iommu.translate("dev", iova, "r"), iommu.translate("dev", iova + pageSize, "w")]).toEqual([
        { ok: false, fault: "unmapped", iova, latencyPs: 100 },
        { ok: false, fault: "unmapped", iova: iova + pageSize, latencyPs: 100 },
      ]);
      expect([iommu.pageCount(domain), iommu.iotlbContents()]).toEqual([0, []]);
      expect(iommu.stats()).toEqual({ hits: 3, misses: 5, walks: 5, invalidations: 2, evictions: 0, faults: 3, staleHits: 0 });
    },
  );

  it("passes refusals through from the page table, and throws for a domain that does not exist", () => {
    const iommu = new Iommu();
    const domain = iommu.domainOf("dev");
    expect(iommu.map(domain, K4, 0, M2, M2, "rw")).toEqual({ ok: false, reason: "misaligned-iova", alignment: M2 });
    expect(iommu.map(domain, 0, 0, M2, M2, "rw").ok).toBe(true);
    expect(iommu.map(domain, K4, 0, K4, K4, "rw")).toEqual({
      ok: false,
      reason: "overlap",
      conflict: { iova: 0, phys: 0, pageSize: M2, perms: "rw", mmio: false },
    });
    expect(iommu.unmap(domain, 0, K4)).toEqual({ ok: false, reason: "splits-large-page", page: { iova: 0, phys: 0, pageSize: M2, perms: "rw", mmio: false } });
    expect(() => iommu.map("nowhere", 0, 0, K4, K4, "r")).toThrow(AssertionError);
    expect(() => iommu.unmap("nowhere", 0, K4)).toThrow(AssertionError);
    expect(() => iommu.translate("dev", -1, "r")).toThrow(AssertionError);
  });
});

describe("Iommu faults", () => {
  it("checks permissions on every access, whether the translation hits or walks", () => {
    const cases: Array<[IommuPerms, IommuAccess]> = [
      ["r", "r"],
      ["r", "w"],
      ["w", "r"],
      ["w", "w"],
      ["rw", "r"],
      ["rw", "w"],
    ];
    const table = cases.map(([perms, access]) => {
      const iommu = new Iommu();
      iommu.map(iommu.domainOf("dev"), 0, 0x9000, K4, K4, perms);
      const walked = iommu.translate("dev", 0x10, access);
      const hit = iommu.translate("dev", 0x20, access);
      return [perms, access, walked.ok ? "ok" : walked.fault, hit.ok ? "ok" : hit.fault, iommu.stats().faults];
    });
    expect(table).toEqual([
      ["r", "r", "ok", "ok", 0],
      ["r", "w", "permission", "permission", 2],
      ["w", "r", "permission", "permission", 2],
      ["w", "w", "ok", "ok", 0],
      ["rw", "r", "ok", "ok", 0],
      ["rw", "w", "ok", "ok", 0],
    ]);
  });

  it("reports a permission fault with the IOVA and the latency spent finding out", () => {
    const iommu = new Iommu();
    iommu.map(iommu.domainOf("dev"), 0, 0, K4, K4, "r");
    expect([iommu.translate("dev", 0x44, "w"), iommu.translate("dev", 0x48, "w")]).toEqual([
      { ok: false, fault: "permission", iova: 0x44, latencyPs: WALK_PS },
      { ok: false, fault: "permission", iova: 0x48, latencyPs: 0 },
    ]);
  });

  it("faults unmapped for a hole, past the end, and for a device that never had a domain", () => {
    const iommu = new Iommu();
    iommu.map(iommu.domainOf("dev"), K4, 0, K4, K4, "rw");
    const probes: Array<[string, number]> = [
      ["dev", 0],
      ["dev", K4 - 1],
      ["dev", 2 * K4],
      ["stranger", K4],
    ];
    expect(probes.map(([dev, iova]) => iommu.translate(dev, iova, "r"))).toEqual(
      probes.map(([, iova]) => ({ ok: false, fault: "unmapped", iova, latencyPs: WALK_PS })),
    );
    expect(iommu.stats()).toEqual({ hits: 0, misses: 4, walks: 4, invalidations: 0, evictions: 0, faults: 4, staleHits: 0 });
  });

  it("marks translations of DMA_ATTR_MMIO mappings (a peer BAR through the host bridge, kernel.md §a.7)", () => {
    const iommu = new Iommu();
    const domain = iommu.domainOf("nic");
    iommu.map(domain, 0, 0x3800_0000_0000, M2, M2, "rw", { mmio: true });
    iommu.map(domain, M2, 0x1000_0000, K4, K4, "rw");
    expect([iommu.translate("nic", 0x100, "w"), iommu.translate("nic", M2, "w")].map((t) => t.ok && [t.phys, t.mmio])).toEqual([
      [0x3800_0000_0100, true],
      [0x1000_0000, false],
    ]);
  });
});

describe("Iommu unmap invalidates exactly the covered IOTLB entries", () => {
  it("drops the unmapped pages' entries only; a remap of them walks again and sees the new address", () => {
    const iommu = new Iommu({ iotlbEntries: 8 });
    const domain = iommu.domainOf("dev");
    const other = iommu.domainOf("other");
    iommu.map(domain, 0, 0x10_0000, 4 * K4, K4, "rw");
    iommu.map(other, K4, 0x20_0000, K4, K4, "rw");
    for (let page = 0; page < 4; page++) iommu.translate("dev", page * K4, "r");
    iommu.translate("other", K4, "r");
    const tags = () => iommu.iotlbContents().map((e) => `${e.domain}@${e.pte.iova / K4}`);
    expect(tags()).toEqual(["default:dev@0", "default:dev@1", "default:dev@2", "default:dev@3", "default:other@1"]);
    expect(iommu.unmap(domain, K4, 2 * K4)).toMatchObject({ ok: true, pages: 2, bytes: 2 * K4, iotlbInvalidated: 2 });
    expect(tags()).toEqual(["default:dev@0", "default:dev@3", "default:other@1"]);
    expect(iommu.unmap(domain, K4, 2 * K4)).toEqual({ ok: true, removed: [], pages: 0, bytes: 0, iotlbInvalidated: 0, iotlbStale: 0 });
    iommu.map(domain, K4, 0x70_0000, 2 * K4, K4, "rw");
    const after = [0, 1, 2, 3].map((page) => iommu.translate("dev", page * K4, "r")).map((t) => t.ok && [t.phys, t.iotlbHit]);
    expect(after).toEqual([
      [0x10_0000, true],
      [0x70_0000, false],
      [0x70_1000, false],
      [0x10_3000, true],
    ]);
    expect(iommu.stats()).toMatchObject({ invalidations: 2 });
  });

  it("counts only the removed pages that were cached", () => {
    const iommu = new Iommu();
    const domain = iommu.domainOf("dev");
    iommu.map(domain, 0, 0, 3 * M2, M2, "rw");
    iommu.translate("dev", M2 + 5, "r");
    expect(iommu.unmap(domain, 0, 3 * M2)).toMatchObject({ ok: true, pages: 3, iotlbInvalidated: 1 });
    expect(iommu.stats().invalidations).toBe(1);
  });
});

/** One pass: every `strideBytes` over `[base, base + bytes)`, reads. */
interface Pass {
  readonly accesses: number;
  readonly misses: number;
  /** Misses on the first access of a page: all of them, when the IOTLB works. */
  readonly missesAtPageStart: number;
  readonly latencyPs: number;
}

function scan(pageSize: IommuPageSize, bytes: number, strideBytes: number, passes: number): Pass[] {
  const base = 0x1_0000_0000;
  const iommu = new Iommu();
  expect(iommu.map(iommu.domainOf("nic"), base, 0x40_0000_0000, Math.ceil(bytes / pageSize) * pageSize, pageSize, "rw").ok).toBe(true);
  const result: Pass[] = [];
  for (let pass = 0; pass < passes; pass++) {
    let accesses = 0;
    let misses = 0;
    let missesAtPageStart = 0;
    let latencyPs = 0;
    for (let offset = 0; offset < bytes; offset += strideBytes) {
      const t = iommu.translate("nic", base + offset, "r");
      if (!t.ok) throw new Error(`fault at ${offset}`);
      accesses++;
      latencyPs += t.latencyPs;
      if (t.iotlbHit) continue;
      misses++;
      if (offset % pageSize === 0) missesAtPageStart++;
    }
    result.push({ accesses, misses, missesAtPageStart, latencyPs });
  }
  return result;
}

describe("IOTLB reach: pcie-timing.md §5 rows 5-7 with the default IOMMU", () => {
  const miss = (pages: number, accesses: number): Pass => ({ accesses, misses: pages, missesAtPageStart: pages, latencyPs: pages * WALK_PS });
  const clean = (accesses: number): Pass => ({ accesses, misses: 0, missesAtPageStart: 0, latencyPs: 0 });

  it("row 6: 4 KiB pages, 64 B reads over 256 KiB: 64 misses warming up, then none", () => {
    expect(scan(K4, 256 * KiB, 64, 3)).toEqual([miss(64, 4096), clean(4096), clean(4096)]);
  });

  it("row 5: 4 KiB pages, 64 B reads over 1 MiB: a miss on the first access of every page in every pass, +walkLatencyPs (260 ns) each", () => {
    expect(scan(K4, MiB, 64, 3)).toEqual([miss(256, 16384), miss(256, 16384), miss(256, 16384)]);
  });

  it("row 7: 2 MiB pages, 64 B reads over 64 MiB: 32 misses warming up, then none", () => {
    expect(scan(M2, 64 * MiB, 64, 2)).toEqual([miss(32, 1_048_576), clean(1_048_576)]);
  });

  it("the cliff is at the reach: one page more than 64 × page size misses every page in every pass (LRU over a sequential scan)", () => {
    expect(scan(K4, 256 * KiB + K4, 64, 2)).toEqual([miss(65, 4160), miss(65, 4160)]);
    expect(scan(M2, 128 * MiB, K4, 2)).toEqual([miss(64, 32768), clean(32768)]);
    expect(scan(M2, 128 * MiB + M2, K4, 2)).toEqual([miss(65, 33280), miss(65, 33280)]);
  });
});

describe("Iommu domains", () => {
  it("isolates devices in different domains and shares mappings within a shared domain", () => {
    const iommu = new Iommu();
    iommu.map(iommu.domainOf("nic"), 0, 0xa000, K4, K4, "rw");
    iommu.map(iommu.domainOf("gpu"), 0, 0xb000, K4, K4, "rw");
    iommu.attach("nvme0", "container");
    iommu.attach("nvme1", "container");
    iommu.map("container", K4, 0xc000, K4, K4, "rw");
    const probes: Array<[string, number]> = [
      ["nic", 0],
      ["gpu", 0],
      ["nic", K4],
      ["nvme0", K4],
      ["nvme1", K4],
      ["nvme1", 0],
      ["nic", 0],
    ];
    expect(
      probes
        .map(([dev, iova]) => [dev, iova, iommu.translate(dev, iova, "r")])
        .map(([dev, iova, t]) => [dev, iova, typeof t === "object" && t.ok ? t.phys : "fault"]),
    ).toEqual([
      ["nic", 0, 0xa000],
      ["gpu", 0, 0xb000],
      ["nic", K4, "fault"],
      ["nvme0", K4, 0xc000],
      ["nvme1", K4, 0xc000],
      ["nvme1", 0, "fault"],
      ["nic", 0, 0xa000],
    ]);
    expect([iommu.domainOf("nic"), iommu.domainOf("nvme0"), iommu.domainOf("nvme1")]).toEqual(["default:nic", "container", "container"]);
  });

  it("shares IOTLB entries within a shared domain: the second device hits on the first device's walk", () => {
    const iommu = new Iommu();
    iommu.attach("a", "shared");
    iommu.attach("b", "shared");
    iommu.map("shared", 0, 0, K4, K4, "rw");
    expect([iommu.translate("a", 0, "r"), iommu.translate("b", 8, "r")].map((t) => t.ok && t.iotlbHit)).toEqual([false, true]);
  });

  it("re-attaching a device switches its translations at once and leaves the old domain's mappings in place", () => {
    const iommu = new Iommu();
    iommu.map(iommu.domainOf("dev"), 0, 0x1000, K4, K4, "rw");
    expect(iommu.translate("dev", 0, "r")).toMatchObject({ ok: true, phys: 0x1000 });
    iommu.attach("dev", "vfio");
    iommu.map("vfio", 0, 0x2000, K4, K4, "rw");
    expect(iommu.translate("dev", 0, "r")).toMatchObject({ ok: true, phys: 0x2000, iotlbHit: false });
    expect([iommu.pageCount("default:dev"), iommu.pageAt("default:dev", 0)?.phys, iommu.pageCount("nowhere"), iommu.pageAt("nowhere", 0)]).toEqual([
      1,
      0x1000,
      0,
      undefined,
    ]);
  });
});

describe("Iommu with flushIotlbOnUnmap false (the mutant iotlb-not-flushed) keeps translating unmapped pages it had cached", () => {
  it("a cached page translates after its unmap (stale hit, observer told), an uncached one faults; the default blocks both", () => {
    const run = (flushIotlbOnUnmap: boolean) => {
      const iommu = new Iommu({ flushIotlbOnUnmap });
      const heard: unknown[][] = [];
      iommu.observer = { staleTranslation: (device, domain, iova, access, pte) => heard.push([device, domain, iova, access, pte.iova, pte.phys]) };
      const domain = iommu.domainOf("nic");
      iommu.map(domain, 0, 0x40_0000, 2 * K4, K4, "rw", { mmio: true });
      iommu.translate("nic", 0x10, "w"); // page 0 cached, page 1 never touched
      const unmapped = iommu.unmap(domain, 0, 2 * K4);
      const after = [0x20, K4 + 0x20].map((iova) => {
        const t = iommu.translate("nic", iova, "w");
        return t.ok ? ["ok", t.phys, t.iotlbHit, t.mmio] : [t.fault];
      });
      return { unmapped: unmapped.ok && [unmapped.pages, unmapped.iotlbInvalidated, unmapped.iotlbStale], after, heard, staleHits: iommu.stats().staleHits };
    };
    expect(run(true)).toEqual({ unmapped: [2, 1, 0], after: [["unmapped"], ["unmapped"]], heard: [], staleHits: 0 });
    expect(run(false)).toEqual({
      unmapped: [2, 0, 1],
      after: [["ok", 0x40_0020, true, true], ["unmapped"]],
      heard: [["nic", "default:nic", 0x20, "w", 0, 0x40_0000]],
      staleHits: 1,
    });
  });
});
