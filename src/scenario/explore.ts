/**
 * A seed sweep's logic, free of threads and files: the seed range and its shards, the swarm's
 * seed-drawn fault mix, one seed's run reduced to what a sweep keeps, and the sweep's summary.
 * `p2psim explore` runs {@link exploreSeed} in-process or on worker threads; because every seed's
 * outcome depends only on the seed and the options, the merged sweep is the same for any number of
 * jobs and the shards of a sweep together equal the whole sweep [DESIGN.md "Scenarios, checks,
 * exploration"].
 */
import type { InvariantId } from "../check/monitor.js";
import { PROBES, type ProbeName } from "../check/probes.js";
import { RngStream } from "../fabric/rng.js";
import { type Capsule, captureRun, makeCapsule } from "./capsule-freeze.js";
import { checkDeterminism } from "./determinism.js";
import type { LoadedScenario } from "./load-scenario.js";
import { type RunOptions, runScenario } from "./run-scenario.js";
import type { Fault, KernelMutant, KernelProfile } from "./scenario.js";

/** Seeds `from..to`, both inclusive. */
export interface SeedRange {
  readonly from: number;
  readonly to: number;
}

/** Shard `index` (1-based) of `count`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Parses `A..B` (A <= B, non-negative integers); a message saying what was expected otherwise. */
export function parseSeedRange(textValue: string): { ok: true; range: SeedRange } | { ok: false; message: string } {
  const m = /^(\d+)\.\.(\d+)$/.exec(textValue);
  const from = Number(m?.[1]);
  const to = Number(m?.[2]);
  if (m === null || !Number.isSafeInteger(from) || !Number.isSafeInteger(to))
    return { ok: false, message: `expected A..B with whole numbers, found "${textValue}"` };
  if (from > to) return { ok: false, message: `expected A <= B, found "${textValue}"` };
  return { ok: true, range: { from, to } };
}

/** Parses `i/n` with 1 <= i <= n; a message saying what was expected otherwise. */
export function parseShard(textValue: string): { ok: true; shard: Shard } | { ok: false; message: string } {
  const m = /^(\d+)\/(\d+)$/.exec(textValue);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (m === null || count < 1 || index < 1 || index > count) return { ok: false, message: `expected i/n with 1 <= i <= n, found "${textValue}"` };
  return { ok: true, shard: { index, count } };
}

/**
 * The seeds of a shard, ascending: those with (seed − from) mod count = index − 1. The shards
 * 1/n … n/n partition the range, whatever n is.
 */
export function shardSeeds(range: SeedRange, shard: Shard = { index: 1, count: 1 }): number[] {
  const seeds: number[] = [];
  for (let seed = range.from + shard.index - 1; seed <= range.to; seed += shard.count) seeds.push(seed);
  return seeds;
}

/**
 * The swarm's fault mix for a seed: a non-empty subset of the scenario's faults (indices,
 * ascending), each kept with probability ½ from the seed's own `swarm` stream, one drawn
 * uniformly when none was kept. A scenario with no faults keeps none.
 */
export function swarmSubset(faultCount: number, seed: number): number[] {
  if (faultCount === 0) return [];
  const rng = new RngStream(seed, "swarm");
  const kept = Array.from({ length: faultCount }, (_, i) => i).filter(() => rng.float() < 0.5);
  return kept.length > 0 ? kept : [rng.intBelow(faultCount)];
}

/** How every seed of a sweep runs. */
export interface SweepConfig {
  readonly profile?: KernelProfile;
  readonly mutants?: readonly KernelMutant[];
  readonly swarm: boolean;
  readonly checkDeterminism: boolean;
  /** Freeze each failing seed into a capsule (needs `version`). */
  readonly capsules: boolean;
  readonly version: string;
}

/** What a sweep keeps of one seed. */
export interface SeedOutcome {
  readonly seed: number;
  readonly verdict: "pass" | "violation";
  readonly fingerprint: string;
  readonly invariants: readonly InvariantId[];
  readonly events: number;
  /** Simulated time at the end of the run (safety and liveness phases), ps. */
  readonly endPs: number;
  /** Probes this seed hit. */
  readonly probesHit: readonly ProbeName[];
  /** With `--swarm`: the indices of the scenario's faults this seed ran. */
  readonly swarm?: readonly number[];
  /** With `--check-determinism`: the first event where the two runs parted, or null when they agreed. */
  readonly divergence?: { readonly seq: number; readonly first: string | null; readonly second: string | null } | null;
  /** For a failing seed, when asked. */
  readonly capsule?: Capsule;
}

/**
 * Runs one seed of a sweep.
 * @throws what {@link runScenario} throws.
 */
