import { describe, expect, it } from "vitest";
import { type ChromeTraceDocument, validateChromeTrace } from "../../src/io/perfetto-format.js";
import { perfettoPerfObserver } from "../../src/io/perfetto-run.js";
import { PerfettoWriter } from "../../src/io/perfetto-writer.js";
import { buildTopology } from "../../src/pci/build-topology.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { runLinkPerf } from "../../src/pci/link-perf.js";
import { runPathPerf } from "../../src/pci/path-perf.js";
import { XEON_E5_V3_GEN3X8 } from "../../src/pci/perf-platform.js";
import type { PciFunction } from "../../src/pci/topology.js";

const LINK = { gen: 4, lanes: 16, mps: 256, mrrs: 512, rcb: 64, rcbChunks: false, addressBits: 64, ecrc: false } as const;
const linkRun = (sizeBytes: number, observe?: Parameters<typeof runLinkPerf>[0]["observe"]) =>
  runLinkPerf({ link: LINK, op: "read", sizeBytes, ops: 300, ideal: false, platform: XEON_E5_V3_GEN3X8, ...(observe ? { observe } : {}) });

const threads = (doc: ChromeTraceDocument) =>
  doc.traceEvents
    .filter((e) => e.name === "thread_name")
    .map((e) => String(e.args?.name))
    .sort();

describe("Perfetto trace of perf runs", () => {
  it("lays the sizes' runs one after another on the link's two tracks, with read → completion arrows, and measures the same", () => {
    // The 4096 B run alone puts 4,800 completions on the down track: above the default cap of 5,000 with the first run's.
    const writer = new PerfettoWriter({ capPerTrack: 10_000 });
    const watched = [256, 4096].map((size) => linkRun(size, perfettoPerfObserver(writer, `${size} B read`)));
    expect(watched).toEqual([256, 4096].map((size) => linkRun(size)));
    const doc = JSON.parse(writer.json()) as ChromeTraceDocument;
    expect(validateChromeTrace(doc)).toEqual([]);
    expect(threads(doc)).toEqual(["0000:00:00.0→dev", "dev→0000:00:00.0", "verdict"]);
    const segments = doc.otherData.segments as Array<{ label: string; offsetPs: number }>;
    expect(segments.map((s) => s.label)).toEqual(["256 B read", "4096 B read"]);
    // The second run starts after the first one's last TLP.
    const firstRunEnd = Math.max(
      ...doc.traceEvents.filter((e) => e.ph === "X" && Number(e.args?.ps) < (segments[1]?.offsetPs ?? 0)).map((e) => e.ts + (e.dur ?? 0)),
    );
    expect((segments[1]?.offsetPs ?? 0) / 1e6).toBeGreaterThan(firstRunEnd);
    const arrows = doc.traceEvents.filter((e) => e.ph === "s").length;
    // 300 reads of 256 B (one MRd each) and 300 of 4096 B (8 MRds of 512 B each).
    expect(arrows).toBe(300 + 300 * 8);
    expect(doc.otherData.tlpsObserved).toBe(watched.reduce((n, w) => n + w.tlps, 0));
  });

  it("keeps at most capPerTrack slices per track, says how many it dropped, and still pairs every arrow", () => {
    const writer = new PerfettoWriter({ capPerTrack: 100 });
    const result = linkRun(4096, perfettoPerfObserver(writer, "4096 B read"));
    const doc = JSON.parse(writer.json()) as ChromeTraceDocument;
    expect(validateChromeTrace(doc)).toEqual([]);
    const dropped = doc.otherData.droppedSlices as Record<string, number>;
    expect(Object.values(dropped).reduce((a, b) => a + b, 0)).toBe(result.tlps - 200);
    expect(doc.traceEvents.filter((e) => e.ph === "X").length).toBe(200);
    expect(Number(doc.otherData.droppedFlows)).toBeGreaterThan(0);
    // The counters go on to the end of the run.
    const lastSample = Math.max(...doc.traceEvents.filter((e) => e.ph === "C").map((e) => e.ts));
    expect(lastSample * 1e6).toBeGreaterThan(result.simulatedPs - 2_000_000);
  });

  it("samples the IOTLB hit rate of a path through the IOMMU", () => {
    const built = buildTopology(oneSwitch(["gpu", "nic"], { iommu: "on" }));
    if (!built.ok) throw new Error("topology");
    const t = built.topology;
    const writer = new PerfettoWriter();
    const outcome = runPathPerf(
      t,
      t.find("nic0") as PciFunction,
      { kind: "host" },
      {
        op: "write",
        sizeBytes: 4096,
        ops: 300,
        ideal: false,
        platform: XEON_E5_V3_GEN3X8,
        tlp: LINK,
        workingSetBytes: 1 << 20,
        observe: perfettoPerfObserver(writer, "4096 B write"),
      },
    );
    if (!outcome.ok) throw new Error(outcome.message);
    const doc = JSON.parse(writer.json()) as ChromeTraceDocument;
    expect(validateChromeTrace(doc)).toEqual([]);
    const samples = doc.traceEvents.filter((e) => e.ph === "C" && e.name === "IOTLB hit rate %");
    expect(samples.length).toBeGreaterThan(0);
    const translations = samples.reduce((n, e) => n + Number(e.args?.translations), 0);
    expect(translations).toBe(outcome.iotlb.hits + outcome.iotlb.misses);
  });
});
