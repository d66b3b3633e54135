import { describe, expect, it } from "vitest";
import { DmaFence } from "../../src/dmabuf/reservation.js";
import { AssertionError } from "../../src/fabric/assert.js";
import type { ProcessBody } from "../../src/fabric/process.js";
import { IB_ACCESS } from "../../src/rdma/umem.js";
import {
  type IbUmemDmabuf,
  type IbUmemDmabufGetArgs,
  type IbUmemDmabufOps,
  ibUmemDmabufGet,
  ibUmemDmabufGetPinned,
  ibUmemDmabufGetPinnedRevocableAndLock,
} from "../../src/rdma/umem-dmabuf.js";
import {
  ibUmemDmabufMapPages,
  ibUmemDmabufMapPagesWait,
  ibUmemDmabufSetRevokeLocked,
  ibUmemDmabufUnmapPages,
  sgTrimToWindow,
} from "../../src/rdma/umem-dmabuf-map.js";
import type { VfioProfile } from "../../src/vfio/profiles.js";
import { brief, FD, MIB, rdmaWorld, US } from "./world.js";

const LW = IB_ACCESS.LOCAL_WRITE;
/** mlx5-like driver ops: on invalidate, zap the device's view and unmap. */
const DRIVER: IbUmemDmabufOps = { allowPeer2peer: true, invalidateMappings: (umem) => ibUmemDmabufUnmapPages(umem) };

/** `mapPages` as a driver's page-fault handler calls it: resv taken by the NIC, map, unlock. */
function fault(umem: IbUmemDmabuf): string {
  umem.buf.resv.lock(umem.holder);
  const result = ibUmemDmabufMapPages(umem);
  umem.buf.resv.unlock(umem.holder);
  return result.ok ? "ok" : result.errno;
}

describe("ib_umem_dmabuf_get: the checks of §d.1, in order", () => {
  /**
   * gpu0's export starts revoked (MEM off), so every row would also fail at attach (-ENODEV); each
   * row breaks its own check and every later one it can, so only the earliest check may answer.
   */
  const ROWS: ReadonlyArray<{ name: string; args: Partial<IbUmemDmabufGetArgs>; ops: IbUmemDmabufOps; step: string; errno: string }> = [
    {
      name: "offset+size wraps a u64 (with no invalidate op, a bad fd)",
      args: { offset: 2n ** 64n - 4096n, size: 8192n, dmabuf: 1 },
      ops: { allowPeer2peer: true },
      step: "overflow",
      errno: "EINVAL",
    },
    {
      name: "ops without invalidate (bad fd, too large)",
      args: { size: BigInt(4 * MIB), dmabuf: 1 },
      ops: { allowPeer2peer: true },
      step: "ops",
      errno: "EINVAL",
    },
    { name: "fd is not a dma-buf (too large)", args: { size: BigInt(4 * MIB), dmabuf: 1 }, ops: DRIVER, step: "fd", errno: "EINVAL" },
    { name: "dma-buf smaller than offset+size", args: { offset: 2 * MIB, size: 4096 }, ops: DRIVER, step: "size", errno: "EINVAL" },
    { name: "zero pages", args: { offset: 100, size: 0 }, ops: DRIVER, step: "pages", errno: "EINVAL" },
    { name: "attach refused by the revoked export", args: {}, ops: DRIVER, step: "attach", errno: "ENODEV" },
  ];

  it("answers each row with its own step and errno, leaving no reference or attachment", () => {
    const w = rdmaWorld({ memory: false });
    const outcomes = ROWS.map((row) => {
      const args: IbUmemDmabufGetArgs = { device: w.nic0, dmabuf: FD, offset: 0, size: MIB, access: LW, ...row.args };
      const result = ibUmemDmabufGet(w.ctx, args, row.ops);
      const last = w.trace.events.at(-1);
      return [row.name, result.ok ? "ok" : result.errno, last?.step, w.buf.refCount, w.buf.attachments.length];
    });
    expect(outcomes).toEqual(ROWS.map((row) => [row.name, row.errno, row.step, 1, 0]));
    expect(w.ctx.umemCount).toBe(0);
  });

  it("takes the dma-buf itself as well as an fd; a live export accepts the dynamic umem, unmapped", () => {
    const w = rdmaWorld();
    const result = ibUmemDmabufGet(w.ctx, { device: w.nic0, dmabuf: w.buf, offset: 0, size: MIB, access: LW }, DRIVER);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const umem = result.value;
    expect([umem.name, umem.kind, umem.mapped, umem.length, umem.pageSize, w.buf.refCount]).toEqual(["nic0/umem#0", "dmabuf-dynamic", false, MIB, 4096, 2]);
    expect(() => umem.sg()).toThrow(AssertionError);
    umem.release();
    expect([w.buf.refCount, w.buf.attachments.length]).toEqual([1, 0]);
  });
});

