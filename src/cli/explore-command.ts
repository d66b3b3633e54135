/**
 * `p2psim explore SCENARIO --seeds A..B`: a seed sweep, on N threads with `--jobs N`, one
 * shard of it with `--shard i/n`. Writes a replay capsule per failing seed and `summary.json` with
 * `--out DIR`, else prints the summary; `--csv FILE` writes one row per seed and `--report FILE` the
 * HTML report (with the first failure shrunk). The summary JSON carries the scenario's machine
 * (`topology`) for `p2psim report`. Exit 0 when every seed passed, 1 when one broke an
 * invariant (or ran differently twice under `--check-determinism`), 2 on bad input.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { exploreCsv } from "../io/report-csv.js";
import { renderExploreReport } from "../io/report-explore.js";
import { parseSeedRange, parseShard, type SeedOutcome, type SweepSummary, shardSeeds, summarizeSweep } from "../scenario/explore.js";
import type { KernelMutant, KernelProfile } from "../scenario/scenario.js";
import { writeFileAtomic } from "./atomic-file.js";
import { runSweep } from "./explore-pool.js";
import { loadScenarioFile } from "./load-scenario-file.js";
import { type ProgressOutput, SweepProgress } from "./progress.js";
import { scenarioTopology, shrinkForReport } from "./report-command.js";

/** Options of `explore`, as parsed. */
export interface ExploreCommandOptions {
  readonly file: string;
  readonly seeds: string;
  readonly swarm: boolean;
  readonly jobs: number;
  readonly shard?: string;
  readonly stopOnFirst: boolean;
  readonly out?: string;
  readonly profile?: KernelProfile;
  readonly mutants?: readonly KernelMutant[];
  readonly checkDeterminism: boolean;
  readonly json: boolean;
  /** Also write one row per seed as CSV to this file. */
  readonly csv?: string;
  /** Also write the HTML report to this file. */
  readonly report?: string;
}

/** Where the command writes. */
export interface ExploreOutput {
  readonly print: (text: string) => void;
  readonly printError: (text: string) => void;
  readonly progress: ProgressOutput;
}

function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

function failureLine(o: SeedOutcome): string | undefined {
  const parts: string[] = [];
  if (o.verdict === "violation") parts.push(`violation of ${o.invariants.join(", ")} (fingerprint ${o.fingerprint})`);
  if (o.divergence != null) parts.push(`NOT DETERMINISTIC: the two runs part at event ${o.divergence.seq}`);
  return parts.length === 0 ? undefined : parts.join("; ");
}

function humanSummary(
  s: SweepSummary,
  outcomes: readonly SeedOutcome[],
  out: string | undefined,
  written: ReadonlyArray<readonly [string, string]> = [],
): string {
  const t = s.totals;
  const lines = [
    `explore ${s.scenario}: seeds ${s.seeds}${s.shard === null ? "" : ` shard ${s.shard}`}${s.swarm ? " (swarm)" : ""} · profile ${s.profile} · mutants ${s.mutants.length === 0 ? "none" : s.mutants.join(", ")}`,
    `${t.seeds} seeds run: ${t.pass} pass, ${t.violation} violation · ${t.events} events (${t.seeds === 0 ? 0 : Math.round(t.events / t.seeds)} per seed)`,
  ];
  if (s.stoppedAt !== null) lines.push(`stopped at the first failing seed, ${s.stoppedAt}`);
  const broken = Object.entries(s.invariants);
  if (broken.length > 0) lines.push(`invariants broken: ${broken.map(([i, n]) => `${i} in ${n} seeds`).join(", ")}`);
  if (s.failingSeeds.length > 0) lines.push(`failing seeds: ${s.failingSeeds.slice(0, 20).join(" ")}${s.failingSeeds.length > 20 ? " …" : ""}`);
  for (const o of outcomes) {
    const d = o.divergence;
    if (d != null) lines.push(`seed ${o.seed}: NOT DETERMINISTIC at event ${d.seq}\n  first:  ${d.first ?? "(ended)"}\n  second: ${d.second ?? "(ended)"}`);
  }
  const hit = Object.entries(s.probes.hit);
  lines.push(
    `probes hit: ${hit.length === 0 ? "none" : hit.map(([p, n]) => `${p} (${n} seeds)`).join(", ")}`,
    `probes never hit: ${s.probes.neverHit.length === 0 ? "none" : s.probes.neverHit.join(", ")}`,
  );
  if (out !== undefined)
    lines.push(
      `wrote ${join(out, "summary.json")}${s.failingSeeds.length > 0 ? ` and ${s.failingSeeds.length} capsules (replay: p2psim replay ${join(out, `capsule-${s.failingSeeds[0]}.json`)})` : ""}`,
    );
  for (const [file, what] of written) lines.push(`wrote ${what} ${file}`);
  lines.push(t.violation === 0 && t.nondeterministic === 0 ? "verdict: PASS — every seed passed." : "verdict: FAIL");
  return lines.join("\n");
}

