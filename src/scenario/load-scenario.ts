/**
 * Reading a scenario file: JSON or YAML text, checked against {@link SCENARIO_SCHEMA}, its
 * topology resolved (inline, or a file relative to the scenario) and built, and every name it uses
 * (devices, NICs, fault targets) checked against that topology — all before anything runs. Every
 * error names the file, the JSON path and what was expected (exit 2 at the command line).
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { LineCounter, parseDocument } from "yaml";
import { importTopologyDocument, jsonPathOf, schemaExpectation } from "../io/topology-file.js";
import { buildTopology } from "../pci/build-topology.js";
import type { Topology } from "../pci/topology.js";
import type { TopologySpec } from "../pci/topology-spec.js";
import type { Scenario } from "./scenario.js";
import { SCENARIO_SCHEMA } from "./scenario-schema.js";

/**
 * The scenario schema's validator, compiled on first use: compiling costs about 60 ms, and the
 * worker threads of `explore --jobs` import this module (through capsules) without validating.
 */
let validator: ValidateFunction<Scenario> | undefined;
function schemaErrors(value: unknown): ErrorObject[] {
  validator ??= new Ajv2020({ allErrors: true, strict: true, discriminator: true }).compile<Scenario>(SCENARIO_SCHEMA);
  return validator(value) ? [] : (validator.errors ?? []);
}

/** A located problem with a scenario file. */
export interface ScenarioIssue {
  readonly file: string;
  /** Where in the document, like `$.faults[2].windowUs`. */
  readonly jsonPath?: string;
  readonly line?: number;
  readonly message: string;
}

/** A scenario ready to run: the document, its topology document and the built topology. */
export interface LoadedScenario {
  readonly scenario: Scenario;
  readonly file: string;
  readonly topologySpec: TopologySpec;
  readonly topology: Topology;
}

/** Reads a file named by a scenario, relative to it; undefined when it cannot be read. */
export type ReadRelative = (path: string) => { readonly file: string; readonly text: string } | undefined;

/** Parses JSON or YAML text into a plain value. */
function parse(text: string, file: string): { ok: true; value: unknown } | { ok: false; error: ScenarioIssue } {
  if (text.trimStart().startsWith("{")) {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (error) {
      return { ok: false, error: { file, message: `not valid JSON: ${(error as Error).message}` } };
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter });
  const problem = doc.errors[0];
  if (problem)
    return { ok: false, error: { file, line: lineCounter.linePos(problem.pos[0]).line, message: `not valid YAML: ${problem.message.split("\n")[0]}` } };
  return { ok: true, value: doc.toJS() };
}

/** The schema errors of `value`, deepest first. */
function schemaIssues(value: unknown, file: string): ScenarioIssue[] {
  return (
    schemaErrors(value)
      // A fault's "exactly one of atUs/windowUs" says it all; its branches' own `required` errors would only confuse.
      .filter((e) => !e.schemaPath.startsWith("#/properties/faults/items/oneOf/"))
      .map((e) => ({
        file,
        jsonPath: jsonPathOf(e.instancePath),
        message: e.keyword === "oneOf" && e.instancePath.includes("/faults/") ? 'expected exactly one of "atUs" or "windowUs"' : schemaExpectation(e),
      }))
      .sort((a, b) => b.jsonPath.length - a.jsonPath.length)
  );
}

/** Checks the names and numbers the schema cannot: labels exist in the topology, windows are ordered and inside the safety phase. */
/** Faults of the fabric itself: their target is any function or port of the topology. */
const FABRIC_FAULTS: ReadonlySet<string> = new Set(["link-down", "link-retrain", "completion-timeout", "acs-change"]);

