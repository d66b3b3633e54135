/**
 * The IOMMU: translation of device DMA addresses (IOVAs) to physical addresses through per-domain
 * page tables and one shared IOTLB, with the latency each translation adds, as numbers.
 *
 * Where it sits [kernel.md §a.7]: a BUS_ADDR peer mapping never reaches the host bridge, so its
 * DMA never consults the IOMMU (invariant I11); the transport must not call {@link Iommu.translate}
 * for it. A THRU_HOST_BRIDGE mapping of a peer BAR is made through the DMA API with
 * `DMA_ATTR_MMIO`: here a mapping with `attrs.mmio`, whose translations say `mmio: true` so that
 * the transport forwards the TLP to the peer rather than to memory. DMA to system memory with the
 * IOMMU on is an ordinary mapping.
 *
 * The model is a pure data structure: it never schedules events or reads time. The transport asks
 * for a translation when a request reaches the root complex and schedules `latencyPs` itself;
 * a fault is a value, and the transport drops the request before it reaches its target. One
 * translation per TLP suffices because a PCIe request never crosses a 4 KiB boundary.
 *
 * Lifecycle: 1. `domainOf(device)` (a private default domain) or `attach(device, shared)`;
 * 2. `map` IOVA ranges in the domain; 3. the device's DMA calls `translate`; 4. `unmap`, which
 * invalidates exactly the IOTLB entries of the removed pages (strict invalidation, as
 * `iommu_unmap` + `iommu_iotlb_sync` do), so that from then on every DMA through the IOVA faults
 * [kernel.md §c.6]. The mutant `flushIotlbOnUnmap: false` leaves them cached: a device keeps
 * reaching the old target through a stale translation (what lazy invalidation, `iommu.strict=0`,
 * allows until its flush queue drains, which is not modelled); an {@link IommuObserver} hears of
 * every such stale translation, the use after unmap I21 forbids.
 *
 * Latency defaults come from pcie-timing.md §5 rows 5-7 (see {@link IOMMU_CONFIG_DEFAULT}).
 * Not modelled: ATS/PRI (device-side translation caches), the context and PASID caches, page-walk
 * caches (so every walk costs the same whatever the page size, as §5 row 5 measured one cost),
 * queued-invalidation latency, and IOMMU groups (iommu-groups.ts computes them; attach devices of
 * one group to one domain).
 */
import { assert } from "../fabric/assert.js";
import {
  coalescePages,
  type IommuAccess,
  type IommuMapRefusal,
  type IommuPageSize,
  IommuPageTable,
  type IommuPerms,
  type IommuPte,
  type IommuRange,
  type IommuUnmapRefusal,
} from "./iommu-page-table.js";
import { Iotlb, type IotlbEntry } from "./iotlb.js";

export {
  IOMMU_PAGE_1G,
  IOMMU_PAGE_2M,
  IOMMU_PAGE_4K,
  IOMMU_PAGE_SIZES,
  type IommuAccess,
  type IommuMapRefusal,
  type IommuPageSize,
  type IommuPerms,
  type IommuPte,
  type IommuRange,
  type IommuUnmapRefusal,
} from "./iommu-page-table.js";
export type { IotlbEntry } from "./iotlb.js";

/** The parameters of one IOMMU. All latencies are integer picoseconds. */
export interface IommuConfig {
  /** IOTLB entries. Default 64: the reach of 64 × 4 KiB = 256 KiB fits pcie-timing.md §5 row 6 (the 64 is an inference there). */
  readonly iotlbEntries: number;
  /** Latency an IOTLB miss adds: one page walk, whatever the page size. Default 260 ns, see {@link IOMMU_CONFIG_DEFAULT}. */
  readonly walkLatencyPs: number;
  /** Latency an IOTLB hit adds. Default 0: §5 row 6 measured no added latency while the working set fits. */
  readonly hitLatencyPs: number;
  /**
   * Whether `unmap` invalidates the IOTLB entries of the pages it removes. Default true (strict
   * invalidation); false is the mutant `iotlb-not-flushed`: stale entries keep translating (I21).
   */
  readonly flushIotlbOnUnmap: boolean;
}

