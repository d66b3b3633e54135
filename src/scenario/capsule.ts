/**
 * The replay capsule: one run frozen into a self-contained JSON value — the scenario with its
 * topology inlined and every fault pinned to the time the run drew, the seed and kernel, the
 * p2psim version, and what the run gave (verdict, broken invariants, fingerprint, event count and a
 * fingerprint checkpoint every {@link CHECKPOINT_EVENTS} events). A capsule replays without a
 * scenario file and without redrawing anything; when a replay differs, the checkpoints say in which
 * window of events it first parted [DESIGN.md "Scenarios, checks, exploration"]. This module reads
 * and replays capsules; the format and the freezing are capsule-freeze.ts's, re-exported here.
 */
import { INVARIANT_IDS } from "../check/monitor.js";
import { RngStream } from "../fabric/rng.js";
import { us } from "../fabric/time.js";
import { CAPSULE_FORMAT, type Capsule, type CapturedRun, CHECKPOINT_EVENTS, captureRun } from "./capsule-freeze.js";
import { checkScenario, type LoadedScenario, type ScenarioIssue } from "./load-scenario.js";
import { drawFaultTime, faultStreamName } from "./run-scenario.js";
import { type Fault, KERNEL_MUTANTS, KERNEL_PROFILES } from "./scenario.js";

export {
  CAPSULE_FORMAT,
  type Capsule,
  type CapsuleResult,
  type CapturedRun,
  CHECKPOINT_EVENTS,
  captureRun,
  checkpointSink,
  makeCapsule,
  pinFaults,
} from "./capsule-freeze.js";

/** A capsule ready to replay: the capsule and its scenario loaded. */
export interface LoadedCapsule {
  readonly capsule: Capsule;
  readonly loaded: LoadedScenario;
}

type Check = (value: unknown) => string | undefined;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const oneOf =
  (names: readonly string[]): Check =>
  (v) =>
    typeof v === "string" && names.includes(v) ? undefined : `expected one of ${names.join(", ")}`;
const hex16: Check = (v) => (typeof v === "string" && /^[0-9a-f]{16}$/.test(v) ? undefined : "expected 16 lower-case hex digits");
const count: Check = (v) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? undefined : "expected a non-negative integer");
const text: Check = (v) => (typeof v === "string" && v.length > 0 ? undefined : "expected a non-empty string");

/** The first problem of `value` with `check` applied to each item, with the item's path. */
function eachOf(value: unknown, path: string, check: Check): [string, string] | undefined {
  if (!Array.isArray(value)) return [path, "expected an array"];
  for (const [i, item] of value.entries()) {
    const problem = check(item);
    if (problem !== undefined) return [`${path}[${i}]`, problem];
  }
  return undefined;
}

/** The capsule's own fields (not the scenario) checked: the first problem as `[path, expectation]`. */
function capsuleProblem(value: unknown): [string, string] | undefined {
  if (!isObject(value)) return ["$", "expected a JSON object (a p2psim replay capsule)"];
  if (value.format !== CAPSULE_FORMAT) return ["$.format", `expected "${CAPSULE_FORMAT}"`];
  const fields: Array<[string, unknown, Check]> = [
    ["$.p2psim", value.p2psim, text],
    ["$.seed", value.seed, count],
    ["$.profile", value.profile, oneOf(KERNEL_PROFILES)],
  ];
  for (const [path, v, check] of fields) {
    const problem = check(v);
    if (problem !== undefined) return [path, problem];
  }
  const mutants = eachOf(value.mutants, "$.mutants", oneOf(KERNEL_MUTANTS));
  if (mutants !== undefined) return mutants;
  if (!isObject(value.scenario)) return ["$.scenario", "expected a scenario object"];
  const r = value.result;
  if (!isObject(r)) return ["$.result", "expected an object"];
  const resultFields: Array<[string, unknown, Check]> = [
    ["$.result.verdict", r.verdict, oneOf(["pass", "violation"])],
    ["$.result.fingerprint", r.fingerprint, hex16],
    ["$.result.events", r.events, count],
  ];
  for (const [path, v, check] of resultFields) {
    const problem = check(v);
    if (problem !== undefined) return [path, problem];
  }
  const windows = eachOf(value.windows, "$.windows", (w) =>
    w === null || (Array.isArray(w) && w.length === 2 && w.every((x) => typeof x === "number" && x >= 0)) ? undefined : "expected null or [from, to] in µs",
  );
  if (windows !== undefined) return windows;
  const faults = value.scenario.faults;
  if ((value.windows as unknown[]).length !== (Array.isArray(faults) ? faults.length : 0))
    return ["$.windows", "expected one entry per fault of $.scenario.faults"];
  const lists = [eachOf(r.invariants, "$.result.invariants", oneOf(INVARIANT_IDS)), eachOf(r.checkpoints, "$.result.checkpoints", hex16)];
  return lists.find((p) => p !== undefined);
}

