/**
 * The typed scenario builder: TypeScript users write a scenario as code and get the same plain
 * {@link Scenario} object a scenario file parses to [DESIGN.md "Scenarios, checks, exploration"],
 * so the loader's checks ({@link checkScenario}), the runner and the replay capsule treat both
 * alike. For example, the flagship:
 *
 * ```ts
 * const flagship = scenario("revoke-during-cq-writes")
 *   .goal("A VFIO reset during in-flight CQ writes …")
 *   .method("nic0 streams 4 KiB RDMA WRITEs into gpu0 BAR1 …")
 *   .topology("topologies/one-switch.json")
 *   .kernel({ profile: "default" })
 *   .export({ device: "gpu0", bar: 1, bytes: 2097152 })
 *   .rdmaStream({ nic: "nic0", op: "write", count: 32, bytes: 4096, depth: 8, cq: { placement: "bar", pin: "pinned", entries: 64 } })
 *   .fault("device-reset", "gpu0", { windowUs: [1, 6] })
 *   .budget({ safetyUs: 20, livenessUs: 250000 })
 *   .seed(1)
 *   .expect({ profile: "default", verdict: "pass" }, { profile: "vfio-dmabuf-initial", verdict: "violation", invariant: "I1" })
 *   .build();
 * ```
 *
 * The builder checks structure only (every required part given, a fault has exactly one time);
 * names against the topology, windows against the budget and the schema's ranges are the loader's
 * job, as for a file. Each method returns a new builder, so a half-built scenario can be shared
 * as a base and finished in several ways (a swarm mode, a test table).
 */
import type { InvariantId } from "../check/monitor.js";
import type { TopologySpec } from "../pci/topology-spec.js";
import type {
  Expectation,
  Fault,
  FaultKind,
  FaultTime,
  Measurement,
  QpCreateWorkload,
  RdmaStreamWorkload,
  Scenario,
  ScenarioExport,
  ScenarioKernel,
  Workload,
} from "./scenario.js";

/** The parts a scenario must have; {@link ScenarioBuilder.build} throws when one is missing. */
const REQUIRED = ["goal", "method", "topology", "exports", "workloads", "budget"] as const;

/** What a builder has collected so far: a scenario whose parts may still be missing. */
type Draft = { -readonly [K in keyof Scenario]?: Scenario[K] } & { readonly name: string };

/** How a fault is timed, and its kind's own options (`with` for `hot-reset`, and so on): a {@link Fault} without its kind and target. */
export type FaultOptions = FaultTime & Omit<Extract<Fault, { readonly atUs: number }>, "fault" | "target" | "atUs">;

/** An immutable scenario builder; start one with {@link scenario}. */
export class ScenarioBuilder {
  private constructor(private readonly draft: Draft) {}

  /** A builder holding only the scenario's name (internal: use {@link scenario}). */
  static named(name: string): ScenarioBuilder {
    return new ScenarioBuilder({ name });
  }

  private extend(part: Partial<Draft>): ScenarioBuilder {
    return new ScenarioBuilder({ ...this.draft, ...part });
  }

  /** Sets what the scenario proves, in a sentence or two (replaces an earlier goal). */
  goal(text: string): ScenarioBuilder {
    return this.extend({ goal: text });
  }

  /** Sets how it proves it: the machine, the programs, the faults. */
  method(text: string): ScenarioBuilder {
    return this.extend({ method: text });
  }

  /** Sets the machine: a topology document inline, or a path relative to the scenario file. */
  topology(specOrPath: string | TopologySpec): ScenarioBuilder {
    return this.extend({ topology: specOrPath });
  }

  /** Sets the kernel profile and bug mutants (replaces an earlier kernel). */
  kernel(kernel: ScenarioKernel): ScenarioBuilder {
    return this.extend({ kernel: { ...kernel, ...(kernel.mutants === undefined ? {} : { mutants: [...kernel.mutants] }) } });
  }

  /** Sets whether the IOMMU translates the NIC's DMA. */
  iommu(on: boolean): ScenarioBuilder {
    return this.extend({ iommu: on });
  }

  /** Adds a BAR range exported through `VFIO_DEVICE_FEATURE_DMA_BUF` at the start; the first is the one programs use. */
  export(exported: ScenarioExport): ScenarioBuilder {
    return this.extend({ exports: [...(this.draft.exports ?? []), { ...exported }] });
  }

