/**
 * `p2psim run SCENARIO` (and `npm start`, which runs the flagship): one run of a scenario under a
 * seed and a kernel, with a readable verdict — or the `--json` report — and exit code 0 (clean),
 * 1 (a violation) or 2 (bad input).
 */
import { formatTime } from "../fabric/time.js";
import { faultEffects } from "../io/fault-effects.js";
import { traceRecorder } from "../io/perfetto-run.js";
import { renderRunReport } from "../io/report-run.js";
import { TimelineRecorder } from "../io/report-timeline.js";
import { checkDeterminism } from "../scenario/determinism.js";
import type { RunResult } from "../scenario/run-scenario.js";
import { runScenario } from "../scenario/run-scenario.js";
import type { KernelMutant, KernelProfile, Scenario } from "../scenario/scenario.js";
import { AtomicFile, writeFileAtomic } from "./atomic-file.js";
import { loadScenarioFile } from "./load-scenario-file.js";
import { scenarioTopology } from "./report-command.js";
import { renderTable } from "./table.js";

/** Options of `run`, as parsed. */
export interface RunCommandOptions {
  readonly file: string;
  readonly seed?: number;
  readonly profile?: KernelProfile;
  readonly mutants?: readonly KernelMutant[];
  readonly json: boolean;
  readonly trace?: string;
  /** Also write the HTML report to this file. */
  readonly report?: string;
  readonly checkDeterminism: boolean;
}

/** What the scenario says the verdict should be under this kernel, if it says. */
export function expectedVerdict(scenario: Scenario, result: RunResult): { readonly verdict: "pass" | "violation"; readonly invariant?: string } | undefined {
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((m) => b.includes(m));
  return scenario.expect?.find((e) => (e.profile ?? "default") === result.profile && same(e.mutants ?? [], result.mutants));
}

/** Whether the result matches the scenario's expectation (true when there is none). */
export function meetsExpectation(scenario: Scenario, result: RunResult): boolean {
  const expected = expectedVerdict(scenario, result);
  if (expected === undefined) return true;
  if (expected.verdict !== result.verdict) return false;
  return expected.invariant === undefined || result.violations.some((v) => v.invariant === expected.invariant);
}

/** One chain event as a line: time, layer/kind, then its fields. */
export function chainLine(event: { readonly t: number; readonly layer: string; readonly kind: string; readonly [k: string]: unknown }): string {
  const { t, seq: _seq, layer, kind, ...fields } = event;
  const detail = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" ");
  return `${formatTime(t).padStart(12)}  ${layer}/${kind}  ${detail}`;
}

function replayHint(o: RunCommandOptions, result: RunResult): string {
  const mutants = result.mutants.map((m) => ` --mutant ${m}`).join("");
  return `p2psim run ${o.file} --seed ${result.seed} --profile ${result.profile}${mutants}`;
}

