import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { Fingerprint } from "../../src/fabric/fingerprint.js";
import type { TraceEvent } from "../../src/fabric/trace.js";
import {
  type Capsule,
  type CapturedRun,
  CHECKPOINT_EVENTS,
  captureRun,
  compareReplay,
  makeCapsule,
  readCapsule,
  replayCapsule,
} from "../../src/scenario/capsule.js";
import { loadScenario } from "../../src/scenario/load-scenario.js";
import { runScenario } from "../../src/scenario/run-scenario.js";

const FLAGSHIP = join(import.meta.dirname, "..", "..", "scenarios", "revoke-during-cq-writes.yaml");

function flagship() {
  const read = (p: string) => {
    const file = resolve(dirname(FLAGSHIP), p);
    return { file, text: readFileSync(file, "utf8") };
  };
  const loaded = loadScenario(readFileSync(FLAGSHIP, "utf8"), FLAGSHIP, read);
  if (!loaded.ok) throw new Error(loaded.errors[0]?.message);
  return loaded.loaded;
}

function capsuleOf(seed: number, profile: "default" | "vfio-dmabuf-initial"): Capsule {
  const loaded = flagship();
  return makeCapsule(loaded, loaded.scenario.faults ?? [], captureRun(loaded, { seed, profile }), "9.9.9");
}

describe("replay capsule", () => {
  it("inlines the topology, pins every drawn fault time and records the run", () => {
    const loaded = flagship();
    const run = captureRun(loaded, { seed: 7, profile: "vfio-dmabuf-initial" });
    const capsule = makeCapsule(loaded, loaded.scenario.faults ?? [], run, "9.9.9");
    expect(capsule.scenario.topology).toEqual(loaded.topologySpec);
    expect(capsule.scenario.faults).toEqual([{ fault: "device-reset", target: "gpu0", atUs: (run.result.faults[0]?.atPs ?? -1) / 1e6 }]);
    expect(capsule).toMatchObject({ format: "p2psim-capsule/1", p2psim: "9.9.9", seed: 7, profile: "vfio-dmabuf-initial", mutants: [] });
    expect(capsule.result).toMatchObject({
      verdict: run.result.verdict,
      invariants: run.result.violations.map((v) => v.invariant),
      fingerprint: run.result.fingerprint,
      events: run.result.events,
    });
    expect(capsule.result.checkpoints).toHaveLength(Math.floor(run.result.events / CHECKPOINT_EVENTS));
  });

  it("pinned times give the same run as the windows they were drawn from, for many seeds", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const capsule = capsuleOf(seed, "vfio-dmabuf-initial");
      const read = readCapsule(JSON.stringify(capsule), "c.json");
      if (!read.ok) throw new Error(read.errors[0]?.message);
      const replay = replayCapsule(read.capsule);
      expect(replay.result.fingerprint).toBe(capsule.result.fingerprint);
      expect(compareReplay(capsule, replay, "9.9.9")).toEqual({ reproduced: true, differences: [] });
    }
  });

  it("checkpoint k is the bus fingerprint after event (k + 1) × 1024 − 1", () => {
    const loaded = flagship();
    const long = { ...loaded, scenario: { ...loaded.scenario, faults: [], workloads: loaded.scenario.workloads.map((w) => ({ ...w, count: 400 })) } };
    const events: TraceEvent[] = [];
    const run = captureRun(long, { seed: 3, profile: "vfio-dmabuf-initial", sinks: [(e) => events.push(e)] });
    expect(run.result.events).toBeGreaterThan(3 * CHECKPOINT_EVENTS);
    const prefix = (n: number) => {
      const f = new Fingerprint();
      for (const e of events.slice(0, n)) f.add(e);
      return f.hex();
    };
    expect(run.checkpoints).toEqual(run.checkpoints.map((_, k) => prefix((k + 1) * CHECKPOINT_EVENTS)));
    expect(prefix(events.length)).toBe(run.result.fingerprint);
    expect(new Set(run.checkpoints).size).toBe(run.checkpoints.length);
  });

  it("says how a replay differs: version, verdict, invariants, events, fingerprint and the first differing window", () => {
    const capsule: Capsule = { ...capsuleOf(2, "vfio-dmabuf-initial") };
    const base = { ...capsule.result, checkpoints: ["0000000000000001", "0000000000000002", "0000000000000003"], events: 3500 };
    const want: Capsule = { ...capsule, result: base };
    const replay = (checkpoints: string[], events: number, fingerprint: string, verdict: "pass" | "violation"): CapturedRun => ({
      checkpoints,
      result: { ...runScenario(flagship(), { seed: 2, profile: "vfio-dmabuf-initial" }), events, fingerprint, verdict, violations: [] },
    });
    const differs = compareReplay(want, replay(["0000000000000001", "00000000000000ff", "0000000000000003"], 3600, "abcdefabcdefabcd", "pass"), "1.0.0");
    expect(differs.reproduced).toBe(false);
    expect(differs.firstDifferingWindow).toEqual([1024, 2048]);
    expect(differs.differences).toEqual([
      "p2psim version: capsule 9.9.9, replay 1.0.0",
      "verdict: capsule violation, replay pass",
      `invariants broken: capsule ${base.invariants.join(", ")}, replay none`,
      "events: capsule 3500, replay 3600",
      `fingerprint: capsule ${base.fingerprint}, replay abcdefabcdefabcd`,
      "the traces first differ within events 1024..2047",
    ]);
    // Every checkpoint agrees: the difference is past the last one.
    const late = compareReplay(want, replay(base.checkpoints, 3600, "abcdefabcdefabcd", "violation"), "9.9.9");
    expect(late.firstDifferingWindow).toEqual([3072, 3600]);
  });
});