/**
 * Runs the command. Returns the exit code: 0 every seed passed, 1 a seed failed, 2 bad input.
 * @throws Error when a worker fails (a model bug).
 */
export function exploreCommand(o: ExploreCommandOptions, version: string, io: ExploreOutput): number {
  const range = parseSeedRange(o.seeds);
  if (!range.ok) {
    io.printError(`p2psim explore: --seeds: ${range.message}`);
    return 2;
  }
  const shard = o.shard === undefined ? undefined : parseShard(o.shard);
  if (shard !== undefined && !shard.ok) {
    io.printError(`p2psim explore: --shard: ${shard.message}`);
    return 2;
  }
  const loaded = loadScenarioFile(o.file);
  if (!loaded.ok) {
    for (const line of loaded.lines) io.printError(line);
    return 2;
  }
  const seeds = shardSeeds(range.range, shard?.shard);
  const config = {
    swarm: o.swarm,
    checkDeterminism: o.checkDeterminism,
    // The report shows the first failure shrunk, which starts from its capsule.
    capsules: o.out !== undefined || o.report !== undefined,
    version,
    ...(o.profile === undefined ? {} : { profile: o.profile }),
    ...(o.mutants === undefined || o.mutants.length === 0 ? {} : { mutants: o.mutants }),
  };
  if (o.out !== undefined) mkdirSync(o.out, { recursive: true });
  const progress = new SweepProgress(io.progress, seeds.length);
  const run = runSweep({
    loaded: loaded.loaded,
    seeds,
    config,
    jobs: o.jobs,
    stopOnFirst: o.stopOnFirst,
    onOutcome: (outcome, done) => {
      progress.seed(outcome.seed, done, failureLine(outcome));
      if (o.out !== undefined && outcome.capsule !== undefined) writeJson(join(o.out, `capsule-${outcome.seed}.json`), outcome.capsule);
    },
  });
  progress.finish();
  const scenario = loaded.loaded.scenario;
  const summary = summarizeSweep(
    {
      version,
      scenario: scenario.name,
      range: range.range,
      swarm: o.swarm,
      profile: o.profile ?? scenario.kernel?.profile ?? "default",
      mutants: o.mutants !== undefined && o.mutants.length > 0 ? o.mutants : (scenario.kernel?.mutants ?? []),
      ...(shard === undefined ? {} : { shard: shard.shard }),
      ...(run.stoppedAt === undefined ? {} : { stoppedAt: run.stoppedAt }),
    },
    run.outcomes,
  );
  const withMachine = { ...summary, topology: scenarioTopology(loaded.loaded, summary.profile) };
  if (o.out !== undefined) writeJson(join(o.out, "summary.json"), withMachine);
  if (o.csv !== undefined) writeFileAtomic(o.csv, exploreCsv(summary.perSeed));
  if (o.report !== undefined) {
    const first = run.outcomes.find((outcome) => outcome.capsule !== undefined);
    const shrunk =
      first?.capsule === undefined
        ? undefined
        : shrinkForReport(first.capsule, first.seed, version, typeof scenario.topology === "string" ? scenario.topology : undefined);
    writeFileAtomic(o.report, renderExploreReport({ ...withMachine, ...(shrunk === undefined ? {} : { shrunk }) }));
  }
  const written: Array<[string, string]> = [];
  if (o.csv !== undefined) written.push([o.csv, "one row per seed to"]);
  if (o.report !== undefined) written.push([o.report, "the HTML report to"]);
  io.print(o.json ? JSON.stringify(withMachine, null, 2) : humanSummary(summary, run.outcomes, o.out, written));
  return summary.totals.violation === 0 && summary.totals.nondeterministic === 0 ? 0 : 1;
}
