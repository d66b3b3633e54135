// Goal: MR registration, access checks, keys, translation and dereg follow kernel.md §d.2: a
// dma-buf MR is a dynamic importer whose invalidate zaps the translation, the next access faults
// and re-maps, a fault after a VFIO revoke fails, and bug E18 (invalidate on a revoked mkey) is
// visible under its mutant.
// Method: the rdma test world (gpu0 BAR1 exported by vfio-pci as fd 3), a verbs device on nic0.
import { describe, expect, it } from "vitest";
import { dmaBufInvalidateMappings } from "../../src/dmabuf/attachment.js";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { IB_ACCESS } from "../../src/rdma/umem.js";
import { ibDevice } from "../../src/rdma/verbs-device.js";
import { type IbMr, type IbMrOptions, ibCheckMrAccess, ibDeregMr, ibRegUserMr, ibRegUserMrDmabuf, mlx5RevokeMr, mrTranslate } from "../../src/rdma/verbs-mr.js";
import { ibAllocPd, ibDeallocPd } from "../../src/rdma/verbs-pd.js";
import { FD, rdmaWorld, US } from "./world.js";

const { LOCAL_WRITE: LW, REMOTE_WRITE: RW, REMOTE_READ: RR, REMOTE_ATOMIC: RA, MW_BIND, ON_DEMAND } = IB_ACCESS;
const VA = 0x10_0000;

function world(odp = true) {
  const w = rdmaWorld();
  const device = ibDevice(w.ctx, w.nic0, { caps: { odp } });
  const pd = ibAllocPd(device);
  const since = w.trace.events.length;
  return { ...w, device, pd, since };
}

/** The exporter's invalidate, as a move would issue it: resv held by the exporter. */
function exporterInvalidate(w: ReturnType<typeof world>): void {
  w.buf.resv.lock("exporter:test");
  dmaBufInvalidateMappings(w.buf);
  w.buf.resv.unlock("exporter:test");
}

/** rdma `mr.*` events and the VFIO revoke/restore, as `[µs, "kind detail"]`. */
function mrEvents(events: readonly TraceEvent[]): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const e of events) {
    const mr = e.layer === "rdma" && e.kind.startsWith("mr.");
    const vfio = e.layer === "vfio" && (e.kind === "revoke" || e.kind === "revoke.done" || e.kind === "restore");
    const umem = e.layer === "rdma" && (e.kind === "umem.map" || e.kind === "umem.unmap" || e.kind === "umem.release");
    if (!mr && !vfio && !umem) continue;
    const detail = [e.mr, e.umem, e.reason, e.errno].filter((v) => v !== undefined).join(" ");
    out.push([e.t / US, `${e.kind}${detail === "" ? "" : ` ${detail}`}`]);
  }
  return out;
}

describe("MR access flags (ib_check_mr_access) through ib_reg_user_mr", () => {
  const ROWS: ReadonlyArray<[string, number, boolean, string, string]> = [
    ["none (local read)", 0, true, "ok", "ok"],
    ["LOCAL_WRITE", LW, true, "ok", "ok"],
    ["REMOTE_READ", RR, true, "ok", "ok"],
    ["MW_BIND", MW_BIND, true, "ok", "ok"],
    ["REMOTE_WRITE without LOCAL_WRITE", RW, true, "EINVAL", "EINVAL"],
    ["REMOTE_ATOMIC without LOCAL_WRITE", RA, true, "EINVAL", "EINVAL"],
    ["LOCAL_WRITE | REMOTE_WRITE", LW | RW, true, "ok", "ok"],
    ["LOCAL_WRITE | REMOTE_ATOMIC", LW | RA, true, "ok", "ok"],
    ["bit 8 (not supported)", 1 << 8, true, "EINVAL", "EINVAL"],
    ["bit 20 (optional: relaxed ordering)", 1 << 20, true, "ok", "ok"],
    ["bit 30 (not supported)", 1 << 30, true, "EINVAL", "EINVAL"],
    ["ON_DEMAND, device with ODP (the VA umem refuses it)", ON_DEMAND, true, "ok", "EOPNOTSUPP"],
    ["ON_DEMAND, device without ODP", ON_DEMAND, false, "EOPNOTSUPP", "EOPNOTSUPP"],
  ];

  it("answers each row from the check and from the registration; a refused one pins nothing", () => {
    const outcomes = ROWS.map(([name, access, odp]) => {
      const w = world(odp);
      const checked = ibCheckMrAccess(access, odp);
      const reg = ibRegUserMr({ pd: w.pd, start: VA, length: 8192, access });
      const pinned = w.mm.pinnedVm;
      if (reg.ok) ibDeregMr(reg.value);
      return [name, checked.ok ? "ok" : checked.errno, reg.ok ? "ok" : reg.errno, pinned, w.pd.usecnt];
    });
    expect(outcomes).toEqual(ROWS.map(([name, , , check, reg]) => [name, check, reg, reg === "ok" ? 2 : 0, 0]));
  });

  it("a dma-buf MR needs ODP: EOPNOTSUPP before anything is attached", () => {
    const w = world(false);
    expect(ibRegUserMrDmabuf({ pd: w.pd, dmabuf: FD, offset: 0, length: 8192, access: LW })).toEqual({ ok: false, errno: "EOPNOTSUPP" });
    expect([w.buf.attachments.length, w.buf.refCount]).toEqual([0, 1]);
  });
});

