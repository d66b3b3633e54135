/**
 * Mapping a dma-buf for a device: the core's map/unmap of an attachment (`dma_buf_map_attachment`,
 * `dma_buf_unmap_attachment`) [kernel.md §b.4], and the helper MMIO exporters build their scatter
 * list with (`dma_buf_phys_vec_to_sgt`, `dma_buf_free_sgt` of dma-buf-mapping.c) [§b.5].
 *
 * A scatter list here carries DMA addresses only (the kernel's sg entries have no page and
 * `orig_nents` = 0 for MMIO), so an importer cannot reach the CPU side of peer memory. Every list
 * is checked at both ends [STYLE.md 10]: when the helper builds it and when the core hands it to
 * the importer, every address and length is page aligned (I15) and the lengths sum to the buffer
 * size (I14).
 */
import { assert } from "../fabric/assert.js";
import { IOMMU_PAGE_1G, IOMMU_PAGE_2M, IOMMU_PAGE_4K, type Iommu, type IommuPageSize } from "../pci/iommu.js";
import type { P2pdma, P2pdmaProvider } from "../pci/p2pdma.js";
import type { PciFunction } from "../pci/topology.js";
import type { DmaBufAttachment } from "./attachment.js";
import type { Errno, Result } from "./errno.js";

declare module "./dma-buf.js" {
  interface DmaBufTraceKinds {
    /**
     * `sg`: the list as `[dmaAddress, length]` pairs. For a phys_vec list (VFIO's exporter) also
     * `ranges` (`[paddr, len]`), `mapKind` and the provider BAR's CPU and bus addresses as the
     * topology has them — not the provider's `busOffset`, so a wrong offset (E27) shows (I11, I14).
     */
    map: {
      buf: string;
      attach: number;
      importer: string;
      nents: number;
      bytes: number;
      sg: number[][];
      ranges?: number[][];
      mapKind?: string;
      barCpuAddress?: number;
      barBusAddress?: number;
    };
    "map.refused": { buf: string; attach: number; importer: string; errno: Errno };
    unmap: { buf: string; attach: number; importer: string };
  }
}

/** PAGE_SIZE of the modelled kernel. */
export const PAGE_SIZE = 4096;

/** `UINT_MAX` rounded down to PAGE_SIZE: the largest sg entry before the 2026 fix [§b.5]. */
export const SG_CHUNK_UINT_MAX = 0xffff_f000;

/** 2 GiB: the sg entry size of the 2026 fix (E16) [§b.5]. */
export const SG_CHUNK_2G = 2 ** 31;

/** One scatter-list entry: DMA address and length only. */
export interface SgEntry {
  readonly dmaAddress: number;
  /** Bytes. */
  readonly length: number;
}

/** `struct sg_table` as an importer sees it: the DMA side only. */
export interface SgTable {
  readonly entries: readonly SgEntry[];
}

/**
 * Asserts the properties every mapping of a dma-buf has: entries non-empty, every address and
 * length page aligned (I15), lengths summing to `size` (I14).
 * @param where names the checking side in the message.
 * @throws AssertionError naming the invariant broken.
 */
export function sgTableAssertValid(sgt: SgTable, size: number, where: string): void {
  let total = 0;
  for (const [index, entry] of sgt.entries.entries()) {
    assert(entry.length > 0, () => `${where}: sg entry ${index} is empty`);
    assert(entry.dmaAddress % PAGE_SIZE === 0, () => `${where}: sg entry ${index} address 0x${entry.dmaAddress.toString(16)} not page aligned (I15)`);
    assert(entry.length % PAGE_SIZE === 0, () => `${where}: sg entry ${index} length 0x${entry.length.toString(16)} not page aligned (I15)`);
    total += entry.length;
  }
  assert(total === size, () => `${where}: sg lengths sum to ${total}, dma-buf size is ${size} (I14)`);
}

