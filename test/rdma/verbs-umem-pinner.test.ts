// Goal: the device's umem pinner hands descriptor values to the real umems without losing bits
// (a u64 above 2^53 fails with the kernel's own errno), pins dma-bufs with the pinned API by
// default, and with the pinned-revocable API revokes through the driver's callback on a VFIO revoke.
// Method: the rdma test world (gpu0 BAR1 exported by vfio-pci as fd 3), the pinner of nic0.
import { describe, expect, it } from "vitest";
import { IB_ACCESS } from "../../src/rdma/umem.js";
import { ibUmemPinner } from "../../src/rdma/umem-pinner.js";
import { FD, MIB, rdmaWorld, US } from "./world.js";

const LW = IB_ACCESS.LOCAL_WRITE;
const HUGE = 2n ** 60n + 1n;

describe("u64 values reach the umem getters unchanged", () => {
  it("answers each huge value with the getter's errno, never pinning a truncated address", () => {
    const w = rdmaWorld({ vfio: { profile: "vfio-dmabuf-initial" } });
    const pinner = ibUmemPinner(w.ctx, w.nic0);
    const show = (r: { ok: boolean; errno?: string }): string => (r.ok ? "ok" : (r.errno ?? "no errno"));
    const rows: Array<[string, string]> = [
      ["VA 2^60 + 1 (beyond TASK_SIZE)", show(pinner.getVa(HUGE, 4096n, LW))],
      ["VA length 2^60 + 1 (more than UINT_MAX pages)", show(pinner.getVa(0x1000n, HUGE, LW))],
      ["VA 2^64 - 4096 + 8 KiB (wraps a u64)", show(pinner.getVa(2n ** 64n - 4096n, 8192n, LW))],
      ["dma-buf offset 2^60 + 1 (beyond the 2 MiB buffer)", show(pinner.pinDmabuf(FD, HUGE, 4096n, LW))],
      ["dma-buf length 2^60 + 1", show(pinner.pinDmabuf(FD, 0n, HUGE, LW))],
    ];
    expect(w.trace.events.filter((e) => e.kind === "umem.get.failed").map((e) => e.step)).toEqual(["pin", "pages", "overflow", "size", "size"]);
    expect(rows.map(([, r]) => r)).toEqual(["EFAULT", "EINVAL", "EINVAL", "EINVAL", "EINVAL"]);
    expect([w.mm.pinnedVm, w.ctx.umemCount, w.buf.refCount]).toEqual([0, 0, 1]);
  });
});

describe("the dma-buf API a DMABUF descriptor goes through", () => {
  it("default: pinned, refused by the newest VFIO exporter with EOPNOTSUPP", () => {
    const w = rdmaWorld();
    expect(ibUmemPinner(w.ctx, w.nic0).pinDmabuf(FD, 0n, 4096n, LW)).toEqual({ ok: false, errno: "EOPNOTSUPP" });
  });

  it("pinned-revocable: accepted; a VFIO revoke runs the driver's callback once and leaves the umem revoked", () => {
    const w = rdmaWorld();
    const revoked: string[] = [];
    const pinner = ibUmemPinner(w.ctx, w.nic0, { dmabuf: "pinned-revocable", onRevoke: (u) => void revoked.push(u.name) });
    const got = pinner.pinDmabuf(FD, 0n, BigInt(MIB), LW);
    if (!got.ok) throw new Error(got.errno);
    expect([got.value.kind, got.value.mapped, w.buf.resv.holder]).toEqual(["dmabuf-pinned-revocable", true, undefined]);
    w.engine.scheduleAt(US, () => void w.gpu0.writeCommandMemory(false));
    expect(w.run()).toBe("quiet");
    expect([revoked, got.value.mapped]).toEqual([["nic0/umem#0"], false]);
    expect(w.trace.events.filter((e) => e.kind === "pinner.revoke").map((e) => e.umem)).toEqual(["nic0/umem#0"]);
    got.value.release();
    expect([w.buf.refCount, w.buf.attachments.length]).toEqual([1, 0]);
  });
});