describe("keys, PD binding, translation of a VA MR", () => {
  it("hands out deterministic keys per device and binds the PD until dereg", () => {
    const w = world();
    const mrs = [0, 1].map((k) => {
      const reg = ibRegUserMr({ pd: w.pd, start: VA + k * 8192, length: 8192, access: LW | RR });
      if (!reg.ok) throw new Error(reg.errno);
      return reg.value;
    });
    expect(mrs.map((mr) => [mr.name, mr.lkey, mr.rkey])).toEqual([
      ["nic0/mr#0", 257, 257],
      ["nic0/mr#1", 514, 514],
    ]);
    expect(ibDeallocPd(w.pd)).toEqual({ ok: false, errno: "EBUSY" });
    for (const mr of mrs) ibDeregMr(mr);
    expect(ibDeallocPd(w.pd).ok).toBe(true);
  });

  it("translates to host pages and refuses missing rights and out-of-range accesses", () => {
    const w = world();
    const reg = ibRegUserMr({ pd: w.pd, start: VA, length: 8192, access: LW | RR });
    if (!reg.ok) throw new Error(reg.errno);
    const mr = reg.value;
    const base = w.mm.physBase;
    const rows: Array<[string, number, number, number]> = [
      ["local read", 100, 200, 0],
      ["local write across the page boundary", 4000, 200, LW],
      ["remote read", 0, 8192, RR],
      ["remote write: no right", 0, 64, RW],
      ["local write past the end", 8000, 200, LW],
      ["remote read past the end", 8192, 1, RR],
    ];
    const outcomes = rows.map(([name, offset, length, access]) => [name, mrTranslate(mr, offset, length, access)]);
    expect(outcomes).toEqual([
      ["local read", { ok: true, entries: [{ dmaAddress: base + 100, length: 200 }] }],
      ["local write across the page boundary", { ok: true, entries: [{ dmaAddress: base + 4000, length: 200 }] }],
      ["remote read", { ok: true, entries: [{ dmaAddress: base, length: 8192 }] }],
      ["remote write: no right", { ok: false, error: "remote-access", reason: "access" }],
      ["local write past the end", { ok: false, error: "local-protection", reason: "range" }],
      ["remote read past the end", { ok: false, error: "remote-access", reason: "range" }],
    ]);
    ibDeregMr(mr);
  });
});