/**
 * `dma_buf_map_attachment` (resv held) [§b.4]: pin-on-map for a static importer when the exporter
 * can pin, then the exporter's `map`. The returned list is checked (I14, I15) and counted on the
 * attachment until {@link dmaBufUnmapAttachment}.
 * Precondition for a static importer: every KERNEL fence has signaled (the kernel's map waits for
 * them; a synchronous call cannot, so a process yields `buf.resv.wait("kernel")` first).
 * @returns the scatter list; or the errno of the exporter's `pin` or `map` (nothing left pinned).
 * @throws AssertionError without the resv held, on a detached attachment, or with a KERNEL fence pending for a static importer.
 */
export function dmaBufMapAttachment<P>(attach: DmaBufAttachment<P>): Result<SgTable> {
  const buf = attach.buf;
  assert(attach.attached, () => `map of detached attachment ${attach.id} of ${buf.name}`);
  buf.resv.assertHeld();
  const pinOnMap = !attach.dynamic && buf.ops.pin !== undefined;
  if (!attach.dynamic) assert(buf.resv.testSignaled("kernel"), () => `static map of ${buf.name} with a KERNEL fence pending: wait for it first`);
  const pinErrno = pinOnMap ? buf.ops.pin?.(attach) : undefined;
  const result: Result<SgTable> = pinErrno === undefined ? buf.ops.map(attach) : { ok: false, errno: pinErrno };
  if (!result.ok) {
    if (pinOnMap && pinErrno === undefined) buf.ops.unpin?.(attach);
    buf.engine.trace.emit("dmabuf", "map.refused", { buf: attach.buf.name, attach: attach.id, importer: attach.importer.label, errno: result.errno });
    return result;
  }
  const sgt = result.value;
  sgTableAssertValid(sgt, buf.size, `map of ${buf.name} for ${attach.importer.label}`);
  assert(!attach.sgts.includes(sgt), "the exporter returned a scatter list that is already mapped");
  attach.sgts.push(sgt);
  const sg = sgt.entries.map((e) => [e.dmaAddress, e.length]);
  const origin = sgt instanceof DmaBufDma ? sgt.origin : undefined;
  const bar = origin?.provider.fn.bars.find((b) => b.index === origin.provider.barIndex);
  // Two literals rather than `{ ...attach.traceFields(), …, ...physVec }`: V8 gives every
  // spread-then-extend literal a fresh map in old space, which keeps the run's young objects alive
  // through scavenges. The field order is the fingerprint's: keep both in step.
  const head = { buf: attach.buf.name, attach: attach.id, importer: attach.importer.label, nents: sgt.entries.length, bytes: buf.size, sg };
  if (origin === undefined) buf.engine.trace.emit("dmabuf", "map", head);
  else
    buf.engine.trace.emit("dmabuf", "map", {
      buf: head.buf,
      attach: head.attach,
      importer: head.importer,
      nents: head.nents,
      bytes: head.bytes,
      sg,
      ranges: origin.ranges.map((r) => [r.paddr, r.len]),
      mapKind: (sgt as DmaBufDma).kind,
      barCpuAddress: bar?.cpuAddress ?? 0,
      barBusAddress: bar?.busAddress ?? 0,
    });
  return result;
}

/**
 * `dma_buf_unmap_attachment` (resv held) [§b.4]: the exporter's `unmap`, then unpin-on-map.
 * Notifies `buf.unmapped`, which a revoke's last wait watches.
 * @throws AssertionError without the resv held, or when `sgt` is not a live mapping of `attach`.
 */
export function dmaBufUnmapAttachment<P>(attach: DmaBufAttachment<P>, sgt: SgTable): void {
  const buf = attach.buf;
  buf.resv.assertHeld();
  const index = attach.sgts.indexOf(sgt);
  assert(index >= 0, () => `unmap of a scatter list that is not mapped on attachment ${attach.id} of ${buf.name}`);
  buf.ops.unmap(attach, sgt);
  attach.sgts.splice(index, 1);
  if (!attach.dynamic && buf.ops.unpin !== undefined) buf.ops.unpin(attach);
  buf.engine.trace.emit("dmabuf", "unmap", attach.traceFields());
  buf.unmapped.notify();
}

