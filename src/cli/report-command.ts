/**
 * `p2psim report RESULT.json -o report.html`: the self-contained HTML report of a run, an explore
 * or a perf result (the JSON those commands print with `--json`, or explore's summary.json), and
 * the pieces `run`, `explore` and `perf --report FILE` use to write the same page directly: the
 * scenario's machine as the JSON carries it, the shrunk first failure of a sweep, and the atomic
 * write. Exit 0 written, 2 when the input cannot be read or is none of the three kinds.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { renderExploreReport } from "../io/report-explore.js";
import { detectReportInput, type ShrunkFailure } from "../io/report-input.js";
import { renderPerfReport } from "../io/report-perf.js";
import { renderRunReport } from "../io/report-run.js";
import { type ReportTopology, reportTopology } from "../io/report-topology.js";
import type { P2pdmaProfile } from "../pci/p2pdma-map-type.js";
import type { Capsule } from "../scenario/capsule.js";
import { readCapsule } from "../scenario/capsule.js";
import type { LoadedScenario } from "../scenario/load-scenario.js";
import { shrinkCapsule } from "../scenario/shrink.js";
import { writeFileAtomic } from "./atomic-file.js";
import { scenarioYaml } from "./shrink-command.js";

/** Options of `report`, as parsed. */
export interface ReportCommandOptions {
  readonly file: string;
  /** Default: the input's name with `.html`. */
  readonly output?: string;
}

/**
 * The scenario's machine for the report: the topology tree and the map type of every exported
 * BAR's device (the provider) towards every NIC a workload drives (the client), under the
 * p2pdma rules of the run's kernel profile.
 */
export function scenarioTopology(loaded: LoadedScenario, kernelProfile: string): ReportTopology {
  const { scenario, topology } = loaded;
  const exporters = [...new Set(scenario.exports.map((e) => e.device))];
  const importers = [...new Set(scenario.workloads.map((w) => w.nic))];
  const p2pdma: P2pdmaProfile = kernelProfile === "p2pdma-v4.20" ? "p2pdma-v4.20" : "current";
  return reportTopology(
    topology,
    exporters.flatMap((exporter) => importers.map((importer) => ({ exporter, importer }))),
    p2pdma,
  );
}

/**
 * Shrinks a sweep's first failing capsule for the report (each try is one run of the scenario).
 * @param topologyPath shown instead of the capsule's inline topology (the scenario file's own `topology` path).
 * @returns undefined when the capsule cannot be read back or shrunk (the report then says there is none).
 */
export function shrinkForReport(capsule: Capsule, seed: number, version: string, topologyPath?: string): ShrunkFailure | undefined {
  const read = readCapsule(JSON.stringify(capsule), `capsule-${seed}.json`);
  if (!read.ok) return undefined;
  const shrunk = shrinkCapsule(read.capsule, `capsule-${seed}.json`, version);
  if (!shrunk.ok) return undefined;
  const { scenario, invariant, runs, kept } = shrunk.shrunk;
  // A capsule carries its machine inline; shown, a path to the scenario's own topology file reads better.
  return { seed, invariant, runs, kept, yaml: scenarioYaml(topologyPath === undefined ? scenario : { ...scenario, topology: topologyPath }) };
}

/**
 * Renders the report of a parsed JSON value.
 * @returns the HTML, or what the value is not.
 */
export function renderReport(value: unknown): { ok: true; html: string; kind: "run" | "explore" | "perf" } | { ok: false; message: string } {
  const input = detectReportInput(value);
  if (!input.ok) return input;
  if (input.kind === "run") return { ok: true, kind: "run", html: renderRunReport(input.run) };
  if (input.kind === "explore") return { ok: true, kind: "explore", html: renderExploreReport(input.explore) };
  return { ok: true, kind: "perf", html: renderPerfReport(input.perf) };
}

/** Runs the command. Returns the exit code. */
export function reportCommand(o: ReportCommandOptions, print: (text: string) => void, printError: (text: string) => void): number {
  let text: string;
  try {
    text = readFileSync(o.file, "utf8");
  } catch (error) {
    printError(`${o.file}: cannot read the result: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return 2;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    printError(`${o.file}: not valid JSON (${(error as Error).message}); expected the JSON of p2psim run, explore or perf --json`);
    return 2;
  }
  const rendered = renderReport(value);
  if (!rendered.ok) {
    printError(`${o.file}: ${rendered.message}`);
    return 2;
  }
  const output = o.output ?? `${o.file.replace(/\.json$/i, "")}.html`;
  writeFileAtomic(output, rendered.html);
  print(`wrote the ${rendered.kind} report of ${basename(o.file)} to ${output}`);
  return 0;
}
