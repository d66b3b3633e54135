import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseSeedRange, parseShard, type SweepSummary, shardSeeds, swarmSubset } from "../../src/scenario/explore.js";
import { FLAGSHIP, p2psim } from "./cli-dist.js";

describe("seed ranges and shards", () => {
  it.each([
    ["1..10", { ok: true, range: { from: 1, to: 10 } }],
    ["0..0", { ok: true, range: { from: 0, to: 0 } }],
    ["10..1", { ok: false, message: 'expected A <= B, found "10..1"' }],
    ["1-10", { ok: false, message: 'expected A..B with whole numbers, found "1-10"' }],
    ["-1..3", { ok: false, message: 'expected A..B with whole numbers, found "-1..3"' }],
  ])("parses --seeds %s", (text, want) => expect(parseSeedRange(text)).toEqual(want));

  it.each([
    ["2/3", { ok: true, shard: { index: 2, count: 3 } }],
    ["1/1", { ok: true, shard: { index: 1, count: 1 } }],
    ["0/3", { ok: false, message: 'expected i/n with 1 <= i <= n, found "0/3"' }],
    ["4/3", { ok: false, message: 'expected i/n with 1 <= i <= n, found "4/3"' }],
    ["a/3", { ok: false, message: 'expected i/n with 1 <= i <= n, found "a/3"' }],
  ])("parses --shard %s", (text, want) => expect(parseShard(text)).toEqual(want));

  it("gives shard i/n the seeds with (seed - A) mod n = i - 1", () => {
    expect(shardSeeds({ from: 5, to: 14 }, { index: 2, count: 3 })).toEqual([6, 9, 12]);
    expect(shardSeeds({ from: 5, to: 6 }, { index: 3, count: 3 })).toEqual([]);
  });

  it("partitions the sweep: the shards of any n are disjoint and together the whole range", () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(300), fc.integer({ min: 1, max: 12 }), (from, length, n) => {
        const range = { from, to: from + length };
        const parts = Array.from({ length: n }, (_, i) => shardSeeds(range, { index: i + 1, count: n }));
        expect(parts.flat().sort((a, b) => a - b)).toEqual(shardSeeds(range));
      }),
    );
  });
});

describe("swarm", () => {
  it("draws a non-empty, ascending subset of the faults from the seed alone", () => {
    fc.assert(
      fc.property(fc.nat(1e9), fc.integer({ min: 1, max: 8 }), (seed, n) => {
        const subset = swarmSubset(n, seed);
        expect(subset.length).toBeGreaterThan(0);
        expect(subset).toEqual([...new Set(subset)].sort((a, b) => a - b));
        expect(subset.every((i) => i >= 0 && i < n)).toBe(true);
        expect(swarmSubset(n, seed)).toEqual(subset);
      }),
    );
    expect(swarmSubset(0, 1)).toEqual([]);
  });

  it("reaches every fault and several mixes over a sweep", () => {
    const mixes = new Set(Array.from({ length: 200 }, (_, seed) => swarmSubset(4, seed).join(",")));
    expect(mixes.size).toBeGreaterThanOrEqual(14);
    expect([0, 1, 2, 3].every((i) => [...mixes].some((m) => m.split(",").includes(String(i))))).toBe(true);
  });
});

const sweep = (...args: string[]) => {
  const run = p2psim("explore", FLAGSHIP, "--json", ...args);
  return { status: run.status, stderr: run.stderr, summary: JSON.parse(run.stdout) as SweepSummary };
};

