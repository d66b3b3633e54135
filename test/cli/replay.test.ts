import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FLAGSHIP, p2psim } from "./cli-dist.js";

/** A failing seed's capsule, written by `explore` in its own process. */
function failingCapsule(): { dir: string; file: string; capsule: { seed: number; result: { fingerprint: string; events: number; invariants: string[] } } } {
  const dir = mkdtempSync(join(tmpdir(), "p2psim-replay-"));
  const run = p2psim("explore", FLAGSHIP, "--seeds", "4..4", "--profile", "vfio-dmabuf-initial", "--out", dir);
  expect(run.status).toBe(1);
  const file = join(dir, "capsule-4.json");
  return { dir, file, capsule: JSON.parse(readFileSync(file, "utf8")) };
}

describe("p2psim replay", () => {
  it("reproduces a failing capsule bit for bit in a fresh process and exits with its verdict", () => {
    const { file, capsule } = failingCapsule();
    const text = p2psim("replay", file);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(`reproduced bit for bit: same fingerprint ${capsule.result.fingerprint} over ${capsule.result.events} events.`);
    const json = JSON.parse(p2psim("replay", file, "--json").stdout);
    expect(json).toMatchObject({
      reproduced: true,
      differences: [],
      replay: { fingerprint: capsule.result.fingerprint, invariants: capsule.result.invariants },
    });
  });

  it("reports a tampered capsule (another seed) as differing, and exits 1", () => {
    const { dir, file, capsule } = failingCapsule();
    const original = JSON.parse(readFileSync(file, "utf8"));
    const tampered = join(dir, "tampered.json");
    writeFileSync(tampered, JSON.stringify({ ...original, seed: capsule.seed + 1 }));
    const run = p2psim("replay", tampered);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("NOT reproduced");
    const at = original.scenario.faults[0].atUs;
    expect(run.stdout).toMatch(
      new RegExp(`fault 0 \\(device-reset gpu0\\): the capsule struck at ${at} µs, seed ${capsule.seed + 1} draws [\\d.]+ µs from \\[1, 6\\]`),
    );
    expect(JSON.parse(p2psim("replay", tampered, "--json").stdout).reproduced).toBe(false);
  });

  it("names the first window of events where a tampered fault time makes the trace part", () => {
    const { dir, file, capsule } = failingCapsule();
    const original = JSON.parse(readFileSync(file, "utf8"));
    const tampered = join(dir, "moved.json");
    const faults = [{ ...original.scenario.faults[0], atUs: 1.5 }];
    writeFileSync(tampered, JSON.stringify({ ...original, scenario: { ...original.scenario, faults } }));
    const json = JSON.parse(p2psim("replay", tampered, "--json").stdout);
    expect(json.reproduced).toBe(false);
    expect(json.differences).toContain(`fingerprint: capsule ${capsule.result.fingerprint}, replay ${json.replay.fingerprint}`);
    expect(json.firstDifferingWindow[0]).toBe(0);
    expect(json.differences.at(-1)).toMatch(/^the traces first differ within events 0\.\.\d+$/);
  });

  it("exits 2 on a bad capsule, naming the file, the JSON path and the expectation", () => {
    const { dir, file } = failingCapsule();
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), seed: "four" }));
    const run = p2psim("replay", bad);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe(`${bad}: $.seed: expected a non-negative integer`);
    expect(p2psim("replay", join(dir, "missing.json")).stderr).toMatch(/cannot read the capsule: ENOENT/);
  });
});