/**
 * Defaults from pcie-timing.md §5. `walkLatencyPs`: row 5 measured +226 to +293 ns per IOTLB miss
 * (4 KiB pages, 64 B reads, depending on CPU generation); the midpoint, 259.5 ns, rounded to 260 ns.
 * `iotlbEntries` 64 from row 6; `hitLatencyPs` 0 from rows 6 and 7 (no cost while translations hit).
 */
export const IOMMU_CONFIG_DEFAULT: IommuConfig = { iotlbEntries: 64, walkLatencyPs: 260_000, hitLatencyPs: 0, flushIotlbOnUnmap: true };

/** Kernel mutants of the IOMMU, as a scenario's kernel names them. */
export interface IommuMutants {
  /** `iotlb-not-flushed`: {@link IommuConfig.flushIotlbOnUnmap} false. */
  readonly iotlbNotFlushed?: boolean;
}

/**
 * Hears what the IOMMU's own counters cannot show a monitor. Called synchronously, at the
 * simulated time of the translation; it must not call back into the IOMMU.
 */
export interface IommuObserver {
  /**
   * A translation hit an IOTLB entry whose page the page table no longer holds (it was unmapped and
   * not invalidated): the request goes on to `pte`'s old target. Only possible with `flushIotlbOnUnmap: false`.
   */
  staleTranslation(deviceId: string, domain: string, iova: number, access: IommuAccess, pte: IommuPte): void;
}

/** Optional attributes of a mapping. */
export interface IommuMapAttrs {
  /** The target is MMIO (a peer BAR mapped THRU_HOST_BRIDGE with `DMA_ATTR_MMIO`) [kernel.md §a.7]. Default false. */
  readonly mmio?: boolean;
}

/** The outcome of {@link Iommu.map}: the pages mapped as one range, or a refusal with its reason (nothing mapped). */
export type IommuMapResult = { readonly ok: true; readonly range: IommuRange; readonly pages: number } | IommuMapRefusal;

/** The outcome of {@link Iommu.unmap}: what was removed, or a refusal with its reason (nothing removed). */
export type IommuUnmapResult =
  | {
      readonly ok: true;
      /** The removed pages folded into contiguous runs, ascending IOVA; empty when the range held nothing. */
      readonly removed: readonly IommuRange[];
      /** Number of pages removed. */
      readonly pages: number;
      /** Bytes removed (the sum of `removed` sizes). */
      readonly bytes: number;
      /** IOTLB entries invalidated: exactly the removed pages that were cached (0 without `flushIotlbOnUnmap`). */
      readonly iotlbInvalidated: number;
      /** Removed pages left cached in the IOTLB: 0 unless `flushIotlbOnUnmap` is false. */
      readonly iotlbStale: number;
    }
  | IommuUnmapRefusal;

/** The outcome of {@link Iommu.translate}. */
export type IommuTranslation =
  | {
      readonly ok: true;
      /** The physical (or, with `mmio`, the peer BAR's CPU physical) address of `iova`. */
      readonly phys: number;
      readonly pageSize: IommuPageSize;
      readonly iotlbHit: boolean;
      /** What the translation adds to the request: `hitLatencyPs` on a hit, `walkLatencyPs` on a miss. */
      readonly latencyPs: number;
      readonly mmio: boolean;
    }
  | {
      readonly ok: false;
      /** "unmapped": no page covers `iova`; "permission": the page does not allow the access. */
      readonly fault: "unmapped" | "permission";
      readonly iova: number;
      /** Time spent before the fault was known (a walk, or a hit); the transport may ignore it. */
      readonly latencyPs: number;
    };

