/**
 * One IOMMU domain's I/O page table: which IOVA pages map to which physical addresses, with which
 * permissions, in pages of 4 KiB, 2 MiB or 1 GiB (the leaf sizes of the x86 VT-d / AMD-Vi tables).
 * Used by `Iommu` (iommu.ts), which adds domains, the IOTLB and latencies.
 *
 * The table is kept as three maps of leaves, one per page size, keyed by page number, plus two
 * occupancy counters that play the role of the intermediate tables: how many leaves sit inside
 * each 2 MiB region and each 1 GiB region. They make every overlap test O(1) per page and let a
 * range walk skip empty regions, the way a hardware walk skips a not-present directory entry.
 *
 * Expected refusals (misaligned or overlapping maps, unmaps that would split a large page) are
 * values; arguments that are not non-negative safe integers are misuse and throw.
 */
import { assert } from "../fabric/assert.js";

/** 4 KiB: the smallest IOMMU page, and the granule `unmap` ranges must be aligned to. */
export const IOMMU_PAGE_4K = 0x1000;
/** 2 MiB: a level-2 leaf ("large page"). */
export const IOMMU_PAGE_2M = 0x20_0000;
/** 1 GiB: a level-3 leaf ("huge page"). */
export const IOMMU_PAGE_1G = 0x4000_0000;

/** A leaf page size the IOMMU supports. */
export type IommuPageSize = typeof IOMMU_PAGE_4K | typeof IOMMU_PAGE_2M | typeof IOMMU_PAGE_1G;

/** The supported page sizes, smallest first. */
export const IOMMU_PAGE_SIZES: readonly IommuPageSize[] = [IOMMU_PAGE_4K, IOMMU_PAGE_2M, IOMMU_PAGE_1G];

/** What a mapping lets a device do (`IOMMU_READ`, `IOMMU_WRITE`, or both). */
export type IommuPerms = "r" | "w" | "rw";

/** What one DMA does: a memory read request or a memory write request. */
export type IommuAccess = "r" | "w";

/** One leaf page-table entry: a page of `pageSize` bytes at `iova` (aligned) translating to `phys`. */
export interface IommuPte {
  readonly iova: number;
  readonly phys: number;
  readonly pageSize: IommuPageSize;
  readonly perms: IommuPerms;
  /** Mapped with `DMA_ATTR_MMIO`: a peer BAR reached THRU_HOST_BRIDGE, not system memory [kernel.md §a.7]. */
  readonly mmio: boolean;
}

/** A run of pages contiguous in IOVA and in physical address, with one page size and one set of attributes. */
export interface IommuRange {
  readonly iova: number;
  readonly phys: number;
  /** Bytes, a multiple of `pageSize`. */
  readonly size: number;
  readonly pageSize: IommuPageSize;
  readonly perms: IommuPerms;
  readonly mmio: boolean;
}

/** The outcome of {@link IommuPageTable.map}. */
export type IommuPageTableMapResult = { readonly ok: true; readonly range: IommuRange } | IommuMapRefusal;

/** The outcome of {@link IommuPageTable.unmap}: on success the removed entries in ascending IOVA order (possibly none). */
export type IommuPageTableUnmapResult = { readonly ok: true; readonly removed: readonly IommuPte[] } | IommuUnmapRefusal;

/** Why a map was refused (nothing was mapped). */
export type IommuMapRefusal =
  /** `size` is zero. */
  | { readonly ok: false; readonly reason: "empty" }
  /** `iova`, `phys` or `size` is not a multiple of the page size asked for (`iommu_map` returns -EINVAL). */
  | { readonly ok: false; readonly reason: "misaligned-iova" | "misaligned-phys" | "misaligned-size"; readonly alignment: IommuPageSize }
  /** A page already mapped in the domain intersects the range; `conflict` is the lowest such page. */
  | { readonly ok: false; readonly reason: "overlap"; readonly conflict: IommuPte };

/** Why an unmap was refused (nothing was removed). */
export type IommuUnmapRefusal =
  /** `size` is zero. */
  | { readonly ok: false; readonly reason: "empty" }
  /** `iova` or `size` is not a multiple of 4 KiB, the smallest page size. */
  | { readonly ok: false; readonly reason: "misaligned-iova" | "misaligned-size"; readonly alignment: IommuPageSize }
  /** The range covers only part of a 2 MiB or 1 GiB page, which cannot be split; `page` is the lowest such page. */
  | { readonly ok: false; readonly reason: "splits-large-page"; readonly page: IommuPte };

