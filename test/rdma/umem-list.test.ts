// Goal: ib_umem_list_create and every umem_list operation follow kernel.md §d.3 exactly, including
// the order of pins and releases. Method: a fake pinner logs every pin and release, and each
// table row compares the errno, the resulting slots and bits, and that log.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Errno, Result } from "../../src/dmabuf/errno.js";
import { encodeBufferDescs, IB_UVERBS_BUFFER_TYPE, type IbUverbsBufferDesc, type Umem } from "../../src/rdma/buffer-desc.js";
import {
  ibUmemListCheckConsumed,
  ibUmemListCreate,
  ibUmemListInsert,
  ibUmemListLoad,
  ibUmemListLoadOrGet,
  ibUmemListRelease,
  ibUmemListReleaseNonListed,
  ibUmemListReplace,
  type UmemList,
  type UmemListOptions,
} from "../../src/rdma/umem-list.js";
import { FD_REFUSED, fakePinner } from "../support/fake-pinner.js";

const DESC: IbUverbsBufferDesc = { fd: 3, type: IB_UVERBS_BUFFER_TYPE.DMABUF, index: 0, reserved: 0, addr: 0n, length: 4096n };
const d = (patch: Partial<IbUverbsBufferDesc>): IbUverbsBufferDesc => ({ ...DESC, ...patch });
const attr = (...descs: IbUverbsBufferDesc[]): Uint8Array => encodeBufferDescs(descs);
const slotNames = (list: UmemList) => list.slots.map((u) => u?.name ?? "-").join(" ");
const show = (r: Result<Umem | undefined>) => (r.ok ? (r.value?.name ?? "NULL") : r.errno);

