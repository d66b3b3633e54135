import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Result } from "../../src/dmabuf/errno.js";
import {
  decodeBufferDesc,
  decodeBufferDescV8,
  encodeBufferDesc,
  encodeBufferDescV8,
  fitsKernelWord,
  IB_ACCESS_LOCAL_WRITE,
  IB_UVERBS_BUFFER_DESC_SIZE,
  IB_UVERBS_BUFFER_TYPE,
  type IbUverbsBufferDesc,
  type IbUverbsBufferDescV8,
  narrowToKernelWord,
  pinBufferDesc,
  type Umem,
  type UmemPinner,
} from "../../src/rdma/buffer-desc.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const s32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe("struct ib_uverbs_buffer_desc (v2): 32 bytes, little-endian", () => {
  it("puts every field at its offset", () => {
    expect(IB_UVERBS_BUFFER_DESC_SIZE).toBe(32);
    expect(IB_UVERBS_BUFFER_TYPE).toEqual({ DMABUF: 0, VA: 1 });
    const desc: IbUverbsBufferDesc = {
      fd: -2,
      type: 1,
      index: 0x0302_0100,
      reserved: 0xdead_beef,
      addr: 0x1122_3344_5566_7788n,
      length: 0xffff_ffff_ffff_fffen,
    };
    const bytes = encodeBufferDesc(desc);
    expect([hex(bytes.subarray(0, 4)), hex(bytes.subarray(4, 8)), hex(bytes.subarray(8, 12)), hex(bytes.subarray(12, 16))]).toEqual([
      "feffffff",
      "01000000",
      "00010203",
      "efbeadde",
    ]);
    expect([hex(bytes.subarray(16, 24)), hex(bytes.subarray(24, 32))]).toEqual(["8877665544332211", "feffffffffffffff"]);
    expect(decodeBufferDesc(bytes)).toEqual(desc);
  });

  it("decodes the k-th descriptor of an attribute that is itself a view into a larger buffer", () => {
    const a = encodeBufferDesc({ fd: 3, type: 0, index: 0, reserved: 0, addr: 0n, length: 4096n });
    const b = encodeBufferDesc({ fd: 4, type: 1, index: 1, reserved: 0, addr: 0x7000n, length: 64n });
    const backing = new Uint8Array(7 + 64 + 5);
    backing.set(a, 7);
    backing.set(b, 7 + 32);
    const attr = backing.subarray(7, 7 + 64);
    expect([decodeBufferDesc(attr, 0), decodeBufferDesc(attr, 32)]).toEqual([decodeBufferDesc(a), decodeBufferDesc(b)]);
    expect(() => decodeBufferDesc(attr, 33)).toThrow("descriptor lies inside the attribute");
  });

  it("round-trips any field values, and any 32 bytes", () => {
    fc.assert(
      fc.property(fc.record({ fd: s32, type: u32, index: u32, reserved: u32, addr: u64, length: u64 }), (desc) => {
        expect(decodeBufferDesc(encodeBufferDesc(desc))).toEqual(desc);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        expect(hex(encodeBufferDesc(decodeBufferDesc(bytes)))).toBe(hex(bytes));
      }),
    );
  });

  it("refuses to encode values outside their C types (a caller bug, not a kernel input)", () => {
    const ok: IbUverbsBufferDesc = { fd: 0, type: 0, index: 0, reserved: 0, addr: 0n, length: 0n };
    const bad: Array<[string, Partial<IbUverbsBufferDesc>]> = [
      ["fd is an s32", { fd: 0x8000_0000 }],
      ["type is a u32", { type: -1 }],
      ["index is a u32", { index: 2 ** 32 }],
      ["reserved is a u32", { reserved: 0.5 }],
      ["addr is a u64", { addr: 1n << 64n }],
      ["length is a u64", { length: -1n }],
    ];
    for (const [message, patch] of bad) expect(() => encodeBufferDesc({ ...ok, ...patch })).toThrow(message);
  });
});

describe("v8 descriptor: {u32 type; s32 fd; u32 flags; u32 optional_flags; u64 addr; u64 length}", () => {
  it("puts every field at its offset", () => {
    const desc: IbUverbsBufferDescV8 = { type: 1, fd: -2, flags: 0x8000_0000, optionalFlags: 3, addr: 0x10n, length: 0x20n };
    const bytes = encodeBufferDescV8(desc);
    expect(hex(bytes)).toBe(["01000000", "feffffff", "00000080", "03000000", "1000000000000000", "2000000000000000"].join(""));
    expect(decodeBufferDescV8(bytes)).toEqual(desc);
  });

  it("round-trips any field values, and the same bytes read as v2 swap type and fd", () => {
    fc.assert(
      fc.property(fc.record({ type: u32, fd: s32, flags: u32, optionalFlags: u32, addr: u64, length: u64 }), (desc) => {
        const bytes = encodeBufferDescV8(desc);
        expect(decodeBufferDescV8(bytes)).toEqual(desc);
        const v2 = decodeBufferDesc(bytes);
        expect([v2.fd >>> 0, v2.type, v2.index, v2.reserved, v2.addr, v2.length]).toEqual([
          desc.type,
          desc.fd >>> 0,
          desc.flags,
          desc.optionalFlags,
          desc.addr,
          desc.length,
        ]);
      }),
    );
  });
});

describe("narrowing u64 to the kernel word (E22)", () => {
  it("drops high bits silently; fitsKernelWord says when that changed the value", () => {
    const rows: Array<[bigint, 32 | 64]> = [
      [0n, 32],
      [0xffff_ffffn, 32],
      [0x1_0000_0000n, 32],
      [0x1_0000_0010n, 32],
      [0xffff_ffff_ffff_ffffn, 32],
      [0xffff_ffff_ffff_ffffn, 64],
    ];
    expect(rows.map(([v, bits]) => [narrowToKernelWord(v, bits), fitsKernelWord(v, bits)])).toEqual([
      [0n, true],
      [0xffff_ffffn, true],
      [0n, false],
      [0x10n, false],
      [0xffff_ffffn, false],
      [0xffff_ffff_ffff_ffffn, true],
    ]);
    expect(() => narrowToKernelWord(1n << 64n, 64)).toThrow("value is a u64");
  });
});

describe("pinBufferDesc: the type switch", () => {
  it("DMABUF pins the dma-buf window, VA gets the user range, both with LOCAL_WRITE; any other type is -EINVAL without a call", () => {
    const calls: string[] = [];
    const umem = (name: string): Result<Umem> => ({ ok: true, value: { name, length: 1, release: () => calls.push(`release ${name}`) } });
    const pinner: UmemPinner = {
      pinDmabuf(fd, offset, length, access) {
        calls.push(`pinDmabuf fd=${fd} offset=${offset} length=${length} access=${access}`);
        return umem("d");
      },
      getVa(addr, length, access) {
        calls.push(`getVa addr=${addr} length=${length} access=${access}`);
        return umem("v");
      },
    };
    const rows = [0, 1, 2, 0xffff_ffff].map((type) => {
      calls.length = 0;
      const r = pinBufferDesc(type, 7, 0x1000n, 64n, pinner);
      return [type, r.ok ? r.value.name : r.errno, [...calls]];
    });
    expect(IB_ACCESS_LOCAL_WRITE).toBe(1);
    expect(rows).toEqual([
      [0, "d", ["pinDmabuf fd=7 offset=4096 length=64 access=1"]],
      [1, "v", ["getVa addr=4096 length=64 access=1"]],
      [2, "EINVAL", []],
      [0xffff_ffff, "EINVAL", []],
    ]);
  });
});
