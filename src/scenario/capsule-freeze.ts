/**
 * Freezing one run into a replay capsule (see capsule.ts, which also reads and replays capsules):
 * the capsule format, the run with its fingerprint checkpoints, and the capsule made from it. Apart
 * from capsule.ts so that a sweep's worker threads, which freeze failing seeds but never read a
 * capsule, do not load the scenario loader and its schema validators.
 */
import type { InvariantId } from "../check/monitor.js";
import { Fingerprint } from "../fabric/fingerprint.js";
import { us } from "../fabric/time.js";
import type { TraceSink } from "../fabric/trace.js";
import type { LoadedScenario } from "./load-scenario.js";
import { type RunOptions, type RunResult, runScenario } from "./run-scenario.js";
import type { Fault, KernelMutant, KernelProfile, Scenario } from "./scenario.js";

/** The capsule format's name and version; a reader refuses any other. */
export const CAPSULE_FORMAT = "p2psim-capsule/1";

/** Events between two fingerprint checkpoints. */
export const CHECKPOINT_EVENTS = 1024;

/** What the captured run gave. */
export interface CapsuleResult {
  readonly verdict: "pass" | "violation";
  /** The broken invariants, in the order their first violations happened. */
  readonly invariants: readonly InvariantId[];
  readonly fingerprint: string;
  readonly events: number;
  /** The trace fingerprint after event `(k + 1) × 1024 − 1`, for k = 0, 1, … */
  readonly checkpoints: readonly string[];
}

/** A replay capsule. */
export interface Capsule {
  readonly format: typeof CAPSULE_FORMAT;
  readonly p2psim: string;
  /** The scenario as run: topology inline, faults as struck (each `atUs`, no windows). */
  readonly scenario: Scenario;
  readonly seed: number;
  readonly profile: KernelProfile;
  readonly mutants: readonly KernelMutant[];
  /**
   * Per fault of `scenario.faults`: the window its time was drawn from, or null for a fixed time.
   * The replay does not redraw (the times are pinned) but checks that the seed still draws them,
   * so a changed seed or a changed generator is reported even where the seed decides nothing else.
   */
  readonly windows: ReadonlyArray<readonly [number, number] | null>;
  readonly result: CapsuleResult;
}

/** A run and the fingerprint checkpoints taken while it ran. */
export interface CapturedRun {
  readonly result: RunResult;
  readonly checkpoints: readonly string[];
}

/**
 * A sink that keeps its own fingerprint of the events it sees — the same events, in the same order,
 * as the bus's — and records its hex every {@link CHECKPOINT_EVENTS} events.
 */
export function checkpointSink(into: string[]): TraceSink {
  const fingerprint = new Fingerprint();
  return (event) => {
    fingerprint.add(event);
    if (fingerprint.count % CHECKPOINT_EVENTS === 0) into.push(fingerprint.hex());
  };
}

/**
 * Runs the scenario with a checkpoint sink added to `options.sinks`.
 * @throws what {@link runScenario} throws.
 */
export function captureRun(loaded: LoadedScenario, options: RunOptions = {}): CapturedRun {
  const checkpoints: string[] = [];
  const result = runScenario(loaded, { ...options, sinks: [...(options.sinks ?? []), checkpointSink(checkpoints)] });
  return { result, checkpoints };
}

/**
 * The faults as struck: each window replaced by the time the run drew (from the reports, which
 * follow the fault list's order), so a replay draws nothing.
 * @throws Error when the reports do not match the faults (a runner bug).
 */
export function pinFaults(faults: readonly Fault[], result: RunResult): Fault[] {
  if (faults.length !== result.faults.length) throw new Error(`pinFaults: ${faults.length} faults but ${result.faults.length} reports`);
  return faults.map((f, i) => {
    const atPs = (result.faults[i] as RunResult["faults"][number]).atPs;
    const atUs = atPs / 1e6;
    if (us(atUs) !== atPs) throw new Error(`pinFaults: ${atPs} ps does not survive the µs round trip`);
    const { windowUs: _window, atUs: _at, ...rest } = f as Fault & { windowUs?: unknown; atUs?: unknown };
    return { ...rest, atUs } as Fault;
  });
}

/**
 * Freezes a captured run into a capsule.
 * @param faults the faults the run used (the scenario's, or `RunOptions.faults`).
 */
export function makeCapsule(loaded: LoadedScenario, faults: readonly Fault[], run: CapturedRun, version: string): Capsule {
  const { result } = run;
  const scenario: Scenario = { ...loaded.scenario, topology: loaded.topologySpec, faults: pinFaults(faults, result) };
  return {
    format: CAPSULE_FORMAT,
    p2psim: version,
    scenario,
    seed: result.seed,
    profile: result.profile,
    mutants: [...result.mutants],
    windows: faults.map((f) => ("windowUs" in f ? ([f.windowUs[0], f.windowUs[1]] as const) : null)),
    result: {
      verdict: result.verdict,
      invariants: result.violations.map((v) => v.invariant),
      fingerprint: result.fingerprint,
      events: result.events,
      checkpoints: [...run.checkpoints],
    },
  };
}