describe("ib_umem_list_create: one row per rule", () => {
  type Row = [label: string, bytes: Uint8Array | undefined, slotMax: number, options: UmemListOptions];
  const rows: Row[] = [
    ["slot_max = BITS_PER_LONG (WARN)", attr(d({})), 64, {}],
    ["slot_max = 63", undefined, 63, {}],
    ["slot_max = 32 on a 32-bit kernel", undefined, 32, { wordBits: 32 }],
    ["slot_max = 31 on a 32-bit kernel", undefined, 31, { wordBits: 32 }],
    ["attribute absent", undefined, 1, {}],
    ["0 bytes", new Uint8Array(0), 1, {}],
    ["31 bytes (parser minimum)", new Uint8Array(31), 1, {}],
    ["33 bytes", new Uint8Array(33), 1, {}],
    ["63 bytes", attr(d({}), d({ index: 1 })).subarray(0, 63), 1, {}],
    ["3 descriptors, count 2", attr(d({}), d({ index: 1 }), d({ index: 1 })), 1, {}],
    ["2 descriptors, count 2", attr(d({ index: 1 }), d({ index: 0, type: 1, fd: -1, addr: 0x7000n, length: 64n })), 1, {}],
    ["allocation fails", attr(d({})), 1, { allocationFails: true }],
    ["allocation fails, no attribute", undefined, 1, { allocationFails: true }],
    ["k=2 reserved != 0", attr(d({ index: 0 }), d({ index: 1 }), d({ index: 2, reserved: 1 })), 3, {}],
    ["k=1 index = count", attr(d({ index: 3 }), d({ index: 4 })), 3, {}],
    ["k=1 index = 2^32-1", attr(d({ index: 3 }), d({ index: 0xffff_ffff })), 3, {}],
    ["k=2 duplicate index", attr(d({ index: 2 }), d({ index: 0 }), d({ index: 2, fd: 5 })), 3, {}],
    ["k=1 unknown type 2", attr(d({ index: 1 }), d({ index: 0, type: 2 })), 3, {}],
    ["k=2 dma-buf pin refused", attr(d({ index: 3 }), d({ index: 1 }), d({ index: 0, fd: FD_REFUSED })), 3, {}],
    ["k=1 VA pin fails", attr(d({ index: 2 }), d({ index: 0, type: 1, addr: 0n })), 3, {}],
    ["k=0 bad: nothing pinned", attr(d({ reserved: 0x8000_0000 }), d({ index: 1 })), 3, {}],
    ["E22: 32-bit kernel narrows addr and length", attr(d({ addr: 0x1_0000_0010n, length: 0x1_0000_1000n })), 1, { wordBits: 32 }],
    ["64-bit kernel keeps them", attr(d({ addr: 0x1_0000_0010n, length: 0x1_0000_1000n })), 1, {}],
  ];

  it("bytes -> errno or list, with the exact pin/release sequence (descriptors 0..k-1 pinned, then released in slot order)", () => {
    const table = rows.map(([label, bytes, slotMax, options]) => {
      const { pinner, log } = fakePinner();
      const r = ibUmemListCreate(bytes, slotMax, pinner, options);
      const outcome = r.ok ? { count: r.value.count, slots: slotNames(r.value), provided: r.value.provided, loaded: r.value.loaded } : r.errno;
      return [label, outcome, log];
    });
    const list = (count: number, slots: string, provided: bigint) => ({ count, slots, provided, loaded: 0n });
    const dmabuf = (name: string, fd = 3, offset = 0, length = 4096) => `pin ${name} dmabuf fd=${fd} offset=${offset} length=${length} access=1`;
    expect(table).toEqual([
      ["slot_max = BITS_PER_LONG (WARN)", "EINVAL", []],
      ["slot_max = 63", list(64, Array(64).fill("-").join(" "), 0n), []],
      ["slot_max = 32 on a 32-bit kernel", "EINVAL", []],
      ["slot_max = 31 on a 32-bit kernel", list(32, Array(32).fill("-").join(" "), 0n), []],
      ["attribute absent", list(2, "- -", 0n), []],
      ["0 bytes", "EINVAL", []],
      ["31 bytes (parser minimum)", "EINVAL", []],
      ["33 bytes", "EINVAL", []],
      ["63 bytes", "EINVAL", []],
      ["3 descriptors, count 2", "EINVAL", []],
      ["2 descriptors, count 2", list(2, "u1 u0", 0b11n), [dmabuf("u0"), "pin u1 va addr=28672 length=64 access=1"]],
      ["allocation fails", "ENOMEM", []],
      ["allocation fails, no attribute", "ENOMEM", []],
      ["k=2 reserved != 0", "EINVAL", [dmabuf("u0"), dmabuf("u1"), "release u0", "release u1"]],
      ["k=1 index = count", "EINVAL", [dmabuf("u0"), "release u0"]],
      ["k=1 index = 2^32-1", "EINVAL", [dmabuf("u0"), "release u0"]],
      ["k=2 duplicate index", "EINVAL", [dmabuf("u0"), dmabuf("u1"), "release u1", "release u0"]],
      ["k=1 unknown type 2", "EINVAL", [dmabuf("u0"), "release u0"]],
      ["k=2 dma-buf pin refused", "EOPNOTSUPP", [dmabuf("u0"), dmabuf("u1"), "release u1", "release u0"]],
      ["k=1 VA pin fails", "EFAULT", [dmabuf("u0"), "release u0"]],
      ["k=0 bad: nothing pinned", "EINVAL", []],
      ["E22: 32-bit kernel narrows addr and length", list(2, "u0 -", 1n), [dmabuf("u0", 3, 0x10, 0x1000)]],
      ["64-bit kernel keeps them", list(2, "u0 -", 1n), [dmabuf("u0", 3, 0x1_0000_0010, 0x1_0000_1000)]],
    ]);
  });

  it("rejects a slot_max or an attribute the uAPI cannot express", () => {
    const { pinner } = fakePinner();
    expect(() => ibUmemListCreate(undefined, -1, pinner)).toThrow("slot_max");
    expect(() => ibUmemListCreate(new Uint8Array(0x10000), 1, pinner)).toThrow("u16");
  });
});

