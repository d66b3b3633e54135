/**
 * Reads a scenario file for a command: the file, and the topology file it names relative to
 * itself. Errors come back as the lines to print (file, JSON path, expectation); the command
 * exits 2 with them.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type LoadedScenario, loadScenario, type ScenarioIssue } from "../scenario/load-scenario.js";

/** Formats a located issue as `file: $.path: message` (or `file:line: message`). */
export function formatIssue(issue: ScenarioIssue): string {
  const where = issue.jsonPath ?? (issue.line === undefined ? undefined : `line ${issue.line}`);
  return `${issue.file}${where === undefined ? "" : `: ${where}`}: ${issue.message}`;
}

/**
 * Loads `path`.
 * @returns the loaded scenario, or the error lines to print.
 */
export function loadScenarioFile(path: string): { ok: true; loaded: LoadedScenario } | { ok: false; lines: string[] } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return { ok: false, lines: [`${path}: cannot read the scenario: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`] };
  }
  const read = (relative: string) => {
    const file = resolve(dirname(path), relative);
    try {
      return { file, text: readFileSync(file, "utf8") };
    } catch {
      return undefined;
    }
  };
  const loaded = loadScenario(text, path, read);
  return loaded.ok ? loaded : { ok: false, lines: loaded.errors.slice(0, 5).map(formatIssue) };
}
