import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Fault, RdmaStreamWorkload, Scenario } from "../../src/scenario/scenario.js";
import { shrinkScenario, simplerTimes } from "../../src/scenario/shrink.js";
import { FLAGSHIP, p2psim } from "./cli-dist.js";

const base: Scenario = {
  name: "s",
  goal: "g",
  method: "m",
  topology: "t.json",
  exports: [{ device: "gpu0", bar: 1 }],
  workloads: [{ kind: "rdma-stream", nic: "nic0", count: 40, bytes: 4096 }],
  faults: [
    { fault: "flr", target: "gpu0", atUs: 3.25 },
    { fault: "device-reset", target: "gpu0", atUs: 5.4321 },
    { fault: "mem-clear", target: "gpu0", atUs: 7.25 },
  ],
  budget: { safetyUs: 20, livenessUs: 100 },
};

describe("shrinkScenario", () => {
  it("lists earlier and rounder times, simplest first, none past the safety phase", () => {
    expect(simplerTimes(5.4321, 20)).toEqual([0, 5, 5.4, 5.43, 5.432]);
    expect(simplerTimes(19.96, 19.96)).toEqual([0, 19, 19.9]);
  });

  it("keeps only the fault that matters, at the simplest time and the smallest count that still fail", () => {
    // The failure needs a device reset at 5 µs or later and at least 5 work requests.
    const fails = (s: Scenario) =>
      (s.faults ?? []).some((f) => f.fault === "device-reset" && (f as { atUs: number }).atUs >= 5) && (s.workloads[0] as RdmaStreamWorkload).count >= 5;
    const shrunk = shrinkScenario(base, fails);
    expect(shrunk.scenario.faults).toEqual([{ fault: "device-reset", target: "gpu0", atUs: 5 }]);
    expect((shrunk.scenario.workloads[0] as RdmaStreamWorkload).count).toBe(5);
    expect(shrunk.kept).toEqual([
      "dropped fault mem-clear gpu0",
      "dropped fault flr gpu0",
      "moved fault device-reset gpu0 from 5.4321 µs to 5 µs",
      "halved nic0's work requests from 40 to 20",
      "halved nic0's work requests from 20 to 10",
      "halved nic0's work requests from 10 to 5",
    ]);
    expect(fails(shrunk.scenario)).toBe(true);
  });

  it("returns the input when nothing smaller fails", () => {
    const all = (s: Scenario) =>
      (s.faults ?? []).length === 3 && (s.faults as Fault[]).every((f, i) => f === base.faults?.[i]) && s.workloads === base.workloads;
    expect(shrinkScenario(base, all).scenario).toBe(base);
  });
});

describe("p2psim shrink", () => {
  it("writes a scenario that still fails the same invariant, with no more faults, and its capsule", () => {
    const dir = mkdtempSync(join(tmpdir(), "p2psim-shrink-"));
    expect(p2psim("explore", FLAGSHIP, "--seeds", "6..6", "--profile", "vfio-dmabuf-initial", "--out", dir).status).toBe(1);
    const input = JSON.parse(readFileSync(join(dir, "capsule-6.json"), "utf8"));
    const output = join(dir, "min.yaml");
    const run = p2psim("shrink", join(dir, "capsule-6.json"), "-o", output);
    expect(run.status).toBe(0);
    const invariant = input.result.invariants[0];
    expect(run.stdout).toContain(`${invariant} still broken`);
    const yaml = readFileSync(output, "utf8");
    expect(yaml).toMatch(/^# revoke-during-cq-writes-shrunk\n/);
    expect(yaml).toContain("Shrunk from the replay capsule capsule-6.json (seed 6)");
    const rerun = JSON.parse(p2psim("run", output, "--json").stdout);
    expect(rerun.verdict).toBe("violation");
    expect(rerun.violations.map((v: { invariant: string }) => v.invariant)).toContain(invariant);
    expect(rerun.faults.length).toBeLessThanOrEqual(input.scenario.faults.length);
    const capsule = JSON.parse(readFileSync(join(dir, "min.capsule.json"), "utf8"));
    expect(capsule.result.fingerprint).toBe(rerun.fingerprint);
    expect(p2psim("replay", join(dir, "min.capsule.json")).stdout).toContain("reproduced bit for bit");
  });

  it("--invariant keeps a later invariant broken (the flagship's I1, not the I4 of its setup), and refuses one the capsule did not break", () => {
    const dir = mkdtempSync(join(tmpdir(), "p2psim-shrink-"));
    expect(p2psim("explore", FLAGSHIP, "--seeds", "6..6", "--profile", "vfio-dmabuf-initial", "--out", dir).status).toBe(1);
    expect(JSON.parse(readFileSync(join(dir, "capsule-6.json"), "utf8")).result.invariants).toEqual(["I4", "I1"]);
    const output = join(dir, "i1.yaml");
    const run = p2psim("shrink", join(dir, "capsule-6.json"), "--invariant", "I1", "-o", output);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("I1 still broken");
    const rerun = JSON.parse(p2psim("run", output, "--json").stdout);
    expect(rerun.violations.map((v: { invariant: string }) => v.invariant)).toContain("I1");
    // I1 needs the reset: the fault stays.
    expect(rerun.faults).toHaveLength(1);
    const refused = p2psim("shrink", join(dir, "capsule-6.json"), "--invariant", "L2");
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("did not break L2 (it broke I4, I1)");
  });

  it("exits 2 on a capsule that broke nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "p2psim-shrink-"));
    const sweep = p2psim("explore", FLAGSHIP, "--seeds", "1..1", "--json", "--out", dir);
    expect(sweep.status).toBe(0);
    // A passing run leaves no capsule: replay's own capsule of a pass is made in-process by the capsule tests.
    const run = p2psim("shrink", join(dir, "summary.json"));
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/summary\.json: \$\.format: expected "p2psim-capsule\/1"/);
  });
});