/** Index of a page size in {@link IOMMU_PAGE_SIZES}. */
function levelOf(pageSize: IommuPageSize): 0 | 1 | 2 {
  return pageSize === IOMMU_PAGE_4K ? 0 : pageSize === IOMMU_PAGE_2M ? 1 : 2;
}

function assertAddress(value: number, what: string): void {
  assert(Number.isSafeInteger(value) && value >= 0, () => `${what} must be a non-negative safe integer, got ${value}`);
}

/** Adds `delta` to a counter in a map, deleting it at zero so that empty regions leave no key behind. */
function bump(counts: Map<number, number>, key: number, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  assert(next >= 0, "page-table occupancy went negative");
  if (next === 0) counts.delete(key);
  else counts.set(key, next);
}

/** The I/O page table of one domain. */
export class IommuPageTable {
  /** Leaves by level (4 KiB, 2 MiB, 1 GiB), keyed by page number (`iova / pageSize`). */
  private readonly leaves: readonly [Map<number, IommuPte>, Map<number, IommuPte>, Map<number, IommuPte>] = [new Map(), new Map(), new Map()];
  /** 4 KiB leaves per 2 MiB region number. */
  private readonly used2M = new Map<number, number>();
  /** 4 KiB and 2 MiB leaves per 1 GiB region number. */
  private readonly used1G = new Map<number, number>();

  /** Number of leaf pages mapped. */
  get pageCount(): number {
    return this.leaves[0].size + this.leaves[1].size + this.leaves[2].size;
  }

  /**
   * The leaf that translates `iova`, without side effects (no IOTLB, no counters): what a walk finds.
   * @returns the page-table entry, or undefined when `iova` is not mapped.
   */
  lookup(iova: number): IommuPte | undefined {
    assertAddress(iova, "iova");
    for (const pageSize of IOMMU_PAGE_SIZES) {
      const pte = this.leaves[levelOf(pageSize)].get(Math.floor(iova / pageSize));
      if (pte !== undefined) return pte;
    }
    return undefined;
  }

  /**
   * `iommu_map`: maps `size` bytes at `iova` to `phys` in pages of `pageSize`, all or nothing.
   * @param perms what the device may do through the mapping.
   * @param mmio whether the target is MMIO (`DMA_ATTR_MMIO`) [kernel.md §a.7].
   * @returns the new pages as one range, or a refusal (nothing mapped) when the size is zero, an
   * address or the size is not a multiple of `pageSize`, or a mapped page intersects the range.
   */
  map(iova: number, phys: number, size: number, pageSize: IommuPageSize, perms: IommuPerms, mmio: boolean): IommuPageTableMapResult {
    assertAddress(iova, "iova");
    assertAddress(phys, "phys");
    assertAddress(size, "size");
    assert(IOMMU_PAGE_SIZES.includes(pageSize), () => `page size must be 4 KiB, 2 MiB or 1 GiB, got ${pageSize}`);
    assert(Number.isSafeInteger(iova + size) && Number.isSafeInteger(phys + size), "mapping must end below 2^53");
    if (size === 0) return { ok: false, reason: "empty" };
    if (iova % pageSize !== 0) return { ok: false, reason: "misaligned-iova", alignment: pageSize };
    if (phys % pageSize !== 0) return { ok: false, reason: "misaligned-phys", alignment: pageSize };
    if (size % pageSize !== 0) return { ok: false, reason: "misaligned-size", alignment: pageSize };
    const conflict = this.pagesIn(iova, iova + size).next();
    if (conflict.done !== true) return { ok: false, reason: "overlap", conflict: conflict.value };
    const level = levelOf(pageSize);
    for (let offset = 0; offset < size; offset += pageSize) {
      const pte: IommuPte = { iova: iova + offset, phys: phys + offset, pageSize, perms, mmio };
      this.leaves[level].set(pte.iova / pageSize, pte);
      if (level === 0) bump(this.used2M, Math.floor(pte.iova / IOMMU_PAGE_2M), 1);
      if (level <= 1) bump(this.used1G, Math.floor(pte.iova / IOMMU_PAGE_1G), 1);
    }
    return { ok: true, range: { iova, phys, size, pageSize, perms, mmio } };
  }

