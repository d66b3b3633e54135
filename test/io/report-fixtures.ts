/**
 * Inputs for the report tests: a real run of the flagship scenario under the exporter that breaks
 * I1 (with the timeline and machine the `run` command adds), a synthetic sweep and perf rows, and
 * small HTML helpers (the SVG parts are well-formed XML and are parsed as such).
 */
import { join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import { loadScenarioFile } from "../../src/cli/load-scenario-file.js";
import { scenarioTopology } from "../../src/cli/report-command.js";
import type { ExploreReportInput, PerfReportInput, RunReportInput, SeedRow } from "../../src/io/report-input.js";
import { TimelineRecorder } from "../../src/io/report-timeline.js";
import { runScenario } from "../../src/scenario/run-scenario.js";

export const REPO = join(import.meta.dirname, "..", "..");
export const FLAGSHIP = join(REPO, "scenarios", "revoke-during-cq-writes.yaml");

/** The flagship run under `vfio-dmabuf-initial`, as `run --json` prints it. */
export function flagshipViolation(): RunReportInput {
  const loaded = loadScenarioFile(FLAGSHIP);
  if (!loaded.ok) throw new Error(loaded.lines.join("\n"));
  const timeline = new TimelineRecorder(loaded.loaded.scenario.budget.safetyUs * 1e6);
  const result = runScenario(loaded.loaded, { profile: "vfio-dmabuf-initial", sinks: [timeline.sink] });
  return { ...result, p2psim: "test", topology: scenarioTopology(loaded.loaded, result.profile), timeline: timeline.timeline() };
}

/** A sweep of `count` seeds from 1 where every seventh seed broke I1. */
export function syntheticSweep(count: number): ExploreReportInput {
  const perSeed: SeedRow[] = Array.from({ length: count }, (_, i) => {
    const seed = i + 1;
    const bad = seed % 7 === 0;
    return { seed, verdict: bad ? "violation" : "pass", fingerprint: seed.toString(16).padStart(16, "0"), invariants: bad ? ["I1"] : [], events: 100 + seed };
  });
  const failing = perSeed.filter((s) => s.verdict === "violation").map((s) => s.seed);
  return {
    p2psim: "test",
    scenario: "synthetic",
    seeds: `1..${count}`,
    shard: null,
    swarm: false,
    profile: "default",
    mutants: ["callback-returns-before-drain"],
    stoppedAt: null,
    totals: { seeds: count, pass: count - failing.length, violation: failing.length, events: perSeed.reduce((a, s) => a + s.events, 0), nondeterministic: 0 },
    invariants: failing.length === 0 ? {} : { I1: failing.length },
    probes: { hit: { "revoke-raced-cqe-write": 3 }, neverHit: ["cq-error-raised", "reset-during-mr-fault"] },
    failingSeeds: failing,
    perSeed,
  };
}

/** Three rows of the `--link` form. */
export const PERF: PerfReportInput = {
  link: { name: "gen4x16", gen: 4, lanes: 16, mps: 256, mrrs: 512 },
  ideal: false,
  profile: "xeon-e5-v3-gen3x8",
  rows: [
    {
      size: 64,
      op: "write",
      goodputGbps: 106.8,
      goodputGBps: 13.35,
      transactionsPerSec: 208622606,
      latencyNsMedian: 2162.9,
      latencyNsP99: 2226.2,
      modelGbps: 165.4,
    },
    {
      size: 256,
      op: "write",
      goodputGbps: 207.7,
      goodputGBps: 25.96,
      transactionsPerSec: 101396447,
      latencyNsMedian: 2178.8,
      latencyNsP99: 2178.8,
      modelGbps: 207.9,
    },
    {
      size: 4096,
      op: "write",
      goodputGbps: 207.8,
      goodputGBps: 25.97,
      transactionsPerSec: 6340234,
      latencyNsMedian: 2326.5,
      latencyNsP99: 2326.5,
      modelGbps: 207.9,
    },
  ],
};

/** Every `<svg class="CLS…">…</svg>` of the page, in order. */
export function svgs(html: string, cls: string): string[] {
  return [...html.matchAll(new RegExp(`<svg[^>]*class="${cls}[^"]*"[\\s\\S]*?</svg>`, "g"))].map((m) => m[0]);
}

/** Parses an SVG fragment as XML (attributes prefixed `@_`); throws when it is not well-formed. */
export function parseSvg(svg: string): Record<string, unknown> {
  return new XMLParser({ ignoreAttributes: false, preserveOrder: false, isArray: () => true }).parse(svg, true) as Record<string, unknown>;
}

/** The `<tbody>` rows of the first table after `marker`, as cell texts (tags stripped, entities decoded). */
export function tableAfter(html: string, marker: string): string[][] {
  const from = html.indexOf(marker);
  if (from < 0) return [];
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html.slice(from))?.[1] ?? "";
  return [...body.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((row) =>
    [...(row[1] ?? "").matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => decode((c[1] ?? "").replace(/<[^>]+>/g, ""))),
  );
}

/** Decodes the five entities the report writes. */
export function decode(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

/** The values of attribute `name` on elements of class `cls`. */
export function attrs(html: string, cls: string, name: string): string[] {
  return [...html.matchAll(new RegExp(`class="${cls}"[^>]*?${name}="([^"]*)"`, "g"))].map((m) => m[1] ?? "");
}