function humanReport(o: RunCommandOptions, scenario: Scenario, r: RunResult, version: string): string {
  const lines = [
    `p2psim ${version} — scenario ${r.scenario} (${o.file})`,
    `goal: ${scenario.goal}`,
    `seed ${r.seed} · profile ${r.profile} · mutants ${r.mutants.length === 0 ? "none" : r.mutants.join(", ")} · ${formatTime(scenario.budget.safetyUs * 1e6)} safety + ${formatTime(scenario.budget.livenessUs * 1e6)} liveness simulated`,
    "",
    ...r.workloads.map((w) => `program  ${w}`),
  ];
  if (r.faults.length > 0) {
    const rows = r.faults.map((f) => [f.fault, f.target, formatTime(f.atPs), f.result, faultEffects(f), f.affected ? "yes" : "no"]);
    lines.push(
      "",
      renderTable(
        [
          { header: "fault" },
          { header: "target" },
          { header: "at", alignRight: true },
          { header: "result" },
          { header: "effects from then on" },
          { header: "affected" },
        ],
        rows,
      ),
    );
  }
  const hit = Object.entries(r.probes).filter(([, n]) => n > 0);
  lines.push(
    "",
    `probes hit: ${hit.length === 0 ? "none" : hit.map(([p, n]) => `${p} ×${n}`).join(", ")}`,
    `measurements: ${Object.entries(r.measurements)
      .map(([k, v]) => `${k} ${v}`)
      .join(" · ")}`,
  );
  if (r.unmonitored.length > 0) lines.push(`not monitored yet: ${r.unmonitored.join(" ")}`);
  lines.push(`fingerprint ${r.fingerprint}${o.trace ? ` · trace written to ${o.trace}` : ""}${o.report ? ` · report written to ${o.report}` : ""}`);
  const first = r.violations[0];
  if (first === undefined) lines.push("verdict: PASS — no invariant was broken.");
  else {
    lines.push(`verdict: VIOLATION of ${r.violations.map((v) => v.invariant).join(", ")}`);
    for (const v of r.violations) {
      lines.push("", `${v.invariant} at ${formatTime(v.timePs)}: ${v.message}`, "  causal chain:", ...v.chain.map((e) => `  ${chainLine(e)}`));
    }
    lines.push("", `replay: ${replayHint(o, r)}`);
  }
  const expected = expectedVerdict(scenario, r);
  if (expected !== undefined) {
    const what = `${expected.verdict}${expected.invariant ? ` (${expected.invariant})` : ""}`;
    lines.push(
      meetsExpectation(scenario, r)
        ? `as expected: the scenario expects ${what} under this kernel.`
        : `UNEXPECTED: the scenario expects ${what} under this kernel.`,
    );
  }
  return lines.join("\n");
}

/**
 * Runs the command. Returns the exit code: 0 clean, 1 violation (or a determinism failure), 2 bad input.
 */
export function runCommand(o: RunCommandOptions, version: string, print: (text: string) => void, printError: (text: string) => void): number {
  const loaded = loadScenarioFile(o.file);
  if (!loaded.ok) {
    for (const line of loaded.lines) printError(line);
    return 2;
  }
  const options = {
    ...(o.seed === undefined ? {} : { seed: o.seed }),
    ...(o.profile === undefined ? {} : { profile: o.profile }),
    ...(o.mutants === undefined || o.mutants.length === 0 ? {} : { mutants: o.mutants }),
  };
  const traceFile = o.trace === undefined ? undefined : new AtomicFile(o.trace);
  // The report's timeline and machine ride in the JSON, so `p2psim report` draws them from it too.
  const timeline = new TimelineRecorder(loaded.loaded.scenario.budget.safetyUs * 1e6);
  let result: RunResult;
  try {
    // `--trace x.jsonl`: every event as a JSON line; any other name: a Chrome JSON trace (Perfetto).
    const recorder = traceFile ? traceRecorder(traceFile.path, (text) => traceFile.write(text)) : undefined;
    const sinks = [timeline.sink, ...(recorder?.sinks ?? [])];
    result = runScenario(loaded.loaded, { ...options, sinks, ...(recorder?.observeWorld ? { observeWorld: recorder.observeWorld } : {}) });
    recorder?.finish(result);
    traceFile?.commit();
  } finally {
    traceFile?.abort();
  }
  const determinism = o.checkDeterminism ? checkDeterminism(loaded.loaded, options) : undefined;
  const scenario = loaded.loaded.scenario;
  const extras = { topology: scenarioTopology(loaded.loaded, result.profile), timeline: timeline.timeline() };
  if (o.report !== undefined) writeFileAtomic(o.report, renderRunReport({ ...result, p2psim: version, ...extras }));
  if (o.json) {
    print(
      JSON.stringify(
        {
          ...result,
          p2psim: version,
          ...extras,
          ...(determinism ? { deterministic: determinism.deterministic, divergence: determinism.divergence ?? null } : {}),
        },
        null,
        2,
      ),
    );
  } else {
    print(humanReport(o, scenario, result, version));
    if (determinism) {
      const d = determinism.divergence;
      print(
        determinism.deterministic
          ? "determinism: the seed run twice gave the same trace."
          : `determinism: FAILED — the two runs part at event ${d?.seq}:\n  first:  ${d?.first ?? "(ended)"}\n  second: ${d?.second ?? "(ended)"}`,
      );
    }
  }
  if (determinism && !determinism.deterministic) return 1;
  return result.verdict === "pass" ? 0 : 1;
}
