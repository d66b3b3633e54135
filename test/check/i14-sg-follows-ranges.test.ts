import { describe, expect, it } from "vitest";
import { createI14Monitor } from "../../src/check/i14-sg-follows-ranges.js";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { feed, kinds } from "./fabric-worlds.js";
import { realMap } from "./sg-map-events.js";

const GIB = 2 ** 30;

/** The model's map event with its list replaced (a buggy helper's output). */
function withSg(sg: Array<[number, number]>, ranges: Array<[number, number]>, bytes: number, mapKind = "bus-addr"): TraceEvent {
  return { ...realMap(), sg, ranges, bytes, mapKind } as TraceEvent;
}

describe("I14: sg lengths and addresses follow the ranges", () => {
  it("stays silent on the model's mappings, with and without mutant E27 (a wrong offset is I11's, not I14's)", () => {
    expect(feed(createI14Monitor(), [realMap(), realMap({ mutants: ["E27"] })])).toEqual([]);
  });

  it("fires on E4 (a 4 GiB range truncated to 32 bits), E14 (32-bit address of entries past the second) and E15 (IOVA list short) — hand-written, the model asserts first", () => {
    const base = 0x40_0000_0000;
    const chunk = 0xffff_f000;
    const e4 = withSg([[base, (4 * GIB) % 2 ** 32 || 0x1000]], [[base, 4 * GIB]], 4 * GIB);
    const e14 = withSg(
      [
        [base, chunk],
        [base + chunk, chunk],
        [(base + 2 * chunk) % 2 ** 32, 8 * GIB - 2 * chunk],
      ],
      [[base, 8 * GIB]],
      8 * GIB,
    );
    const e15 = withSg([[0x1_0000_0000, GIB]], [[base, 5 * GIB]], 5 * GIB, "iova");
    const violations = feed(createI14Monitor(), [e4, e14, e15]);
    expect(violations.map((v) => [v.invariant, v.message, kinds(v.chain)])).toEqual([
      ["I14", "map of gpu0/bar1#0 for nic0: sg lengths sum to 0x1000, the dma-buf size is 0x100000000", ["dmabuf/map"]],
      ["I14", "map of gpu0/bar1#0 for nic0: sg entry 2 is at 0xffffe000 where 0x41ffffe000 was expected", ["dmabuf/map"]],
      ["I14", "map of gpu0/bar1#0 for nic0: sg lengths sum to 0x40000000, the dma-buf size is 0x140000000", ["dmabuf/map"]],
    ]);
  });

  it("unit: an IOVA list must be one contiguous run; a range list may not run an entry across two ranges", () => {
    const split = withSg(
      [
        [0x1_0000_0000, 0x1000],
        [0x1_0000_2000, 0x1000],
      ],
      [[0x5000_0000, 0x2000]],
      0x2000,
      "iova",
    );
    const across = withSg(
      [[0x5000_0000, 0x2000]],
      [
        [0x5000_0000, 0x1000],
        [0x5000_1000, 0x1000],
      ],
      0x2000,
    );
    expect(feed(createI14Monitor(), [split, across]).map((v) => v.message)).toEqual([
      "map of gpu0/bar1#0 for nic0: sg entry 1 is at 0x100002000 where 0x100001000 was expected",
      "map of gpu0/bar1#0 for nic0: sg entry 0 (0x50000000, 0x2000) runs past the end of its range at 0x50001000",
    ]);
  });
});