  /** Adds a program streaming RDMA WRITEs (or READs) between a NIC and the first export. */
  rdmaStream(stream: Omit<RdmaStreamWorkload, "kind">): ScenarioBuilder {
    return this.workload({ kind: "rdma-stream", ...stream, ...(stream.cq === undefined ? {} : { cq: { ...stream.cq } }) });
  }

  /** Adds a QP creation with buffer descriptors (`unconsumed`: one the driver does not load, E19). */
  qpCreate(create: Omit<QpCreateWorkload, "kind">): ScenarioBuilder {
    return this.workload({ kind: "qp-create", ...create });
  }

  /** Adds a program of any kind. */
  workload(workload: Workload): ScenarioBuilder {
    return this.extend({ workloads: [...(this.draft.workloads ?? []), workload] });
  }

  /**
   * Adds a fault of the catalogue.
   * @param kind the fault's name. @param target what it hits (a device label, or a NIC for `cq-overflow`).
   * @param options `{ atUs }` or `{ windowUs: [from, to] }` (the seed draws the time), and the kind's options (`with`, `fails`, `delayUs`).
   * @throws when `options` has both or neither of `atUs` and `windowUs` (the types forbid it; JavaScript callers may not).
   */
  fault(kind: FaultKind, target: string, options: FaultOptions): ScenarioBuilder {
    const at = "atUs" in options;
    const window = "windowUs" in options;
    if (at === window) throw new Error(`scenario ${this.draft.name}: fault ${kind} on ${target} needs exactly one of atUs and windowUs`);
    // Arrays are copied so a caller changing its own array later cannot change the scenario.
    const fault: Fault = {
      fault: kind,
      target,
      ...options,
      ...("windowUs" in options ? { windowUs: [options.windowUs[0], options.windowUs[1]] } : {}),
      ...(options.with === undefined ? {} : { with: [...options.with] }),
    };
    return this.extend({ faults: [...(this.draft.faults ?? []), fault] });
  }

  /** Sets the invariants to monitor (default, when never called: every one of kernel.md §f). */
  invariants(...ids: readonly InvariantId[]): ScenarioBuilder {
    return this.extend({ invariants: [...ids] });
  }

  /** Sets the measurements to report. */
  measurements(...names: readonly Measurement[]): ScenarioBuilder {
    return this.extend({ measurements: [...names] });
  }

  /** Sets the simulated time: the safety phase (faults strike), then the liveness phase (faults off). */
  budget(budget: { readonly safetyUs: number; readonly livenessUs: number }): ScenarioBuilder {
    return this.extend({ budget: { safetyUs: budget.safetyUs, livenessUs: budget.livenessUs } });
  }

  /** Sets the seed used when the command line gives none. */
  seed(seed: number): ScenarioBuilder {
    return this.extend({ seed });
  }

  /** Adds expected outcomes, one per kernel (profile and mutants). */
  expect(...expectations: readonly Expectation[]): ScenarioBuilder {
    const copies = expectations.map((e) => ({ ...e, ...(e.mutants === undefined ? {} : { mutants: [...e.mutants] }) }));
    return this.extend({ expect: [...(this.draft.expect ?? []), ...copies] });
  }

  /**
   * The scenario, with its parts in the order a scenario file lists them.
   * @returns a plain {@link Scenario}; check it with `checkScenario` before running it.
   * @throws naming every missing required part (a programming error of the caller).
   */
  build(): Scenario {
    const d = this.draft;
    const missing = REQUIRED.filter((part) => d[part] === undefined);
    if (missing.length > 0) throw new Error(`scenario ${d.name}: missing ${missing.join(", ")} (set them before build())`);
    const { goal, method, topology, exports, workloads, budget } = d as Draft & Pick<Scenario, (typeof REQUIRED)[number]>;
    const optional = <K extends keyof Scenario>(key: K) => (d[key] === undefined ? {} : { [key]: d[key] });
    return {
      name: d.name,
      goal,
      method,
      topology,
      ...optional("kernel"),
      ...optional("iommu"),
      exports,
      workloads,
      ...optional("faults"),
      ...optional("invariants"),
      ...optional("measurements"),
      budget,
      ...optional("seed"),
      ...optional("expect"),
    };
  }
}

/**
 * Starts a scenario.
 * @param name a short kebab-case id (the schema checks the pattern when the scenario is loaded).
 * @returns a builder with nothing but the name.
 */
export function scenario(name: string): ScenarioBuilder {
  return ScenarioBuilder.named(name);
}