/** Event counts since the IOMMU was created. */
export interface IommuStats {
  /** Translations found in the IOTLB. */
  readonly hits: number;
  /** Translations not found in the IOTLB (faulting ones included). */
  readonly misses: number;
  /** Page walks: one per miss. */
  readonly walks: number;
  /** IOTLB entries dropped by unmap. */
  readonly invalidations: number;
  /** IOTLB entries dropped to make room (LRU victims). */
  readonly evictions: number;
  /** Translations that faulted (unmapped or permission). */
  readonly faults: number;
  /** Translations through an IOTLB entry of an unmapped page (only without `flushIotlbOnUnmap`). */
  readonly staleHits: number;
}

/** Whether `perms` allow `access`. */
function permits(perms: IommuPerms, access: IommuAccess): boolean {
  return perms.includes(access);
}

/** One IOMMU unit: domains with page tables, one IOTLB, counters. Deterministic; no time, no events. */
export class Iommu {
  readonly config: IommuConfig;
  private readonly iotlb: Iotlb;
  private readonly domains = new Map<string, IommuPageTable>();
  private readonly deviceDomains = new Map<string, string>();
  private readonly counts = { hits: 0, misses: 0, walks: 0, invalidations: 0, evictions: 0, faults: 0, staleHits: 0 };
  /** Told of stale translations; none by default. */
  observer: IommuObserver | undefined = undefined;

  /**
   * @param config overrides of {@link IOMMU_CONFIG_DEFAULT}.
   * @throws AssertionError when a latency is not a non-negative safe integer or the entry count is negative.
   */
  constructor(config: Partial<IommuConfig> = {}) {
    this.config = { ...IOMMU_CONFIG_DEFAULT, ...config };
    for (const key of ["walkLatencyPs", "hitLatencyPs"] as const) {
      const value = this.config[key];
      assert(Number.isSafeInteger(value) && value >= 0, () => `${key} must be a non-negative integer, got ${value}`);
    }
    this.iotlb = new Iotlb(this.config.iotlbEntries);
  }

  /**
   * The domain `deviceId` translates through: the one it was attached to, or else its own default
   * domain (`default:<deviceId>`), created on first use as the DMA API's default domain is.
   * @returns the domain id, to pass to `map` and `unmap`.
   */
  domainOf(deviceId: string): string {
    const attached = this.deviceDomains.get(deviceId);
    if (attached !== undefined) return attached;
    const domain = `default:${deviceId}`;
    this.attach(deviceId, domain);
    return domain;
  }

  /**
   * `iommu_attach_device`: makes `deviceId` translate through `domainId` (created if new), leaving
   * its previous domain and that domain's mappings in place. Devices attached to one domain see the
   * same mappings (a VFIO container, or an IOMMU group). No IOTLB flush is needed: entries are tagged by domain.
   */
  attach(deviceId: string, domainId: string): void {
    if (!this.domains.has(domainId)) this.domains.set(domainId, new IommuPageTable());
    this.deviceDomains.set(deviceId, domainId);
  }

  /**
   * `iommu_map`: maps `size` bytes at `iova` in `domain` to `phys` in pages of `pageSize`, all or nothing.
   * @param perms what devices may do through the mapping.
   * @param attrs `mmio` for a peer BAR mapped THRU_HOST_BRIDGE [kernel.md §a.7].
   * @returns the range and page count, or a refusal: "empty", "misaligned-iova" / "-phys" / "-size"
   * (with the alignment required), or "overlap" (with the lowest page already mapped in the range).
   * @throws AssertionError when `domain` does not exist (create it with `domainOf` or `attach`) or an
   * address is not a non-negative safe integer.
   */
  map(domain: string, iova: number, phys: number, size: number, pageSize: IommuPageSize, perms: IommuPerms, attrs: IommuMapAttrs = {}): IommuMapResult {
    const result = this.table(domain).map(iova, phys, size, pageSize, perms, attrs.mmio ?? false);
    if (!result.ok) return result;
    return { ok: true, range: result.range, pages: result.range.size / pageSize };
  }