describe("readCapsule", () => {
  const good = JSON.stringify(capsuleOf(1, "default"));
  const edit = (f: (c: Record<string, unknown> & { scenario: Record<string, unknown>; result: Record<string, unknown> }) => void) => {
    const c = JSON.parse(good);
    f(c);
    return JSON.stringify(c);
  };
  it("reads a capsule it wrote", () => {
    expect(readCapsule(good, "c.json").ok).toBe(true);
  });
  it.each([
    ["not JSON", "{", undefined, /^not valid JSON/],
    ["another format", edit((c) => (c.format = "p2psim-capsule/0")), "$.format", /expected "p2psim-capsule\/1"/],
    ["a bad seed", edit((c) => (c.seed = -1)), "$.seed", /expected a non-negative integer/],
    ["an unknown profile", edit((c) => (c.profile = "nope")), "$.profile", /expected one of default/],
    ["an unknown mutant", edit((c) => (c.mutants = ["E99"])), "$.mutants[0]", /expected one of E6/],
    ["a bad fingerprint", edit((c) => (c.result.fingerprint = "xyz")), "$.result.fingerprint", /16 lower-case hex/],
    ["a bad checkpoint", edit((c) => (c.result.checkpoints = ["0123"])), "$.result.checkpoints[0]", /16 lower-case hex/],
    ["an unknown invariant", edit((c) => (c.result.invariants = ["I99"])), "$.result.invariants[0]", /expected one of I1/],
    [
      "a fault on an unknown device",
      edit((c) => ((c.scenario.faults as Array<Record<string, unknown>>)[0] = { fault: "flr", target: "gpu9", atUs: 2 })),
      "$.scenario.faults[0].target",
      /expected an exported device/,
    ],
    [
      "an unpinned fault",
      edit((c) => ((c.scenario.faults as Array<Record<string, unknown>>)[0] = { fault: "flr", target: "gpu0", windowUs: [1, 2] })),
      "$.scenario.faults[0]",
      /pinned time/,
    ],
    ["windows that do not match the faults", edit((c) => (c.windows = [])), "$.windows", /one entry per fault/],
    ["a topology path", edit((c) => (c.scenario.topology = "topologies/one-switch.json")), "$.scenario.topology", /readable topology file/],
  ])("refuses %s, naming the file, the JSON path and the expectation", (_what, text, jsonPath, message) => {
    const read = readCapsule(text, "c.json");
    expect(read.ok).toBe(false);
    if (read.ok) return;
    expect(read.errors[0]).toMatchObject({ file: "c.json", ...(jsonPath === undefined ? {} : { jsonPath }) });
    expect(read.errors[0]?.message).toMatch(message);
  });
});