export function exploreSeed(loaded: LoadedScenario, seed: number, config: SweepConfig): SeedOutcome {
  const all = loaded.scenario.faults ?? [];
  const subset = config.swarm ? swarmSubset(all.length, seed) : undefined;
  const faults: readonly Fault[] = subset === undefined ? all : subset.map((i) => all[i] as Fault);
  const options: RunOptions = {
    seed,
    ...(config.profile === undefined ? {} : { profile: config.profile }),
    ...(config.mutants === undefined || config.mutants.length === 0 ? {} : { mutants: config.mutants }),
    ...(subset === undefined ? {} : { faults }),
  };
  let divergence: SeedOutcome["divergence"];
  let result: ReturnType<typeof runScenario>;
  if (config.checkDeterminism) {
    const check = checkDeterminism(loaded, options);
    result = check.first;
    const d = check.divergence;
    divergence = d === undefined ? null : { seq: d.seq, first: d.first ?? null, second: d.second ?? null };
  } else {
    result = runScenario(loaded, options);
  }
  // Checkpoints cost a second hash per event: only a failing seed, rerun, pays for them.
  const capsule = config.capsules && result.verdict === "violation" ? makeCapsule(loaded, faults, captureRun(loaded, options), config.version) : undefined;
  return {
    seed,
    verdict: result.verdict,
    fingerprint: result.fingerprint,
    invariants: result.violations.map((v) => v.invariant),
    events: result.events,
    endPs: result.endPs,
    probesHit: (Object.keys(result.probes) as ProbeName[]).filter((p) => result.probes[p] > 0),
    ...(subset === undefined ? {} : { swarm: subset }),
    ...(divergence === undefined ? {} : { divergence }),
    ...(capsule === undefined ? {} : { capsule }),
  };
}

/** The sweep's summary (`summary.json`). */
export interface SweepSummary {
  readonly p2psim: string;
  readonly scenario: string;
  readonly seeds: string;
  readonly shard: string | null;
  readonly swarm: boolean;
  readonly profile: KernelProfile;
  readonly mutants: readonly KernelMutant[];
  /** With `--stop-on-first`: the failing seed the sweep stopped at. */
  readonly stoppedAt: number | null;
  readonly totals: { readonly seeds: number; readonly pass: number; readonly violation: number; readonly events: number; readonly nondeterministic: number };
  /** How many seeds broke each invariant. */
  readonly invariants: Readonly<Partial<Record<InvariantId, number>>>;
  /** How many seeds hit each probe, and the probes no seed hit. */
  readonly probes: { readonly hit: Readonly<Partial<Record<ProbeName, number>>>; readonly neverHit: readonly ProbeName[] };
  readonly failingSeeds: readonly number[];
  readonly nondeterministicSeeds: readonly number[];
  readonly perSeed: ReadonlyArray<Omit<SeedOutcome, "capsule" | "probesHit">>;
}

/** What the summary names the sweep by. */
export interface SweepIdentity {
  readonly version: string;
  readonly scenario: string;
  readonly range: SeedRange;
  readonly shard?: Shard;
  readonly swarm: boolean;
  readonly profile: KernelProfile;
  readonly mutants: readonly KernelMutant[];
  readonly stoppedAt?: number;
}

/** Summarises the outcomes of a sweep (given in seed order). */
export function summarizeSweep(id: SweepIdentity, outcomes: readonly SeedOutcome[]): SweepSummary {
  const invariants: Partial<Record<InvariantId, number>> = {};
  const hit: Partial<Record<ProbeName, number>> = {};
  for (const o of outcomes) {
    for (const i of o.invariants) invariants[i] = (invariants[i] ?? 0) + 1;
    for (const p of o.probesHit) hit[p] = (hit[p] ?? 0) + 1;
  }
  const failingSeeds = outcomes.filter((o) => o.verdict === "violation").map((o) => o.seed);
  const nondeterministicSeeds = outcomes.filter((o) => o.divergence != null).map((o) => o.seed);
  return {
    p2psim: id.version,
    scenario: id.scenario,
    seeds: `${id.range.from}..${id.range.to}`,
    shard: id.shard === undefined ? null : `${id.shard.index}/${id.shard.count}`,
    swarm: id.swarm,
    profile: id.profile,
    mutants: id.mutants,
    stoppedAt: id.stoppedAt ?? null,
    totals: {
      seeds: outcomes.length,
      pass: outcomes.length - failingSeeds.length,
      violation: failingSeeds.length,
      events: outcomes.reduce((sum, o) => sum + o.events, 0),
      nondeterministic: nondeterministicSeeds.length,
    },
    invariants,
    probes: { hit, neverHit: (Object.keys(PROBES) as ProbeName[]).filter((p) => hit[p] === undefined) },
    failingSeeds,
    nondeterministicSeeds,
    perSeed: outcomes.map(({ capsule: _c, probesHit: _p, ...rest }) => rest),
  };
}
