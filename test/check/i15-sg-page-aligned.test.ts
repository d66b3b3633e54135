import { describe, expect, it } from "vitest";
import { createI15Monitor } from "../../src/check/i15-sg-page-aligned.js";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { feed, kinds } from "./fabric-worlds.js";
import { realMap } from "./sg-map-events.js";

describe("I15: sg entries page aligned", () => {
  it("stays silent on the model's mapping", () => {
    expect(feed(createI15Monitor(), [realMap()])).toEqual([]);
  });

  it("fires on E16 (UINT_MAX chunks: the second entry starts at an odd address) — hand-written, the model asserts first", () => {
    const base = 0x40_0000_0000;
    const uintMax = 0xffff_ffff;
    const e16 = {
      ...realMap(),
      bytes: 5 * 2 ** 30,
      sg: [
        [base, uintMax],
        [base + uintMax, 5 * 2 ** 30 - uintMax],
      ],
      ranges: [[base, 5 * 2 ** 30]],
    } as TraceEvent;
    const violations = feed(createI15Monitor(), [e16]);
    expect(violations.map((v) => [v.invariant, v.message, kinds(v.chain)])).toEqual([
      ["I15", "map of gpu0/bar1#0 for nic0: sg entry 0 length 0xffffffff is not page aligned", ["dmabuf/map"]],
    ]);
  });
});
