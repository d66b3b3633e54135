/**
 * The inputs of the HTML report: the JSON that `p2psim run`, `explore` and `perf` print with
 * `--json`, recognised by their shape. The types here are the parts the report reads, declared
 * structurally so that src/io need not import the scenario layer; {@link detectReportInput}
 * checks those parts before the report trusts them (an expected failure is a value).
 */
import type { ReportTimeline } from "./report-timeline.js";
import type { ReportTopology } from "./report-topology.js";

/** One trace event of a causal chain. */
export interface ChainEvent {
  readonly t: number;
  readonly seq?: number;
  readonly layer: string;
  readonly kind: string;
  readonly [field: string]: unknown;
}

/** The parts of `run --json` the report reads. */
export interface RunReportInput {
  readonly p2psim?: string;
  readonly scenario: string;
  readonly seed: number;
  readonly profile: string;
  readonly mutants: readonly string[];
  readonly verdict: "pass" | "violation";
  readonly fingerprint: string;
  readonly violations: ReadonlyArray<{ readonly invariant: string; readonly timePs: number; readonly message: string; readonly chain: readonly ChainEvent[] }>;
  readonly probes: Readonly<Record<string, number>>;
  readonly measurements: Readonly<Record<string, number | string>>;
  /** Each fault as struck: its fields are shown as they are. */
  readonly faults: readonly object[];
  readonly workloads: readonly string[];
  readonly events: number;
  readonly endPs: number;
  readonly topology?: ReportTopology;
  readonly timeline?: ReportTimeline;
}

/** One seed of a sweep. */
export interface SeedRow {
  readonly seed: number;
  readonly verdict: "pass" | "violation";
  readonly fingerprint: string;
  readonly invariants: readonly string[];
  readonly events: number;
  /** Simulated end time, ps (absent in summaries written before it was recorded). */
  readonly endPs?: number;
  readonly swarm?: readonly number[];
  readonly divergence?: { readonly seq: number } | null;
}

/** The shrunk first failure `explore --report` adds. */
export interface ShrunkFailure {
  readonly seed: number;
  readonly invariant: string;
  readonly runs: number;
  readonly kept: readonly string[];
  /** The shrunk scenario as YAML. */
  readonly yaml: string;
}

/** The parts of `explore --json` (and `summary.json`) the report reads. */
export interface ExploreReportInput {
  readonly p2psim?: string;
  readonly scenario: string;
  readonly seeds: string;
  readonly shard: string | null;
  readonly swarm: boolean;
  readonly profile: string;
  readonly mutants: readonly string[];
  readonly stoppedAt: number | null;
  readonly totals: { readonly seeds: number; readonly pass: number; readonly violation: number; readonly events: number; readonly nondeterministic: number };
  readonly invariants: Readonly<Record<string, number>>;
  readonly probes: { readonly hit: Readonly<Record<string, number>>; readonly neverHit: readonly string[] };
  readonly failingSeeds: readonly number[];
  readonly perSeed: readonly SeedRow[];
  readonly topology?: ReportTopology;
  readonly shrunk?: ShrunkFailure;
}

/** One row of `perf --json`. */
export interface PerfReportRow {
  readonly size: number;
  readonly op: string;
  readonly goodputGbps: number;
  readonly goodputGBps: number;
  readonly transactionsPerSec: number;
  readonly latencyNsMedian: number;
  readonly latencyNsP99: number;
  /** The pcie-bench model's ceiling for the same link settings (the `--link` form). */
  readonly modelGbps?: number;
}

/** The parts of `perf --json` the report reads (the link form has `link`, the topology form `from`/`to`). */
export interface PerfReportInput {
  readonly link?: { readonly name?: string; readonly gen: number; readonly lanes: number; readonly mps: number; readonly mrrs: number };
  readonly from?: string;
  readonly to?: string;
  readonly mapType?: string;
  readonly iommu?: string;
  readonly route?: string;
  readonly ideal: boolean;
  readonly profile: string | null;
  readonly rows: readonly PerfReportRow[];
}

