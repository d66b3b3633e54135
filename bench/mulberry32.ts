/**
 * mulberry32, the generator the reference benchmarks of `../shared/bench` are defined with. It
 * lives in `bench/` only: the model draws every random number from seedrandom streams, but a
 * benchmark must reproduce the reference trajectories bit for bit, so it uses their generator.
 *
 * A class rather than a closure: with several workloads in one process (`npm run bench`), one
 * method stays monomorphic at every call site and is inlined, where distinct closures would not
 * be (and each call would then box its double result).
 */
export class Mulberry32 {
  private a: number;

  constructor(seed: number) {
    this.a = seed | 0;
  }

  /** A uniform double in [0, 1), as `js/common.mjs` computes it. */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) | 0;
    const a = this.a;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An exponential variate with mean `mean` (by inversion), rounded to an integer. */
  exponentialRounded(mean: number): number {
    return Math.round(-mean * Math.log(1 - this.next()));
  }
}

/** Think-time mean of workload (b): offered load 0.9 on `credits` with mean service 1. */
export function thinkMean(producers: number, credits: number): number {
  return producers / (0.9 * credits) - 1;
}
