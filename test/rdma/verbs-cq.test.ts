// Goal: CQ creation follows kernel.md §d.4 (umem_list v2): the legacy attribute rules, the order
// in which umems are pinned and released through descriptors, legacy attributes and the driver's
// fallback, the consumption check, resize via replace, the write() path, the VFIO refusal of a
// pinned dma-buf CQ buffer, and bugs E20 and E21 made visible.
// Method: the rdma test world (gpu0 BAR1 exported by vfio-pci as fd 3, nic0), a verbs device on
// nic0, and a log of every umem get and release read from the trace.
import { describe, expect, it } from "vitest";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { encodeBufferDescs, encodeBufferDescV8, IB_UVERBS_BUFFER_TYPE, type IbUverbsBufferDesc } from "../../src/rdma/buffer-desc.js";
import { type CqLegacyBufferAttrs, ibUmemGetCqBuf } from "../../src/rdma/umem-buffer-attr-v8.js";
import type { UmemPinnerDmabufMode } from "../../src/rdma/umem-pinner.js";
import { cqLegacyBufferRule, ibCreateCq, ibCreateCqWrite, ibDestroyCq, ibResizeCq, UVERBS_BUF_CQ } from "../../src/rdma/verbs-cq.js";
import { type IbDeviceCaps, ibDevice } from "../../src/rdma/verbs-device.js";
import type { VfioProfile } from "../../src/vfio/profiles.js";
import { FD, rdmaWorld } from "./world.js";

const BUF_VA = 0x10_0000n;
const DB_VA = 0x20_0040n;
const UCMD = { bufAddr: 0x30_0000n, dbAddr: 0x40_0080n };
/** 64 CQEs of 64 bytes: one page. */
const ENTRIES = 64;

const vaDesc = (index: number, addr: bigint, length: bigint): IbUverbsBufferDesc => ({
  fd: -1,
  type: IB_UVERBS_BUFFER_TYPE.VA,
  index,
  reserved: 0,
  addr,
  length,
});
const attr = (...descs: IbUverbsBufferDesc[]): Uint8Array => encodeBufferDescs(descs);
const BUF_DESC = vaDesc(UVERBS_BUF_CQ.BUF, BUF_VA, 4096n);
const DBR_DESC = vaDesc(UVERBS_BUF_CQ.DBR, DB_VA, 8n);

/** Umem gets and releases and CQ events, in order, names without the `nic0/` prefix. */
function log(events: readonly TraceEvent[]): string[] {
  const out: string[] = [];
  const short = (v: unknown) => String(v).replace("nic0/", "");
  for (const e of events) {
    if (e.layer !== "rdma") continue;
    if (e.kind === "umem.get") out.push(`get ${short(e.umem)} ${e.type} @${Number(e.address).toString(16)}`);
    else if (e.kind === "umem.release") out.push(`release ${short(e.umem)}`);
    else if (e.kind === "umem.get.failed") out.push(`get failed ${e.step} ${e.errno}`);
    else if (e.kind.startsWith("cq.")) out.push(`${e.kind} ${[e.step, e.errno].filter((v) => v !== undefined).join(" ")}`.trim());
  }
  return out;
}

function world(caps: Partial<IbDeviceCaps> = {}, vfioProfile?: VfioProfile, dmabuf?: UmemPinnerDmabufMode) {
  const w = rdmaWorld(vfioProfile === undefined ? {} : { vfio: { profile: vfioProfile } });
  const device = ibDevice(w.ctx, w.nic0, { caps, ...(dmabuf === undefined ? {} : { pinner: { dmabuf } }) });
  const since = w.trace.events.length;
  return { ...w, device, log: () => log(w.trace.events.slice(since)) };
}

