/**
 * `--check-determinism`: a seed run twice must give the same trace. When the fingerprints differ,
 * the first event where the two traces part says where the model let something other than the
 * seed decide (an iteration over an unordered set, a wall clock, shared state between runs).
 */
import { traceEventLine } from "../io/jsonl.js";
import type { LoadedScenario } from "./load-scenario.js";
import { type RunOptions, type RunResult, runScenario } from "./run-scenario.js";

/** Two runs of one seed, compared. */
export interface DeterminismCheck {
  readonly first: RunResult;
  readonly deterministic: boolean;
  /** The first diverging event: its position and both runs' lines (`undefined`: that run had ended). */
  readonly divergence?: { readonly seq: number; readonly first: string | undefined; readonly second: string | undefined };
}

/**
 * Runs the scenario twice with the same options and compares the traces event by event.
 * @throws what {@link runScenario} throws.
 */
export function checkDeterminism(loaded: LoadedScenario, options: RunOptions = {}): DeterminismCheck {
  const lines: [string[], string[]] = [[], []];
  const runs = lines.map((into) => runScenario(loaded, { ...options, sinks: [...(options.sinks ?? []), (e) => into.push(traceEventLine(e))] }));
  const [a, b] = lines;
  const first = runs[0] as RunResult;
  if (first.fingerprint === runs[1]?.fingerprint && a.length === b.length) return { first, deterministic: true };
  let seq = 0;
  while (seq < a.length && seq < b.length && a[seq] === b[seq]) seq++;
  return { first, deterministic: false, divergence: { seq, first: a[seq]?.trimEnd(), second: b[seq]?.trimEnd() } };
}