describe("a VFIO BAR export as the exporter [kernel.md §c.3, 'a finding the model must reproduce']", () => {
  type Kind = "dynamic" | "pinned" | "pinned-revocable";
  const get = (w: ReturnType<typeof rdmaWorld>, kind: Kind) => {
    const args: IbUmemDmabufGetArgs = { device: w.nic0, dmabuf: FD, offset: 0, size: MIB, access: LW };
    if (kind === "dynamic") return ibUmemDmabufGet(w.ctx, args, DRIVER);
    if (kind === "pinned") return ibUmemDmabufGetPinned(w.ctx, args);
    const result = ibUmemDmabufGetPinnedRevocableAndLock(w.ctx, args);
    if (result.ok) result.value.buf.resv.unlock(result.value.holder);
    return result;
  };
  const ROWS: ReadonlyArray<[VfioProfile, Kind, string]> = [
    ["vfio-dmabuf-wait", "dynamic", "ok"],
    ["vfio-dmabuf-wait", "pinned", "EOPNOTSUPP"],
    ["vfio-dmabuf-wait", "pinned-revocable", "ok"],
    ["vfio-dmabuf-initial", "dynamic", "ok"],
    ["vfio-dmabuf-initial", "pinned", "ok"],
    ["vfio-dmabuf-initial", "pinned-revocable", "ok"],
  ];

  it("refuses the pinned (non-revocable) umem with -EOPNOTSUPP only under the newest exporter", () => {
    const outcomes = ROWS.map(([profile, kind]) => {
      const w = rdmaWorld({ vfio: { profile } });
      const result = get(w, kind);
      const mapped = result.ok ? result.value.mapped : false;
      if (result.ok) result.value.release();
      return [profile, kind, result.ok ? "ok" : result.errno, mapped, w.buf.refCount, w.buf.mappingCount];
    });
    expect(outcomes).toEqual(ROWS.map(([profile, kind, expected]) => [profile, kind, expected, expected === "ok" && kind !== "dynamic", 1, 0]));
  });

  it("traces the refusal at attach: nothing pinned, the reference dropped", () => {
    const w = rdmaWorld();
    const start = w.trace.events.length;
    get(w, "pinned");
    expect(brief(w.trace.events.slice(start))).toEqual([
      [0, "dmabuf/attach.refused EOPNOTSUPP"],
      [0, "rdma/umem.get.failed attach EOPNOTSUPP"],
    ]);
  });

  it("maps a pinned umem through the window: bus addresses trimmed to the umem's pages", () => {
    const w = rdmaWorld({ vfio: { profile: "vfio-dmabuf-initial" } });
    const result = ibUmemDmabufGetPinned(w.ctx, { device: w.nic0, dmabuf: FD, offset: 4096 + 100, size: 8192, access: LW });
    if (!result.ok) throw new Error(result.errno);
    const bar1 = w.gpu0.fn.bars.find((b) => b.index === 1);
    const busBase = (bar1?.cpuAddress ?? Number.NaN) + w.buf.priv.provider.busOffset;
    expect(result.value.sg()).toEqual([{ dmaAddress: busBase + 4096, length: 3 * 4096 }]);
    expect(result.value.offset).toBe(100);
    result.value.release();
  });
});

describe("sgTrimToWindow: map_pages' trim of the first and last entries", () => {
  const P = 4096;
  const SG = [
    { dmaAddress: 0x10_0000, length: 4 * P },
    { dmaAddress: 0x80_0000, length: 4 * P },
  ];
  it.each([
    ["whole buffer", 0, 8 * P, SG],
    ["inside the first entry", P, 3 * P, [{ dmaAddress: 0x10_0000 + P, length: 2 * P }]],
    [
      "across both entries",
      3 * P,
      6 * P,
      [
        { dmaAddress: 0x10_0000 + 3 * P, length: P },
        { dmaAddress: 0x80_0000, length: 2 * P },
      ],
    ],
    ["exactly the second entry", 4 * P, 8 * P, [{ dmaAddress: 0x80_0000, length: 4 * P }]],
  ])("%s", (_name, start, end, expected) => {
    expect(sgTrimToWindow(SG, start, end)).toEqual(expected);
  });
});

