/**
 * User-VA umems (`ib_umem_get`): the user's pages are pinned and DMA-mapped for the device, in
 * the order and with the errors of drivers/infiniband/core/umem.c:
 *
 * Each check's `step` name (in `rdma/umem.get.failed`) is in brackets.
 * 1. [overflow] `addr + size` wraps, or its page-rounded end wraps (64-bit `unsigned long`) -> -EINVAL;
 * 2. [on-demand] `IB_ACCESS_ON_DEMAND` -> -EOPNOTSUPP (ODP umems are another type);
 * 3. [pages] zero pages (`ib_umem_num_pages`, counted from `iova = addr`) or more than UINT_MAX -> -EINVAL;
 * 4. [memlock] `pinned_vm` would pass RLIMIT_MEMLOCK -> -ENOMEM;
 * 5. [pin] `pin_user_pages_fast` on an address beyond TASK_SIZE -> -EFAULT;
 * 6. [dma-map] `ib_dma_map_sgtable_attrs(DMA_BIDIRECTIONAL)`: with the IOMMU on, one fresh IOVA range in the
 *    device's domain mapped page by page (read-write: the DMA direction is bidirectional whatever
 *    the access flags); without it, dma-direct: the physical addresses. A refusal -> -ENOMEM.
 *
 * A failure at any step leaves nothing pinned, charged or mapped. Release undoes step 6, then 5, then 4.
 * Note: a zero-length umem at an address that is not page aligned spans one page, so step 3 lets
 * it through and one page is pinned, as in the kernel.
 */

import type { Errno, Result } from "../dmabuf/errno.js";
import type { DmaIommu, SgEntry } from "../dmabuf/map.js";
import { assert } from "../fabric/assert.js";
import { IOMMU_PAGE_4K } from "../pci/iommu.js";
import type { PciFunction } from "../pci/topology.js";
import { IB_ACCESS, IbUmemBase, type IbUmemContext, ibAccessWritable, UMEM_PAGE_SIZE, umemGetFailed } from "./umem.js";
import { HOST_PAGE_SIZE, type HostPageRun, TASK_SIZE, type UserMm } from "./user-mm.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /** A VA umem's pages were mapped through the IOMMU at `iova` in `domain`. */
    "umem.iommu.map": { umem: string; domain: string; iova: number; bytes: number };
    /** Release removed that IOMMU mapping. */
    "umem.iommu.unmap": { umem: string; domain: string; iova: number; bytes: number };
  }
}

const U64_LIMIT = 1n << 64n;
const UINT_MAX = 0xffff_ffff;
const PAGE = BigInt(UMEM_PAGE_SIZE);

/** The arguments of {@link ibUmemGet} (`ib_umem_get(device, addr, size, access)`). */
export interface IbUmemGetArgs {
  /** The device that will DMA (the NIC). */
  readonly device: PciFunction;
  /** User virtual address: an `unsigned long`, so a bigint up to 2^64 - 1 is accepted. */
  readonly addr: bigint | number;
  /** Bytes: a `size_t`. */
  readonly length: bigint | number;
  /** `IB_ACCESS_*` bits ({@link IB_ACCESS}). */
  readonly access: number;
}

/** Where a VA umem's pages sit in the IOMMU. */
interface VaIommuMapping {
  readonly dmaIommu: DmaIommu;
  readonly domain: string;
  readonly iova: number;
  readonly bytes: number;
}

/** A pinned user-VA umem. Created by {@link ibUmemGet}. */
export class IbUmemVa extends IbUmemBase {
  /** `umem->writable`. */
  readonly writable: boolean;

  constructor(
    ctx: IbUmemContext,
    device: PciFunction,
    address: number,
    length: number,
    access: number,
    private readonly mm: UserMm,
    /** The pinned host pages the umem spans, in virtual order, as physically contiguous runs. */
    readonly hostRuns: readonly HostPageRun[],
    /** How many pages the umem spans (and charged to `pinned_vm`). */
    readonly pageCount: number,
    private readonly entries: readonly SgEntry[],
    /** The IOMMU mapping, when the IOMMU is on. */
    readonly iommuMapping: VaIommuMapping | undefined,
  ) {
    super(ctx, "va", device, address, length);
    this.writable = ibAccessWritable(access);
  }

  get mapped(): boolean {
    return !this.released;
  }

  /** The physical address of every page the umem spans, in order (built on each call: for tests and reports). */
  get hostPages(): number[] {
    return this.hostRuns.flatMap((run) => Array.from({ length: run.pages }, (_, n) => run.phys + n * HOST_PAGE_SIZE));
  }

  protected sgEntries(): readonly SgEntry[] {
    return this.entries;
  }

