/**
 * Simulated time: an integer number of picoseconds in a JS number (exact up to 2^53 ps, about
 * 2.5 hours). Floats never hold time inside the model; convert at the edges with these helpers.
 */
import { assert } from "./assert.js";

declare const timePsBrand: unique symbol;

/** An integer count of picoseconds: a point in simulated time or a duration. */
export type TimePs = number & { readonly [timePsBrand]: true };

/** Time zero, where every engine starts. */
export const TIME_ZERO = 0 as TimePs;

/** The largest representable time (2^53 - 1 ps). */
export const TIME_MAX = Number.MAX_SAFE_INTEGER as TimePs;

function scaled(value: number, psPerUnit: number, unit: string): TimePs {
  const timePs = Math.round(value * psPerUnit);
  assert(Number.isSafeInteger(timePs), () => `time ${value} ${unit} is not representable in ps`);
  return timePs as TimePs;
}

/**
 * Brands an integer count of picoseconds as {@link TimePs}.
 * @throws AssertionError when `value` is not a safe integer.
 */
export function ps(value: number): TimePs {
  assert(Number.isSafeInteger(value), () => `time ${value} ps is not a safe integer`);
  return value as TimePs;
}

/** Nanoseconds to {@link TimePs}, rounded to the nearest picosecond. */
export function ns(value: number): TimePs {
  return scaled(value, 1e3, "ns");
}

/** Microseconds to {@link TimePs}, rounded to the nearest picosecond. */
export function us(value: number): TimePs {
  return scaled(value, 1e6, "us");
}

/** Milliseconds to {@link TimePs}, rounded to the nearest picosecond. */
export function ms(value: number): TimePs {
  return scaled(value, 1e9, "ms");
}

/**
 * Formats a time for people: the largest unit that keeps the integer part non-zero, with up to
 * three decimals (`1.5 µs`, `250 ns`, `7 ps`). Exact values belong in JSON, not here.
 */
export function formatTime(timePs: number): string {
  const units: ReadonlyArray<readonly [number, string]> = [
    [1e12, "s"],
    [1e9, "ms"],
    [1e6, "µs"],
    [1e3, "ns"],
  ];
  for (const [scale, unit] of units) {
    if (Math.abs(timePs) >= scale) {
      return `${Number((timePs / scale).toFixed(3))} ${unit}`;
    }
  }
  return `${timePs} ps`;
}
