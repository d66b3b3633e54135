/**
 * `--trace FILE` of the compiled CLI, in fresh processes: run, replay and perf write Chrome JSON
 * traces that keep the format's rules; a `.jsonl` name on run still gives JSON lines.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type ChromeTraceDocument, validateChromeTrace } from "../../src/io/perfetto-format.js";
import { FLAGSHIP, p2psim, REPO } from "./cli-dist.js";

const REVOCABLE = join(REPO, "scenarios", "revoke-during-cq-writes-revocable.yaml");
const tempDir = () => mkdtempSync(join(tmpdir(), "p2psim-trace-"));
const readTrace = (path: string) => JSON.parse(readFileSync(path, "utf8")) as ChromeTraceDocument;
const threadNames = (doc: ChromeTraceDocument) => doc.traceEvents.filter((e) => e.name === "thread_name").map((e) => String(e.args?.name));

describe("p2psim --trace", () => {
  it("run --trace x.json: a valid Chrome trace with the revoke, the CQE writes, arrows and the verdict; says where it wrote it", () => {
    const dir = tempDir();
    const file = join(dir, "x.json");
    const run = p2psim("run", REVOCABLE, "--trace", file);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`trace written to ${file}`);
    const doc = readTrace(file);
    expect(validateChromeTrace(doc)).toEqual([]);
    expect(threadNames(doc)).toEqual(expect.arrayContaining(["gpu0", "nic0/cq#0", "nic0/qp#0", "nic0/driver", "verdict"]));
    expect(doc.traceEvents.some((e) => e.ph === "X" && e.name === "revoke gpu0/bar1#0")).toBe(true);
    expect(doc.traceEvents.filter((e) => e.ph === "X" && e.name.startsWith("CQE WR "))).toHaveLength(8);
    expect(doc.traceEvents.filter((e) => e.ph === "s" && e.name === "revoke → importer").length).toBeGreaterThan(0);
    expect(doc.traceEvents.some((e) => e.ph === "i" && e.name === "verdict: PASS")).toBe(true);
    expect(readdirSync(dir)).toEqual(["x.json"]);
  });

  it("run --profile vfio-dmabuf-initial --trace: the I1 violation is a global instant with its message", () => {
    const file = join(tempDir(), "flagship.json");
    const run = p2psim("run", FLAGSHIP, "--profile", "vfio-dmabuf-initial", "--trace", file);
    expect(run.status).toBe(1);
    const doc = readTrace(file);
    expect(validateChromeTrace(doc)).toEqual([]);
    const i1 = doc.traceEvents.find((e) => e.ph === "i" && e.name.startsWith("violation of I1: "));
    expect(i1).toMatchObject({ s: "g", args: { invariant: "I1" } });
    expect(String(i1?.args?.message)).toMatch(/after the revoke returned/);
  });

  it("run --trace x.jsonl still writes every trace event as a JSON line", () => {
    const file = join(tempDir(), "trace.jsonl");
    const run = p2psim("run", REVOCABLE, "--trace", file, "--json");
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as { events: number };
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(report.events);
    expect(Object.keys(JSON.parse(lines[0] as string)).slice(0, 4)).toEqual(["t", "seq", "layer", "kind"]);
  });

  it("replay CAPSULE --trace: the replayed run's trace", () => {
    const dir = tempDir();
    expect(p2psim("explore", FLAGSHIP, "--seeds", "4..4", "--profile", "vfio-dmabuf-initial", "--out", dir).status).toBe(1);
    const file = join(dir, "replay.json");
    const run = p2psim("replay", join(dir, "capsule-4.json"), "--trace", file);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("reproduced bit for bit");
    const doc = readTrace(file);
    expect(validateChromeTrace(doc)).toEqual([]);
    expect(doc.traceEvents.some((e) => e.ph === "i" && e.name.startsWith("violation of I1: "))).toBe(true);
  });

  it("perf --link gen4x16 --op read --trace: both link directions (requests down, completions up), one segment per size, counters", () => {
    const file = join(tempDir(), "perf.json");
    const run = p2psim("perf", "--link", "gen4x16", "--op", "read", "--sizes", "256,4K", "--trace", file);
    expect(run.status).toBe(0);
    const doc = readTrace(file);
    expect(validateChromeTrace(doc)).toEqual([]);
    expect(
      threadNames(doc)
        .filter((n) => n.includes("→"))
        .sort(),
    ).toEqual(["0000:00:00.0→dev", "dev→0000:00:00.0"]);
    expect((doc.otherData.segments as Array<{ label: string }>).map((s) => s.label)).toEqual(["256 B read", "4096 B read"]);
    expect(doc.traceEvents.some((e) => e.ph === "C" && e.name.endsWith("utilisation %"))).toBe(true);
  });
});
