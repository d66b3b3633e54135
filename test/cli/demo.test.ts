import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AtomicFile } from "../../src/cli/atomic-file.js";
import { renderTable } from "../../src/cli/table.js";

const MAIN = join(import.meta.dirname, "..", "..", "dist", "src", "cli", "main.js");
const p2psim = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8" });

describe("p2psim command", () => {
  it("p2psim demo runs the engine demonstration, with a verdict and exit code 0", () => {
    const run = p2psim("demo");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/engine demonstration/);
    expect(run.stdout).toMatch(/^verdict: PASS — replaying seed 1 gave the same fingerprint \([0-9a-f]{16}\)/m);
  });

  it("exits 2 on bad usage, naming the problem", () => {
    const unknown = p2psim("--no-such-option");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--no-such-option'/);
    const badSeed = p2psim("demo", "--seed", "-3");
    expect(badSeed.status).toBe(2);
    expect(badSeed.stderr).toMatch(/expected a non-negative integer/);
  });

  it("prints --version and --help with exit code 0", () => {
    expect(p2psim("--version").stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = p2psim("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/demo/);
  });

  it("writes the trace as JSON lines whose seq counts up from 0", () => {
    const dir = mkdtempSync(join(tmpdir(), "p2psim-cli-"));
    const file = join(dir, "trace.jsonl");
    expect(p2psim("demo", "--seed", "3", "--trace", file).status).toBe(0);
    const events = readFileSync(file, "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { seq: number; t: number; layer: string; kind: string });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i));
    expect(events[0]).toMatchObject({ t: 0, layer: "fabric", kind: "process.spawn" });
    expect(readdirSync(dir)).toEqual(["trace.jsonl"]);
  });

  it("leaves no file behind when the trace cannot be written", () => {
    const run = p2psim("demo", "--trace", join(tmpdir(), "no-such-dir", "t.jsonl"));
    expect(run.status).not.toBe(0);
    expect(existsSync(join(tmpdir(), "no-such-dir"))).toBe(false);
  });
});

describe("AtomicFile", () => {
  it("publishes on commit and leaves nothing on abort", () => {
    const dir = mkdtempSync(join(tmpdir(), "p2psim-atomic-"));
    const kept = new AtomicFile(join(dir, "kept.txt"));
    kept.write("a");
    expect(readdirSync(dir)).toEqual([expect.stringMatching(/^kept\.txt\.tmp-\d+$/)]);
    kept.commit();
    const dropped = new AtomicFile(join(dir, "dropped.txt"));
    dropped.write("b");
    dropped.abort();
    dropped.abort();
    expect(readdirSync(dir)).toEqual(["kept.txt"]);
    expect(readFileSync(join(dir, "kept.txt"), "utf8")).toBe("a");
    expect(() => kept.write("c")).toThrow(/after commit/);
  });
});

describe("renderTable", () => {
  it("pads columns and right-aligns numbers", () => {
    expect(
      renderTable(
        [{ header: "name" }, { header: "n", alignRight: true }],
        [
          ["a", "10"],
          ["bbbbb", "2"],
        ],
      ),
    ).toBe(["  name    n", "  a      10", "  bbbbb   2"].join("\n"));
  });
});
