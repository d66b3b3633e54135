/**
 * One run of a scenario under one seed and one kernel: build the world with the monitors, probes
 * and measurements subscribed first, start the programs, strike the faults (window times drawn
 * from the seed's `faults/<i>` streams), run the safety phase, then the liveness phase with no
 * faults left to strike, and end every monitor's open obligations. The result is a plain value:
 * the verdict, each invariant's first violation with its causal chain, probes, measurements and
 * fault reports, and the fingerprint that names the run.
 */
import { MONITORS } from "../check/catalogue.js";
import { INVARIANT_IDS, type InvariantId, type Monitor, type Violation } from "../check/monitor.js";
import { type ProbeName, ProbeSet } from "../check/probes.js";
import type { Engine } from "../fabric/engine.js";
import type { RngStream } from "../fabric/rng.js";
import { us } from "../fabric/time.js";
import type { TraceEvent, TraceSink } from "../fabric/trace.js";
import { type FaultReport, scheduleFaults } from "./faults.js";
import { kernelOptions } from "./kernel-options.js";
import type { LoadedScenario } from "./load-scenario.js";
import { TraceMeasures } from "./measure.js";
import type { Fault, KernelMutant, KernelProfile } from "./scenario.js";
import { type ScenarioWorld, scenarioWorld } from "./scenario-world.js";
import { startWorkloads, type WorkloadCompletions } from "./workloads.js";

/** What a run may change from the scenario file. */
export interface RunOptions {
  /** Default the scenario's seed, else 1. */
  readonly seed?: number;
  /** Replaces the scenario's kernel profile. */
  readonly profile?: KernelProfile;
  /** Replaces the scenario's mutants. */
  readonly mutants?: readonly KernelMutant[];
  /** More trace sinks (a trace writer, a determinism recorder), subscribed before the world is built. */
  readonly sinks?: readonly TraceSink[];
  /** Replaces the scenario's faults (the shrinker's smaller schedules). */
  readonly faults?: readonly Fault[];
  /**
   * Called once the world is built, before the programs start: a timeline writer watches the
   * fabric's links and the IOMMU from here (it must only read, so the fingerprint is unchanged).
   */
  readonly observeWorld?: (world: ScenarioWorld) => void;
}

/** A violation as the report carries it. */
export interface ViolationReport {
  readonly invariant: InvariantId;
  readonly timePs: number;
  readonly message: string;
  /** The causal chain, oldest first, ending with the breaking event. */
  readonly chain: readonly TraceEvent[];
}

/** The result of one run (the `--json` report). */
export interface RunResult {
  readonly scenario: string;
  readonly seed: number;
  readonly profile: KernelProfile;
  readonly mutants: readonly KernelMutant[];
  readonly verdict: "pass" | "violation";
  readonly fingerprint: string;
  /** Each broken invariant's first violation, in the order they happened. */
  readonly violations: readonly ViolationReport[];
  /** Invariants asked for that have no monitor yet. */
  readonly unmonitored: readonly InvariantId[];
  readonly probes: Readonly<Record<ProbeName, number>>;
  readonly measurements: Readonly<Record<string, number | string>>;
  readonly faults: readonly FaultReport[];
  /** What each program did, one line each. */
  readonly workloads: readonly string[];
  readonly events: number;
  readonly endPs: number;
}

/**
 * Bytes the programs completed successfully, per second of the span they took: from the first
 * program's start to the last successful completion reaped (a fault that slows the stream shows).
 */
function goodputGbps(bytesOk: number, done: readonly WorkloadCompletions[]): number {
  const spans = done.flatMap((c) => (c.spanPs === undefined ? [] : [c.spanPs]));
  if (spans.length === 0) return 0;
  const spanPs = Math.max(...spans.map((s) => s[1])) - Math.min(...spans.map((s) => s[0]));
  return spanPs <= 0 ? 0 : Number(((bytesOk * 8) / (spanPs / 1000)).toFixed(3));
}

