import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { p2psim, REPO } from "./cli-dist.js";

const tempDir = () => mkdtempSync(join(tmpdir(), "p2psim-report-"));

describe("p2psim report and --report", () => {
  it("run --json carries the machine and the timeline, and `report` turns it into the same page run --report writes", () => {
    const dir = tempDir();
    const direct = join(dir, "direct.html");
    const run = p2psim("--profile", "vfio-dmabuf-initial", "--json", "--report", direct);
    expect(run.status).toBe(1);
    const json = JSON.parse(run.stdout) as { topology: { pairs: unknown[] }; timeline: { events: unknown[]; dropped: number } };
    expect(json.topology.pairs).toEqual([{ exporter: "gpu0", importer: "nic0", mapType: "bus-addr", distance: 4 }]);
    expect(json.timeline.events.length).toBeGreaterThan(0);
    writeFileSync(join(dir, "run.json"), run.stdout);
    const report = p2psim("report", join(dir, "run.json"));
    expect(report.stderr).toBe("");
    expect(report.status).toBe(0);
    expect(report.stdout).toBe(`wrote the run report of run.json to ${join(dir, "run.html")}\n`);
    expect(readFileSync(join(dir, "run.html"), "utf8")).toBe(readFileSync(direct, "utf8"));
    expect(readdirSync(dir).sort()).toEqual(["direct.html", "run.html", "run.json"]);
  });

  it("explore --report, --csv and --json: the page, one CSV row per seed, and a summary that `report` accepts", () => {
    const dir = tempDir();
    const scenario = join(REPO, "scenarios", "rdma-write-during-flr.yaml");
    const run = p2psim(
      "explore",
      scenario,
      "--seeds",
      "1..10",
      "--mutant",
      "callback-returns-before-drain",
      "--json",
      "--csv",
      join(dir, "s.csv"),
      "--report",
      join(dir, "s.html"),
    );
    expect(run.status).toBe(1);
    const summary = JSON.parse(run.stdout) as {
      perSeed: Array<{ seed: number; verdict: string; fingerprint: string; events: number; endPs: number; invariants: string[] }>;
    };
    expect(readFileSync(join(dir, "s.csv"), "utf8").split("\n")).toEqual([
      "seed,verdict,invariants_broken,invariant_count,fingerprint,events,end_time_us,swarm_faults,diverged_at_event",
      ...summary.perSeed.map((s) => `${s.seed},${s.verdict},${s.invariants.join(" ")},${s.invariants.length},${s.fingerprint},${s.events},${s.endPs / 1e6},,`),
      "",
    ]);
    const page = readFileSync(join(dir, "s.html"), "utf8");
    expect(page).toContain('<pre class="shrunk-yaml">');
    expect(page.match(/class="seed-cell"/g)).toHaveLength(10);
    writeFileSync(join(dir, "summary.json"), run.stdout);
    expect(p2psim("report", join(dir, "summary.json"), "-o", join(dir, "again.html")).status).toBe(0);
    expect(readFileSync(join(dir, "again.html"), "utf8")).toContain("This result carries no shrunk scenario");
  });

  it("perf --report writes the plots; `report` of perf --json writes the same page", () => {
    const dir = tempDir();
    const run = p2psim("perf", "--link", "gen3x8", "--sizes", "64,4K", "--ideal", "--json", "--report", join(dir, "p.html"));
    expect(run.status).toBe(0);
    writeFileSync(join(dir, "p.json"), run.stdout);
    expect(p2psim("report", join(dir, "p.json"), "-o", join(dir, "p2.html")).status).toBe(0);
    expect(readFileSync(join(dir, "p2.html"), "utf8")).toBe(readFileSync(join(dir, "p.html"), "utf8"));
    expect(readFileSync(join(dir, "p.html"), "utf8")).toContain('class="plot plot-latency"');
  });

  it("refuses a file that is none of the three kinds with exit 2, naming the file and what was expected, writing nothing", () => {
    const dir = tempDir();
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ hello: 1 }));
    const run = p2psim("report", bad);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: not a run, explore or perf result; expected the JSON printed by \`p2psim run --json\``),
    );
    writeFileSync(bad, "{ not json");
    expect(p2psim("report", bad).stderr).toMatch(/bad\.json: not valid JSON .*expected the JSON of p2psim run, explore or perf --json/);
    expect(p2psim("report", join(dir, "missing.json")).status).toBe(2);
    expect(readdirSync(dir)).toEqual(["bad.json"]);
  });
});
