/**
 * The explore benchmark's workload: `p2psim explore` sweeps timed as a user sees them, the
 * compiled CLI in a fresh process each time, so every sweep pays what a real one pays (starting
 * node, loading the scenario, starting workers, warming up the JIT) and none inherits a warm JIT
 * from the sweep before. Wall-clock time is read here, never in the model.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The compiled CLI beside the compiled bench (dist/bench → dist/src/cli). */
const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

/** A bundled scenario, found from the compiled bench (dist/bench) or the sources (bench). */
export function scenarioFile(name: string): string {
  return fileURLToPath(new URL(`${import.meta.url.includes("/dist/") ? "../../" : "../"}scenarios/${name}`, import.meta.url));
}

/** One timed sweep. */
export interface SweepTiming {
  readonly seeds: number;
  readonly jobs: number;
  readonly seconds: number;
  /** The scenario's trace events per seed, as the sweep's summary reports them. */
  readonly eventsPerSeed: number;
}

/**
 * Runs `p2psim explore FILE --seeds 1..SEEDS --jobs JOBS` and times it, start-up included.
 * @throws Error when the bench is not the compiled one (the CLI and its worker are compiled
 * modules), or when the command fails (exit status other than 0, pass, or 1, some seed failed), or
 * prints no events per seed.
 */
export function timeExploreCli(file: string, seeds: number, jobs: number): SweepTiming {
  if (!import.meta.url.includes("/dist/")) throw new Error("the explore suite times the compiled CLI: run `npm run bench`");
  const start = process.hrtime.bigint();
  const run = spawnSync(process.execPath, [CLI, "explore", file, "--seeds", `1..${seeds}`, "--jobs", String(jobs)], { encoding: "utf8" });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (run.status !== 0 && run.status !== 1) throw new Error(`p2psim explore exited ${run.status}: ${run.stderr}`);
  const perSeed = /\((\d+) per seed\)/.exec(run.stdout);
  if (perSeed === null) throw new Error(`p2psim explore printed no events per seed: ${run.stdout}`);
  return { seeds, jobs, seconds, eventsPerSeed: Number(perSeed[1]) };
}