function semanticIssues(scenario: Scenario, topology: Topology, file: string): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  const known = (name: string, path: string, what: string) => {
    if (topology.find(name) === undefined) issues.push({ file, jsonPath: path, message: `expected ${what} of the topology, found "${name}"` });
  };
  scenario.exports.forEach((e, i) => {
    known(e.device, `$.exports[${i}].device`, "a device label");
    const bar = topology.find(e.device)?.bars.find((b) => b.index === e.bar);
    if (topology.find(e.device) && bar === undefined) issues.push({ file, jsonPath: `$.exports[${i}].bar`, message: `expected a memory BAR of ${e.device}` });
    if (bar && (e.bytes ?? 2 ** 21) > bar.sizeBytes)
      issues.push({ file, jsonPath: `$.exports[${i}].bytes`, message: `expected at most ${bar.sizeBytes} (the BAR's size)` });
  });
  for (const [i, w] of scenario.workloads.entries()) known(w.nic, `$.workloads[${i}].nic`, "a NIC label");
  const opened = new Set(scenario.exports.map((e) => e.device));
  for (const [i, f] of (scenario.faults ?? []).entries()) {
    // A stalled consumer, a slow importer or an IOMMU unmap of an importer's mappings is a NIC's; link and
    // ACS faults hit any function or port of the machine; every other fault hits a device opened through vfio-pci.
    if (f.fault === "cq-overflow" || f.fault === "slow-importer" || f.fault === "iommu-unmap") known(f.target, `$.faults[${i}].target`, "a NIC label");
    else if (FABRIC_FAULTS.has(f.fault)) known(f.target, `$.faults[${i}].target`, "a device or port label");
    else if (!opened.has(f.target))
      issues.push({ file, jsonPath: `$.faults[${i}].target`, message: `expected an exported device (${[...opened].join(", ")}), found "${f.target}"` });
    if (f.fault === "link-retrain" && f.width === undefined)
      issues.push({ file, jsonPath: `$.faults[${i}]`, message: 'expected "width" (the width the link trains to)' });
    if (f.fault === "acs-change" && (f.acsSet ?? []).length + (f.acsClear ?? []).length === 0)
      issues.push({ file, jsonPath: `$.faults[${i}]`, message: 'expected "acsSet" or "acsClear" (the ACS Control bits the write changes)' });
    for (const [j, w] of (f.with ?? []).entries()) {
      if (!opened.has(w)) issues.push({ file, jsonPath: `$.faults[${i}].with[${j}]`, message: `expected an exported device, found "${w}"` });
      else if (topology.find(w)?.upstream !== topology.find(f.target)?.upstream) {
        issues.push({ file, jsonPath: `$.faults[${i}].with[${j}]`, message: `expected a device on the bus of ${f.target} (a hot reset resets one bus)` });
      }
    }
    if ("windowUs" in f) {
      const [from, to] = f.windowUs as [number, number];
      if (from > to) issues.push({ file, jsonPath: `$.faults[${i}].windowUs`, message: "expected [from, to] with from <= to" });
      if (to > scenario.budget.safetyUs)
        issues.push({ file, jsonPath: `$.faults[${i}].windowUs[1]`, message: `expected a time within the safety phase (<= ${scenario.budget.safetyUs})` });
    } else if (f.atUs > scenario.budget.safetyUs) {
      issues.push({ file, jsonPath: `$.faults[${i}].atUs`, message: `expected a time within the safety phase (<= ${scenario.budget.safetyUs})` });
    }
  }
  return issues;
}

/**
 * Validates a scenario value (parsed from a file or made by the builder) and resolves its topology.
 * @param read resolves a topology path relative to the scenario; not called for an inline topology.
 * @returns the loaded scenario, or every problem found (the first is the one to show).
 */
export function checkScenario(value: unknown, file: string, read: ReadRelative): { ok: true; loaded: LoadedScenario } | { ok: false; errors: ScenarioIssue[] } {
  const schema = schemaIssues(value, file);
  if (schema.length > 0) return { ok: false, errors: schema };
  const scenario = value as Scenario;
  let topologySpec: TopologySpec;
  let topologyFile = file;
  if (typeof scenario.topology === "string") {
    const got = read(scenario.topology);
    if (got === undefined)
      return { ok: false, errors: [{ file, jsonPath: "$.topology", message: `expected a readable topology file, found "${scenario.topology}"` }] };
    const imported = importTopologyDocument(got.text, got.file);
    if (!imported.ok) return { ok: false, errors: [imported.error] };
    topologySpec = imported.spec;
    topologyFile = got.file;
  } else {
    topologySpec = scenario.topology;
  }
  const built = buildTopology(topologySpec);
  if (!built.ok) {
    // An inline topology's paths are inside the scenario, under `$.topology`.
    const at = (path: string) => (topologyFile === file ? `$.topology${path.slice(1)}` : path);
    return { ok: false, errors: built.errors.map((e) => ({ file: topologyFile, jsonPath: at(e.path), message: e.message })) };
  }
  const semantic = semanticIssues(scenario, built.topology, file);
  if (semantic.length > 0) return { ok: false, errors: semantic };
  return { ok: true, loaded: { scenario, file, topologySpec, topology: built.topology } };
}

/**
 * Reads a scenario from its text.
 * @param file the name to use in errors. @param read see {@link checkScenario}.
 */
export function loadScenario(text: string, file: string, read: ReadRelative): { ok: true; loaded: LoadedScenario } | { ok: false; errors: ScenarioIssue[] } {
  const parsed = parse(text, file);
  if (!parsed.ok) return { ok: false, errors: [parsed.error] };
  return checkScenario(parsed.value, file, read);
}