/** The monitors of the run, and the first violation of each. */
function watch(ids: readonly InvariantId[]) {
  const monitors: Monitor[] = ids.flatMap((id) => {
    const factory = MONITORS[id];
    return factory ? [factory()] : [];
  });
  const found = new Map<InvariantId, Violation>();
  const record = (v: Violation | undefined) => {
    if (v !== undefined && !found.has(v.invariant)) found.set(v.invariant, v);
  };
  return {
    unmonitored: ids.filter((id) => MONITORS[id] === undefined),
    sink: (event: TraceEvent) => {
      for (const m of monitors) if (!found.has(m.id)) record(m.observe(event));
    },
    end: (nowPs: number) => {
      for (const m of monitors) if (!found.has(m.id)) record(m.end?.(nowPs));
    },
    violations: () => [...found.values()].sort((a, b) => a.timePs - b.timePs || (a.event?.seq ?? Infinity) - (b.event?.seq ?? Infinity)),
  };
}

/** The name of the random stream fault `index`'s time is drawn from. */
export function faultStreamName(index: number): string {
  return `faults/${index}`;
}

/** A fault time drawn uniformly from a window of µs, in ps (the one draw the runner and the capsule check share). */
export function drawFaultTime(stream: RngStream, windowUs: readonly [number, number]): number {
  return stream.intBetween(us(windowUs[0]), us(windowUs[1]));
}

/** Each fault's time: fixed, or drawn from its window by its own stream of the run's seed. */
function faultTimes(engine: Engine, faults: readonly Fault[]): number[] {
  return faults.map((f, i) => ("atUs" in f ? us(f.atUs) : drawFaultTime(engine.rng.stream(faultStreamName(i)), f.windowUs as readonly [number, number])));
}

/**
 * Runs the scenario once.
 * @throws Error when the world cannot be built (a loader bug: loaded scenarios are checked).
 */
export function runScenario(loaded: LoadedScenario, options: RunOptions = {}): RunResult {
  const { scenario } = loaded;
  const seed = options.seed ?? scenario.seed ?? 1;
  const profile = options.profile ?? scenario.kernel?.profile ?? "default";
  const mutants = options.mutants ?? scenario.kernel?.mutants ?? [];
  const monitors = watch(scenario.invariants ?? INVARIANT_IDS);
  const probes = new ProbeSet();
  const measures = new TraceMeasures();
  const kernel = kernelOptions(profile, mutants);
  const world = scenarioWorld(loaded, kernel, seed, (engine) => {
    engine.trace.subscribe(monitors.sink);
    engine.trace.subscribe((e) => probes.observe(e));
    engine.trace.subscribe((e) => measures.observe(e));
    for (const sink of options.sinks ?? []) engine.trace.subscribe(sink);
  });
  const { engine } = world;
  options.observeWorld?.(world);
  const programs = startWorkloads(world, scenario.workloads, kernel);
  const faultList = options.faults ?? scenario.faults ?? [];
  const faults = scheduleFaults(world, faultList, faultTimes(engine, faultList), programs);
  const safetyEnd = us(scenario.budget.safetyUs);
  engine.runUntil(safetyEnd);
  // Liveness: every fault struck within the safety phase; what is outstanding must now end.
  const end = safetyEnd + us(scenario.budget.livenessUs);
  engine.runUntil(end);
  monitors.end(end);
  faults.settle();
  const done = programs.map((p) => p.completions());
  const bytesOk = done.reduce((sum, c) => sum + c.bytesOk, 0);
  const measurements: Record<string, number | string> = {
    "completions.ok": done.reduce((sum, c) => sum + c.ok, 0),
    "completions.failed": done.reduce((sum, c) => sum + c.failed, 0),
    "goodput.gbps": goodputGbps(bytesOk, done),
    revokes: measures.revokes,
    "revoke-latency.max.ns": measures.revokeLatencyMaxPs / 1000,
    "tlps-after-revoke": measures.tlpsAfterRevoke,
    events: engine.trace.count,
  };
  const violations = monitors.violations().map((v) => ({ invariant: v.invariant, timePs: v.timePs, message: v.message, chain: v.chain }));
  return {
    scenario: scenario.name,
    seed,
    profile,
    mutants,
    verdict: violations.length === 0 ? "pass" : "violation",
    fingerprint: engine.trace.fingerprint.hex(),
    violations,
    unmonitored: monitors.unmonitored,
    probes: { ...probes.hits },
    measurements,
    faults: faults.reports,
    workloads: programs.map((p) => `${p.workload.kind} ${p.workload.nic}: ${p.summary()}`),
    events: engine.trace.count,
    endPs: engine.nowPs,
  };
}