describe("the legacy CQ buffer attribute rules [kernel.md §d.4, UVCQ]", () => {
  // [VA, FD, OFFSET, LENGTH] -> result with create_cq_umem; without it every buffer is EINVAL.
  const ROWS: ReadonlyArray<[string, string]> = [
    ["----", "none"],
    ["---L", "EINVAL"],
    ["--O-", "EINVAL"],
    ["--OL", "EINVAL"],
    ["-F--", "EINVAL"],
    ["-F-L", "EINVAL"],
    ["-FO-", "EINVAL"],
    ["-FOL", "fd"],
    ["V---", "EINVAL"],
    ["V--L", "va"],
    ["V-O-", "EINVAL"],
    ["V-OL", "EINVAL"],
    ["VF--", "EINVAL"],
    ["VF-L", "EINVAL"],
    ["VFO-", "EINVAL"],
    ["VFOL", "EINVAL"],
  ];
  const attrs = (flags: string): CqLegacyBufferAttrs => ({
    ...(flags[0] === "V" ? { bufferVa: BUF_VA } : {}),
    ...(flags[1] === "F" ? { bufferFd: FD } : {}),
    ...(flags[2] === "O" ? { bufferOffset: 0n } : {}),
    ...(flags[3] === "L" ? { bufferLength: 4096n } : {}),
  });
  const show = (r: ReturnType<typeof cqLegacyBufferRule>) => (r.ok ? r.value : r.errno);

  it("maps every combination to its buffer or errno, with and without create_cq_umem", () => {
    const outcomes = ROWS.map(([flags]) => [flags, show(cqLegacyBufferRule(attrs(flags), true)), show(cqLegacyBufferRule(attrs(flags), false))]);
    expect(outcomes).toEqual(ROWS.map(([flags, expected]) => [flags, expected, expected === "none" ? "none" : "EINVAL"]));
  });

  it("fails the create after building the list, and releases the descriptor umems it pinned", () => {
    const w = world();
    const result = ibCreateCq(w.device, { entries: ENTRIES, buffers: attr(DBR_DESC), legacy: attrs("--O-"), ucmd: UCMD });
    expect(result).toEqual({ ok: false, errno: "EINVAL" });
    expect(w.log()).toEqual(["get umem#0 va @200040", "release umem#0", "cq.create.failed legacy-attrs EINVAL"]);
    expect(w.mm.pinnedVm).toBe(0);
  });
});

describe("CQ create and destroy: which umems are pinned and released, in order", () => {
  it("descriptors for CQ_BUF and CQ_DBR: both loaded, the list releases both in slot order", () => {
    const w = world();
    const result = ibCreateCq(w.device, { entries: ENTRIES, buffers: attr(DBR_DESC, BUF_DESC), ucmd: UCMD });
    if (!result.ok) throw new Error(result.errno);
    const cq = result.value;
    expect([cq.name, cq.buf?.name, cq.dbr?.name, cq.umemList.provided, cq.umemList.loaded]).toEqual(["nic0/cq#0", "nic0/umem#1", "nic0/umem#0", 3n, 3n]);
    expect(ibDestroyCq(cq).ok).toBe(true);
    expect(w.log()).toEqual(["get umem#0 va @200040", "get umem#1 va @100000", "cq.create", "release umem#1", "release umem#0", "cq.destroy"]);
    expect(w.mm.pinnedVm).toBe(0);
  });

  it("legacy VA attributes: inserted at CQ_BUF; the doorbell page comes from the ucmd and the driver releases it first", () => {
    const w = world();
    const result = ibCreateCq(w.device, { entries: ENTRIES, legacy: { bufferVa: BUF_VA, bufferLength: 4096n }, ucmd: UCMD });
    if (!result.ok) throw new Error(result.errno);
    expect([result.value.umemList.provided, result.value.umemList.loaded]).toEqual([1n, 1n]);
    ibDestroyCq(result.value);
    expect(w.log()).toEqual(["get umem#0 va @100000", "get umem#1 va @400000", "cq.create", "release umem#1", "release umem#0", "cq.destroy"]);
  });

  it("nothing supplied: the driver pins ucmd.buf_addr (filed in the list, not provided) and the doorbell page", () => {
    const w = world();
    const result = ibCreateCq(w.device, { entries: ENTRIES, ucmd: UCMD });
    if (!result.ok) throw new Error(result.errno);
    expect([result.value.umemList.provided, result.value.umemList.loaded, result.value.umemList.slots[0]?.name]).toEqual([0n, 0n, "nic0/umem#0"]);
    ibDestroyCq(result.value);
    expect(w.log()).toEqual(["get umem#0 va @300000", "get umem#1 va @400000", "cq.create", "release umem#1", "release umem#0", "cq.destroy"]);
  });

  it("a CQ_BUF descriptor shorter than entries x cqe fails in the driver (EINVAL) and the list releases it", () => {
    const w = world();
    const result = ibCreateCq(w.device, { entries: 128, buffers: attr(BUF_DESC), ucmd: UCMD });
    expect(result).toEqual({ ok: false, errno: "EINVAL" });
    expect(w.log()).toEqual(["get umem#0 va @100000", "release umem#0", "cq.create.failed driver EINVAL"]);
  });

  it("an unconsumed CQ_DBR (driver without the DBR slot): driver destroy, list release, EINVAL (I20)", () => {
    const w = world({ cqDbrSlot: false });
    const result = ibCreateCq(w.device, { entries: ENTRIES, buffers: attr(BUF_DESC, DBR_DESC), ucmd: UCMD });
    expect(result).toEqual({ ok: false, errno: "EINVAL" });
    expect(w.log()).toEqual([
      "get umem#0 va @100000",
      "get umem#1 va @200040",
      "get umem#2 va @400000",
      "release umem#2",
      "release umem#0",
      "release umem#1",
      "cq.create.failed consumed EINVAL",
    ]);
    expect(w.mm.pinnedVm).toBe(0);
  });

  it("refuses destroy while a QP uses the CQ (EBUSY), then destroys", () => {
    const w = world();
    const result = ibCreateCq(w.device, { entries: ENTRIES, ucmd: UCMD });
    if (!result.ok) throw new Error(result.errno);
    result.value.usecnt = 1;
    expect(ibDestroyCq(result.value)).toEqual({ ok: false, errno: "EBUSY" });
    result.value.usecnt = 0;
    expect(ibDestroyCq(result.value).ok).toBe(true);
  });
});

