import { describe, expect, it } from "vitest";
import { loadScenarioFile } from "../../src/cli/load-scenario-file.js";
import { renderRunReport } from "../../src/io/report-run.js";
import { attrs, FLAGSHIP, flagshipViolation, parseSvg, svgs, tableAfter } from "./report-fixtures.js";

const run = flagshipViolation();
const html = renderRunReport(run);

describe("renderRunReport (the flagship under vfio-dmabuf-initial)", () => {
  it("is one self-contained page: no script, no external URL, a red VIOLATION banner naming the invariants", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).not.toMatch(/<script|https?:\/\/|<link |@import|url\(/i);
    expect(html).toMatch(
      /<div class="banner violation" id="verdict" data-verdict="violation"><span class="word">VIOLATION<\/span><span>of I4, I1 — first at 0 ps\.<\/span><\/div>/,
    );
  });

  it("shows I1's causal chain as a table, oldest first: export, post, fetch, the revoke and its return, then the late TLP", () => {
    const rows = tableAfter(html, '<div class="chain" data-invariant="I1">');
    expect(rows.map((r) => r[1])).toEqual(["vfio/export", "rdma/post.send", "rdma/wqe.fetch", "vfio/revoke", "vfio/revoke.done", "pci/tlp"]);
    expect(rows.map((r) => r[0])).toEqual(
      run.violations.find((v) => v.invariant === "I1")?.chain.map((e) => (e.t === 0 ? "0 ps" : `${(e.t / 1e6).toFixed(3)} µs`)),
    );
    expect(rows[5]?.[2]).toContain("target=gpu0 BAR1");
    // The revoke steps and the breaking TLP are the highlighted rows.
    const chain = /<div class="chain" data-invariant="I1">([\s\S]*?)<\/div>/.exec(html)?.[1] ?? "";
    expect([...chain.matchAll(/<tr( class="key")?><td/g)].map((m) => m[1] !== undefined)).toEqual([false, false, false, true, true, true]);
  });

  it("draws the timeline with the revoke line, a mark per violation and the CQE writes that landed after the revoke in red", () => {
    const [timeline] = svgs(html, "timeline");
    expect(timeline).toBeDefined();
    parseSvg(timeline as string);
    expect(timeline).toContain('class="tl-revoke"');
    expect(attrs(timeline as string, "tl-violation", "data-invariant")).toEqual(["I4", "I1"]);
    const late = [...(timeline as string).matchAll(/class="tl-event tl-late[^"]*" data-kind="([^"]+)"/g)].map((m) => m[1]);
    expect(late.length).toBeGreaterThan(0);
    expect(new Set(late)).toEqual(new Set(["rdma/cqe.write"]));
    expect(html).toContain(`The revoke returned at 5.787 µs. ${late.length} CQE writes and 0 data writes landed after it (red)`);
    expect(tableAfter(html, "DMA writes that landed after the revoke returned").map((r) => r[2])).toEqual(late);
    for (const lane of ["posts", "data writes", "CQE writes", "revoke", "reset / faults", "errors"]) expect(timeline).toContain(`>${lane}</text>`);
    expect(timeline).toContain("simulated time (µs)");
  });

  it("draws one node per function of the machine, and nic0 with the bus-addr map type towards gpu0", () => {
    const loaded = loadScenarioFile(FLAGSHIP);
    if (!loaded.ok) throw new Error("flagship does not load");
    const [tree] = svgs(html, "topology");
    parseSvg(tree as string);
    expect(attrs(tree as string, "topo-node", "data-id").sort()).toEqual(loaded.loaded.topology.functions.map((f) => f.id).sort());
    expect(tree).toMatch(/class="topo-node" data-id="0000:05:00.0" data-label="nic0" data-kind="endpoint" data-map-type="bus-addr"/);
    expect(tree).toContain("importer of gpu0: bus-addr, distance 4");
    expect(tableAfter(html, '<section id="topology">').map((r) => r.slice(0, 4))).toEqual([["gpu0", "nic0", "bus-addr", "4"]]);
  });

  it("lists the fault, the probes hit and never hit, and the measurements", () => {
    expect(tableAfter(html, '<section id="faults">')[0]?.slice(0, 4)).toEqual(["device-reset", "gpu0", "5.787 µs", "ok"]);
    expect(attrs(html, "pill probe-hit", "data-probe")).toEqual(Object.keys(run.probes).filter((p) => (run.probes[p] ?? 0) > 0));
    expect(attrs(html, "pill never probe-never", "data-probe")).toEqual(Object.keys(run.probes).filter((p) => run.probes[p] === 0));
    expect(tableAfter(html, '<section id="probes">').map((r) => r[0])).toEqual(Object.keys(run.measurements));
  });

  it("a passing run without timeline or topology (an older JSON) gets a green PASS banner and says what is missing", () => {
    const { timeline: _t, topology: _m, ...old } = run;
    const page = renderRunReport({ ...old, verdict: "pass", violations: [] });
    expect(page).toContain('<div class="banner pass" id="verdict" data-verdict="pass"><span class="word">PASS</span>');
    expect(page).toContain("No invariant was broken.");
    expect(page).toContain("This result carries no timeline");
    expect(page).toContain("This result carries no topology");
  });
});
