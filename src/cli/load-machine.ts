/**
 * Reads the files of one machine and builds its topology, for every command that takes them
 * (`topo`, `perf`). Problems are printed with the file and place; the caller exits with 2.
 */
import { readFileSync } from "node:fs";
import { importMachine } from "../io/import-machine.js";
import type { ImportIssue } from "../io/import-types.js";
import { buildTopology } from "../pci/build-topology.js";
import type { Topology } from "../pci/topology.js";

/** A built machine and the warnings of its import and build, whole-file ones first. */
export interface LoadedMachine {
  readonly topology: Topology;
  readonly warnings: readonly string[];
}

/** Formats a located issue: `file: line 3: $.path: message`. */
export function formatIssue(issue: ImportIssue | { readonly file?: string; readonly path?: string; readonly message: string }): string {
  const where = [
    issue.file,
    "line" in issue && issue.line !== undefined ? `line ${issue.line}` : undefined,
    "xmlPath" in issue ? issue.xmlPath : undefined,
    "jsonPath" in issue ? issue.jsonPath : undefined,
    "path" in issue ? issue.path : undefined,
  ].filter((part) => part !== undefined);
  return `${where.join(": ")}: ${issue.message}`;
}

/**
 * Loads a machine from files.
 * @param command the command name for messages (`topo`, `perf`).
 * @returns the machine, or undefined after printing why not.
 */
export function loadMachine(files: readonly string[], command: string, err: (text: string) => void): LoadedMachine | undefined {
  const inputs: Array<{ file: string; text: string }> = [];
  for (const file of files) {
    try {
      inputs.push({ file, text: readFileSync(file, "utf8") });
    } catch (error) {
      err(`p2psim ${command}: ${file}: cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return undefined;
    }
  }
  const imported = importMachine(inputs);
  if (!imported.ok) {
    err(`p2psim ${command}: ${formatIssue(imported.error)}`);
    return undefined;
  }
  const built = buildTopology(imported.spec);
  if (!built.ok) {
    for (const error of built.errors) err(`p2psim ${command}: ${formatIssue({ file: imported.topologyFile, path: error.path, message: error.message })}`);
    return undefined;
  }
  // Whole-file warnings (what a format cannot say at all) before the located, per-function ones.
  const located = (issue: ImportIssue) => (issue.line ?? issue.xmlPath ?? issue.jsonPath) !== undefined;
  const importWarnings = [...imported.warnings].sort((a, b) => Number(located(a)) - Number(located(b)));
  return {
    topology: built.topology,
    warnings: [
      ...importWarnings.map(formatIssue),
      ...built.warnings.map((w) => formatIssue({ file: imported.topologyFile, path: w.path, message: w.message })),
    ],
  };
}