describe("a dynamic dma-buf MR [kernel.md §d.2]", () => {
  function dmabufMr(w: ReturnType<typeof world>, options: IbMrOptions = {}): IbMr {
    const reg = ibRegUserMrDmabuf({ pd: w.pd, dmabuf: FD, offset: 4096, length: 8192, access: LW | RW }, options);
    if (!reg.ok) throw new Error(reg.errno);
    return reg.value;
  }
  const barBus = (w: ReturnType<typeof world>) => {
    const bar1 = w.gpu0.fn.bars.find((b) => b.index === 1);
    return (bar1?.cpuAddress ?? Number.NaN) + w.buf.priv.provider.busOffset;
  };

  it("is mapped at registration; an invalidate zaps it; the next access faults and re-maps", () => {
    const w = world();
    const mr = dmabufMr(w);
    const bus = barBus(w) + 4096;
    const before = mrTranslate(mr, 0, 4096, RW);
    exporterInvalidate(w);
    const zapped = mr.mapped;
    const after = mrTranslate(mr, 4096, 4096, LW);
    expect([before, zapped, after, mr.mapped]).toEqual([
      { ok: true, entries: [{ dmaAddress: bus, length: 4096 }] },
      false,
      { ok: true, entries: [{ dmaAddress: bus + 4096, length: 4096 }] },
      true,
    ]);
    ibDeregMr(mr);
    expect(mrEvents(w.trace.events.slice(w.since))).toEqual([
      [0, "umem.map nic0/umem#0"],
      [0, "mr.reg nic0/mr#0 nic0/umem#0"],
      [0, "mr.zap nic0/mr#0"],
      [0, "umem.unmap nic0/umem#0"],
      [0, "umem.map nic0/umem#0"],
      [0, "mr.fault nic0/mr#0"],
      [0, "mr.mkey.revoke nic0/mr#0"],
      [0, "umem.unmap nic0/umem#0"],
      [0, "umem.release nic0/umem#0"],
      [0, "mr.dereg nic0/mr#0"],
    ]);
    expect([w.buf.refCount, w.buf.attachments.length, w.buf.mappingCount]).toEqual([1, 0, 0]);
  });

  it("after a VFIO revoke the fault fails (ENODEV); after restore it re-maps", () => {
    const w = world();
    const mr = dmabufMr(w);
    const results: Array<[number, string]> = [];
    const access = (us: number) => {
      const r = mrTranslate(mr, 0, 4096, RW);
      results.push([us, r.ok ? "ok" : r.error === "fault-failed" ? `fault-failed ${r.errno}` : r.error]);
    };
    w.engine.scheduleAt(1 * US, () => void w.gpu0.writeCommandMemory(false));
    w.engine.scheduleAt(2 * US, () => access(2));
    w.engine.scheduleAt(3 * US, () => void w.gpu0.writeCommandMemory(true));
    w.engine.scheduleAt(4 * US, () => access(4));
    expect(w.run()).toBe("quiet");
    expect(results).toEqual([
      [2, "fault-failed ENODEV"],
      [4, "ok"],
    ]);
    ibDeregMr(mr);
    expect(mrEvents(w.trace.events.slice(w.since)).filter(([t]) => t >= 1)).toEqual([
      [1, "revoke"],
      [1, "mr.zap nic0/mr#0"],
      [1, "umem.unmap nic0/umem#0"],
      [1, "revoke.done"],
      [2, "mr.fault.failed nic0/mr#0 ENODEV"],
      [3, "restore"],
      [4, "umem.map nic0/umem#0"],
      [4, "mr.fault nic0/mr#0"],
      [4, "mr.mkey.revoke nic0/mr#0"],
      [4, "umem.unmap nic0/umem#0"],
      [4, "umem.release nic0/umem#0"],
      [4, "mr.dereg nic0/mr#0"],
    ]);
  });

  it("refuses an access with a revoked key (dereg in progress) without faulting", () => {
    const w = world();
    const mr = dmabufMr(w);
    mlx5RevokeMr(mr);
    expect(mrTranslate(mr, 0, 64, LW)).toEqual({ ok: false, error: "local-protection", reason: "key" });
    ibDeregMr(mr);
  });

  it("E18: an invalidate between the mkey revoke and the umem release is skipped when fixed, a use-after-free under the mutant", () => {
    const outcomes = [false, true].map((e18) => {
      const w = world();
      const mr = dmabufMr(w, { e18 });
      mlx5RevokeMr(mr);
      exporterInvalidate(w);
      ibDeregMr(mr);
      return mrEvents(w.trace.events.slice(w.since))
        .map(([, what]) => what)
        .filter((what) => what.startsWith("mr.invalidate") || what.startsWith("umem.unmap"));
    });
    expect(outcomes).toEqual([
      ["mr.invalidate.skipped nic0/umem#0", "umem.unmap nic0/umem#0"],
      ["mr.invalidate.use_after_free nic0/mr#0", "umem.unmap nic0/umem#0"],
    ]);
  });
});