/** A recognised input, or why not. */
export type ReportInput =
  | { readonly ok: true; readonly kind: "run"; readonly run: RunReportInput }
  | { readonly ok: true; readonly kind: "explore"; readonly explore: ExploreReportInput }
  | { readonly ok: true; readonly kind: "perf"; readonly perf: PerfReportInput }
  | { readonly ok: false; readonly message: string };

/** What the three kinds look like, for the message when the input is none of them. */
export const REPORT_INPUT_EXPECTED =
  "expected the JSON printed by `p2psim run --json` (verdict, fingerprint, violations), `p2psim explore --json` or its summary.json (totals, perSeed), or `p2psim perf --json` (rows of size and goodputGbps)";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function runProblem(v: Record<string, unknown>): string | undefined {
  if (v.verdict !== "pass" && v.verdict !== "violation") return "verdict must be pass or violation";
  if (typeof v.scenario !== "string" || typeof v.fingerprint !== "string" || !isNumber(v.seed)) return "scenario, seed and fingerprint are required";
  if (!Array.isArray(v.violations) || !v.violations.every((x) => isObject(x) && typeof x.invariant === "string" && Array.isArray(x.chain)))
    return "violations must be a list of { invariant, timePs, message, chain }";
  if (!isObject(v.probes) || !isObject(v.measurements) || !Array.isArray(v.faults) || !Array.isArray(v.workloads))
    return "probes, measurements, faults and workloads are required";
  return undefined;
}

function exploreProblem(v: Record<string, unknown>): string | undefined {
  if (!isObject(v.totals) || !Array.isArray(v.perSeed)) return "totals and perSeed are required";
  if (!v.perSeed.every((s) => isObject(s) && isNumber(s.seed) && (s.verdict === "pass" || s.verdict === "violation")))
    return "perSeed must be a list of { seed, verdict, … }";
  if (!isObject(v.probes) || !isObject(v.probes.hit) || !Array.isArray(v.probes.neverHit)) return "probes must be { hit, neverHit }";
  if (typeof v.scenario !== "string" || typeof v.seeds !== "string") return "scenario and seeds are required";
  return undefined;
}

function perfProblem(v: Record<string, unknown>): string | undefined {
  if (!Array.isArray(v.rows) || v.rows.length === 0) return "rows must be a non-empty list";
  if (!v.rows.every((r) => isObject(r) && isNumber(r.size) && r.size > 0 && isNumber(r.goodputGbps) && isNumber(r.latencyNsMedian) && isNumber(r.latencyNsP99)))
    return "each row needs size (> 0), goodputGbps, latencyNsMedian and latencyNsP99";
  return undefined;
}

/**
 * Recognises a parsed JSON value as a run, an explore or a perf result. A value with a kind's
 * distinguishing key but a broken shape is refused with what is wrong, naming the kind.
 */
export function detectReportInput(value: unknown): ReportInput {
  if (!isObject(value)) return { ok: false, message: `the file holds no JSON object; ${REPORT_INPUT_EXPECTED}` };
  if ("perSeed" in value || "totals" in value) {
    const problem = exploreProblem(value);
    return problem === undefined
      ? { ok: true, kind: "explore", explore: value as unknown as ExploreReportInput }
      : { ok: false, message: `an explore summary, but ${problem}` };
  }
  if ("verdict" in value || "violations" in value) {
    const problem = runProblem(value);
    return problem === undefined ? { ok: true, kind: "run", run: value as unknown as RunReportInput } : { ok: false, message: `a run result, but ${problem}` };
  }
  if ("rows" in value) {
    const problem = perfProblem(value);
    return problem === undefined
      ? { ok: true, kind: "perf", perf: value as unknown as PerfReportInput }
      : { ok: false, message: `a perf result, but ${problem}` };
  }
  return { ok: false, message: `not a run, explore or perf result; ${REPORT_INPUT_EXPECTED}` };
}