  /**
   * `iommu_unmap` followed by a page-selective IOTLB invalidation of exactly the removed pages
   * (none with `flushIotlbOnUnmap: false`: those stay cached and are counted as stale).
   * @returns the removed pages as ranges, with page, byte, invalidation and stale counts; or a refusal:
   * "empty", "misaligned-iova" / "-size" (4 KiB granule), or "splits-large-page".
   * @throws AssertionError when `domain` does not exist.
   */
  unmap(domain: string, iova: number, size: number): IommuUnmapResult {
    const result = this.table(domain).unmap(iova, size);
    if (!result.ok) return result;
    let iotlbInvalidated = 0;
    let iotlbStale = 0;
    let bytes = 0;
    for (const pte of result.removed) {
      if (!this.config.flushIotlbOnUnmap) iotlbStale += this.iotlb.has(domain, pte) ? 1 : 0;
      else if (this.iotlb.invalidate(domain, pte)) iotlbInvalidated++;
      bytes += pte.pageSize;
    }
    this.counts.invalidations += iotlbInvalidated;
    return { ok: true, removed: coalescePages(result.removed), pages: result.removed.length, bytes, iotlbInvalidated, iotlbStale };
  }

  /**
   * Translates one DMA request of `deviceId` at `iova`: an IOTLB lookup, and on a miss one page walk
   * whose result is cached (a permission fault caches it too: the entry is valid, the access is not).
   * @param access "r" for a memory read request, "w" for a memory write request.
   * @returns the physical address with the latency to add, or a fault ("unmapped", "permission").
   */
  translate(deviceId: string, iova: number, access: IommuAccess): IommuTranslation {
    assert(Number.isSafeInteger(iova) && iova >= 0, () => `iova must be a non-negative safe integer, got ${iova}`);
    const domain = this.deviceDomains.get(deviceId) ?? `default:${deviceId}`;
    let pte = this.iotlb.lookup(domain, iova);
    const iotlbHit = pte !== undefined;
    if (pte !== undefined) {
      this.counts.hits++;
      // Only the mutant can cache a page the table no longer holds; the default pays no extra walk.
      if (!this.config.flushIotlbOnUnmap && this.domains.get(domain)?.lookup(iova) !== pte) this.staleHit(deviceId, domain, iova, access, pte);
    } else {
      this.counts.misses++;
      this.counts.walks++;
      pte = this.domains.get(domain)?.lookup(iova);
      if (pte !== undefined && this.iotlb.insert(domain, pte) !== undefined) this.counts.evictions++;
    }
    const latencyPs = iotlbHit ? this.config.hitLatencyPs : this.config.walkLatencyPs;
    if (pte === undefined || !permits(pte.perms, access)) {
      this.counts.faults++;
      return { ok: false, fault: pte === undefined ? "unmapped" : "permission", iova, latencyPs };
    }
    return { ok: true, phys: pte.phys + (iova - pte.iova), pageSize: pte.pageSize, iotlbHit, latencyPs, mmio: pte.mmio };
  }

  /**
   * The entry that translates `iova` in `domain`, read straight from the page table: no IOTLB, no
   * counters. For monitors and tests.
   * @returns the entry, or undefined when unmapped or the domain does not exist.
   */
  pageAt(domain: string, iova: number): IommuPte | undefined {
    return this.domains.get(domain)?.lookup(iova);
  }

  /** Number of pages mapped in `domain` (0 for a domain that does not exist). */
  pageCount(domain: string): number {
    return this.domains.get(domain)?.pageCount ?? 0;
  }

  /** The IOTLB's entries, least recently used first. */
  iotlbContents(): IotlbEntry[] {
    return this.iotlb.contents();
  }

  /** A copy of the counters. */
  stats(): IommuStats {
    return { ...this.counts };
  }

  private staleHit(deviceId: string, domain: string, iova: number, access: IommuAccess, pte: IommuPte): void {
    this.counts.staleHits++;
    this.observer?.staleTranslation(deviceId, domain, iova, access, pte);
  }

  private table(domain: string): IommuPageTable {
    const table = this.domains.get(domain);
    assert(table !== undefined, () => `IOMMU domain ${domain} does not exist (create it with domainOf or attach)`);
    return table;
  }
}
