import { describe, expect, it } from "vitest";
import { EXPLORE_CSV_HEADER, exploreCsv } from "../../src/io/report-csv.js";
import { renderExploreReport } from "../../src/io/report-explore.js";
import { attrs, parseSvg, svgs, syntheticSweep, tableAfter } from "./report-fixtures.js";

describe("renderExploreReport", () => {
  it("draws one grid cell per seed with its verdict, even for thousands of seeds", () => {
    const sweep = syntheticSweep(3000);
    const html = renderExploreReport(sweep);
    const [grid] = svgs(html, "seed-grid");
    parseSvg(grid as string);
    expect(attrs(grid as string, "seed-cell", "data-seed").map(Number)).toEqual(sweep.perSeed.map((s) => s.seed));
    expect(attrs(grid as string, "seed-cell", "data-seed\\S* data-verdict")).toEqual(sweep.perSeed.map((s) => s.verdict));
    // 100 cells a row for a long sweep: the page stays short.
    expect(Number(/height="(\d+)"/.exec(grid as string)?.[1])).toBeLessThan(400);
    expect(html).toContain(
      '<div class="banner violation" id="verdict" data-verdict="fail"><span class="word">FAIL</span><span>428 of 3000 seeds broke I1.</span>',
    );
  });

  it("lists the invariants with their share, the first failing seeds, and the probes hit and never hit", () => {
    const html = renderExploreReport(syntheticSweep(30));
    expect(tableAfter(html, '<section id="invariants">')).toEqual([["I1", "4", "13.3 %"]]);
    expect(tableAfter(html, "First failing seeds").map((r) => r[0])).toEqual(["7", "14", "21", "28"]);
    expect(attrs(html, "pill probe-hit", "data-probe")).toEqual(["revoke-raced-cqe-write"]);
    expect(html).toContain("revoke-raced-cqe-write ×3 seeds");
    expect(attrs(html, "pill never probe-never", "data-probe")).toEqual(["cq-error-raised", "reset-during-mr-fault"]);
  });

  it("shows the shrunk first failure's steps and YAML in a <pre>, or says how to get one", () => {
    const sweep = syntheticSweep(10);
    const yaml = "name: x-shrunk\nfaults:\n  - { fault: flr, target: gpu0, atUs: 3 }\n";
    const html = renderExploreReport({ ...sweep, shrunk: { seed: 7, invariant: "I1", runs: 5, kept: ["moved fault flr gpu0 from 3.1 µs to 3 µs"], yaml } });
    expect(html).toContain("<h2>Shrunk first failure: seed 7</h2>");
    expect(html).toContain("<li>moved fault flr gpu0 from 3.1 µs to 3 µs</li>");
    expect(html).toContain(`<pre class="shrunk-yaml">name: x-shrunk\nfaults:\n  - { fault: flr, target: gpu0, atUs: 3 }\n</pre>`);
    expect(renderExploreReport(sweep)).toContain("This result carries no shrunk scenario");
  });

  it("a clean sweep is a green PASS and has nothing to shrink", () => {
    const sweep = syntheticSweep(6);
    const html = renderExploreReport(sweep);
    expect(html).toContain('<div class="banner pass" id="verdict" data-verdict="pass"><span class="word">PASS</span><span>every one of 6 seeds passed.</span>');
    expect(html).toContain("No seed failed: there is nothing to shrink.");
    expect(html).toContain("No seed broke an invariant.");
  });
});

describe("exploreCsv", () => {
  it("writes the header with units and one row per seed, lists space-separated, empty fields for none", () => {
    const csv = exploreCsv([
      { seed: 1, verdict: "pass", fingerprint: "00000000000000aa", invariants: [], events: 744, endPs: 20_005_787_381 },
      { seed: 2, verdict: "violation", fingerprint: "00000000000000bb", invariants: ["I1", "I21"], events: 552, swarm: [0, 2] },
      { seed: 3, verdict: "pass", fingerprint: "00000000000000cc", invariants: [], events: 12, divergence: { seq: 40 } },
      { seed: 4, verdict: "pass", fingerprint: "00000000000000dd", invariants: [], events: 12, divergence: null },
    ]);
    expect(EXPLORE_CSV_HEADER.join(",")).toBe("seed,verdict,invariants_broken,invariant_count,fingerprint,events,end_time_us,swarm_faults,diverged_at_event");
    expect(csv.split("\n")).toEqual([
      "seed,verdict,invariants_broken,invariant_count,fingerprint,events,end_time_us,swarm_faults,diverged_at_event",
      "1,pass,,0,00000000000000aa,744,20005.787381,,",
      "2,violation,I1 I21,2,00000000000000bb,552,,0 2,",
      "3,pass,,0,00000000000000cc,12,,,40",
      "4,pass,,0,00000000000000dd,12,,,",
      "",
    ]);
  });
});