  /**
   * `iommu_unmap`: removes every page inside `[iova, iova + size)`, all or nothing. Holes are
   * skipped (they unmap nothing); a large page the range covers only in part refuses the whole call,
   * where a real driver would silently unmap the whole large page.
   * @returns the removed entries in ascending IOVA order (possibly none), or a refusal (nothing
   * removed) when the size is zero, `iova` or `size` is not 4 KiB aligned, or a large page would be split.
   */
  unmap(iova: number, size: number): IommuPageTableUnmapResult {
    assertAddress(iova, "iova");
    assertAddress(size, "size");
    assert(Number.isSafeInteger(iova + size), "range must end below 2^53");
    if (size === 0) return { ok: false, reason: "empty" };
    if (iova % IOMMU_PAGE_4K !== 0) return { ok: false, reason: "misaligned-iova", alignment: IOMMU_PAGE_4K };
    if (size % IOMMU_PAGE_4K !== 0) return { ok: false, reason: "misaligned-size", alignment: IOMMU_PAGE_4K };
    const removed = [...this.pagesIn(iova, iova + size)];
    const split = removed.find((pte) => pte.iova < iova || pte.iova + pte.pageSize > iova + size);
    if (split !== undefined) return { ok: false, reason: "splits-large-page", page: split };
    for (const pte of removed) {
      const level = levelOf(pte.pageSize);
      this.leaves[level].delete(pte.iova / pte.pageSize);
      if (level === 0) bump(this.used2M, Math.floor(pte.iova / IOMMU_PAGE_2M), -1);
      if (level <= 1) bump(this.used1G, Math.floor(pte.iova / IOMMU_PAGE_1G), -1);
    }
    return { ok: true, removed };
  }

  /**
   * Every leaf intersecting `[start, end)`, in ascending IOVA order. Descends like a page walk:
   * a 1 GiB region is a leaf, empty (skipped) or a directory of 2 MiB regions, and so on.
   */
  private *pagesIn(start: number, end: number): Generator<IommuPte> {
    for (let region1G = Math.floor(start / IOMMU_PAGE_1G); region1G * IOMMU_PAGE_1G < end; region1G++) {
      const huge = this.leaves[2].get(region1G);
      if (huge !== undefined) {
        // A 1 GiB leaf excludes every smaller leaf in its region (map refuses overlaps).
        yield huge;
        continue;
      }
      if (!this.used1G.has(region1G)) continue;
      const from2M = Math.max(start, region1G * IOMMU_PAGE_1G);
      const to2M = Math.min(end, (region1G + 1) * IOMMU_PAGE_1G);
      for (let region2M = Math.floor(from2M / IOMMU_PAGE_2M); region2M * IOMMU_PAGE_2M < to2M; region2M++) {
        const large = this.leaves[1].get(region2M);
        if (large !== undefined) {
          yield large;
          continue;
        }
        if (!this.used2M.has(region2M)) continue;
        const from4K = Math.max(from2M, region2M * IOMMU_PAGE_2M);
        const to4K = Math.min(to2M, (region2M + 1) * IOMMU_PAGE_2M);
        for (let page = Math.floor(from4K / IOMMU_PAGE_4K); page * IOMMU_PAGE_4K < to4K; page++) {
          const small = this.leaves[0].get(page);
          if (small !== undefined) yield small;
        }
      }
    }
  }
}

/**
 * Folds entries (ascending IOVA) into maximal runs that are contiguous in IOVA and physical
 * address and share page size, permissions and MMIO attribute: a compact report of what an unmap removed.
 */
export function coalescePages(ptes: readonly IommuPte[]): IommuRange[] {
  const ranges: IommuRange[] = [];
  let run: { iova: number; phys: number; size: number; pageSize: IommuPageSize; perms: IommuPerms; mmio: boolean } | undefined;
  for (const pte of ptes) {
    const contiguous =
      run !== undefined &&
      run.iova + run.size === pte.iova &&
      run.phys + run.size === pte.phys &&
      run.pageSize === pte.pageSize &&
      run.perms === pte.perms &&
      run.mmio === pte.mmio;
    if (run !== undefined && contiguous) {
      run.size += pte.pageSize;
    } else {
      if (run !== undefined) ranges.push(run);
      run = { iova: pte.iova, phys: pte.phys, size: pte.pageSize, pageSize: pte.pageSize, perms: pte.perms, mmio: pte.mmio };
    }
  }
  if (run !== undefined) ranges.push(run);
  return ranges;
}
