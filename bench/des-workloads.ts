/**
 * The two standard DES workloads of `../shared/bench/README.md`, built on p2psim's own engine:
 * (a) the hold model and (b) DMA-like requests through a credit-limited link (closed M/M/C).
 * One model time unit is 1 ms = 1e9 ps; each exponential delay is rounded to whole picoseconds.
 * The random draws happen in exactly the order the README fixes, so the simulated end times
 * match the reference trajectories (to ~1e-12 relative: the rounding to integer picoseconds).
 */
import { Engine } from "../src/fabric/engine.js";
import { Resource } from "../src/fabric/resource.js";
import { Mulberry32, thinkMean } from "./mulberry32.js";

/** Picoseconds per model time unit. */
export const PS_PER_UNIT = 1e9;

/** A workload ready to run: advance it, then read its counters. */
export interface DesWorkload {
  readonly engine: Engine;
  /** Runs until `count` more steps (hold) or completed requests (mmc) have happened. */
  advance(count: number): void;
  /** Steps (hold) or completed requests (mmc) so far. */
  readonly progress: () => number;
}

/** Workload (a): N pending events; each fired event schedules one more after Exp(1). */
export function holdWorkload(pending: number, seed: number): DesWorkload {
  const engine = new Engine({ seed: 0, queueCapacity: pending + 1 });
  const rng = new Mulberry32(seed);
  let steps = 0;
  const hold = engine.handler((token) => {
    steps++;
    engine.after(rng.exponentialRounded(PS_PER_UNIT), hold, token);
  }, "hold");
  for (let i = 0; i < pending; i++) engine.at(rng.exponentialRounded(PS_PER_UNIT), hold, i);
  return {
    engine,
    progress: () => steps,
    advance(count) {
      const outcome = engine.runUntilQuiet({ eventsMax: count });
      if (outcome.status !== "event-bound") throw new Error(`hold: unexpected ${outcome.status}`);
    },
  };
}

/** Workload (b): `producers` think, take one of `credits` link credits, hold it, release it. */
export function mmcWorkload(producers: number, credits: number, seed: number): DesWorkload {
  const engine = new Engine({ seed: 0, queueCapacity: producers + 1 });
  const rng = new Mulberry32(seed);
  const thinkPsMean = thinkMean(producers, credits) * PS_PER_UNIT;
  const link = new Resource(engine, "link", credits);
  let completed = 0;
  let target = 0;
  const serviceStart = engine.handler((i) => {
    engine.after(rng.exponentialRounded(PS_PER_UNIT), serviceEnd, i);
  }, "service-start");
  const thinkEnd = engine.handler((i) => {
    if (link.acquire(serviceStart, i)) engine.after(rng.exponentialRounded(PS_PER_UNIT), serviceEnd, i);
  }, "think-end");
  const serviceEnd = engine.handler((i) => {
    completed++;
    engine.after(rng.exponentialRounded(thinkPsMean), thinkEnd, i);
    link.release();
    if (completed === target) engine.stop();
  }, "service-end");
  for (let i = 0; i < producers; i++) engine.at(rng.exponentialRounded(thinkPsMean), thinkEnd, i);
  return {
    engine,
    progress: () => completed,
    advance(count) {
      target = completed + count;
      const outcome = engine.run();
      if (outcome.status !== "stopped") throw new Error(`mmc: unexpected ${outcome.status}`);
    },
  };
}
