import { describe, expect, it } from "vitest";
import { formatTime, ms, ns, ps, us } from "../../src/fabric/time.js";

describe("time", () => {
  it("converts units to integer picoseconds, rounding to the nearest", () => {
    expect([ps(7), ns(1), ns(1.0004), ns(1.0006), us(2.5), ms(1)]).toEqual([7, 1000, 1000, 1001, 2_500_000, 1_000_000_000]);
  });

  it("rejects times that are not safe integers", () => {
    expect(() => ps(1.5)).toThrow(/safe integer/);
    expect(() => ms(1e10)).toThrow(/not representable/);
  });

  it("formats for people with the largest fitting unit", () => {
    expect([0, 7, 1500, 2_500_000, 1_234_567_891, 3e12].map(formatTime)).toEqual(["0 ps", "7 ps", "1.5 ns", "2.5 µs", "1.235 ms", "3 s"]);
  });
});
