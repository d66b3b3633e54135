import { describe, expect, it } from "vitest";
import { IB_ACCESS } from "../../src/rdma/umem.js";
import { type IbUmemGetArgs, ibUmemGet } from "../../src/rdma/umem-va.js";
import { TASK_SIZE } from "../../src/rdma/user-mm.js";
import { brief, rdmaWorld } from "./world.js";

const LW = IB_ACCESS.LOCAL_WRITE;
const PAGE = 4096;

describe("ib_umem_get: the checks in order", () => {
  /** Each row breaks its own check and, where it can, every later one; memlock allows 4 pages. */
  const ROWS: ReadonlyArray<{ name: string; args: Partial<IbUmemGetArgs>; step: string; errno: string }> = [
    { name: "addr + size wraps (ODP too)", args: { addr: 2n ** 64n - 4096n, length: 8192n, access: IB_ACCESS.ON_DEMAND }, step: "overflow", errno: "EINVAL" },
    { name: "page-rounded end wraps", args: { addr: 2n ** 64n - 4096n, length: 100n }, step: "overflow", errno: "EINVAL" },
    { name: "on-demand paging (zero length)", args: { length: 0, access: IB_ACCESS.ON_DEMAND | LW }, step: "on-demand", errno: "EOPNOTSUPP" },
    { name: "zero length at a page boundary", args: { length: 0 }, step: "pages", errno: "EINVAL" },
    { name: "more than UINT_MAX pages", args: { length: 2n ** 32n * 4096n }, step: "pages", errno: "EINVAL" },
    { name: "RLIMIT_MEMLOCK (beyond TASK_SIZE too)", args: { addr: TASK_SIZE, length: 5 * PAGE }, step: "memlock", errno: "ENOMEM" },
    { name: "kernel address", args: { addr: TASK_SIZE, length: PAGE }, step: "pin", errno: "EFAULT" },
  ];

  it("answers each row with its own step and errno, pinning and charging nothing", () => {
    const w = rdmaWorld({ mm: { memlockPagesMax: 4 } });
    const outcomes = ROWS.map((row) => {
      const result = ibUmemGet(w.ctx, { device: w.nic0, addr: 0x10_0000, length: PAGE, access: LW, ...row.args });
      return [row.name, result.ok ? "ok" : result.errno, w.trace.events.at(-1)?.step, w.mm.pinnedVm, w.mm.pinnedPageCount];
    });
    expect(outcomes).toEqual(ROWS.map((row) => [row.name, row.errno, row.step, 0, 0]));
  });

  it("pins one page for a zero-length umem that does not start on a page boundary, as the kernel's page count does", () => {
    const w = rdmaWorld();
    const result = ibUmemGet(w.ctx, { device: w.nic0, addr: 0x10_0010, length: 0, access: LW });
    if (!result.ok) throw new Error(result.errno);
    expect([result.value.hostPages.length, result.value.offset, w.mm.pinnedVm]).toEqual([1, 0x10, 1]);
    result.value.release();
    expect([w.mm.pinnedVm, w.mm.pinnedPageCount]).toEqual([0, 0]);
  });
});

describe("a VA umem's DMA addresses", () => {
  it("without an IOMMU: the physical page runs, shared pages pinned twice, all unpinned at release", () => {
    const w = rdmaWorld();
    const a = ibUmemGet(w.ctx, { device: w.nic0, addr: 0x10_0100, length: 2 * PAGE, access: LW });
    const b = ibUmemGet(w.ctx, { device: w.nic0, addr: 0x10_2000, length: PAGE, access: LW });
    if (!a.ok || !b.ok) throw new Error("get failed");
    const base = w.mm.physBase;
    // a spans VA pages 0x100..0x102 (3 pages, first touch: phys base+0..2); b reuses VA page 0x102.
    expect(a.value.sg()).toEqual([{ dmaAddress: base, length: 3 * PAGE }]);
    expect(b.value.sg()).toEqual([{ dmaAddress: base + 2 * PAGE, length: PAGE }]);
    expect([a.value.offset, w.mm.pinCount(base + 2 * PAGE), w.mm.pinnedVm]).toEqual([0x100, 2, 4]);
    a.value.release();
    expect([w.mm.pinCount(base), w.mm.pinCount(base + 2 * PAGE), w.mm.pinnedVm]).toEqual([0, 1, 1]);
    b.value.release();
    expect(w.mm.pinnedPageCount).toBe(0);
  });

  it("with the IOMMU on: one IOVA range in nic0's domain, translating while held, gone (faulting) after release", () => {
    const w = rdmaWorld({ iommu: true });
    const iommu = w.iommu?.iommu;
    if (iommu === undefined) throw new Error("no IOMMU");
    const start = w.trace.events.length;
    const result = ibUmemGet(w.ctx, { device: w.nic0, addr: 0x20_0000, length: 3 * PAGE, access: LW });
    if (!result.ok) throw new Error(result.errno);
    const umem = result.value;
    const [entry] = umem.sg();
    const iova = entry?.dmaAddress ?? -1;
    const domain = iommu.domainOf(w.nic0.id);
    expect(umem.sg()).toEqual([{ dmaAddress: iova, length: 3 * PAGE }]);
    expect(iommu.pageCount(domain)).toBe(3);
    expect([0, 1, 2].map((i) => iommu.translate(w.nic0.id, iova + i * PAGE + 8, "w"))).toMatchObject(
      umem.hostPages.map((phys) => ({ ok: true, phys: phys + 8, mmio: false })),
    );
    umem.release();
    expect(iommu.pageCount(domain)).toBe(0);
    expect(iommu.translate(w.nic0.id, iova, "w")).toMatchObject({ ok: false, fault: "unmapped" });
    expect(w.mm.pinnedPageCount).toBe(0);
    expect(brief(w.trace.events.slice(start))).toEqual([
      [0, "rdma/umem.iommu.map nic0/umem#0"],
      [0, "rdma/umem.get nic0/umem#0"],
      [0, "rdma/umem.iommu.unmap nic0/umem#0"],
      [0, "rdma/umem.release nic0/umem#0"],
    ]);
  });

  it("is released exactly once (I16) and unreadable after release (I21)", () => {
    const w = rdmaWorld();
    const result = ibUmemGet(w.ctx, { device: w.nic0, addr: 0x10_0000, length: PAGE, access: LW });
    if (!result.ok) throw new Error(result.errno);
    result.value.release();
    expect(() => result.value.release()).toThrow(/released twice \(I16\)/);
    expect(() => result.value.sg()).toThrow(/after release \(I21\)/);
    expect([w.mm.pinnedVm, w.mm.pinnedPageCount]).toEqual([0, 0]);
  });
});