describe("p2psim explore", () => {
  it("gives the same per-seed verdicts and fingerprints with --jobs 2 as with --jobs 1", () => {
    for (const profile of ["default", "vfio-dmabuf-initial"]) {
      const one = sweep("--seeds", "1..40", "--profile", profile, "--jobs", "1");
      const two = sweep("--seeds", "1..40", "--profile", profile, "--jobs", "2");
      expect(one.summary.perSeed).toHaveLength(40);
      expect(two.summary).toEqual(one.summary);
      expect(two.status).toBe(one.status);
    }
  });

  it("splits a sweep into shards whose union is the unsharded sweep", () => {
    const whole = sweep("--seeds", "3..32", "--profile", "vfio-dmabuf-initial").summary;
    const shards = ["1/3", "2/3", "3/3"].map((s) => sweep("--seeds", "3..32", "--profile", "vfio-dmabuf-initial", "--shard", s).summary);
    expect(shards.map((s) => s.shard)).toEqual(["1/3", "2/3", "3/3"]);
    const union = shards.flatMap((s) => s.perSeed).sort((a, b) => a.seed - b.seed);
    expect(union).toEqual(whole.perSeed);
    expect(shards.reduce((sum, s) => sum + s.totals.events, 0)).toBe(whole.totals.events);
  });

  it("exits 0 on a clean sweep and 1 on a violating one, with the summary's totals", () => {
    const clean = sweep("--seeds", "1..20");
    expect(clean.status).toBe(0);
    expect(clean.summary.totals).toMatchObject({ seeds: 20, pass: 20, violation: 0 });
    const buggy = sweep("--seeds", "1..20", "--profile", "vfio-dmabuf-initial");
    expect(buggy.status).toBe(1);
    expect(buggy.summary.failingSeeds.length).toBe(buggy.summary.totals.violation);
    expect(buggy.summary.invariants.I1).toBeGreaterThan(0);
  });

  it("writes one capsule per failing seed and summary.json with --out", () => {
    const dir = mkdtempSync(join(tmpdir(), "p2psim-explore-"));
    const run = p2psim("explore", FLAGSHIP, "--seeds", "1..6", "--profile", "vfio-dmabuf-initial", "--jobs", "2", "--out", dir);
    expect(run.status).toBe(1);
    const summary = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")) as SweepSummary;
    expect(readdirSync(dir).sort()).toEqual([...summary.failingSeeds.map((s) => `capsule-${s}.json`), "summary.json"].sort());
    for (const seed of summary.failingSeeds) {
      const capsule = JSON.parse(readFileSync(join(dir, `capsule-${seed}.json`), "utf8"));
      const row = summary.perSeed.find((s) => s.seed === seed);
      expect(capsule).toMatchObject({ seed, profile: "vfio-dmabuf-initial", result: { fingerprint: row?.fingerprint, invariants: row?.invariants } });
    }
    expect(run.stderr).toMatch(/^explore: 6\/6 seeds, \d+ failing$/m);
  });

  it("stops at the lowest failing seed with --stop-on-first, for any number of jobs", () => {
    for (const jobs of ["1", "2"]) {
      const run = sweep("--seeds", "10..60", "--profile", "vfio-dmabuf-initial", "--stop-on-first", "--jobs", jobs);
      expect(run.summary.stoppedAt).toBe(run.summary.failingSeeds[0]);
      expect(run.summary.perSeed.at(-1)?.seed).toBe(run.summary.stoppedAt);
      expect(run.summary.failingSeeds).toHaveLength(1);
    }
  });

  it("runs each seed twice with --check-determinism and finds no divergence", () => {
    const run = sweep("--seeds", "1..5", "--profile", "vfio-dmabuf-initial", "--check-determinism");
    expect(run.summary.totals.nondeterministic).toBe(0);
    expect(run.summary.perSeed.every((s) => s.divergence === null)).toBe(true);
  });

  it("records each seed's swarm mix", () => {
    const run = sweep("--seeds", "1..5", "--swarm");
    expect(run.summary.swarm).toBe(true);
    expect(run.summary.perSeed.map((s) => s.swarm)).toEqual([1, 2, 3, 4, 5].map((seed) => swarmSubset(1, seed)));
  });

  it.each([
    [["--seeds", "9..1"], /--seeds: expected A <= B/],
    [["--seeds", "1..9", "--shard", "4/3"], /--shard: expected i\/n/],
  ])("exits 2 on bad input %j", (args, message) => {
    const run = p2psim("explore", FLAGSHIP, ...args);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
  });
});
