import { describe, expect, it } from "vitest";
import { AssertionError } from "../../src/fabric/assert.js";
import {
  coalescePages,
  IOMMU_PAGE_1G,
  IOMMU_PAGE_2M,
  IOMMU_PAGE_4K,
  type IommuPageSize,
  IommuPageTable,
  type IommuPerms,
  type IommuPte,
} from "../../src/pci/iommu-page-table.js";

const K4 = IOMMU_PAGE_4K;
const M2 = IOMMU_PAGE_2M;
const G1 = IOMMU_PAGE_1G;

type MapArgs = readonly [iova: number, phys: number, size: number, pageSize: IommuPageSize];

function tableWith(...maps: readonly MapArgs[]): IommuPageTable {
  const table = new IommuPageTable();
  for (const [iova, phys, size, pageSize] of maps) {
    expect(table.map(iova, phys, size, pageSize, "rw", false).ok).toBe(true);
  }
  return table;
}

function pte(iova: number, phys: number, pageSize: IommuPageSize, perms: IommuPerms = "rw", mmio = false): IommuPte {
  return { iova, phys, pageSize, perms, mmio };
}

describe("IommuPageTable.map", () => {
  it("refuses empty, misaligned and overlapping maps with a reason, and accepts the rest", () => {
    const cases: Array<[string, readonly MapArgs[], MapArgs, unknown]> = [
      ["empty", [], [0, 0, 0, K4], { ok: false, reason: "empty" }],
      ["iova not 4 KiB aligned", [], [0x800, 0, K4, K4], { ok: false, reason: "misaligned-iova", alignment: K4 }],
      ["iova 4 KiB aligned but not 2 MiB", [], [K4, 0, M2, M2], { ok: false, reason: "misaligned-iova", alignment: M2 }],
      ["phys not 2 MiB aligned", [], [M2, K4, M2, M2], { ok: false, reason: "misaligned-phys", alignment: M2 }],
      ["size not a multiple of 1 GiB", [], [G1, G1, G1 + M2, G1], { ok: false, reason: "misaligned-size", alignment: G1 }],
      ["4 KiB over the same 4 KiB", [[K4, 0, K4, K4]], [K4, M2, K4, K4], { ok: false, reason: "overlap", conflict: pte(K4, 0, K4) }],
      ["last page of a 4 KiB run hits", [[5 * K4, 0, K4, K4]], [0, M2, 6 * K4, K4], { ok: false, reason: "overlap", conflict: pte(5 * K4, 0, K4) }],
      ["4 KiB inside a 2 MiB page", [[M2, 0, M2, M2]], [M2 + 7 * K4, 0, K4, K4], { ok: false, reason: "overlap", conflict: pte(M2, 0, M2) }],
      [
        "2 MiB over a 4 KiB page in its middle",
        [[M2 + 9 * K4, 0, K4, K4]],
        [M2, 0, M2, M2],
        { ok: false, reason: "overlap", conflict: pte(M2 + 9 * K4, 0, K4) },
      ],
      ["1 GiB over a 2 MiB page", [[G1 + 3 * M2, 0, M2, M2]], [G1, 0, G1, G1], { ok: false, reason: "overlap", conflict: pte(G1 + 3 * M2, 0, M2) }],
      [
        "1 GiB over two 4 KiB pages: the lowest is named",
        [
          [G1 + M2 + K4, 0, K4, K4],
          [G1 + K4, 0, K4, K4],
        ],
        [G1, 0, G1, G1],
        { ok: false, reason: "overlap", conflict: pte(G1 + K4, 0, K4) },
      ],
      ["2 MiB inside a 1 GiB page", [[G1, 0, G1, G1]], [G1 + M2, 0, M2, M2], { ok: false, reason: "overlap", conflict: pte(G1, 0, G1) }],
      ["adjacent 4 KiB pages", [[0, 0, K4, K4]], [K4, 0, K4, K4], { ok: true, range: { iova: K4, phys: 0, size: K4, pageSize: K4, perms: "rw", mmio: false } }],
      [
        "2 MiB next to 4 KiB pages of the region below",
        [[M2 - K4, 0, K4, K4]],
        [M2, 0, 2 * M2, M2],
        { ok: true, range: { iova: M2, phys: 0, size: 2 * M2, pageSize: M2, perms: "rw", mmio: false } },
      ],
      [
        "1 GiB next to a 1 GiB page",
        [[0, 0, G1, G1]],
        [G1, G1, G1, G1],
        { ok: true, range: { iova: G1, phys: G1, size: G1, pageSize: G1, perms: "rw", mmio: false } },
      ],
    ];
    expect(cases.map(([name, before, [iova, phys, size, pageSize]]) => [name, tableWith(...before).map(iova, phys, size, pageSize, "rw", false)])).toEqual(
      cases.map(([name, , , expected]) => [name, expected]),
    );
  });

  it("maps nothing when it refuses", () => {
    const table = tableWith([3 * K4, 0, K4, K4]);
    expect(table.map(0, 0, 4 * K4, K4, "r", false).ok).toBe(false);
    expect([table.pageCount, table.lookup(0), table.lookup(3 * K4)?.iova]).toEqual([1, undefined, 3 * K4]);
  });

  it("throws on misuse: a page size it does not support, negative or unsafe addresses", () => {
    const table = new IommuPageTable();
    expect(() => table.map(0, 0, 0x10000, 0x10000 as IommuPageSize, "rw", false)).toThrow(AssertionError);
    expect(() => table.map(-K4, 0, K4, K4, "rw", false)).toThrow(AssertionError);
    expect(() => table.map(0, 0.5, K4, K4, "rw", false)).toThrow(AssertionError);
    expect(() => table.map(2 ** 53 - K4, 0, 2 * K4, K4, "rw", false)).toThrow(AssertionError);
  });
});