  protected releaseResources(): void {
    const mapping = this.iommuMapping;
    if (mapping !== undefined) {
      const result = mapping.dmaIommu.iommu.unmap(mapping.domain, mapping.iova, mapping.bytes);
      assert(result.ok && result.bytes === mapping.bytes, () => `${this.name}: IOMMU unmap removed ${result.ok ? result.bytes : 0} of ${mapping.bytes} bytes`);
      this.engine.trace.emit("rdma", "umem.iommu.unmap", { umem: this.name, domain: mapping.domain, iova: mapping.iova, bytes: mapping.bytes });
    }
    this.mm.unpinUserPages(this.hostRuns);
    this.mm.unchargePinned(this.pageCount);
  }
}

/** The host page runs as scatter-list entries (dma-direct: the bus sees physical addresses). */
function runEntries(runs: readonly HostPageRun[]): SgEntry[] {
  return runs.map((run) => ({ dmaAddress: run.phys, length: run.pages * UMEM_PAGE_SIZE }));
}

/**
 * Maps the pinned pages through the IOMMU: one fresh IOVA range, each physical run mapped into it.
 * @returns the mapping; or undefined when the IOMMU refused (nothing left mapped).
 */
function iommuMapPages(dmaIommu: DmaIommu, device: PciFunction, runs: readonly HostPageRun[], pages: number): VaIommuMapping | undefined {
  const domain = dmaIommu.iommu.domainOf(device.id);
  const bytes = pages * UMEM_PAGE_SIZE;
  const iova = dmaIommu.allocIova(domain, bytes);
  let mapped = 0;
  for (const run of runEntries(runs)) {
    const result = dmaIommu.iommu.map(domain, iova + mapped, run.dmaAddress, run.length, IOMMU_PAGE_4K, "rw");
    if (!result.ok) {
      if (mapped > 0) dmaIommu.iommu.unmap(domain, iova, mapped);
      return undefined;
    }
    mapped += run.length;
  }
  return { dmaIommu, domain, iova, bytes };
}

/**
 * `ib_umem_get`: pins the user pages of `[addr, addr + length)` and maps them for `device`
 * (checks and order in the module comment).
 * @param ctx the user's memory and, when on, the IOMMU.
 * @returns the umem (kind `"va"`), whose {@link IbUmemVa.sg} lists one IOVA range (IOMMU on) or the
 * physical page runs (dma-direct); or EINVAL, EOPNOTSUPP, ENOMEM, EFAULT with nothing pinned.
 * @throws AssertionError when `addr` or `length` is not a u64.
 */
export function ibUmemGet(ctx: IbUmemContext, args: IbUmemGetArgs): Result<IbUmemVa> {
  const { device, access } = args;
  const addr = BigInt(args.addr);
  const size = BigInt(args.length);
  assert(addr >= 0n && addr < U64_LIMIT, () => `ib_umem_get: addr is an unsigned long, got ${addr}`);
  assert(size >= 0n && size < U64_LIMIT, () => `ib_umem_get: size is a size_t, got ${size}`);
  const fail = (step: string, errno: Errno) => umemGetFailed<IbUmemVa>(ctx.engine, "va", device, step, errno);
  const end = addr + size;
  if (end >= U64_LIMIT || ((end + PAGE - 1n) / PAGE) * PAGE >= U64_LIMIT) return fail("overflow", "EINVAL");
  if ((access & IB_ACCESS.ON_DEMAND) !== 0) return fail("on-demand", "EOPNOTSUPP");
  const firstPage = addr / PAGE;
  const pageCount = (end + PAGE - 1n) / PAGE - firstPage;
  if (pageCount === 0n || pageCount > BigInt(UINT_MAX)) return fail("pages", "EINVAL");
  const pages = Number(pageCount);
  if (!ctx.mm.chargePinned(pages)) return fail("memlock", "ENOMEM");
  // pin_user_pages_fast refuses kernel addresses; the whole span must be user memory.
  if (end > BigInt(TASK_SIZE)) {
    ctx.mm.unchargePinned(pages);
    return fail("pin", "EFAULT");
  }
  const hostRuns = ctx.mm.pinUserPages(Number(firstPage), pages);
  let entries: SgEntry[];
  let mapping: VaIommuMapping | undefined;
  if (ctx.iommu !== undefined) {
    mapping = iommuMapPages(ctx.iommu, device, hostRuns, pages);
    if (mapping === undefined) {
      ctx.mm.unpinUserPages(hostRuns);
      ctx.mm.unchargePinned(pages);
      return fail("dma-map", "ENOMEM");
    }
    entries = [{ dmaAddress: mapping.iova, length: mapping.bytes }];
  } else {
    entries = runEntries(hostRuns);
  }
  const umem = new IbUmemVa(ctx, device, Number(addr), Number(size), access, ctx.mm, hostRuns, pages, entries, mapping);
  if (mapping !== undefined) {
    ctx.engine.trace.emit("rdma", "umem.iommu.map", { umem: umem.name, domain: mapping.domain, iova: mapping.iova, bytes: mapping.bytes });
  }
  umem.traceGet();
  return { ok: true, value: umem };
}
