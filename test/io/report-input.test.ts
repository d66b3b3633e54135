import { describe, expect, it } from "vitest";
import { renderReport } from "../../src/cli/report-command.js";
import { detectReportInput, REPORT_INPUT_EXPECTED } from "../../src/io/report-input.js";
import { PERF, syntheticSweep } from "./report-fixtures.js";

const RUN = {
  scenario: "s",
  seed: 1,
  profile: "default",
  mutants: [],
  verdict: "pass",
  fingerprint: "0123456789abcdef",
  violations: [],
  probes: {},
  measurements: {},
  faults: [],
  workloads: [],
  events: 3,
  endPs: 10,
};

describe("detectReportInput", () => {
  it("recognises the JSON of run, explore (and summary.json) and perf", () => {
    expect([RUN, syntheticSweep(3), PERF].map((v) => detectReportInput(JSON.parse(JSON.stringify(v))))).toMatchObject([
      { ok: true, kind: "run" },
      { ok: true, kind: "explore" },
      { ok: true, kind: "perf" },
    ]);
  });

  it("refuses what is none of them, or a kind with a broken shape, saying what was expected", () => {
    const cases: Array<[unknown, string]> = [
      [[1, 2], `the file holds no JSON object; ${REPORT_INPUT_EXPECTED}`],
      [{ hello: 1 }, `not a run, explore or perf result; ${REPORT_INPUT_EXPECTED}`],
      [{ ...RUN, verdict: "maybe" }, "a run result, but verdict must be pass or violation"],
      [{ ...RUN, violations: [{ invariant: "I1" }] }, "a run result, but violations must be a list of { invariant, timePs, message, chain }"],
      [{ ...syntheticSweep(2), perSeed: [{ seed: 1 }] }, "an explore summary, but perSeed must be a list of { seed, verdict, … }"],
      [{ rows: [] }, "a perf result, but rows must be a non-empty list"],
      [{ rows: [{ size: 64 }] }, "a perf result, but each row needs size (> 0), goodputGbps, latencyNsMedian and latencyNsP99"],
    ];
    expect(cases.map(([value]) => detectReportInput(value))).toEqual(cases.map(([, message]) => ({ ok: false, message })));
  });

  it("renderReport returns the page of the detected kind", () => {
    const page = renderReport(JSON.parse(JSON.stringify(RUN)));
    expect(page).toMatchObject({ ok: true, kind: "run" });
    expect(page.ok && page.html).toContain("<title>p2psim run · s</title>");
  });
});
