/**
 * mulberry32, the generator the reference benchmarks of `../shared/bench` are defined with. It
 * lives in `bench/` only: the model draws every random number from seedrandom streams, but a
 * benchmark must reproduce the reference trajectories bit for bit, so it uses their generator.
 */

/** Returns a function yielding uniform doubles in [0, 1), as `js/common.mjs` does. */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Think-time mean of workload (b): offered load 0.9 on `credits` with mean service 1. */
export function thinkMean(producers: number, credits: number): number {
  return producers / (0.9 * credits) - 1;
}
