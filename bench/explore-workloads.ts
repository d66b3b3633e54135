/**
 * The explore benchmark's workload: `p2psim explore` sweeps timed as a user sees them, the
 * compiled CLI in a fresh process each time, so every sweep pays what a real one pays (starting
 * node, loading the scenario, starting workers, warming up the JIT) and none inherits a warm JIT
 * from the sweep before. The sweep's progress lines (a tenth of the sweep each, on a pipe) are
 * timed as they arrive, so one sweep gives its whole course. Wall-clock time is read here, never
 * in the model.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Checkpoint } from "./explore-scaling.js";

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
  /** From spawning the command to its exit. */
  readonly seconds: number;
  /** Each progress line: seeds kept so far, and when the line arrived. */
  readonly checkpoints: readonly Checkpoint[];
  /** The scenario's trace events per seed, as the sweep's summary reports them. */
  readonly eventsPerSeed: number;
}

const PROGRESS = /^explore: (\d+)\/\d+ seeds/;

/**
 * Runs `p2psim explore FILE --seeds 1..SEEDS --jobs JOBS` and times it, start-up included.
 * @throws Error when the bench is not the compiled one (the CLI and its worker are compiled
 * modules), or when the command fails (exit status other than 0, pass, or 1, some seed failed), or
 * prints no events per seed.
 */
export async function timeExploreCli(file: string, seeds: number, jobs: number): Promise<SweepTiming> {
  if (!import.meta.url.includes("/dist/")) throw new Error("the explore suite times the compiled CLI: run `npm run bench`");
  const start = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - start) / 1e9;
  const child = spawn(process.execPath, [CLI, "explore", file, "--seeds", `1..${seeds}`, "--jobs", String(jobs)], { stdio: ["ignore", "pipe", "pipe"] });
  const checkpoints: Checkpoint[] = [];
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  createInterface({ input: child.stderr }).on("line", (line) => {
    const progress = PROGRESS.exec(line);
    if (progress === null) stderr += `${line}\n`;
    else checkpoints.push({ done: Number(progress[1]), seconds: since() });
  });
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const seconds = since();
  if (status !== 0 && status !== 1) throw new Error(`p2psim explore exited ${status}: ${stderr}`);
  const perSeed = /\((\d+) per seed\)/.exec(stdout);
  if (perSeed === null) throw new Error(`p2psim explore printed no events per seed: ${stdout}`);
  return { seeds, jobs, seconds, checkpoints, eventsPerSeed: Number(perSeed[1]) };
}