/** `struct dma_buf_phys_vec`: one CPU physical range of the exporter's MMIO. */
export interface PhysVec {
  readonly paddr: number;
  /** Bytes. */
  readonly len: number;
}

/**
 * The DMA API's IOMMU side (dma-iommu) over one {@link Iommu}: IOVA allocation per domain. IOVAs
 * are bump-allocated upward from `iovaBase` and never reused (deterministic, and a stale IOVA can
 * never alias a new mapping), each naturally aligned to its size up to 1 GiB so large pages fit.
 */
export class DmaIommu {
  private readonly iovaNext = new Map<string, number>();
  /**
   * IOVA destroys that found fewer bytes mapped than they own: the kernel's `WARN_ON(unmapped != size)`
   * of `__iommu_dma_unmap`, e.g. after an `iommu-unmap` fault tore the range down under its owner.
   */
  shortUnmaps = 0;

  constructor(
    readonly iommu: Iommu,
    /** First IOVA handed out; default 4 GiB. */
    readonly iovaBase: number = 2 ** 32,
  ) {
    assert(iovaBase % IOMMU_PAGE_1G === 0, "iovaBase must be 1 GiB aligned");
  }

  /** `iommu_dma_alloc_iova`: a fresh IOVA range of `size` bytes in `domain`. */
  allocIova(domain: string, size: number): number {
    let align: number = IOMMU_PAGE_4K;
    while (align < IOMMU_PAGE_1G && align * 2 <= size) align *= 2;
    const next = this.iovaNext.get(domain) ?? this.iovaBase;
    const iova = Math.ceil(next / align) * align;
    this.iovaNext.set(domain, iova + Math.ceil(size / IOMMU_PAGE_4K) * IOMMU_PAGE_4K);
    return iova;
  }
}

/** Options of {@link dmaBufPhysVecToSgt}. */
export interface PhysVecToSgtOptions {
  /** The p2pdma state whose (cached) map type decides [§a.6]. */
  readonly p2pdma: P2pdma;
  /** The IOMMU the client translates through; omit when there is none (dma-direct). */
  readonly iommu?: DmaIommu;
  /** Largest sg entry in bytes. Default {@link SG_CHUNK_UINT_MAX}; the 2026 fix uses {@link SG_CHUNK_2G}. */
  readonly chunkBytes?: number;
  /** dma-direct only: the client's DMA mask in bits; a range above it cannot be mapped. Default 64. */
  readonly dmaMaskBits?: number;
}

/** How a {@link DmaBufDma} was mapped, which decides how {@link dmaBufFreeSgt} undoes it. */
export type DmaBufDmaKind =
  /** BUS_ADDR: bus addresses, nothing to undo. */
  | "bus-addr"
  /** THRU_HOST_BRIDGE with an IOMMU: one IOVA range over the whole buffer, mapped MMIO. */
  | "iova"
  /** THRU_HOST_BRIDGE without an IOMMU: CPU physical addresses per range (dma-direct). */
  | "direct";

/** `struct dma_buf_dma`: the scatter list plus what unmapping it needs. */
export class DmaBufDma implements SgTable {
  /** Set by {@link dmaBufFreeSgt}. */
  freed = false;

  constructor(
    readonly entries: readonly SgEntry[],
    readonly kind: DmaBufDmaKind,
    readonly client: PciFunction,
    /** Bytes: the sum of the ranges. */
    readonly size: number,
    /** The IOVA range, for kind "iova". */
    readonly iova: { readonly dmaIommu: DmaIommu; readonly domain: string; readonly start: number } | undefined,
    /** What it was built from: the exporter's ranges and provider (for the trace). */
    readonly origin?: { readonly ranges: readonly PhysVec[]; readonly provider: P2pdmaProvider },
  ) {}
}

/** Appends `len` bytes at `addr` as entries of at most `chunkBytes` (`fill_sg_entry`), in 64-bit arithmetic (E14). */
function fillSgEntry(entries: SgEntry[], addr: number, len: number, chunkBytes: number): void {
  for (let offset = 0; offset < len; offset += chunkBytes) {
    entries.push({ dmaAddress: addr + offset, length: Math.min(chunkBytes, len - offset) });
  }
}

