import { describe, expect, it } from "vitest";
import { createI10Monitor, rangeProblem } from "../../src/check/i10-export-ranges.js";
import { correctRun, ev, feed, summary } from "./export-world.js";

const PAGE = 4096;
const BAR = 16 * PAGE;
/** A `vfio/export` of gpu0 BAR1 with `ranges` ([offset, length]) in a BAR of `barSize` bytes. */
const exported = (ranges: ReadonlyArray<readonly [number, number]>, size = ranges.reduce((s, [, l]) => s + l, 0), barSize = BAR) =>
  ev("vfio", "export", {
    device: "gpu0",
    buf: "gpu0/bar1#0",
    bar: 1,
    size,
    fd: 3,
    revoked: false,
    memoryEnabled: true,
    barSize,
    ranges: ranges.map(([offset, length]) => ({ offset, length })),
  });

describe("I10: every exported range is inside its BAR, page aligned, non-zero, without wrap", () => {
  it("is silent over the correct model (the model validates ranges before exporting)", () => {
    expect(correctRun([createI10Monitor()]).violations).toEqual([]);
  });

  it("hand-written (no model mutant reaches it: validation refuses every bad range): one row per rule", () => {
    const ROWS: ReadonlyArray<[string, ReturnType<typeof exported>, string | undefined]> = [
      [
        "two aliasing ranges up to the BAR end",
        exported([
          [0, BAR],
          [0, PAGE],
        ]),
        undefined,
      ],
      ["zero length", exported([[0, 0]]), "range 0 has length 0"],
      ["misaligned offset", exported([[100, PAGE]]), "range 0 offset 0x64 is not page aligned"],
      [
        "misaligned length",
        exported([
          [0, PAGE],
          [PAGE, 100],
        ]),
        "range 1 length 0x64 is not page aligned",
      ],
      ["end past the BAR (E2's hidden tail)", exported([[BAR - PAGE, 2 * PAGE]]), "range 0 [0xf000, 0x11000) ends past the BAR size 0x10000"],
      ["offset + length past 2^53 (E5's wrap)", exported([[2 ** 53 - PAGE, 2 * PAGE]], 2 * PAGE, 2 ** 60), "range 0 end (offset + length) overflows"],
      ["negative offset", exported([[-PAGE, PAGE]]), "range 0 has offset -4096 and length 4096, not byte counts"],
      ["size not the sum", exported([[0, PAGE]], 2 * PAGE), "size 8192 is not the sum of the range lengths 4096"],
      ["no ranges field: not checked", ev("vfio", "export", { device: "gpu0", buf: "b", size: 1 }), undefined],
      [
        "no barSize: alignment still checked",
        ev("vfio", "export", { buf: "b", size: 1, ranges: [{ offset: 0, length: 1 }] }),
        "range 0 length 0x1 is not page aligned",
      ],
      ["no barSize: the end is not", ev("vfio", "export", { buf: "b", size: 2 * BAR, ranges: [{ offset: 0, length: 2 * BAR }] }), undefined],
    ];
    expect(ROWS.map(([name, event]) => [name, rangeProblem(event)])).toEqual(ROWS.map(([name, , problem]) => [name, problem]));
  });

  it("the monitor reports the first bad export with the dma-buf export in the chain", () => {
    const found = feed(createI10Monitor(), [ev("dmabuf", "export", { buf: "gpu0/bar1#0" }), exported([[BAR - PAGE, 2 * PAGE]]), exported([[0, 0]])]);
    expect(found.map(summary)).toEqual([
      {
        invariant: "I10",
        message: "gpu0 gpu0/bar1#0 (BAR1): range 0 [0xf000, 0x11000) ends past the BAR size 0x10000 [kernel.md §c.2]",
        event: "vfio/export",
        chain: ["dmabuf/export", "vfio/export"],
      },
    ]);
  });
});