describe("resize and the write() path", () => {
  it("resize pins the new buffer and replace() releases the old one", () => {
    const w = world();
    const result = ibCreateCq(w.device, { entries: ENTRIES, buffers: attr(BUF_DESC, DBR_DESC), ucmd: UCMD });
    if (!result.ok) throw new Error(result.errno);
    const cq = result.value;
    expect(ibResizeCq(cq, 128, 0x50_0000n).ok).toBe(true);
    expect([cq.entries, cq.buf?.name, cq.buf?.length, cq.umemList.slots[0]?.name]).toEqual([128, "nic0/umem#2", 8192, "nic0/umem#2"]);
    expect(ibResizeCq(cq, 0, 0x60_0000n)).toEqual({ ok: false, errno: "EINVAL" });
    ibDestroyCq(cq);
    expect(w.log()).toEqual([
      "get umem#0 va @100000",
      "get umem#1 va @200040",
      "cq.create",
      "get umem#2 va @500000",
      "release umem#0",
      "cq.resize",
      "release umem#2",
      "release umem#1",
      "cq.destroy",
    ]);
  });

  it("write(): an empty list, the ucmd buffer filed in it, no consumption check", () => {
    const w = world();
    const result = ibCreateCqWrite(w.device, { entries: ENTRIES, ucmd: UCMD });
    if (!result.ok) throw new Error(result.errno);
    expect([result.value.path, result.value.umemList.provided]).toEqual(["write", 0n]);
    ibDestroyCq(result.value);
    expect(w.log()).toEqual(["get umem#0 va @300000", "get umem#1 va @400000", "cq.create", "release umem#1", "release umem#0", "cq.destroy"]);
  });
});