/** The largest page that both addresses are aligned to and that fits in `remaining` (what `iommu_map` picks). */
function pageFor(iova: number, phys: number, remaining: number): IommuPageSize {
  for (const page of [IOMMU_PAGE_1G, IOMMU_PAGE_2M] as const) {
    if (iova % page === 0 && phys % page === 0 && remaining >= page) return page;
  }
  return IOMMU_PAGE_4K;
}

/** `dma_iova_link` of one range with DMA_ATTR_MMIO; on refusal the caller unwinds. */
function iovaLink(dmaIommu: DmaIommu, domain: string, iova: number, phys: number, len: number): Errno | undefined {
  let offset = 0;
  while (offset < len) {
    const page = pageFor(iova + offset, phys + offset, len - offset);
    let run = page;
    while (offset + run + page <= len && pageFor(iova + offset + run, phys + offset + run, len - offset - run) === page) run += page;
    const result = dmaIommu.iommu.map(domain, iova + offset, phys + offset, run, page, "rw", { mmio: true });
    if (!result.ok) {
      if (offset > 0) dmaIommu.iommu.unmap(domain, iova, offset);
      // Intel's VT-d driver answers a present PTE with -EBUSY; misalignment is -EINVAL.
      return result.reason === "overlap" ? "EBUSY" : "EINVAL";
    }
    offset += run;
  }
  return undefined;
}

/** The CPU range of the provider's BAR, for the I10/I11 bounds check. */
function barRange(provider: P2pdmaProvider): { readonly start: number; readonly end: number } {
  const bar = provider.fn.bars.find((b) => b.index === provider.barIndex);
  assert(bar !== undefined, () => `provider ${provider.fn.label} BAR${provider.barIndex} does not exist`);
  return { start: bar.cpuAddress, end: bar.cpuAddress + bar.sizeBytes };
}

/**
 * `dma_buf_phys_vec_to_sgt` [§b.5]: maps MMIO ranges of a provider's BAR for a client, by map type:
 * - BUS_ADDR: each range at `paddr + busOffset`, no IOMMU involved (I11);
 * - THRU_HOST_BRIDGE with an IOMMU: one IOVA range over the whole buffer, every range linked into
 *   it with the MMIO attribute, the list covering that IOVA; without an IOMMU: each range at its
 *   CPU physical address (dma-direct), if the client's DMA mask reaches it;
 * - NOT_SUPPORTED: -EINVAL.
 * Entries are split in chunks of at most `chunkBytes`. A failure mid-way unwinds what was mapped.
 * Precondition: the caller (an exporter's `map` op) holds the resv; ranges are non-empty, page
 * aligned and inside the provider's BAR (the exporter validated them at export).
 * @returns the mapping (checked: I14, I15); or EINVAL (no provider, NOT_SUPPORTED), EBUSY/EINVAL
 * (the IOMMU refused), ENOMEM (address above the DMA mask), with nothing left mapped.
 * @throws AssertionError when a range breaks the precondition or `chunkBytes` is not positive.
 */
