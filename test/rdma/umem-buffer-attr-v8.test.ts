// Goal: the umem-buffer-attr-v8 profile follows kernel.md §d.6, and rejects what v2 let through
// (E21: a CQ buffer given twice; E22: silent u64 narrowing). Method: a fake pinner logs every pin
// and release; each row compares the errno or umem with that log, v2 beside v8 where they differ.

import { describe, expect, it } from "vitest";
import type { Result } from "../../src/dmabuf/errno.js";
import { encodeBufferDesc, encodeBufferDescV8, IB_UVERBS_BUFFER_TYPE, type IbUverbsBufferDescV8, type Umem } from "../../src/rdma/buffer-desc.js";
import {
  type CqLegacyBufferAttrs,
  IB_UVERBS_BUFFER_DESC_FLAGS_KNOWN,
  IB_UVERBS_BUFFER_DESC_OPTIONAL_FLAGS_KNOWN,
  ibUmemGetBufferAttr,
  ibUmemGetCqBuf,
  ibUmemGetCqBufOrVa,
  UMEM_BUFFER_ATTR_V8_PROFILE,
  type UmemAttrV8Options,
  UVERBS_ATTR_CREATE_CQ_BUF_UMEM,
} from "../../src/rdma/umem-buffer-attr-v8.js";
import { ibUmemListCreate } from "../../src/rdma/umem-list.js";
import { fakePinner } from "../support/fake-pinner.js";

const DESC: IbUverbsBufferDescV8 = { type: IB_UVERBS_BUFFER_TYPE.DMABUF, fd: 3, flags: 0, optionalFlags: 0, addr: 0n, length: 4096n };
const umemAttr = (patch: Partial<IbUverbsBufferDescV8> = {}) => encodeBufferDescV8({ ...DESC, ...patch });
const show = (r: Result<Umem | undefined>) => (r.ok ? (r.value?.name ?? "NULL") : r.errno);
const dmabufPin = (name: string, offset = 0, length = 4096) => `pin ${name} dmabuf fd=3 offset=${offset} length=${length} access=1`;

describe("profile constants", () => {
  it("names the profile, the CQ attribute id and the (empty) known-flag masks", () => {
    expect([
      UMEM_BUFFER_ATTR_V8_PROFILE,
      UVERBS_ATTR_CREATE_CQ_BUF_UMEM,
      IB_UVERBS_BUFFER_DESC_FLAGS_KNOWN,
      IB_UVERBS_BUFFER_DESC_OPTIONAL_FLAGS_KNOWN,
    ]).toEqual(["umem-buffer-attr-v8", 12, 0, 0]);
  });
});

describe("ibUmemGetBufferAttr: one UVERBS_ATTR_UMEM attribute", () => {
  it("bytes -> errno or umem, with the exact pin/release sequence", () => {
    const rows: Array<[string, Uint8Array | undefined, number, UmemAttrV8Options]> = [
      ["absent", undefined, 64, {}],
      ["31 bytes", umemAttr().subarray(0, 31), 64, {}],
      ["64 bytes (two descriptors)", new Uint8Array([...umemAttr(), ...umemAttr()]), 64, {}],
      ["dma-buf", umemAttr(), 4096, {}],
      ["VA", umemAttr({ type: IB_UVERBS_BUFFER_TYPE.VA, addr: 0x7000n, length: 64n }), 64, {}],
      ["flags bit 0 (strict)", umemAttr({ flags: 1 }), 64, {}],
      ["flags bit 31 (strict)", umemAttr({ flags: 0x8000_0000 }), 64, {}],
      ["optional_flags all ones (advisory, dropped)", umemAttr({ optionalFlags: 0xffff_ffff }), 64, {}],
      ["unknown type 2", umemAttr({ type: 2 }), 64, {}],
      ["E22: addr 2^32 on a 32-bit kernel", umemAttr({ addr: 1n << 32n }), 64, { wordBits: 32 }],
      ["E22: length 2^32 on a 32-bit kernel", umemAttr({ length: 1n << 32n }), 64, { wordBits: 32 }],
      ["addr 2^32 on a 64-bit kernel", umemAttr({ addr: 1n << 32n }), 64, {}],
      ["too small: pinned, released, -EINVAL", umemAttr({ length: 4095n }), 4096, {}],
      ["pin refused", umemAttr({ fd: 66 }), 64, {}],
      ["VA pin fails", umemAttr({ type: IB_UVERBS_BUFFER_TYPE.VA, addr: 0n }), 64, {}],
    ];
    const table = rows.map(([label, bytes, size, options]) => {
      const { pinner, log } = fakePinner();
      return [label, show(ibUmemGetBufferAttr(bytes, size, pinner, options)), log];
    });
    expect(table).toEqual([
      ["absent", "NULL", []],
      ["31 bytes", "EINVAL", []],
      ["64 bytes (two descriptors)", "EINVAL", []],
      ["dma-buf", "u0", [dmabufPin("u0")]],
      ["VA", "u0", ["pin u0 va addr=28672 length=64 access=1"]],
      ["flags bit 0 (strict)", "EINVAL", []],
      ["flags bit 31 (strict)", "EINVAL", []],
      ["optional_flags all ones (advisory, dropped)", "u0", [dmabufPin("u0")]],
      ["unknown type 2", "EINVAL", []],
      ["E22: addr 2^32 on a 32-bit kernel", "EOVERFLOW", []],
      ["E22: length 2^32 on a 32-bit kernel", "EOVERFLOW", []],
      ["addr 2^32 on a 64-bit kernel", "u0", [dmabufPin("u0", 2 ** 32)]],
      ["too small: pinned, released, -EINVAL", "EINVAL", [dmabufPin("u0", 0, 4095), "release u0"]],
      ["pin refused", "EOPNOTSUPP", []],
      ["VA pin fails", "EFAULT", []],
    ]);
  });
});

