/**
 * Wiring of the Perfetto writer into a scenario run: the run options that subscribe its sink and
 * let it watch the world's fabric and IOMMU, and the recorder behind `--trace FILE`. The world is typed by the shape the writer reads, so
 * src/io need not import src/scenario (the layer rule).
 */
import type { TraceSink } from "../fabric/trace.js";
import type { Fabric } from "../pci/fabric.js";
import type { Topology } from "../pci/topology.js";
import { traceEventLine } from "./jsonl.js";
import type { IotlbCounts } from "./perfetto-counters.js";
import { type PerfettoViolation, PerfettoWriter } from "./perfetto-writer.js";

/** What the writer reads of a scenario's world (`ScenarioWorld` has this shape). */
export interface PerfettoWorld {
  readonly engine: { readonly nowPs: number };
  readonly rdma: {
    readonly topology: Topology;
    readonly bus: { readonly fabric: Fabric };
    readonly iommu?: { readonly iommu: { stats(): IotlbCounts } } | undefined;
  };
}

/** Run options (`sinks`, `observeWorld`) that feed `writer` from a scenario run. */
export function perfettoRunOptions(writer: PerfettoWriter): { sinks: TraceSink[]; observeWorld: (world: PerfettoWorld) => void } {
  return {
    sinks: [writer.sink],
    observeWorld: (world) => {
      const iommu = world.rdma.iommu?.iommu;
      writer.observe({ clock: world.engine, fabric: world.rdma.bus.fabric, topology: world.rdma.topology, ...(iommu ? { iommu } : {}) });
    },
  };
}

/** How a run reports itself to a trace at its end. */
export interface TracedRunOutcome {
  readonly verdict: "pass" | "violation";
  readonly violations: readonly PerfettoViolation[];
  readonly endPs: number;
}

/** A trace being recorded for one scenario run: what to pass to the run, and what to call after it. */
export interface ScenarioTraceRecorder {
  readonly sinks: TraceSink[];
  readonly observeWorld?: (world: PerfettoWorld) => void;
  /** Writes what is left (the whole Chrome trace; nothing more for JSON lines). */
  finish(outcome: TracedRunOutcome): void;
}

/** Whether `path` asks for JSON lines (`.jsonl`) rather than a Chrome JSON trace. */
export function isJsonLinesPath(path: string): boolean {
  return path.toLowerCase().endsWith(".jsonl");
}

/**
 * The recorder for `--trace PATH`: every trace event as a JSON line when PATH ends in `.jsonl`,
 * else the Chrome JSON trace of {@link PerfettoWriter}.
 * @param write receives the file's text, in order (the caller owns the file).
 */
export function traceRecorder(path: string, write: (text: string) => void): ScenarioTraceRecorder {
  if (isJsonLinesPath(path)) return { sinks: [(event) => write(traceEventLine(event))], finish: () => {} };
  const writer = new PerfettoWriter();
  return {
    ...perfettoRunOptions(writer),
    finish: (outcome) => {
      writer.verdict(outcome.verdict, outcome.violations, outcome.endPs);
      write(writer.json());
    },
  };
}

/** What a `perf` run shows a watcher (`PerfRunView` of src/pci/link-perf.ts has this shape). */
export interface PerfettoPerfRun {
  readonly engine: { readonly nowPs: number };
  readonly fabric: Fabric;
  readonly topology: Topology;
  readonly iommu?: { stats(): IotlbCounts };
}

/**
 * The `observe` hook of a `perf` run that feeds `writer`: each run (one per size) becomes a
 * segment of one timeline, after the previous one, opened by an instant named `label`.
 */
export function perfettoPerfObserver(writer: PerfettoWriter, label: string): (run: PerfettoPerfRun) => void {
  return (run) => writer.observe({ clock: run.engine, fabric: run.fabric, topology: run.topology, ...(run.iommu ? { iommu: run.iommu } : {}) }, label);
}