describe("a dynamic umem across a VFIO revoke and restore", () => {
  it("is invalidated by the revoke, fails to map while revoked, maps again after restore", () => {
    const w = rdmaWorld();
    const got = ibUmemDmabufGet(w.ctx, { device: w.nic0, dmabuf: FD, offset: 0, size: MIB, access: LW }, DRIVER);
    if (!got.ok) throw new Error(got.errno);
    const umem = got.value;
    const faults: Array<[number, string]> = [];
    const at = (us: number, f: () => void) => w.engine.scheduleAt(us * US, f);
    at(0, () => faults.push([0, fault(umem)]));
    at(1, () => void w.gpu0.writeCommandMemory(false));
    at(2, () => faults.push([2, fault(umem)]));
    at(3, () => void w.gpu0.writeCommandMemory(true));
    at(4, () => faults.push([4, fault(umem)]));
    const start = w.trace.events.length;
    expect(w.run()).toBe("quiet");
    umem.release();
    expect(faults).toEqual([
      [0, "ok"],
      [2, "ENODEV"],
      [4, "ok"],
    ]);
    const U = "nic0/umem#0";
    expect(brief(w.trace.events.slice(start))).toEqual([
      [0, "dmabuf/map"],
      [0, `rdma/umem.map ${U}`],
      [1, "vfio/revoke"],
      [1, "dmabuf/invalidate"],
      [1, `rdma/umem.invalidate ${U}`],
      [1, "dmabuf/unmap"],
      [1, `rdma/umem.unmap ${U}`],
      [1, "vfio/revoke.done"],
      [2, "dmabuf/map.refused ENODEV"],
      [2, `rdma/umem.map.failed ${U} ENODEV`],
      [3, "dmabuf/invalidate"],
      [3, `rdma/umem.invalidate ${U}`],
      [3, "vfio/restore"],
      [4, "dmabuf/map"],
      [4, `rdma/umem.map ${U}`],
      [4, "dmabuf/unmap"],
      [4, `rdma/umem.unmap ${U}`],
      [4, `rdma/umem.revoke ${U}`],
      [4, "dmabuf/detach"],
      [4, `rdma/umem.release ${U}`],
    ]);
    expect([w.buf.refCount, w.buf.mappingCount, w.buf.priv.kref]).toEqual([1, 0, 1]);
  });

  it("waits for KERNEL fences in mapPages: a process resumes when the fence signals; synchronous code must not map with one pending", () => {
    const w = rdmaWorld();
    const got = ibUmemDmabufGet(w.ctx, { device: w.nic0, dmabuf: FD, offset: 0, size: MIB, access: LW }, DRIVER);
    if (!got.ok) throw new Error(got.errno);
    const umem = got.value;
    w.buf.resv.lock("mm");
    w.buf.resv.addFence(new DmaFence(w.engine, "move").signalAt(3 * US), "kernel");
    w.buf.resv.unlock("mm");
    expect(() => fault(umem)).toThrow(/KERNEL fence pending/);
    // The failed assertion left the NIC holding the resv, with the pages mapped (the kernel maps, then waits).
    umem.buf.resv.unlock(umem.holder);
    let mappedAtUs = -1;
    w.engine.spawn("nic0 fault", function* (): ProcessBody {
      yield umem.buf.resv.acquire(umem.holder);
      const result = yield* ibUmemDmabufMapPagesWait(umem);
      mappedAtUs = result.ok ? w.engine.nowPs / US : -2;
      umem.buf.resv.unlock(umem.holder);
    });
    expect(w.run()).toBe("quiet");
    expect(mappedAtUs).toBe(3);
    umem.release();
  });
});

