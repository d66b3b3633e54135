import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { FAULT_KINDS } from "../../src/scenario/scenario.js";
import { FLAGSHIP, p2psim } from "./cli-dist.js";

const tempDir = () => mkdtempSync(join(tmpdir(), "p2psim-run-"));

/** The lines of the block that opens with `head` and ends at the next blank line. */
function block(text: string, head: RegExp): string[] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => head.test(l));
  if (start < 0) return [];
  const end = lines.indexOf("", start);
  return lines.slice(start, end < 0 ? undefined : end);
}

describe("p2psim run", () => {
  it("with no argument runs the flagship: PASS under the default kernel, as the scenario expects, exit 0", () => {
    const run = p2psim();
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^p2psim \S+ — scenario revoke-during-cq-writes \(.*revoke-during-cq-writes\.yaml\)$/m);
    expect(run.stdout).toMatch(/^seed 1 · profile default · mutants none · /m);
    expect(run.stdout).toMatch(/^fingerprint [0-9a-f]{16}$/m);
    expect(run.stdout).toMatch(/^verdict: PASS — no invariant was broken\.$/m);
    expect(run.stdout).toMatch(/^as expected: the scenario expects pass under this kernel\.$/m);
  });

  it("--profile vfio-dmabuf-initial: VIOLATION of I1 with its causal chain (revoke, then the late TLP) and a replay line, exit 1", () => {
    const run = p2psim("--profile", "vfio-dmabuf-initial");
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^verdict: VIOLATION of (.*, )?I1(,.*)?$/m);
    const i1 = block(run.stdout, /^I1 at /);
    expect(i1[0]).toMatch(/^I1 at [\d.]+ µs: gpu0 .*after the revoke returned/);
    expect(i1[1]).toBe("  causal chain:");
    const chain = i1.slice(2).map((l) => l.trim().split(/\s+/)[2]);
    // Oldest first: the export, the revoke that returned, and last the TLP that broke I1.
    expect(chain[0]).toBe("vfio/export");
    expect(chain).toContain("vfio/revoke.done");
    expect(chain.indexOf("vfio/revoke.done")).toBeLessThan(chain.length - 1);
    expect(chain.at(-1)).toBe("pci/tlp");
    expect(run.stdout).toMatch(/^replay: p2psim run \S*revoke-during-cq-writes\.yaml --seed 1 --profile vfio-dmabuf-initial$/m);
    expect(run.stdout).toMatch(/^as expected: the scenario expects violation \(I1\) under this kernel\.$/m);
  });

  it("--json prints the report with exactly its keys, and each violation with invariant, time, message and chain", () => {
    const run = p2psim("--profile", "vfio-dmabuf-initial", "--json");
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout) as Record<string, unknown> & { violations: Record<string, unknown>[] };
    expect(Object.keys(report).sort()).toEqual(
      [
        "scenario",
        "seed",
        "profile",
        "mutants",
        "verdict",
        "fingerprint",
        "violations",
        "unmonitored",
        "probes",
        "measurements",
        "faults",
        "workloads",
        "events",
        "endPs",
        "p2psim",
        "timeline",
        "topology",
      ].sort(),
    );
    expect(report).toMatchObject({ scenario: "revoke-during-cq-writes", seed: 1, profile: "vfio-dmabuf-initial", mutants: [], verdict: "violation" });
    expect(report.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(report.violations.length).toBeGreaterThan(0);
    for (const v of report.violations) expect(Object.keys(v).sort()).toEqual(["chain", "invariant", "message", "timePs"]);
    expect(report.violations.map((v) => v.invariant)).toContain("I1");
  });

  it("the same seed gives the same fingerprint; seeds 1 and 2 draw different reset times, so different fingerprints", () => {
    const fingerprint = (seed: string) => (JSON.parse(p2psim("--seed", seed, "--json").stdout) as { fingerprint: string }).fingerprint;
    const one = fingerprint("1");
    expect(fingerprint("1")).toBe(one);
    expect(fingerprint("2")).not.toBe(one);
  });

  it("--trace FILE writes one JSON line per event, and nothing else in the directory", () => {
    const dir = tempDir();
    const file = join(dir, "trace.jsonl");
    const run = p2psim("--trace", file, "--json");
    expect(run.status).toBe(0);
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines.length).toBe((JSON.parse(run.stdout) as { events: number }).events);
    expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual(lines.map((_, i) => i));
    expect(readdirSync(dir)).toEqual(["trace.jsonl"]);
  });

  it("a bad scenario file: exit 2, `file: $.path: message` on stderr, and no trace file left behind", () => {
    const dir = tempDir();
    const bad = join(dir, "bad.json");
    const doc = parseYaml(readFileSync(FLAGSHIP, "utf8")) as { faults: Record<string, unknown>[] };
    writeFileSync(bad, JSON.stringify({ ...doc, faults: [{ ...doc.faults[0], fault: "meteor" }] }));
    const run = p2psim(bad, "--trace", join(dir, "trace.jsonl"));
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.split("\n")[0]).toBe(`${bad}: $.faults[0].fault: expected one of ${FAULT_KINDS.map((k) => JSON.stringify(k)).join(", ")}`);
    expect(readdirSync(dir)).toEqual(["bad.json"]);
  });

  it("a scenario file that cannot be read: exit 2 naming it", () => {
    const missing = join(tempDir(), "missing.yaml");
    const run = p2psim(missing);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe(`${missing}: cannot read the scenario: ENOENT`);
  });

  it("--check-determinism runs the seed twice and says the traces agree", () => {
    const run = p2psim("--check-determinism");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^determinism: the seed run twice gave the same trace\.$/m);
  });

  it("--mutant nope: exit 2 naming the bad value", () => {
    const run = p2psim("--mutant", "nope");
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/argument 'nope' is invalid\. expected one of E6, /);
  });
});