describe("umem_list operations: ownership table", () => {
  /** Slot 0: u0 (4096 bytes), slot 2: u1 (64 bytes), slots 1 and 3 empty; provided 0b101. */
  function setup() {
    const f = fakePinner();
    const r = ibUmemListCreate(attr(d({ index: 0 }), d({ index: 2, length: 64n })), 3, f.pinner);
    if (!r.ok) throw new Error(r.errno);
    const list = r.value;
    const u0 = list.slots[0] as Umem;
    const fresh = () => {
      const g = f.pinner.getVa(0x9000n, 256n, 1);
      if (!g.ok) throw new Error(g.errno);
      return g.value;
    };
    f.log.length = 0;
    return { ...f, list, u0, fresh };
  }
  // biome-ignore lint/suspicious/noConfusingVoidType: rows are either a query (its result) or a void mutation.
  type Op = (s: ReturnType<typeof setup>) => string | void;
  const rows: Array<[string, Op]> = [
    ["load(0, 4096)", ({ list }) => show(list.load(0, 4096))],
    ["load(0, 4097): too short", ({ list }) => show(list.load(0, 4097))],
    ["load(1, 8): empty slot", ({ list }) => show(list.load(1, 8))],
    ["load(4, 8): i = count", ({ list }) => show(list.load(4, 8))],
    ["loadOrGet(2, .., 64): hit", ({ list }) => show(list.loadOrGet(2, 0x5000n, 64, 1))],
    ["loadOrGet(2, .., 65): too short, no fallback", ({ list }) => show(list.loadOrGet(2, 0x5000n, 65, 1))],
    ["loadOrGet(1, .., 8): get, stored unlisted", ({ list }) => show(list.loadOrGet(1, 0x5000n, 8, 1))],
    ["loadOrGet(4, .., 8): get, caller owns", ({ list }) => show(list.loadOrGet(4, 0x5000n, 8, 1))],
    ["loadOrGet(1, VA 0, 8): get fails", ({ list }) => show(list.loadOrGet(1, 0n, 8, 1))],
    ["replace(0, new)", ({ list, fresh }) => list.replace(0, fresh())],
    ["replace(0, same)", ({ list, u0 }) => list.replace(0, u0)],
    ["replace(0, NULL)", ({ list }) => list.replace(0, undefined)],
    ["replace(1, new)", ({ list, fresh }) => list.replace(1, fresh())],
    ["replace(4, new): caller keeps it", ({ list, fresh }) => list.replace(4, fresh())],
    ["insert(1, new)", ({ list, fresh }) => list.insert(1, fresh())],
    ["insert(0, new): legacy displaces descriptor (E21)", ({ list, fresh }) => list.insert(0, fresh())],
    ["insert(0, NULL)", ({ list }) => list.insert(0, undefined)],
    ["insert(5, new): bit beyond count", ({ list, fresh }) => list.insert(5, fresh())],
    ["releaseNonListed(0, u0)", ({ list, u0 }) => list.releaseNonListed(0, u0)],
    ["releaseNonListed(1, new)", ({ list, fresh }) => list.releaseNonListed(1, fresh())],
    ["releaseNonListed(9, new)", ({ list, fresh }) => list.releaseNonListed(9, fresh())],
    ["releaseNonListed(0, NULL)", ({ list }) => list.releaseNonListed(0, undefined)],
  ];

  it("each operation: result, slots, provided/loaded bits, consumption, and what the op and a final release free", () => {
    const table = rows.map(([label, op]) => {
      const s = setup();
      const result = op(s) ?? "";
      const after = { slots: slotNames(s.list), provided: s.list.provided, loaded: s.list.loaded };
      const consumed = show(s.list.checkConsumed());
      const opLog = [...s.log];
      s.log.length = 0;
      s.list.release();
      return [label, result, after, consumed, opLog, s.log];
    });
    const st = (slots: string, provided: bigint, loaded: bigint) => ({ slots, provided, loaded });
    const base = st("u0 - u1 -", 0b101n, 0n);
    const finalBase = ["release u0", "release u1"];
    const pinFresh = "pin u2 va addr=36864 length=256 access=1";
    const pinGet = "pin u2 va addr=20480 length=8 access=1";
    expect(table).toEqual([
      ["load(0, 4096)", "u0", st("u0 - u1 -", 0b101n, 0b1n), "EINVAL", [], finalBase],
      ["load(0, 4097): too short", "EINVAL", base, "EINVAL", [], finalBase],
      ["load(1, 8): empty slot", "NULL", base, "EINVAL", [], finalBase],
      ["load(4, 8): i = count", "NULL", base, "EINVAL", [], finalBase],
      ["loadOrGet(2, .., 64): hit", "u1", st("u0 - u1 -", 0b101n, 0b100n), "EINVAL", [], finalBase],
      ["loadOrGet(2, .., 65): too short, no fallback", "EINVAL", base, "EINVAL", [], finalBase],
      ["loadOrGet(1, .., 8): get, stored unlisted", "u2", st("u0 u2 u1 -", 0b101n, 0n), "EINVAL", [pinGet], ["release u0", "release u2", "release u1"]],
      ["loadOrGet(4, .., 8): get, caller owns", "u2", base, "EINVAL", [pinGet], finalBase],
      ["loadOrGet(1, VA 0, 8): get fails", "EFAULT", base, "EINVAL", [], finalBase],
      ["replace(0, new)", "", st("u2 - u1 -", 0b101n, 0n), "EINVAL", [pinFresh, "release u0"], ["release u2", "release u1"]],
      ["replace(0, same)", "", base, "EINVAL", [], finalBase],
      ["replace(0, NULL)", "", st("- - u1 -", 0b101n, 0n), "EINVAL", ["release u0"], ["release u1"]],
      ["replace(1, new)", "", st("u0 u2 u1 -", 0b101n, 0n), "EINVAL", [pinFresh], ["release u0", "release u2", "release u1"]],
      ["replace(4, new): caller keeps it", "", base, "EINVAL", [pinFresh], finalBase],
      ["insert(1, new)", "", st("u0 u2 u1 -", 0b111n, 0n), "EINVAL", [pinFresh], ["release u0", "release u2", "release u1"]],
      ["insert(0, new): legacy displaces descriptor (E21)", "", st("u2 - u1 -", 0b101n, 0n), "EINVAL", [pinFresh, "release u0"], ["release u2", "release u1"]],
      ["insert(0, NULL)", "", st("- - u1 -", 0b101n, 0n), "EINVAL", ["release u0"], ["release u1"]],
      ["insert(5, new): bit beyond count", "", st("u0 - u1 -", 0b100101n, 0n), "EINVAL", [pinFresh], finalBase],
      ["releaseNonListed(0, u0)", "", base, "EINVAL", [], finalBase],
      ["releaseNonListed(1, new)", "", base, "EINVAL", [pinFresh, "release u2"], finalBase],
      ["releaseNonListed(9, new)", "", base, "EINVAL", [pinFresh, "release u2"], finalBase],
      ["releaseNonListed(0, NULL)", "", base, "EINVAL", [], finalBase],
    ]);
  });

  it("checkConsumed: 0 iff provided & ~loaded == 0; load_or_get and an out-of-range load change nothing", () => {
    const cases: Array<[string, (s: ReturnType<typeof setup>) => void]> = [
      ["nothing loaded", () => undefined],
      ["slot 0 only", ({ list }) => list.load(0, 1)],
      [
        "slots 0 and 2",
        ({ list }) => {
          list.load(0, 1);
          list.load(2, 64);
        },
      ],
      [
        "slot 2 too short, slot 0",
        ({ list }) => {
          list.load(2, 65);
          list.load(0, 1);
        },
      ],
      [
        "slots 0, 2, a fallback in 1, a load of 9",
        ({ list }) => {
          list.load(0, 1);
          list.loadOrGet(2, 1n, 1, 1);
          list.loadOrGet(1, 0x5000n, 8, 1);
          list.load(9, 1);
        },
      ],
      [
        "slots 0, 2, then a legacy insert at 3",
        ({ list, fresh }) => {
          list.load(0, 1);
          list.load(2, 1);
          list.insert(3, fresh());
        },
      ],
    ];
    const table = cases.map(([label, ops]) => {
      const s = setup();
      ops(s);
      return [label, show(s.list.checkConsumed())];
    });
    expect(table).toEqual([
      ["nothing loaded", "EINVAL"],
      ["slot 0 only", "EINVAL"],
      ["slots 0 and 2", "NULL"],
      ["slot 2 too short, slot 0", "EINVAL"],
      ["slots 0, 2, a fallback in 1, a load of 9", "NULL"],
      ["slots 0, 2, then a legacy insert at 3", "EINVAL"],
    ]);
    expect(ibUmemListCheckConsumed(undefined)).toEqual({ ok: true, value: undefined });
  });

  it("release: every slot in slot order; a second release frees the same umems again (E19 stays visible); other use after release throws", () => {
    const s = setup();
    s.list.release();
    s.list.release();
    expect(s.log).toEqual(["release u0", "release u1", "release u0", "release u1"]);
    expect(s.list.released).toBe(true);
    expect(() => s.list.load(0, 1)).toThrow("after release");
    expect(() => s.list.replace(0, undefined)).toThrow("after release");
  });

  it("NULL list: load and replace do nothing, load_or_get hands the umem to the caller, release_non_listed releases, insert is a bug", () => {
    const { pinner, log } = fakePinner();
    expect(show(ibUmemListLoad(undefined, 0, 8))).toBe("NULL");
    const got = ibUmemListLoadOrGet(undefined, 0, pinner, 0x5000n, 8, 1);
    expect(show(got)).toBe("u0");
    if (!got.ok) throw new Error("unreachable");
    ibUmemListReplace(undefined, 0, got.value);
    ibUmemListRelease(undefined);
    expect(log).toEqual(["pin u0 va addr=20480 length=8 access=1"]);
    ibUmemListReleaseNonListed(undefined, 0, got.value);
    expect(log).toEqual(["pin u0 va addr=20480 length=8 access=1", "release u0"]);
    expect(() => ibUmemListInsert(undefined, 0, got.value)).toThrow("needs a list");
  });
});

