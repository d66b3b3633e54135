/**
 * The benchmark workloads must reproduce the reference trajectories of ../shared/bench: here
 * they are checked against a straightforward float implementation of the README's definitions,
 * and the engine's steady state is checked to allocate nothing.
 */

import { describe, expect, it } from "vitest";
import { bytesAllocatedDuring } from "../../bench/allocation.js";
import { holdWorkload, mmcWorkload, PS_PER_UNIT } from "../../bench/des-workloads.js";
import { Mulberry32, thinkMean } from "../../bench/mulberry32.js";
import { Engine } from "../../src/fabric/engine.js";

/** The hold model with float times and a sorted array: slow, obviously right. */
function referenceHold(n: number, steps: number, seed: number): number {
  const u = new Mulberry32(seed);
  const exp = () => -Math.log(1 - u.next());
  const events = Array.from({ length: n }, (_, i) => ({ t: exp(), seq: i }));
  let seq = n;
  let now = 0;
  for (let k = 0; k < steps; k++) {
    let best = 0;
    for (let i = 1; i < events.length; i++) {
      const e = events[i] as { t: number; seq: number };
      const b = events[best] as { t: number; seq: number };
      if (e.t < b.t || (e.t === b.t && e.seq < b.seq)) best = i;
    }
    now = (events[best] as { t: number }).t;
    events[best] = { t: now + exp(), seq: seq++ };
  }
  return now;
}

/** Workload (b) with float times, by the README's event rules. */
function referenceMmc(p: number, c: number, completions: number, seed: number): number {
  const u = new Mulberry32(seed);
  const exp = (m: number) => -m * Math.log(1 - u.next());
  const z = thinkMean(p, c);
  const events: Array<{ t: number; seq: number; kind: "think" | "service"; i: number }> = [];
  let seq = 0;
  const push = (t: number, kind: "think" | "service", i: number) => events.push({ t, seq: seq++, kind, i });
  for (let i = 0; i < p; i++) push(exp(z), "think", i);
  let inUse = 0;
  const waiting: number[] = [];
  let done = 0;
  let now = 0;
  while (done < completions) {
    events.sort((a, b) => a.t - b.t || a.seq - b.seq);
    const e = events.shift() as (typeof events)[number];
    now = e.t;
    if (e.kind === "think") {
      if (inUse < c) {
        inUse++;
        push(now + exp(1), "service", e.i);
      } else waiting.push(e.i);
    } else {
      done++;
      push(now + exp(z), "think", e.i);
      const j = waiting.shift();
      if (j === undefined) inUse--;
      else push(now + exp(1), "service", j);
    }
  }
  return now;
}

describe("bench workloads on the p2psim engine", () => {
  it("(a) hold reproduces the reference trajectory", () => {
    const w = holdWorkload(50, 12345);
    w.advance(3000);
    const expected = referenceHold(50, 3000, 12345);
    expect(Math.abs(w.engine.nowPs / PS_PER_UNIT - expected) / expected).toBeLessThan(1e-9);
  });

  it("(b) credit-limited requests reproduce the reference trajectory", () => {
    const w = mmcWorkload(40, 4, 12345);
    w.advance(2000);
    const expected = referenceMmc(40, 4, 2000, 12345);
    expect(w.progress()).toBe(2000);
    expect(Math.abs(w.engine.nowPs / PS_PER_UNIT - expected) / expected).toBeLessThan(1e-9);
  });

  it("the engine allocates nothing per event in steady state (< 0.1 byte/event)", () => {
    // A handler of integer arithmetic only, so that whatever is allocated is the engine's.
    const engine = new Engine({ seed: 0, queueCapacity: 20_000 });
    let step = 0;
    const hold = engine.handler((token) => {
      step = (step * 1103515245 + 12345) % 2147483648;
      engine.after(1 + (step % 1_000_000), hold, token);
    }, "hold");
    for (let i = 0; i < 10_000; i++) engine.at(i, hold, i);
    engine.runUntilQuiet({ eventsMax: 500_000 }); // warm up: optimise the hot path
    const events = 1_000_000;
    // The first rounds may still include the optimising compiler's own allocations; steady state
    // is the best of three rounds. One 16-byte heap number per event would be 16 bytes/event.
    const perEvent = [1, 2, 3].map(() => bytesAllocatedDuring(() => engine.runUntilQuiet({ eventsMax: events })) / events);
    expect(Math.min(...perEvent)).toBeLessThan(0.1);
  });
});
