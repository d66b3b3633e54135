/**
 * The explore benchmark's workload: sweeps of the flagship scenario (safety and liveness phases,
 * every monitor on), in this thread or on worker threads through the pool `p2psim explore --jobs`
 * uses. Wall-clock time is read here, never in the model.
 */
import { fileURLToPath } from "node:url";
import { runSweep } from "../src/cli/explore-pool.js";
import { loadScenarioFile } from "../src/cli/load-scenario-file.js";
import type { SweepConfig } from "../src/scenario/explore.js";

/** The flagship, found from the compiled bench (dist/bench) or the sources (bench). */
export const FLAGSHIP_FILE = fileURLToPath(
  new URL(import.meta.url.includes("/dist/") ? "../../scenarios/revoke-during-cq-writes.yaml" : "../scenarios/revoke-during-cq-writes.yaml", import.meta.url),
);

/** One timed sweep. */
export interface SweepTiming {
  readonly seeds: number;
  readonly seconds: number;
  readonly eventsPerSeed: number;
  readonly failing: number;
}

/**
 * Sweeps seeds `from..from+count-1` of the flagship on `jobs` threads and times it.
 * @param onWorkers run on worker threads even for one job (else one job runs in this thread).
 */
export function timeFlagshipSweep(from: number, count: number, jobs: number, onWorkers = false): SweepTiming {
  const loaded = loadScenarioFile(FLAGSHIP_FILE);
  if (!loaded.ok) throw new Error(loaded.lines.join("\n"));
  const config: SweepConfig = { swarm: false, checkDeterminism: false, capsules: false, version: "bench" };
  const seeds = Array.from({ length: count }, (_, i) => from + i);
  const start = process.hrtime.bigint();
  const run = runSweep({ file: FLAGSHIP_FILE, loaded: loaded.loaded, seeds, config, jobs, stopOnFirst: false, onWorkers });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const events = run.outcomes.reduce((sum, o) => sum + o.events, 0);
  return {
    seeds: run.outcomes.length,
    seconds,
    eventsPerSeed: events / run.outcomes.length,
    failing: run.outcomes.filter((o) => o.verdict === "violation").length,
  };
}