describe("ibUmemGetCqBuf / ibUmemGetCqBufOrVa: UMEM attribute vs legacy CQ attributes", () => {
  const VA: CqLegacyBufferAttrs = { bufferVa: 0x7000n, bufferLength: 4096n };
  const FD: CqLegacyBufferAttrs = { bufferFd: 5, bufferOffset: 0x2000n, bufferLength: 4096n };
  const rows: Array<[string, Uint8Array | undefined, CqLegacyBufferAttrs]> = [
    ["nothing", undefined, {}],
    ["UMEM only", umemAttr(), {}],
    ["legacy VA+LENGTH", undefined, VA],
    ["legacy FD+OFFSET+LENGTH", undefined, FD],
    ["legacy VA without LENGTH", undefined, { bufferVa: 0x7000n }],
    ["legacy VA with FD", undefined, { ...VA, bufferFd: 5 }],
    ["legacy VA with OFFSET", undefined, { ...VA, bufferOffset: 0n }],
    ["legacy FD without OFFSET", undefined, { bufferFd: 5, bufferLength: 4096n }],
    ["legacy FD without LENGTH", undefined, { bufferFd: 5, bufferOffset: 0n }],
    ["legacy OFFSET alone", undefined, { bufferOffset: 0n }],
    ["legacy LENGTH alone", undefined, { bufferLength: 4096n }],
    ["E21: UMEM + legacy VA", umemAttr(), VA],
    ["E21: UMEM + legacy FD", umemAttr(), FD],
    ["legacy VA too small", undefined, { bufferVa: 0x7000n, bufferLength: 4000n }],
    ["UMEM too small", umemAttr({ length: 4000n }), {}],
    ["UMEM with strict flag", umemAttr({ flags: 2 }), {}],
  ];

  it("each source: errno or umem with the pin/release log; without a buffer, or_va pins the driver's VA", () => {
    const table = rows.map(([label, bytes, legacy]) => {
      const a = fakePinner();
      const b = fakePinner();
      return [label, show(ibUmemGetCqBuf(bytes, legacy, 4096, a.pinner)), a.log, show(ibUmemGetCqBufOrVa(bytes, legacy, 4096, 0xa000n, b.pinner)), b.log];
    });
    const same = (label: string, result: string, log: string[]) => [label, result, log, result, log];
    expect(table).toEqual([
      ["nothing", "NULL", [], "u0", ["pin u0 va addr=40960 length=4096 access=1"]],
      same("UMEM only", "u0", [dmabufPin("u0")]),
      same("legacy VA+LENGTH", "u0", ["pin u0 va addr=28672 length=4096 access=1"]),
      same("legacy FD+OFFSET+LENGTH", "u0", ["pin u0 dmabuf fd=5 offset=8192 length=4096 access=1"]),
      same("legacy VA without LENGTH", "EINVAL", []),
      same("legacy VA with FD", "EINVAL", []),
      same("legacy VA with OFFSET", "EINVAL", []),
      same("legacy FD without OFFSET", "EINVAL", []),
      same("legacy FD without LENGTH", "EINVAL", []),
      same("legacy OFFSET alone", "EINVAL", []),
      same("legacy LENGTH alone", "EINVAL", []),
      same("E21: UMEM + legacy VA", "EINVAL", []),
      same("E21: UMEM + legacy FD", "EINVAL", []),
      same("legacy VA too small", "EINVAL", ["pin u0 va addr=28672 length=4000 access=1", "release u0"]),
      same("UMEM too small", "EINVAL", [dmabufPin("u0", 0, 4000), "release u0"]),
      same("UMEM with strict flag", "EINVAL", []),
    ]);
  });
});

describe("v2 beside v8 on the two bugs the profile fixes", () => {
  it("E21: v2 accepts a BUFFERS entry and a legacy buffer for CQ_BUF and silently releases the descriptor's umem; v8 refuses before pinning", () => {
    const v2 = fakePinner();
    const list = ibUmemListCreate(encodeBufferDesc({ fd: 3, type: 0, index: 0, reserved: 0, addr: 0n, length: 4096n }), 1, v2.pinner);
    if (!list.ok) throw new Error(list.errno);
    const legacy = v2.pinner.getVa(0x7000n, 4096n, 1);
    if (!legacy.ok) throw new Error(legacy.errno);
    list.value.insert(0, legacy.value);
    expect([list.value.slots[0]?.name, list.value.provided, v2.log]).toEqual([
      "u1",
      1n,
      [dmabufPin("u0"), "pin u1 va addr=28672 length=4096 access=1", "release u0"],
    ]);

    const v8 = fakePinner();
    expect(show(ibUmemGetCqBuf(umemAttr(), { bufferVa: 0x7000n, bufferLength: 4096n }, 4096, v8.pinner))).toBe("EINVAL");
    expect(v8.log).toEqual([]);
  });

  it("E22: on a 32-bit kernel v2 pins a truncated window, v8 returns -EOVERFLOW", () => {
    const v2 = fakePinner();
    const list = ibUmemListCreate(encodeBufferDesc({ fd: 3, type: 0, index: 0, reserved: 0, addr: (1n << 32n) + 0x10n, length: 4096n }), 0, v2.pinner, {
      wordBits: 32,
    });
    expect([list.ok, v2.log]).toEqual([true, [dmabufPin("u0", 0x10)]]);

    const v8 = fakePinner();
    expect(show(ibUmemGetBufferAttr(umemAttr({ addr: (1n << 32n) + 0x10n }), 4096, v8.pinner, { wordBits: 32 }))).toBe("EOVERFLOW");
    expect(v8.log).toEqual([]);
  });
});