describe("a dma-buf CQ buffer over a VFIO BAR export ('a finding the model must reproduce')", () => {
  const dmabufDesc: IbUverbsBufferDesc = { fd: FD, type: IB_UVERBS_BUFFER_TYPE.DMABUF, index: UVERBS_BUF_CQ.BUF, reserved: 0, addr: 0n, length: 4096n };
  type Source = "descriptor" | "legacy FD";
  const ROWS: ReadonlyArray<[VfioProfile, UmemPinnerDmabufMode, Source, string, string]> = [
    ["vfio-dmabuf-wait", "pinned", "descriptor", "EOPNOTSUPP", "get failed attach EOPNOTSUPP"],
    ["vfio-dmabuf-wait", "pinned", "legacy FD", "EOPNOTSUPP", "get failed attach EOPNOTSUPP"],
    ["vfio-dmabuf-initial", "pinned", "descriptor", "ok", "get umem#0 dmabuf-pinned @0"],
    ["vfio-dmabuf-initial", "pinned", "legacy FD", "ok", "get umem#0 dmabuf-pinned @0"],
    ["vfio-dmabuf-wait", "pinned-revocable", "descriptor", "ok", "get umem#0 dmabuf-pinned-revocable @0"],
  ];

  it("is refused at attach by the newest exporter, accepted by the initial one or through the revocable API", () => {
    const outcomes = ROWS.map(([profile, mode, source]) => {
      const w = world({}, profile, mode);
      const given =
        source === "descriptor"
          ? { buffers: attr(dmabufDesc) }
          : { legacy: { bufferFd: FD, bufferOffset: 0n, bufferLength: 4096n } satisfies CqLegacyBufferAttrs };
      const result = ibCreateCq(w.device, { entries: ENTRIES, ucmd: UCMD, ...given });
      if (result.ok) ibDestroyCq(result.value);
      return [profile, mode, source, result.ok ? "ok" : result.errno, w.log()[0], w.buf.refCount, w.buf.attachments.length];
    });
    expect(outcomes).toEqual(ROWS.map(([profile, mode, source, errno, first]) => [profile, mode, source, errno, first, 1, 0]));
  });
});

describe("bugs made visible", () => {
  it("E21 (v2 default): legacy attributes over a CQ_BUF descriptor silently release the descriptor's umem", () => {
    const w = world();
    const result = ibCreateCq(w.device, { entries: ENTRIES, buffers: attr(BUF_DESC), legacy: { bufferVa: 0x70_0000n, bufferLength: 4096n }, ucmd: UCMD });
    if (!result.ok) throw new Error(result.errno);
    expect(result.value.buf?.name).toBe("nic0/umem#1");
    expect(w.log().slice(0, 3)).toEqual(["get umem#0 va @100000", "get umem#1 va @700000", "release umem#0"]);
    ibDestroyCq(result.value);
  });

  it("E21 fixed in the v8 profile: the same double specification is refused with EINVAL before any pin", () => {
    const w = world();
    const umemAttr = encodeBufferDescV8({ type: IB_UVERBS_BUFFER_TYPE.VA, fd: -1, flags: 0, optionalFlags: 0, addr: BUF_VA, length: 4096n });
    const result = ibUmemGetCqBuf(umemAttr, { bufferVa: 0x70_0000n, bufferLength: 4096n }, 4096, w.device.pinner);
    expect([result, w.log()]).toEqual([{ ok: false, errno: "EINVAL" }, []]);
  });

  it.each([
    ["legacy attributes invalid", { legacy: { bufferOffset: 0n } }, {}, "legacy-attrs EINVAL"],
    ["CQ allocation fails", {}, { allocationFails: true }, "alloc ENOMEM"],
  ])("E20: %s before the CQ exists: released by default, leaked under the mutant", (_name, extra, options, failure) => {
    const outcomes = [false, true].map((e20) => {
      const w = world();
      const result = ibCreateCq(w.device, { entries: ENTRIES, buffers: attr(BUF_DESC), ucmd: UCMD, ...extra }, { ...options, e20 });
      const failed = w.trace.events.filter((e) => e.kind === "cq.create.failed").at(-1);
      return [result.ok, w.log(), w.mm.pinnedVm, failed?.leaked];
    });
    expect(outcomes).toEqual([
      [false, ["get umem#0 va @100000", "release umem#0", `cq.create.failed ${failure}`], 0, false],
      [false, ["get umem#0 va @100000", `cq.create.failed ${failure}`], 1, true],
    ]);
  });
});