/**
 * Reads a capsule from its JSON text: the capsule's fields, then its scenario as a scenario file
 * would be checked (paths under `$.scenario`), and every fault must be pinned (`atUs`).
 * @param file the name to use in errors.
 * @returns the capsule and its loaded scenario, or the problems (file, JSON path, expectation).
 */
export function readCapsule(textValue: string, file: string): { ok: true; capsule: LoadedCapsule } | { ok: false; errors: ScenarioIssue[] } {
  let value: unknown;
  try {
    value = JSON.parse(textValue);
  } catch (error) {
    return { ok: false, errors: [{ file, message: `not valid JSON: ${(error as Error).message}` }] };
  }
  const problem = capsuleProblem(value);
  if (problem !== undefined) return { ok: false, errors: [{ file, jsonPath: problem[0], message: problem[1] }] };
  const capsule = value as Capsule;
  // A capsule is self-contained: a topology path would name a file the capsule does not carry.
  const checked = checkScenario(capsule.scenario, file, () => undefined);
  if (!checked.ok) {
    const under = (e: ScenarioIssue): ScenarioIssue =>
      e.file === file && e.jsonPath !== undefined ? { ...e, jsonPath: `$.scenario${e.jsonPath.slice(1)}` } : e;
    return { ok: false, errors: checked.errors.map(under) };
  }
  const windowed = (capsule.scenario.faults ?? []).findIndex((f) => !("atUs" in f));
  if (windowed >= 0)
    return { ok: false, errors: [{ file, jsonPath: `$.scenario.faults[${windowed}]`, message: 'expected a pinned time ("atUs"), not a window' }] };
  return { ok: true, capsule: { capsule, loaded: checked.loaded } };
}

/** How a replay compares with its capsule. */
export interface ReplayComparison {
  readonly reproduced: boolean;
  /** Each difference, as a sentence. */
  readonly differences: readonly string[];
  /** The first checkpoint window whose fingerprints differ, as event positions `[from, to)`; undefined when none differs. */
  readonly firstDifferingWindow?: readonly [number, number];
}

/**
 * Each pinned fault time the capsule's seed would not draw from its window — drawn as the runner
 * draws it, from the seed's `faults/<i>` stream [run-scenario.ts `faultTimes`] — as a sentence.
 */
export function drawDifferences(capsule: Capsule): string[] {
  const faults = capsule.scenario.faults ?? [];
  return capsule.windows.flatMap((w, i) => {
    const f = faults[i] as Fault & { atUs: number };
    if (w === null) return [];
    const drawn = drawFaultTime(new RngStream(capsule.seed, faultStreamName(i)), w);
    return drawn === us(f.atUs)
      ? []
      : [`fault ${i} (${f.fault} ${f.target}): the capsule struck at ${f.atUs} µs, seed ${capsule.seed} draws ${drawn / 1e6} µs from [${w[0]}, ${w[1]}]`];
  });
}

/** Compares a replay with the capsule it came from. */
export function compareReplay(capsule: Capsule, replay: CapturedRun, version: string): ReplayComparison {
  const want = capsule.result;
  const got = replay.result;
  const draws = drawDifferences(capsule);
  const differences: string[] = [...draws];
  if (capsule.p2psim !== version) differences.push(`p2psim version: capsule ${capsule.p2psim}, replay ${version}`);
  if (want.verdict !== got.verdict) differences.push(`verdict: capsule ${want.verdict}, replay ${got.verdict}`);
  const invariants = got.violations.map((v) => v.invariant);
  if (want.invariants.join(",") !== invariants.join(",")) {
    differences.push(`invariants broken: capsule ${want.invariants.join(", ") || "none"}, replay ${invariants.join(", ") || "none"}`);
  }
  if (want.events !== got.events) differences.push(`events: capsule ${want.events}, replay ${got.events}`);
  if (want.fingerprint !== got.fingerprint) differences.push(`fingerprint: capsule ${want.fingerprint}, replay ${got.fingerprint}`);
  let window: [number, number] | undefined;
  const shared = Math.min(want.checkpoints.length, replay.checkpoints.length);
  const k = want.checkpoints.findIndex((c, i) => i < shared && c !== replay.checkpoints[i]);
  if (k >= 0) window = [k * CHECKPOINT_EVENTS, (k + 1) * CHECKPOINT_EVENTS];
  else if (want.fingerprint !== got.fingerprint) window = [shared * CHECKPOINT_EVENTS, Math.max(want.events, got.events)];
  if (window !== undefined) differences.push(`the traces first differ within events ${window[0]}..${window[1] - 1}`);
  const reproduced = want.fingerprint === got.fingerprint && want.events === got.events && draws.length === 0;
  return { reproduced, differences, ...(window === undefined ? {} : { firstDifferingWindow: window }) };
}

/**
 * Reruns a loaded capsule: its seed and kernel, its pinned faults.
 * @throws what {@link runScenario} throws.
 */
export function replayCapsule(capsule: LoadedCapsule): CapturedRun {
  const { seed, profile, mutants } = capsule.capsule;
  return captureRun(capsule.loaded, { seed, profile, mutants });
}
