/**
 * Randomness: one seed per run, one independent stream per named component.
 *
 * Every stream is seedrandom's Alea generator seeded with `"<run seed>/<stream name>"`, so the
 * numbers a stream yields depend only on the run seed and its own name: adding a component (a
 * new stream) never shifts the numbers any other component sees. The algorithm is fixed and a
 * test pins the first values of a known seed, so a dependency update cannot silently change
 * results.
 */
import seedrandom from "seedrandom";
import { assert } from "./assert.js";
import type { TimePs } from "./time.js";

/** A run seed: a non-negative safe integer, printed with every result that depends on it. */
export type Seed = number;

/**
 * Checks that `value` is a valid {@link Seed}.
 * @throws AssertionError otherwise.
 */
export function assertSeed(value: number): asserts value is Seed {
  assert(Number.isSafeInteger(value) && value >= 0, () => `seed ${value} is not a non-negative safe integer`);
}

/** One named stream of random numbers. */
export class RngStream {
  private readonly next: seedrandom.PRNG;

  /** Use {@link RunRng.stream}; direct construction is for tests of this class. */
  constructor(
    readonly seed: Seed,
    readonly name: string,
  ) {
    this.next = seedrandom.alea(`${seed}/${name}`);
  }

  /** A uniform float in [0, 1) with 53 bits of randomness. */
  float(): number {
    return this.next.double();
  }

  /** A uniform unsigned 32-bit integer. */
  uint32(): number {
    return this.next.int32() >>> 0;
  }

  /**
   * A uniform integer in [0, n), without modulo bias.
   * @param n a positive integer at most 2^32.
   */
  intBelow(n: number): number {
    assert(Number.isInteger(n) && n >= 1 && n <= 2 ** 32, () => `intBelow(${n}): n must be an integer in [1, 2^32]`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.uint32();
      if (x < limit) return x % n;
    }
  }

  /** A uniform integer in [min, max], both inclusive. */
  intBetween(min: number, max: number): number {
    assert(min <= max, () => `intBetween(${min}, ${max}): empty range`);
    return min + this.intBelow(max - min + 1);
  }

  /** True with probability `numerator / denominator` (integers, as TigerBeetle's `Ratio`). */
  chance(numerator: number, denominator: number): boolean {
    assert(numerator >= 0 && numerator <= denominator, "chance: need 0 <= numerator <= denominator");
    return this.intBelow(denominator) < numerator;
  }

  /** An exponentially distributed duration with the given mean, rounded to whole picoseconds. */
  exponentialPs(meanPs: number): TimePs {
    return Math.round(-meanPs * Math.log(1 - this.float())) as TimePs;
  }

  /** One element of a non-empty array, uniformly. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, "pick from an empty array");
    return items[this.intBelow(items.length)] as T;
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.intBelow(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}

/** The run's random streams, derived from its one seed. */
export class RunRng {
  private readonly streams = new Map<string, RngStream>();

  /** @throws AssertionError when `seed` is not a valid {@link Seed}. */
  constructor(readonly seed: Seed) {
    assertSeed(seed);
  }

  /**
   * The stream named `name`. Each name may be taken once per run: two components sharing a
   * stream would shift each other's numbers, which is the coupling streams exist to prevent.
   * @throws AssertionError when the name was already taken.
   */
  stream(name: string): RngStream {
    assert(!this.streams.has(name), () => `random stream "${name}" is already in use`);
    const stream = new RngStream(this.seed, name);
    this.streams.set(name, stream);
    return stream;
  }

  /** Names of the streams taken so far, in the order they were taken. */
  streamNames(): string[] {
    return [...this.streams.keys()];
  }
}
