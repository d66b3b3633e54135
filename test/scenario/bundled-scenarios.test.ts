// Goal: every bundled scenario states its expected verdict per profile and mutant, and the model
// meets each: the correct kernel passes, each buggy profile or mutant is caught with the named
// invariant (issue #7). A test-sized version of the acceptance sweep (`p2psim explore`).
// Method: load each file in scenarios/; for a `pass` expectation run seeds 1–8, all must pass; for
// a `violation`, the first 60 seeds must contain one that breaks the named invariant.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { type LoadedScenario, loadScenario } from "../../src/scenario/load-scenario.js";
import { runScenario } from "../../src/scenario/run-scenario.js";

const DIR = join(import.meta.dirname, "..", "..", "scenarios");
const FILES = readdirSync(DIR).filter((f) => /\.(ya?ml|json)$/.test(f));

function load(name: string): LoadedScenario {
  const file = join(DIR, name);
  const read = (p: string) => {
    const path = resolve(dirname(file), p);
    return { file: path, text: readFileSync(path, "utf8") };
  };
  const loaded = loadScenario(readFileSync(file, "utf8"), file, read);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return loaded.loaded;
}

describe("bundled scenarios meet their expectations", () => {
  it("there are at least the nine of issue #7's list that the model can express, each with a goal, a method and expectations", () => {
    expect(FILES.length).toBeGreaterThanOrEqual(8);
    for (const name of FILES) {
      const { scenario } = load(name);
      expect(readFileSync(join(DIR, name), "utf8").startsWith("#")).toBe(true);
      expect(scenario.expect?.some((e) => (e.profile ?? "default") === "default" && e.verdict === "pass" && (e.mutants ?? []).length === 0)).toBe(true);
      expect(scenario.expect?.some((e) => e.verdict === "violation")).toBe(true);
    }
  });

  for (const name of FILES) {
    const loaded = load(name);
    for (const e of loaded.scenario.expect ?? []) {
      const kernel = { profile: e.profile ?? "default", mutants: e.mutants ?? [] };
      const label = `${name}: ${kernel.profile}${kernel.mutants.map((m) => ` +${m}`).join("")} → ${e.verdict}${e.invariant ? ` ${e.invariant}` : ""}`;
      it(label, () => {
        if (e.verdict === "pass") {
          for (let seed = 1; seed <= 8; seed++) {
            const r = runScenario(loaded, { ...kernel, seed });
            expect([seed, r.violations.map((v) => `${v.invariant}: ${v.message}`)]).toEqual([seed, []]);
          }
          return;
        }
        let caught: number | undefined;
        for (let seed = 1; seed <= 60 && caught === undefined; seed++) {
          const r = runScenario(loaded, { ...kernel, seed });
          if (r.violations.some((v) => v.invariant === e.invariant)) caught = seed;
        }
        expect(caught, `no seed of 1..60 broke ${e.invariant}`).toBeDefined();
      });
    }
  }
});