export function dmaBufPhysVecToSgt(
  provider: P2pdmaProvider | undefined,
  client: PciFunction,
  ranges: readonly PhysVec[],
  options: PhysVecToSgtOptions,
): Result<DmaBufDma> {
  const chunkBytes = options.chunkBytes ?? SG_CHUNK_UINT_MAX;
  assert(Number.isSafeInteger(chunkBytes) && chunkBytes > 0, () => `chunkBytes must be a positive integer, got ${chunkBytes}`);
  if (provider === undefined) return { ok: false, errno: "EINVAL" };
  const bar = barRange(provider);
  let size = 0;
  for (const range of ranges) {
    assert(range.len > 0 && range.len % PAGE_SIZE === 0, () => `phys_vec length 0x${range.len.toString(16)} must be non-zero and page aligned`);
    assert(range.paddr % PAGE_SIZE === 0, () => `phys_vec address 0x${range.paddr.toString(16)} must be page aligned`);
    assert(range.paddr >= bar.start && range.paddr + range.len <= bar.end, () => `phys_vec 0x${range.paddr.toString(16)} outside the provider's BAR (I10)`);
    size += range.len;
  }
  assert(ranges.length > 0, "phys_vec must not be empty");
  const entries: SgEntry[] = [];
  const mapType = options.p2pdma.mapType(provider.fn, client);
  let dma: DmaBufDma;
  if (mapType === "bus-addr") {
    for (const range of ranges) fillSgEntry(entries, range.paddr + provider.busOffset, range.len, chunkBytes);
    dma = new DmaBufDma(entries, "bus-addr", client, size, undefined, { ranges, provider });
  } else if (mapType === "thru-host-bridge" && options.iommu !== undefined) {
    const dmaIommu = options.iommu;
    const domain = dmaIommu.iommu.domainOf(client.id);
    const start = dmaIommu.allocIova(domain, size);
    let mappedLen = 0;
    for (const range of ranges) {
      const errno = iovaLink(dmaIommu, domain, start + mappedLen, range.paddr, range.len);
      if (errno !== undefined) {
        if (mappedLen > 0) dmaIommu.iommu.unmap(domain, start, mappedLen);
        return { ok: false, errno };
      }
      mappedLen += range.len;
    }
    assert(mappedLen === size, "IOVA mapped length must equal the buffer size (E15, I14)");
    fillSgEntry(entries, start, mappedLen, chunkBytes);
    dma = new DmaBufDma(entries, "iova", client, size, { dmaIommu, domain, start }, { ranges, provider });
  } else if (mapType === "thru-host-bridge") {
    const maskBits = options.dmaMaskBits ?? 64;
    for (const range of ranges) {
      // dma-direct never bounces MMIO: an address the mask cannot reach is DMA_MAPPING_ERROR (-ENOMEM).
      if (maskBits < 53 && range.paddr + range.len > 2 ** maskBits) return { ok: false, errno: "ENOMEM" };
      fillSgEntry(entries, range.paddr, range.len, chunkBytes);
    }
    dma = new DmaBufDma(entries, "direct", client, size, undefined, { ranges, provider });
  } else {
    return { ok: false, errno: "EINVAL" };
  }
  sgTableAssertValid(dma, size, `dma_buf_phys_vec_to_sgt for ${client.label}`);
  return { ok: true, value: dma };
}

/**
 * `dma_buf_free_sgt` [§b.5]: undoes {@link dmaBufPhysVecToSgt}: nothing for BUS_ADDR, destroys the
 * IOVA range (removing its IOMMU pages and IOTLB entries) for the IOVA path, per-entry
 * `dma_unmap_phys` (nothing to undo in dma-direct) otherwise. When the IOMMU no longer holds the
 * whole range (someone unmapped it first: the `iommu-unmap` fault) the kernel WARNs and goes on;
 * here that is counted in `shortUnmaps` of the {@link DmaIommu}.
 * @throws AssertionError on a second free.
 */
export function dmaBufFreeSgt(dma: DmaBufDma): void {
  assert(!dma.freed, () => `dma_buf_free_sgt twice for ${dma.client.label}`);
  sgTableAssertValid(dma, dma.size, `dma_buf_free_sgt for ${dma.client.label}`);
  dma.freed = true;
  if (dma.kind !== "iova") return;
  assert(dma.iova !== undefined, "an IOVA mapping without its IOVA range");
  const result = dma.iova.dmaIommu.iommu.unmap(dma.iova.domain, dma.iova.start, dma.size);
  // The range is whole pages the IOVA path mapped itself, so a refusal is a model bug, not a value.
  assert(result.ok, () => `IOVA destroy for ${dma.client.label} refused: ${result.ok ? "" : result.reason}`);
  if (result.bytes !== dma.size) dma.iova.dmaIommu.shortUnmaps++;
}
