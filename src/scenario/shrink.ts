/**
 * Shrinking a failing capsule: the smallest scenario found that still breaks the same invariant
 * under the same seed and kernel. Greedy, in the order a reader gains most from: drop faults one
 * at a time, then move each remaining fault to an earlier or rounder time, then halve each
 * stream's work-request count — keeping every step that still fails. Each try is one run, so the
 * result is as deterministic as the runs are.
 */
import type { InvariantId } from "../check/monitor.js";
import { type Capsule, captureRun, type LoadedCapsule, makeCapsule } from "./capsule.js";
import { checkScenario, type LoadedScenario } from "./load-scenario.js";
import { runScenario } from "./run-scenario.js";
import type { Fault, Scenario, Workload } from "./scenario.js";

/** Whether a candidate scenario still fails the way the capsule did. */
export type StillFails = (scenario: Scenario) => boolean;

/** What a shrink did. */
export interface ShrinkSteps {
  readonly scenario: Scenario;
  /** Candidate runs tried. */
  readonly runs: number;
  /** The steps kept, as sentences. */
  readonly kept: readonly string[];
}

/** Earlier or rounder times than `atUs` to try, simplest first, none past `limitUs`. */
export function simplerTimes(atUs: number, limitUs: number): number[] {
  const candidates = [0];
  for (const scale of [1, 10, 100, 1000]) candidates.push(Math.floor(atUs * scale) / scale, Math.round(atUs * scale) / scale);
  return [...new Set(candidates)].filter((t) => t !== atUs && t >= 0 && t <= limitUs);
}

/**
 * Shrinks a scenario whose faults are all pinned (`atUs`).
 * @param fails decides a candidate; it is given only scenarios derived from `scenario`.
 */
export function shrinkScenario(scenario: Scenario, fails: StillFails): ShrinkSteps {
  let current = scenario;
  let runs = 0;
  const kept: string[] = [];
  const attempt = (candidate: Scenario, step: string): boolean => {
    runs++;
    if (!fails(candidate)) return false;
    current = candidate;
    kept.push(step);
    return true;
  };
  const faults = () => current.faults ?? [];
  // Drop faults: from the last, so indices of the ones not yet tried stay put.
  for (let i = faults().length - 1; i >= 0; i--) {
    const f = faults()[i] as Fault;
    attempt({ ...current, faults: faults().filter((_, j) => j !== i) }, `dropped fault ${f.fault} ${f.target}`);
  }
  for (let i = 0; i < faults().length; i++) {
    const f = faults()[i] as Fault & { atUs: number };
    for (const t of simplerTimes(f.atUs, current.budget.safetyUs)) {
      const moved = { ...f, atUs: t };
      if (attempt({ ...current, faults: faults().map((g, j) => (j === i ? moved : g)) }, `moved fault ${f.fault} ${f.target} from ${f.atUs} µs to ${t} µs`))
        break;
    }
  }
  for (let i = 0; i < current.workloads.length; i++) {
    for (let w = current.workloads[i] as Workload; w.kind === "rdma-stream" && w.count > 1; w = current.workloads[i] as Workload) {
      const halved = { ...w, count: Math.floor(w.count / 2) };
      const workloads = current.workloads.map((x, j) => (j === i ? halved : x));
      if (!attempt({ ...current, workloads }, `halved ${w.nic}'s work requests from ${w.count} to ${halved.count}`)) break;
    }
  }
  return { scenario: current, runs, kept };
}

/** A shrunk capsule: the scenario to write, its capsule, and what changed. */
export interface Shrunk {
  readonly invariant: InvariantId;
  readonly scenario: Scenario;
  readonly capsule: Capsule;
  readonly runs: number;
  readonly kept: readonly string[];
}

function load(scenario: Scenario, file: string): LoadedScenario | undefined {
  const checked = checkScenario(scenario, file, () => undefined);
  return checked.ok ? checked.loaded : undefined;
}

function streamCounts(s: Scenario): string {
  return s.workloads.map((w) => (w.kind === "rdma-stream" ? `${w.nic} ${w.count} WRs` : `${w.kind} ${w.nic}`)).join(", ");
}

/**
 * Shrinks a loaded capsule to a minimal scenario that still breaks `target` (default: the
 * capsule's first invariant).
 * @param source the capsule's file name, quoted in the new scenario's goal.
 * @returns the shrunk scenario and capsule, or why there is nothing to shrink.
 * @throws Error when the result no longer fails or has more faults (a shrinker bug).
 */
export function shrinkCapsule(
  input: LoadedCapsule,
  source: string,
  version: string,
  target?: InvariantId,
): { ok: true; shrunk: Shrunk } | { ok: false; message: string } {
  const { capsule } = input;
  const invariant = target ?? capsule.result.invariants[0];
  if (invariant === undefined) return { ok: false, message: "the capsule's run broke no invariant: there is nothing to shrink" };
  if (!capsule.result.invariants.includes(invariant)) {
    return { ok: false, message: `the capsule's run did not break ${invariant} (it broke ${capsule.result.invariants.join(", ")})` };
  }
  const options = { seed: capsule.seed, profile: capsule.profile, mutants: capsule.mutants };
  const fails: StillFails = (candidate) => {
    const loaded = load(candidate, input.loaded.file);
    return loaded !== undefined && runScenario(loaded, options).violations.some((v) => v.invariant === invariant);
  };
  if (!fails(capsule.scenario)) return { ok: false, message: `the capsule no longer breaks ${invariant} when rerun (try p2psim replay ${source})` };
  const steps = shrinkScenario(capsule.scenario, fails);
  const before = capsule.scenario;
  const after = steps.scenario;
  const faults = after.faults ?? [];
  const scenario: Scenario = {
    ...after,
    name: `${before.name}-shrunk`,
    goal: `Shrunk from the replay capsule ${source} (seed ${capsule.seed}): a minimal run that still breaks ${invariant}. Original goal: ${before.goal}`,
    method: `${faults.length} of ${(before.faults ?? []).length} faults at fixed times (${faults.map((f) => `${f.fault} ${f.target} at ${(f as { atUs: number }).atUs} µs`).join("; ") || "none"}); programs: ${streamCounts(after)}. Original method: ${before.method}`,
    kernel: { profile: capsule.profile, mutants: [...capsule.mutants] },
    seed: capsule.seed,
    expect: [{ profile: capsule.profile, mutants: [...capsule.mutants], verdict: "violation", invariant }],
  };
  const loaded = load(scenario, input.loaded.file);
  if (loaded === undefined) throw new Error("shrink: the shrunk scenario does not load");
  const run = captureRun(loaded, options);
  if (!run.result.violations.some((v) => v.invariant === invariant)) throw new Error(`shrink: the shrunk scenario no longer breaks ${invariant}`);
  if (faults.length > (before.faults ?? []).length) throw new Error("shrink: the shrunk scenario has more faults than the capsule");
  return { ok: true, shrunk: { invariant, scenario, capsule: makeCapsule(loaded, faults, run, version), runs: steps.runs + 1, kept: steps.kept } };
}
