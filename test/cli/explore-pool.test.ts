import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type * as Pool from "../../src/cli/explore-pool.js";
import type * as LoadFile from "../../src/cli/load-scenario-file.js";
import type { SeedOutcome, SweepConfig } from "../../src/scenario/explore.js";
import { REPO } from "./cli-dist.js";

// The compiled pool: its workers run the compiled explore-worker.js beside it.
const DIST = process.env.P2PSIM_DIST ?? join(REPO, "dist");
const { runSweep } = (await import(join(DIST, "src", "cli", "explore-pool.js"))) as typeof Pool;
const { loadScenarioFile } = (await import(join(DIST, "src", "cli", "load-scenario-file.js"))) as typeof LoadFile;

const file = loadScenarioFile(join(REPO, "scenarios", "revoke-during-cq-writes-revocable.yaml"));
if (!file.ok) throw new Error(file.lines.join("\n"));
const loaded = file.loaded;
/** The first merged exporter: some seeds of the pinned-revocable flagship break I1 under it (the first is 7), most pass. */
const config: SweepConfig = { profile: "vfio-dmabuf-initial", swarm: false, checkDeterminism: false, capsules: false, version: "test" };
const seeds = Array.from({ length: 40 }, (_, i) => i + 1);

function sweep(jobs: number, stopOnFirst: boolean, over: readonly number[] = seeds) {
  const handed: Array<[number, number]> = [];
  const run = runSweep({ loaded, seeds: over, config, jobs, stopOnFirst, onOutcome: (o: SeedOutcome, done: number) => handed.push([o.seed, done]) });
  return { run, handed };
}

describe("runSweep", () => {
  const one = sweep(1, false);

  it("runs every seed once, some passing and some failing (the fixture is worth comparing)", () => {
    expect(one.run.outcomes.map((o) => o.seed)).toEqual(seeds);
    expect(new Set(one.run.outcomes.map((o) => o.verdict))).toEqual(new Set(["pass", "violation"]));
  });

  it.each([2, 3])("hands the same outcomes on in seed order with %i jobs, each once to the progress callback", (jobs) => {
    const many = sweep(jobs, false);
    expect(many.run).toEqual(one.run);
    expect(many.handed).toEqual(seeds.map((seed, i) => [seed, i + 1]));
  });

  it.each([1, 2, 3])("stops at the lowest failing seed with stop-on-first and %i jobs, dropping the seeds above it", (jobs) => {
    const first = one.run.outcomes.find((o) => o.verdict === "violation") as SeedOutcome;
    const stopped = sweep(jobs, true);
    expect(stopped.run.stoppedAt).toBe(first.seed);
    expect(stopped.run.outcomes).toEqual(one.run.outcomes.filter((o) => o.seed <= first.seed));
    expect(stopped.handed.map(([seed]) => seed)).toEqual(seeds.filter((seed) => seed <= first.seed));
  });

  // With two jobs and three seeds the worker holds the first two batches (a seed each) and this thread runs the third.
  it.each([
    ["a worker", [-1, 1, 2], /^explore worker: seed -1: .*seed -1 is not a non-negative safe integer/s],
    ["this thread", [1, 2, -1], /^(?!explore worker).*seed -1 is not a non-negative safe integer/s],
  ])("surfaces an error thrown on %s", (_, over, message) => {
    expect(() => sweep(2, false, over as number[])).toThrow(message as RegExp);
  });
});
