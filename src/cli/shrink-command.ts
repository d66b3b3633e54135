/**
 * `p2psim shrink CAPSULE [-o FILE]`: reduces a failing capsule's fault schedule and workload to a
 * minimal run that still breaks the same invariant, and writes it as a readable YAML scenario
 * (`FILE`, default `<capsule>-shrunk.yaml`) plus its capsule (`FILE` with `.capsule.json`).
 * Exit 0 when shrunk, 2 on a bad capsule or one that breaks nothing.
 */
import { basename, dirname, join } from "node:path";
import { Document } from "yaml";
import type { InvariantId } from "../check/monitor.js";
import type { Scenario } from "../scenario/scenario.js";
import { shrinkCapsule } from "../scenario/shrink.js";
import { writeFileAtomic } from "./atomic-file.js";
import { loadCapsuleFile } from "./replay-command.js";

/** Options of `shrink`, as parsed. */
export interface ShrinkCommandOptions {
  readonly file: string;
  readonly output?: string;
  /** The invariant to keep broken (default: the capsule's first). */
  readonly invariant?: InvariantId;
}

/** The scenario as YAML, opening with its goal and method as comments, as the bundled scenarios do. */
export function scenarioYaml(scenario: Scenario): string {
  const doc = new Document(scenario);
  doc.commentBefore = [` ${scenario.name}`, "", ` Goal: ${scenario.goal}`, "", ` Method: ${scenario.method}`].join("\n");
  return doc.toString({ lineWidth: 0 });
}

/** Runs the command. Returns the exit code. */
export function shrinkCommand(o: ShrinkCommandOptions, version: string, print: (text: string) => void, printError: (text: string) => void): number {
  const read = loadCapsuleFile(o.file);
  if (!read.ok) {
    for (const line of read.lines) printError(line);
    return 2;
  }
  const shrunk = shrinkCapsule(read.capsule, basename(o.file), version, o.invariant);
  if (!shrunk.ok) {
    printError(`${o.file}: ${shrunk.message}`);
    return 2;
  }
  const { scenario, capsule, invariant, runs, kept } = shrunk.shrunk;
  const output = o.output ?? join(dirname(o.file), `${basename(o.file, ".json")}-shrunk.yaml`);
  const capsuleFile = `${output.replace(/\.(ya?ml|json)$/, "")}.capsule.json`;
  writeFileAtomic(output, scenarioYaml(scenario));
  writeFileAtomic(capsuleFile, `${JSON.stringify(capsule, null, 2)}\n`);
  const before = read.capsule.capsule.scenario;
  print(
    [
      `shrink of ${o.file}: ${invariant} still broken after ${runs} runs`,
      `faults: ${(before.faults ?? []).length} → ${(scenario.faults ?? []).length}`,
      ...kept.map((k) => `  ${k}`),
      `wrote ${output} (p2psim run ${output}) and ${capsuleFile}`,
    ].join("\n"),
  );
  return 0;
}
