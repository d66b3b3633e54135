/**
 * `p2psim demo` (and `npm start` with no arguments): the engine demonstration, run twice with the
 * same seed to show that the fingerprint repeats bit for bit.
 */
import { formatTime } from "../fabric/time.js";
import { writeTraceJsonLines } from "../io/jsonl.js";
import { ENGINE_DEMO_DEFAULTS, type EngineDemoResult, runEngineDemo } from "../scenario/engine-demo.js";
import { AtomicFile } from "./atomic-file.js";
import { renderTable } from "./table.js";

/** Options of the demo command, as parsed by the CLI. */
export interface DemoCommandOptions {
  readonly seed: number;
  readonly json: boolean;
  readonly trace?: string;
}

/**
 * Runs the demonstration and prints it. Returns the process exit code: 0 when the replay gave
 * the same fingerprint, 1 otherwise (that would be a determinism bug, reported as a violation).
 */
export function demoCommand(options: DemoCommandOptions, version: string, print: (text: string) => void): number {
  const demo = { ...ENGINE_DEMO_DEFAULTS, seed: options.seed };
  const traceFile = options.trace === undefined ? undefined : new AtomicFile(options.trace);
  let first: EngineDemoResult;
  try {
    first = runEngineDemo(demo, (engine) => {
      if (traceFile) writeTraceJsonLines(engine.trace, (line) => traceFile.write(line));
    });
    traceFile?.commit();
  } finally {
    traceFile?.abort();
  }
  const replay = runEngineDemo(demo);
  const deterministic = replay.fingerprint === first.fingerprint;
  if (options.json) {
    print(
      JSON.stringify(
        {
          p2psim: version,
          demo: "engine",
          seed: demo.seed,
          verdict: deterministic ? "pass" : "violation",
          fingerprint: first.fingerprint,
          replayFingerprint: replay.fingerprint,
          result: first,
        },
        null,
        2,
      ),
    );
  } else {
    print(humanReport(first, replay, version, options.trace));
  }
  return deterministic ? 0 : 1;
}

function humanReport(run: EngineDemoResult, replay: EngineDemoResult, version: string, tracePath: string | undefined): string {
  const o = run.options;
  const rows = run.rows.map((r) => [r.engine, String(r.transfers), formatTime(r.waitPsMean), formatTime(r.waitPsMax)]);
  const verdict =
    replay.fingerprint === run.fingerprint
      ? `verdict: PASS — replaying seed ${o.seed} gave the same fingerprint (${replay.fingerprint}): the run is deterministic.`
      : `verdict: VIOLATION — replaying seed ${o.seed} gave fingerprint ${replay.fingerprint}, not ${run.fingerprint}.`;
  return [
    `p2psim ${version} — engine demonstration`,
    `seed ${o.seed} · ${o.engines} DMA engines share one link with ${o.credits} credits · ${o.transferBytes}-byte transfers at ${o.bytesPerNs} B/ns · ${formatTime(o.durationPs)} simulated`,
    "",
    renderTable(
      [
        { header: "engine" },
        { header: "transfers", alignRight: true },
        { header: "mean wait for a credit", alignRight: true },
        { header: "longest wait", alignRight: true },
      ],
      rows,
    ),
    "",
    `link credits in use ${(run.linkUtilisation * 100).toFixed(1)}% of the time · ${run.eventsFired} engine events · ${run.traceEvents} trace events`,
    `fingerprint ${run.fingerprint}${tracePath ? ` · trace written to ${tracePath}` : ""}`,
    verdict,
  ].join("\n");
}