describe("IommuPageTable.lookup", () => {
  it("finds the leaf covering each byte of 4 KiB, 2 MiB and 1 GiB pages, and nothing around them", () => {
    const table = tableWith([0, 0x7000, K4, K4], [M2, 5 * M2, M2, M2], [G1, 3 * G1, G1, G1]);
    const probes = [0, K4 - 1, K4, M2 - 1, M2, M2 + 12345, 2 * M2 - 1, 2 * M2, G1 - 1, G1, G1 + M2 + 1, 2 * G1 - 1, 2 * G1];
    expect(probes.map((iova) => [iova, table.lookup(iova)?.iova, table.lookup(iova)?.pageSize])).toEqual([
      [0, 0, K4],
      [K4 - 1, 0, K4],
      [K4, undefined, undefined],
      [M2 - 1, undefined, undefined],
      [M2, M2, M2],
      [M2 + 12345, M2, M2],
      [2 * M2 - 1, M2, M2],
      [2 * M2, undefined, undefined],
      [G1 - 1, undefined, undefined],
      [G1, G1, G1],
      [G1 + M2 + 1, G1, G1],
      [2 * G1 - 1, G1, G1],
      [2 * G1, undefined, undefined],
    ]);
  });
});

describe("IommuPageTable.unmap", () => {
  it("removes whole pages in ascending order, skips holes, and refuses to split a large page", () => {
    const layout: readonly MapArgs[] = [
      [0, 0x10_0000, 4 * K4, K4],
      [M2, 0, 2 * M2, M2],
      [G1, 0, G1, G1],
    ];
    const cases: Array<[string, number, number, unknown]> = [
      ["empty", 0, 0, { ok: false, reason: "empty" }],
      ["iova not 4 KiB aligned", 0x10, K4, { ok: false, reason: "misaligned-iova", alignment: K4 }],
      ["size not 4 KiB aligned", 0, K4 + 1, { ok: false, reason: "misaligned-size", alignment: K4 }],
      ["a hole", 8 * K4, K4, { ok: true, removed: [] }],
      ["the middle two 4 KiB pages", K4, 2 * K4, { ok: true, removed: [pte(K4, 0x10_1000, K4), pte(2 * K4, 0x10_2000, K4)] }],
      ["half of a 2 MiB page", M2, M2 / 2, { ok: false, reason: "splits-large-page", page: pte(M2, 0, M2) }],
      ["the tail of a 2 MiB page and beyond", 2 * M2 + K4, M2, { ok: false, reason: "splits-large-page", page: pte(2 * M2, M2, M2) }],
      ["a 1 GiB page but its last 4 KiB", G1, G1 - K4, { ok: false, reason: "splits-large-page", page: pte(G1, 0, G1) }],
      [
        "everything from 0 to 2 GiB, holes included",
        0,
        2 * G1,
        {
          ok: true,
          removed: [
            pte(0, 0x10_0000, K4),
            pte(K4, 0x10_1000, K4),
            pte(2 * K4, 0x10_2000, K4),
            pte(3 * K4, 0x10_3000, K4),
            pte(M2, 0, M2),
            pte(2 * M2, M2, M2),
            pte(G1, 0, G1),
          ],
        },
      ],
    ];
    expect(cases.map(([name, iova, size]) => [name, tableWith(...layout).unmap(iova, size)])).toEqual(cases.map(([name, , , expected]) => [name, expected]));
  });

  it("removes nothing when it refuses, and leaves no occupancy behind when it succeeds", () => {
    const table = tableWith([0, 0, K4, K4], [M2, 0, M2, M2]);
    expect(table.unmap(0, M2 + K4).ok).toBe(false);
    expect(table.pageCount).toBe(2);
    expect(table.unmap(0, 2 * M2)).toMatchObject({ ok: true });
    expect(table.pageCount).toBe(0);
    // The 4 KiB page counted in the first 2 MiB and 1 GiB regions is gone, so large pages fit there now.
    expect(table.map(0, 0, M2, M2, "r", false).ok).toBe(true);
    expect(table.unmap(0, M2)).toMatchObject({ ok: true });
    expect(table.map(0, 0, G1, G1, "r", false).ok).toBe(true);
  });
});

describe("coalescePages", () => {
  it("folds pages contiguous in IOVA and phys with equal size and attributes, and splits on any difference", () => {
    const pages = [
      pte(0, 0x8000, K4),
      pte(K4, 0x9000, K4),
      pte(2 * K4, 0xa000, K4, "r"),
      pte(3 * K4, 0xb000, K4, "r"),
      pte(4 * K4, 0xd000, K4, "r"),
      pte(5 * K4, 0xe000, K4, "r", true),
      pte(7 * K4, 0x10000, K4, "r", true),
      pte(M2, 0, M2),
      pte(2 * M2, M2, M2),
    ];
    expect(coalescePages(pages).map((r) => [r.iova, r.phys, r.size, r.pageSize, r.perms, r.mmio])).toEqual([
      [0, 0x8000, 2 * K4, K4, "rw", false],
      [2 * K4, 0xa000, 2 * K4, K4, "r", false],
      [4 * K4, 0xd000, K4, K4, "r", false],
      [5 * K4, 0xe000, K4, K4, "r", true],
      [7 * K4, 0x10000, K4, K4, "r", true],
      [M2, 0, 2 * M2, M2, "rw", false],
    ]);
    expect(coalescePages([])).toEqual([]);
  });
});
