import { describe, expect, it } from "vitest";
import { HOST_PAGE_SIZE, UserMm } from "../../src/rdma/user-mm.js";

const BASE = 0x1_0000_0000;
const page = (n: number) => BASE + n * HOST_PAGE_SIZE;

describe("UserMm: host pages by run", () => {
  it("hands out host pages in first-touch order and returns the same ones to a later pin", () => {
    const mm = new UserMm({ physBase: BASE });
    // [virtual first page, count] -> runs of [host page number, pages]
    const pins: Array<[number, number]> = [
      [100, 3], // fresh: host 0-2
      [10, 2], // fresh, below: host 3-4
      [101, 1], // inside the first: host 1 again
      [98, 8], // gap 98-99 (host 5-6), 100-102 (host 0-2), gap 103-105 (host 7-9)
      [11, 2], // 11 is host 4, 12 is fresh (host 10)
      [103, 3], // all backed: host 7-9
    ];
    const runs = pins.map(([first, count]) => mm.pinUserPages(first, count).map((r) => [(r.phys - BASE) / HOST_PAGE_SIZE, r.pages]));
    expect(runs).toEqual([
      [[0, 3]],
      [[3, 2]],
      [[1, 1]],
      [
        [5, 2],
        [0, 3],
        [7, 3],
      ],
      [
        [4, 1],
        [10, 1],
      ],
      [[7, 3]],
    ]);
    // Pin counts per host page 0..10 after those six pins.
    expect(Array.from({ length: 12 }, (_, n) => mm.pinCount(page(n)))).toEqual([2, 3, 2, 1, 2, 1, 1, 2, 2, 2, 1, 0]);
    expect(mm.pinnedPageCount).toBe(11);
  });

  it("merges host-contiguous pieces into one run, as the scatter list needs them", () => {
    const mm = new UserMm({ physBase: BASE });
    mm.pinUserPages(0, 2); // host 0-1
    // 0-1 backed (host 0-1), 2-4 fresh (host 2-4): one contiguous run of five pages.
    expect(mm.pinUserPages(0, 5)).toEqual([{ phys: page(0), pages: 5 }]);
  });

  it("unpins to zero, counts pinned pages, and refuses an unbalanced unpin", () => {
    const mm = new UserMm({ physBase: BASE });
    const a = mm.pinUserPages(0, 4);
    const b = mm.pinUserPages(2, 4);
    mm.unpinUserPages(a);
    expect([mm.pinnedPageCount, mm.pinCount(page(1)), mm.pinCount(page(2))]).toEqual([4, 0, 1]);
    mm.unpinUserPages(b);
    expect(mm.pinnedPageCount).toBe(0);
    expect(() => mm.unpinUserPages(b)).toThrow(/not pinned/);
  });

  it("answers 0 for addresses it never handed out or that are not page aligned", () => {
    const mm = new UserMm({ physBase: BASE });
    mm.pinUserPages(0, 1);
    expect([mm.pinCount(BASE - HOST_PAGE_SIZE), mm.pinCount(BASE + 8), mm.pinCount(page(1)), mm.pinCount(page(0))]).toEqual([0, 0, 0, 1]);
  });
});
