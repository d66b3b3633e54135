/**
 * Topology documents written by people: JSON or YAML, checked against the published schema
 * before anything else looks at them. Errors name the file, the JSON path and what was expected.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { LineCounter, parseDocument } from "yaml";
import type { TopologySpec } from "../pci/topology-spec.js";
import type { ImportIssue, TopologyImport } from "./import-types.js";
import { TOPOLOGY_SCHEMA } from "./topology-schema.js";

/** The topology schema's validator, compiled on first use: every CLI command imports this module, few read a topology file. */
let validator: ValidateFunction<TopologySpec> | undefined;

/** Turns a JSON pointer (`/hostBridges/0/kind`) into a JSON path (`$.hostBridges[0].kind`). */
export function jsonPathOf(pointer: string): string {
  if (pointer === "") return "$";
  return `$${pointer
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : /^[A-Za-z_$][\w$]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`))
    .join("")}`;
}

/** Says what a schema error expected, in the words a user needs. */
export function schemaExpectation(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "enum":
      return `expected one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "required":
      return `expected a property "${String(params.missingProperty)}"`;
    case "additionalProperties":
      return `unknown property "${String(params.additionalProperty)}"`;
    case "type":
      return `expected ${String(params.type)}`;
    case "maximum":
      return `expected at most ${String(params.limit)}`;
    case "minimum":
      return `expected at least ${String(params.limit)}`;
    case "minItems":
      return `expected at least ${String(params.limit)} item(s)`;
    case "maxItems":
      return `expected at most ${String(params.limit)} items`;
    case "const":
      return `expected ${JSON.stringify(params.allowedValue)}`;
    case "exclusiveMinimum":
      return `expected more than ${String(params.limit)}`;
    case "multipleOf":
      return `expected a multiple of ${String(params.multipleOf)}`;
    case "minLength":
      return "expected a non-empty string";
    case "uniqueItems":
      return "expected no duplicate items";
    case "pattern":
      return `expected a string matching ${String(params.pattern)}`;
    case "anyOf":
      return 'expected a hexadecimal string such as "0x10de" or a non-negative integer';
    default:
      return `expected a value that ${error.message ?? "matches the schema"}`;
  }
}

/**
 * Validates a parsed value against the topology schema.
 * @returns the typed document, or every schema violation as located issues (most specific first).
 */
export function validateTopologyDocument(value: unknown, file: string): { ok: true; spec: TopologySpec } | { ok: false; errors: ImportIssue[] } {
  validator ??= new Ajv2020({ allErrors: true, strict: true }).compile<TopologySpec>(TOPOLOGY_SCHEMA);
  if (validator(value)) return { ok: true, spec: value };
  const errors = (validator.errors ?? [])
    .filter((e) => e.keyword !== "if")
    .map((e) => ({ file, jsonPath: jsonPathOf(e.instancePath), message: schemaExpectation(e) }))
    // The deepest path first; at one path, anyOf's summary before the branch errors it caused.
    .sort((a, b) => b.jsonPath.length - a.jsonPath.length || Number(b.message.startsWith("expected a hex")) - Number(a.message.startsWith("expected a hex")));
  return { ok: false, errors };
}

/**
 * Reads a topology document from JSON or YAML text (YAML is a superset; JSON is tried first for
 * its exact error positions).
 */
export function importTopologyDocument(text: string, file: string): TopologyImport {
  let value: unknown;
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{")) {
    try {
      value = JSON.parse(text);
    } catch (error) {
      return { ok: false, error: { file, message: `not valid JSON: ${(error as Error).message}` } };
    }
  } else {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { prettyErrors: false, lineCounter });
    const problem = doc.errors[0];
    if (problem)
      return { ok: false, error: { file, line: lineCounter.linePos(problem.pos[0]).line, message: `not valid YAML: ${problem.message.split("\n")[0]}` } };
    try {
      value = doc.toJS();
    } catch (error) {
      // Valid syntax that cannot become data, such as an alias without its anchor.
      return { ok: false, error: { file, line: 1, message: `not valid YAML: ${(error as Error).message}` } };
    }
  }
  const checked = validateTopologyDocument(value, file);
  if (!checked.ok) return { ok: false, error: checked.errors[0] as ImportIssue };
  return { ok: true, spec: checked.spec, warnings: [] };
}

/** Whether text looks like a topology document (JSON or YAML with `hostBridges`). */
export function looksLikeTopologyDocument(text: string): boolean {
  return /(^|[{,\s])"?hostBridges"?\s*:/m.test(text.slice(0, 65536));
}
