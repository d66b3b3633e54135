import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Checkpoint, seedsToReach, sweepRate } from "../../bench/explore-scaling.js";
import type * as Workloads from "../../bench/explore-workloads.js";

/** Checkpoints of a sweep that follows `fixed + n / rate` exactly, a tenth at a time. */
function tenths(seeds: number, fixed: number, rate: number): Checkpoint[] {
  return Array.from({ length: 10 }, (_, i) => ({ done: ((i + 1) * seeds) / 10, seconds: fixed + ((i + 1) * seeds) / 10 / rate }));
}

describe("sweepRate", () => {
  it("reads the rate from the first checkpoint at the warm fraction to the end, and the fixed cost from the sweep's end", () => {
    // Slow until a fifth of the sweep (a warm-up), then 4,000 seeds/s; the process exits 0.1 s after the last line.
    const checkpoints = [
      { done: 10_000, seconds: 5 },
      { done: 20_000, seconds: 8 },
      ...[3, 4, 5, 6, 7, 8, 9, 10].map((t) => ({ done: t * 10_000, seconds: 8 + ((t - 2) * 10_000) / 4000 })),
    ];
    const rate = sweepRate(checkpoints, 100_000, 28.1, 0.2);
    expect(rate.seedsPerSecond).toBeCloseTo(4000, 9);
    expect(rate.fixedSeconds).toBeCloseTo(28.1 - 25, 9);
  });

  it("throws when no line lies between the warm fraction and the end", () => {
    expect(() => sweepRate([{ done: 100, seconds: 1 }], 100, 1, 0.2)).toThrow(/no checkpoint between 20 % and the end of a 100-seed sweep/);
    expect(() => sweepRate(tenths(1000, 1, 100).slice(0, 9), 1000, 11, 0.2)).toThrow(/no checkpoint/);
  });
});

describe("seedsToReach", () => {
  it("is where the two timing models' ratio reaches the factor", () => {
    const slow = { seedsPerSecond: 3800, fixedSeconds: 1.3 };
    const fast = { seedsPerSecond: 7000, fixedSeconds: 2.5 };
    const n = seedsToReach(1.7, slow, fast);
    const ratio = (seeds: number) => (slow.fixedSeconds + seeds / slow.seedsPerSecond) / (fast.fixedSeconds + seeds / fast.seedsPerSecond);
    expect(ratio(n)).toBeGreaterThanOrEqual(1.7);
    expect(ratio(n - 1)).toBeLessThan(1.7);
    // (1.7 × 2.5 − 1.3) / (1/3800 − 1.7/7000) = 2.95 / 2.0301e-5.
    expect(n).toBe(145_315);
  });

  it("is 0 when the faster one is ahead from the start, and Infinity when its steady rate never gets there", () => {
    expect(seedsToReach(1.7, { seedsPerSecond: 100, fixedSeconds: 2 }, { seedsPerSecond: 200, fixedSeconds: 1 })).toBe(0);
    expect(seedsToReach(1.7, { seedsPerSecond: 100, fixedSeconds: 1 }, { seedsPerSecond: 160, fixedSeconds: 1 })).toBe(Number.POSITIVE_INFINITY);
  });

  it("agrees with sweepRate on sweeps that follow the model exactly", () => {
    const slow = sweepRate(tenths(50_000, 1, 4000), 50_000, 1 + 50_000 / 4000, 0.2);
    const fast = sweepRate(tenths(50_000, 2, 8000), 50_000, 2 + 50_000 / 8000, 0.2);
    expect(slow.fixedSeconds).toBeCloseTo(1, 9);
    expect(fast.fixedSeconds).toBeCloseTo(2, 9);
    // 1 + n/4000 = 1.7 (2 + n/8000) ⇒ n (1/4000 − 1.7/8000) = 2.4 ⇒ n = 64,000.
    expect(seedsToReach(1.7, slow, fast)).toBe(64_000);
  });
});

describe("timeExploreCli (compiled)", () => {
  it("times a real sweep with a checkpoint per tenth, in order, and reads its events per seed", async () => {
    const dist = join(import.meta.dirname, "..", "..", "dist", "bench", "explore-workloads.js");
    const { timeExploreCli, scenarioFile } = (await import(dist)) as typeof Workloads;
    const t = await timeExploreCli(scenarioFile("revoke-during-cq-writes.yaml"), 40, 2);
    expect(t.checkpoints.map((c) => c.done)).toEqual([4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
    const times = t.checkpoints.map((c) => c.seconds);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(t.seconds).toBeGreaterThanOrEqual(times.at(-1) as number);
    expect(t.eventsPerSeed).toBe(51);
  });
});
