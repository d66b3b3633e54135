import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RngStream, RunRng } from "../../src/fabric/rng.js";

describe("RunRng", () => {
  it("pins the first values of seed 42, stream nic0/wqe (an update of seedrandom must not change them)", () => {
    const s = new RunRng(42).stream("nic0/wqe");
    expect([s.uint32(), s.uint32(), s.uint32(), s.intBelow(1000), s.float()]).toMatchInlineSnapshot(`
      [
        2911170613,
        3213589965,
        164633456,
        725,
        0.7763289399694919,
      ]
    `);
  });

  it("gives each name its own stream: taking another stream first changes nothing", () => {
    const alone = new RunRng(7).stream("gpu0");
    const crowded = new RunRng(7);
    crowded.stream("nic0").uint32();
    const withNeighbour = crowded.stream("gpu0");
    const draw = (s: RngStream) => Array.from({ length: 20 }, () => s.uint32());
    expect(draw(withNeighbour)).toEqual(draw(alone));
    expect(draw(new RunRng(8).stream("gpu0"))).not.toEqual(draw(new RunRng(7).stream("gpu0")));
  });

  it("refuses a stream name taken twice, and bad seeds", () => {
    const rng = new RunRng(1);
    rng.stream("a");
    expect(() => rng.stream("a")).toThrow(/already in use/);
    expect(rng.streamNames()).toEqual(["a"]);
    expect(() => new RunRng(-1)).toThrow(/seed/);
    expect(() => new RunRng(1.5)).toThrow(/seed/);
  });

  it("draws integers in range, and chance() at the extremes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 2 ** 32 }), (seed, n) => {
        const s = new RngStream(seed, "p");
        const x = s.intBelow(n);
        expect(Number.isInteger(x) && x >= 0 && x < n).toBe(true);
        const y = s.intBetween(-3, 3);
        expect(y >= -3 && y <= 3).toBe(true);
        expect(s.chance(0, 5)).toBe(false);
        expect(s.chance(5, 5)).toBe(true);
      }),
    );
  });

  it("exponentialPs has the requested mean, in whole picoseconds", () => {
    const s = new RngStream(1, "exp");
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const x = s.exponentialPs(1000);
      expect(Number.isInteger(x)).toBe(true);
      sum += x;
    }
    expect(sum / 20000).toBeGreaterThan(970);
    expect(sum / 20000).toBeLessThan(1030);
  });

  it("pick and shuffle use the stream deterministically", () => {
    const a = new RngStream(5, "x");
    const b = new RngStream(5, "x");
    expect(a.shuffle([1, 2, 3, 4, 5, 6])).toEqual(b.shuffle([1, 2, 3, 4, 5, 6]));
    expect(a.pick(["p", "q", "r"])).toBe(b.pick(["p", "q", "r"]));
    expect([...a.shuffle([1, 2, 3, 4, 5, 6])].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