describe("a pinned-revocable umem [kernel.md §d.1, UMD-REV]", () => {
  function pinnedRevocable(w: ReturnType<typeof rdmaWorld>, calls: string[]) {
    const got = ibUmemDmabufGetPinnedRevocableAndLock(w.ctx, { device: w.nic0, dmabuf: FD, offset: 0, size: MIB, access: LW });
    if (!got.ok) throw new Error(got.errno);
    const umem = got.value;
    expect(w.buf.resv.holder).toBe(w.nic0.id);
    ibUmemDmabufSetRevokeLocked(umem, (u) => {
      calls.push(`revoke ${u.name} mapped=${u.mapped} pinned=${u.pinned}`);
      return undefined;
    });
    umem.buf.resv.unlock(umem.holder);
    return umem;
  }

  it("runs the driver's revoke callback once, on the exporter's invalidate and before unmap/unpin, not again at release", () => {
    const w = rdmaWorld();
    const calls: string[] = [];
    const umem = pinnedRevocable(w, calls);
    const faults: string[] = [];
    w.engine.scheduleAt(US, () => void w.gpu0.writeCommandMemory(false));
    w.engine.scheduleAt(2 * US, () => faults.push(fault(umem)));
    w.engine.scheduleAt(3 * US, () => void w.gpu0.writeCommandMemory(true));
    w.engine.scheduleAt(4 * US, () => faults.push(fault(umem)));
    const start = w.trace.events.length;
    expect(w.run()).toBe("quiet");
    umem.release();
    expect(calls).toEqual(["revoke nic0/umem#0 mapped=true pinned=true"]);
    expect([umem.revokeCallbackRuns, umem.revoked, umem.pinned]).toEqual([1, true, false]);
    // A revoked pinned umem never re-maps, even after the exporter restored (I5).
    expect(faults).toEqual(["EINVAL", "EINVAL"]);
    const U = "nic0/umem#0";
    expect(brief(w.trace.events.slice(start))).toEqual([
      [1, "vfio/revoke"],
      [1, "dmabuf/invalidate"],
      [1, `rdma/umem.invalidate ${U}`],
      [1, `rdma/umem.revoke.callback ${U}`],
      [1, "dmabuf/unmap"],
      [1, `rdma/umem.unmap ${U}`],
      [1, "dmabuf/unpin"],
      [1, `rdma/umem.revoke ${U}`],
      [1, "vfio/revoke.done"],
      [2, `rdma/umem.map.failed ${U} EINVAL`],
      [3, "dmabuf/invalidate"],
      [3, `rdma/umem.invalidate ${U}`],
      [3, "vfio/restore"],
      [4, `rdma/umem.map.failed ${U} EINVAL`],
      [4, "dmabuf/detach"],
      [4, `rdma/umem.release ${U}`],
    ]);
  });

  it("runs the callback at release when no revoke came first, then unmaps, unpins, detaches and puts", () => {
    const w = rdmaWorld();
    const calls: string[] = [];
    const umem = pinnedRevocable(w, calls);
    const start = w.trace.events.length;
    umem.release();
    expect(calls).toEqual(["revoke nic0/umem#0 mapped=true pinned=true"]);
    expect(brief(w.trace.events.slice(start)).map(([, what]) => what)).toEqual([
      "rdma/umem.revoke.callback nic0/umem#0",
      "dmabuf/unmap",
      "rdma/umem.unmap nic0/umem#0",
      "dmabuf/unpin",
      "rdma/umem.revoke nic0/umem#0",
      "dmabuf/detach",
      "rdma/umem.release nic0/umem#0",
    ]);
    expect([w.buf.refCount, w.buf.attachments.length, w.buf.priv.kref]).toEqual([1, 0, 1]);
  });

  it("refuses a second callback, and a callback on another kind", () => {
    const w = rdmaWorld();
    const umem = pinnedRevocable(w, []);
    umem.buf.resv.lock(umem.holder);
    expect(() => ibUmemDmabufSetRevokeLocked(umem, () => undefined)).toThrow(/set twice/);
    umem.buf.resv.unlock(umem.holder);
    umem.release();
    const w2 = rdmaWorld({ vfio: { profile: "vfio-dmabuf-initial" } });
    const pinned = ibUmemDmabufGetPinned(w2.ctx, { device: w2.nic0, dmabuf: FD, offset: 0, size: MIB, access: LW });
    if (!pinned.ok) throw new Error(pinned.errno);
    pinned.value.buf.resv.lock(pinned.value.holder);
    expect(() => ibUmemDmabufSetRevokeLocked(pinned.value, () => undefined)).toThrow(/on a dmabuf-pinned umem/);
  });
});

describe("release exactly once (I16) and no use after release (I21)", () => {
  it("throws on a second release and on sg after release, for each dma-buf kind", () => {
    const w = rdmaWorld({ vfio: { profile: "vfio-dmabuf-initial" } });
    const args: IbUmemDmabufGetArgs = { device: w.nic0, dmabuf: FD, offset: 0, size: MIB, access: LW };
    const revocable = ibUmemDmabufGetPinnedRevocableAndLock(w.ctx, args);
    if (revocable.ok) revocable.value.buf.resv.unlock(revocable.value.holder);
    const umems = [ibUmemDmabufGet(w.ctx, args, DRIVER), ibUmemDmabufGetPinned(w.ctx, args), revocable].map((r) => {
      if (!r.ok) throw new Error(r.errno);
      return r.value;
    });
    for (const umem of umems) {
      umem.release();
      expect(() => umem.release()).toThrow(/released twice \(I16\)/);
      expect(() => umem.sg()).toThrow(/after release \(I21\)/);
    }
    expect(umems.map((u) => u.kind)).toEqual(["dmabuf-dynamic", "dmabuf-pinned", "dmabuf-pinned-revocable"]);
    expect([w.buf.refCount, w.buf.attachments.length, w.buf.mappingCount]).toEqual([1, 0, 0]);
  });
});
