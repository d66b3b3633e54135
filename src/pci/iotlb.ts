/**
 * The IOTLB: the IOMMU's cache of page translations, one per IOMMU (shared by every device and
 * domain behind it), fully associative, tagged by (domain, page) and replaced least recently used.
 *
 * Its size is what pcie-timing.md §5 rows 5-7 measure: with 4 KiB pages a working set of up to
 * 256 KiB costs nothing (row 6, consistent with about 64 entries × 4 KiB of reach), 1 MiB or more
 * costs one page walk per miss (row 5), and with 2 MiB pages 64 MiB costs nothing (row 7:
 * 64 × 2 MiB = 128 MiB of reach). Reach is entries × page size, whatever the page size.
 *
 * A JS `Map` keeps insertion order, so deleting and re-inserting a key on every hit keeps the keys
 * in LRU order (oldest first) and the victim is the first key: O(1) per operation and deterministic.
 */
import { assert } from "../fabric/assert.js";
import { IOMMU_PAGE_SIZES, type IommuPte } from "./iommu-page-table.js";

/** One cached translation: the leaf entry a walk found in `domain`'s page table. */
export interface IotlbEntry {
  readonly domain: string;
  readonly pte: IommuPte;
}

/**
 * The tag of a page. The page size is part of it because a 4 KiB page and a 2 MiB page can have the
 * same number. A domain id may contain ':' without ambiguity: the last two fields are always numbers.
 */
function tagOf(domain: string, pageSize: number, pageNumber: number): string {
  return `${domain}:${pageSize}:${pageNumber}`;
}

/** A fully associative, LRU-replaced translation cache of a fixed number of entries. */
export class Iotlb {
  /** Entries by tag, least recently used first. */
  private readonly entries = new Map<string, IotlbEntry>();

  /**
   * @param capacity the number of entries; 0 makes a cache that never holds anything (every access walks).
   * @throws AssertionError when `capacity` is not a non-negative safe integer.
   */
  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity >= 0, () => `IOTLB capacity must be a non-negative integer, got ${capacity}`);
  }

  /** Number of entries held. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Looks `iova` up in `domain` and, on a hit, makes the entry the most recently used. One probe per
   * page size; at most one can hit because a domain's pages never overlap and unmapped pages are
   * invalidated (unless the IOMMU's `flushIotlbOnUnmap` is off: then a stale entry may hit).
   * @returns the cached entry, or undefined on a miss.
   */
  lookup(domain: string, iova: number): IommuPte | undefined {
    for (const pageSize of IOMMU_PAGE_SIZES) {
      const tag = tagOf(domain, pageSize, Math.floor(iova / pageSize));
      const entry = this.entries.get(tag);
      if (entry === undefined) continue;
      this.entries.delete(tag);
      this.entries.set(tag, entry);
      return entry.pte;
    }
    return undefined;
  }

  /**
   * Caches the translation a walk found, as the most recently used entry, evicting the least
   * recently used entry when full.
   * @returns the evicted entry, or undefined when nothing was evicted.
   * @throws AssertionError when the page is already cached (the caller must look up first).
   */
  insert(domain: string, pte: IommuPte): IotlbEntry | undefined {
    const tag = tagOf(domain, pte.pageSize, pte.iova / pte.pageSize);
    assert(!this.entries.has(tag), () => `IOTLB already holds ${tag}`);
    if (this.capacity === 0) return undefined;
    let evicted: IotlbEntry | undefined;
    if (this.entries.size === this.capacity) {
      const victim = this.entries.keys().next();
      assert(victim.done !== true, "a full IOTLB has a first entry");
      evicted = this.entries.get(victim.value);
      this.entries.delete(victim.value);
    }
    this.entries.set(tag, { domain, pte });
    return evicted;
  }

  /**
   * Drops the entry for one page of `domain`, if cached (a page-selective IOTLB invalidation).
   * @returns whether an entry was dropped.
   */
  invalidate(domain: string, pte: IommuPte): boolean {
    return this.entries.delete(tagOf(domain, pte.pageSize, pte.iova / pte.pageSize));
  }

  /** Whether the entry for one page of `domain` is cached, without touching the LRU order. */
  has(domain: string, pte: IommuPte): boolean {
    return this.entries.has(tagOf(domain, pte.pageSize, pte.iova / pte.pageSize));
  }

  /** The cached entries, least recently used first (the next victim is the first). */
  contents(): IotlbEntry[] {
    return [...this.entries.values()];
  }
}
