import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenarioFile } from "../../src/cli/load-scenario-file.js";
import { FAULT_EFFECTS, faultEffects } from "../../src/io/fault-effects.js";
import { runScenario } from "../../src/scenario/run-scenario.js";

describe("a fault's effects in one line", () => {
  it("lists every counter a fault report has (and nothing else), so a new counter cannot go unshown", () => {
    const loaded = loadScenarioFile(join(import.meta.dirname, "../../scenarios/acs-change-stale-map-type.yaml"));
    if (!loaded.ok) throw new Error(loaded.lines.join("\n"));
    const report = runScenario(loaded.loaded, { seed: 1 }).faults[0] as object;
    const counters = Object.entries(report)
      .filter(([, v]) => typeof v === "number")
      .map(([k]) => k)
      .filter((k) => k !== "atPs");
    expect(FAULT_EFFECTS.map(([key]) => key).sort()).toEqual(counters.sort());
  });

  it("prints the non-zero counters in catalogue order, `none` without any, and reads JSON with counters missing", () => {
    expect(
      [
        { revoked: 1, refused: 8, failedWrs: 8, rerouted: 0 },
        { staleMapTypes: 1, rerouted: 2, lost: 3, delayed: 4, timedOut: 5, staleTranslations: 6 },
        { revoked: 0 },
        {},
      ].map(faultEffects),
    ).toEqual([
      "revoked 1 · refused 8 · failed WRs 8",
      "stale translations 6 · rerouted 2 · stale map types 1 · timed out 5 · lost 3 · delayed 4",
      "none",
      "none",
    ]);
  });
});