describe("I16: every pinned umem is released exactly once", () => {
  const descArb = fc.record({
    fd: fc.constantFrom(3, 4, FD_REFUSED, -1),
    type: fc.constantFrom(0, 1, 1, 2),
    index: fc.integer({ min: 0, max: 6 }),
    reserved: fc.constantFrom(0, 0, 0, 0, 1),
    addr: fc.constantFrom(0n, 0x1000n, 1n << 63n),
    length: fc.constantFrom(0n, 8n, 64n, 4096n),
  });
  const bytesArb = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.array(descArb, { maxLength: 8 }).map((descs) => attr(...descs)),
  );
  const opArb = fc.record({
    op: fc.constantFrom("load", "loadOrGet", "replace", "insert", "replaceNull", "releaseNonListed"),
    i: fc.integer({ min: 0, max: 7 }),
    size: fc.constantFrom(0, 8, 64, 5000),
  });

  it("for any attribute bytes and any driver that hands back what it receives with release_non_listed", () => {
    fc.assert(
      fc.property(bytesArb, fc.integer({ min: 0, max: 70 }), fc.array(opArb, { maxLength: 12 }), (bytes, slotMax, ops) => {
        const { pinner, releases, pinned } = fakePinner();
        const r = ibUmemListCreate(bytes.byteLength === 0 ? undefined : bytes, slotMax, pinner);
        if (r.ok) {
          const list = r.value;
          for (const { op, i, size } of ops) {
            // The driver's discipline: whatever umem it gets or makes, it gives back with
            // release_non_listed, which frees it only if the list does not hold it.
            const hand = (u: Umem) => list.releaseNonListed(i, u);
            const fresh = () => pinner.getVa(0x9000n, BigInt(size + 1), 1);
            if (op === "load") list.load(i, size);
            if (op === "loadOrGet") {
              const got = list.loadOrGet(i, 0x5000n, size + 1, 1);
              if (got.ok) hand(got.value);
            }
            if (op === "replace" || op === "insert") {
              const u = fresh();
              if (u.ok) {
                list[op](i, u.value);
                hand(u.value);
              }
            }
            if (op === "replaceNull") list.replace(i, undefined);
            if (op === "releaseNonListed" && list.slots[i] !== undefined) list.releaseNonListed(i, list.slots[i]);
          }
          list.release();
        }
        expect(pinned.filter((name) => releases.get(name) !== 1)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it("creation errors leave nothing pinned (I17)", () => {
    fc.assert(
      fc.property(fc.array(descArb, { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 7 }), (descs, slotMax) => {
        const { pinner, releases, pinned } = fakePinner();
        const r = ibUmemListCreate(attr(...descs), slotMax, pinner);
        const live = pinned.filter((name) => releases.get(name) === 0);
        if (r.ok) expect(live).toEqual(r.value.slots.flatMap((u) => (u === undefined ? [] : [u.name])).sort());
        else expect(live).toEqual([]);
        if (!r.ok) expect<Errno[]>(["EINVAL", "EOPNOTSUPP", "EFAULT"]).toContain(r.errno);
      }),
    );
  });
});
