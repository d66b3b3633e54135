/**
 * What the explore benchmark reads off a timed sweep: the steady rate once the sweep is warm, the
 * fixed cost (start-up, loading, worker start, JIT warm-up) the sweep paid on top of it, and, for
 * two job counts, the sweep length from which the slower-starting one is ahead by a given factor.
 * Pure arithmetic on the checkpoints, so a test can pin it.
 */

/** A sweep's progress line as the bench saw it: `done` seeds kept after `seconds` of wall time. */
export interface Checkpoint {
  readonly done: number;
  readonly seconds: number;
}

/** A sweep's timing model: `seconds(n) = fixedSeconds + n / seedsPerSecond`. */
export interface SweepRate {
  /** Seeds per second between the first checkpoint at or past `warmFraction` of the sweep and its end. */
  readonly seedsPerSecond: number;
  /** The wall time of the whole sweep less its seeds at the steady rate. */
  readonly fixedSeconds: number;
}

/**
 * The steady rate and fixed cost of a sweep of `seeds` that ended after `endSeconds`.
 * @throws Error when no checkpoint lies at or past `warmFraction` of the sweep and before its end
 * (too few progress lines to tell a rate).
 */
export function sweepRate(checkpoints: readonly Checkpoint[], seeds: number, endSeconds: number, warmFraction: number): SweepRate {
  const warm = checkpoints.find((c) => c.done >= seeds * warmFraction && c.done < seeds);
  const last = checkpoints.at(-1);
  if (warm === undefined || last === undefined || last.done !== seeds)
    throw new Error(`no checkpoint between ${warmFraction * 100} % and the end of a ${seeds}-seed sweep`);
  const seedsPerSecond = (last.done - warm.done) / (last.seconds - warm.seconds);
  return { seedsPerSecond, fixedSeconds: endSeconds - seeds / seedsPerSecond };
}

/**
 * The sweep length from which `fast` (more jobs: a higher rate, a higher fixed cost) finishes
 * `factor` times sooner than `slow`, under both timing models; 0 when it does from the first seed,
 * and Infinity when its steady rate is not `factor` times `slow`'s.
 */
export function seedsToReach(factor: number, slow: SweepRate, fast: SweepRate): number {
  const perSeedGain = 1 / slow.seedsPerSecond - factor / fast.seedsPerSecond;
  if (perSeedGain <= 0) return Number.POSITIVE_INFINITY;
  return Math.max(0, Math.ceil((factor * fast.fixedSeconds - slow.fixedSeconds) / perSeedGain));
}
