/**
 * `p2psim replay CAPSULE`: reruns a replay capsule and says whether the run was reproduced bit for
 * bit (same fingerprint and event count) or exactly how it differs — version, verdict, invariants,
 * event count, and the first window of 1,024 events whose fingerprints part.
 * Exit: the run's verdict code (0 pass, 1 violation) when reproduced; 1 when it differs; 2 on a bad capsule.
 */
import { readFileSync } from "node:fs";
import { traceRecorder } from "../io/perfetto-run.js";
import { type CapturedRun, captureRun, compareReplay, type LoadedCapsule, readCapsule, replayCapsule } from "../scenario/capsule.js";
import { AtomicFile } from "./atomic-file.js";
import { formatIssue } from "./load-scenario-file.js";

/** Options of `replay`, as parsed. */
export interface ReplayCommandOptions {
  readonly file: string;
  readonly json: boolean;
  /** Write the replayed run's trace here: JSON lines for `.jsonl`, else a Chrome JSON trace (Perfetto). */
  readonly trace?: string;
}

/**
 * Reads a capsule file for a command.
 * @returns the capsule, or the error lines to print (file, JSON path, expectation).
 */
export function loadCapsuleFile(path: string): { ok: true; capsule: LoadedCapsule } | { ok: false; lines: string[] } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return { ok: false, lines: [`${path}: cannot read the capsule: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`] };
  }
  const read = readCapsule(text, path);
  return read.ok ? read : { ok: false, lines: read.errors.slice(0, 5).map(formatIssue) };
}

/**
 * The replay of {@link replayCapsule} (same seed, profile and mutants), with a trace recorder
 * watching; the file appears whole or not at all.
 */
function tracedReplay(capsule: LoadedCapsule, path: string): CapturedRun {
  const { seed, profile, mutants } = capsule.capsule;
  const file = new AtomicFile(path);
  try {
    const recorder = traceRecorder(path, (text) => file.write(text));
    const run = captureRun(capsule.loaded, {
      seed,
      profile,
      mutants,
      sinks: recorder.sinks,
      ...(recorder.observeWorld ? { observeWorld: recorder.observeWorld } : {}),
    });
    recorder.finish(run.result);
    file.commit();
    return run;
  } finally {
    file.abort();
  }
}

/** Runs the command. Returns the exit code. */
export function replayCommand(o: ReplayCommandOptions, version: string, print: (text: string) => void, printError: (text: string) => void): number {
  const read = loadCapsuleFile(o.file);
  if (!read.ok) {
    for (const line of read.lines) printError(line);
    return 2;
  }
  const { capsule } = read.capsule;
  const replay = o.trace === undefined ? replayCapsule(read.capsule) : tracedReplay(read.capsule, o.trace);
  const comparison = compareReplay(capsule, replay, version);
  const code = comparison.reproduced ? (replay.result.verdict === "pass" ? 0 : 1) : 1;
  if (o.json) {
    print(
      JSON.stringify(
        {
          capsule: o.file,
          reproduced: comparison.reproduced,
          differences: comparison.differences,
          firstDifferingWindow: comparison.firstDifferingWindow ?? null,
          expected: { p2psim: capsule.p2psim, ...capsule.result, checkpoints: undefined },
          replay: {
            p2psim: version,
            verdict: replay.result.verdict,
            invariants: replay.result.violations.map((v) => v.invariant),
            fingerprint: replay.result.fingerprint,
            events: replay.result.events,
          },
          violations: replay.result.violations,
        },
        null,
        2,
      ),
    );
    return code;
  }
  const r = replay.result;
  const lines = [
    `replay of ${o.file}: scenario ${capsule.scenario.name} · seed ${capsule.seed} · profile ${capsule.profile} · mutants ${capsule.mutants.length === 0 ? "none" : capsule.mutants.join(", ")}`,
    `capsule: p2psim ${capsule.p2psim}, ${capsule.result.verdict}${capsule.result.invariants.length > 0 ? ` (${capsule.result.invariants.join(", ")})` : ""}, ${capsule.result.events} events, fingerprint ${capsule.result.fingerprint}`,
    `replay:  p2psim ${version}, ${r.verdict}${r.violations.length > 0 ? ` (${r.violations.map((v) => v.invariant).join(", ")})` : ""}, ${r.events} events, fingerprint ${r.fingerprint}`,
  ];
  if (comparison.reproduced) {
    lines.push(`reproduced bit for bit: same fingerprint ${r.fingerprint} over ${r.events} events.`);
    for (const d of comparison.differences) lines.push(`note: ${d}`);
    for (const v of r.violations) lines.push(`${v.invariant}: ${v.message}`);
  } else {
    lines.push("NOT reproduced: the replay differs from the capsule:", ...comparison.differences.map((d) => `  ${d}`));
  }
  if (o.trace !== undefined) lines.push(`trace written to ${o.trace}`);
  print(lines.join("\n"));
  return code;
}
