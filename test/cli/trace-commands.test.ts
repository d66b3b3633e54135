/**
 * `--trace` on run, replay and perf, called in-process (the spawned-CLI versions are in
 * trace.test.ts): the file is a valid Chrome JSON trace, or JSON lines for a `.jsonl` name.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenarioFile } from "../../src/cli/load-scenario-file.js";
import { perfCommand } from "../../src/cli/perf-command.js";
import { replayCommand } from "../../src/cli/replay-command.js";
import { runCommand } from "../../src/cli/run-command.js";
import { type ChromeTraceDocument, validateChromeTrace } from "../../src/io/perfetto-format.js";
import { captureRun, makeCapsule } from "../../src/scenario/capsule.js";

const SCENARIOS = join(import.meta.dirname, "..", "..", "scenarios");
const REVOCABLE = join(SCENARIOS, "revoke-during-cq-writes-revocable.yaml");
const FLAGSHIP = join(SCENARIOS, "revoke-during-cq-writes.yaml");
const tempDir = () => mkdtempSync(join(tmpdir(), "p2psim-trace-"));
const quiet = { out: [] as string[], err: [] as string[] };
const print = (t: string) => quiet.out.push(t);
const printError = (t: string) => quiet.err.push(t);
const readTrace = (path: string) => JSON.parse(readFileSync(path, "utf8")) as ChromeTraceDocument;

describe("--trace, in-process", () => {
  it("run --trace x.json writes a valid Chrome trace with the verdict, and no temporary file is left", () => {
    const dir = tempDir();
    const file = join(dir, "x.json");
    expect(runCommand({ file: REVOCABLE, json: true, trace: file, checkDeterminism: false }, "test", print, printError)).toBe(0);
    const doc = readTrace(file);
    expect(validateChromeTrace(doc)).toEqual([]);
    expect(doc.traceEvents.some((e) => e.ph === "i" && e.name === "verdict: PASS")).toBe(true);
    expect(readdirSync(dir)).toEqual(["x.json"]);
  });

  it("run --trace x.jsonl still writes every trace event as a JSON line", () => {
    const file = join(tempDir(), "x.jsonl");
    expect(runCommand({ file: REVOCABLE, json: true, trace: file, checkDeterminism: false }, "test", print, printError)).toBe(0);
    const report = JSON.parse(quiet.out.at(-1) as string) as { events: number };
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(report.events);
    expect(Object.keys(JSON.parse(lines[0] as string)).slice(0, 4)).toEqual(["t", "seq", "layer", "kind"]);
  });

  it("replay CAPSULE --trace writes the replayed run's trace, with the capsule's violation", () => {
    const dir = tempDir();
    const loaded = loadScenarioFile(FLAGSHIP);
    if (!loaded.ok) throw new Error(loaded.lines.join("\n"));
    const options = { seed: 1, profile: "vfio-dmabuf-initial" as const };
    const capsule = makeCapsule(loaded.loaded, loaded.loaded.scenario.faults ?? [], captureRun(loaded.loaded, options), "test");
    const capsuleFile = join(dir, "capsule-1.json");
    writeFileSync(capsuleFile, JSON.stringify(capsule));
    const traceFile = join(dir, "replay.json");
    expect(replayCommand({ file: capsuleFile, json: false, trace: traceFile }, "test", print, printError)).toBe(1);
    expect(quiet.out.at(-1)).toContain("reproduced bit for bit");
    expect(quiet.out.at(-1)).toContain(`trace written to ${traceFile}`);
    const doc = readTrace(traceFile);
    expect(validateChromeTrace(doc)).toEqual([]);
    expect(doc.traceEvents.some((e) => e.ph === "i" && e.name.startsWith("violation of I1: "))).toBe(true);
  });

  it("perf --link gen4x16 --trace writes one segment per size; a .jsonl name is refused (perf has no events to list)", () => {
    const dir = tempDir();
    const file = join(dir, "perf.json");
    const base = {
      link: "gen4x16",
      mps: 256,
      mrrs: 512,
      rcb: 64,
      rcbChunks: false,
      addr: 64,
      ecrc: false,
      op: "write",
      sizes: "256,4K",
      ideal: false,
      json: true,
      profile: "xeon-e5-v3-gen3x8",
    };
    expect(perfCommand({ ...base, trace: file }, print, printError)).toBe(0);
    const doc = readTrace(file);
    expect(validateChromeTrace(doc)).toEqual([]);
    expect((doc.otherData.segments as Array<{ label: string }>).map((s) => s.label)).toEqual(["256 B write", "4096 B write"]);
    const bad = join(dir, "perf.jsonl");
    expect(perfCommand({ ...base, trace: bad }, print, printError)).toBe(2);
    expect(quiet.err.at(-1)).toMatch(/--trace .*perf\.jsonl: perf writes a Chrome JSON trace/);
    expect(existsSync(bad)).toBe(false);
  });
});
