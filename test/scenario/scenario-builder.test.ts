import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { INVARIANT_IDS } from "../../src/check/monitor.js";
import type { TopologySpec } from "../../src/pci/topology-spec.js";
import { checkScenario } from "../../src/scenario/load-scenario.js";
import {
  type Expectation,
  FAULT_KINDS,
  type Fault,
  KERNEL_MUTANTS,
  KERNEL_PROFILES,
  MEASUREMENTS,
  type Scenario,
  type ScenarioExport,
  type ScenarioKernel,
  type Workload,
} from "../../src/scenario/scenario.js";
import { type ScenarioBuilder, scenario } from "../../src/scenario/scenario-builder.js";
import { SCENARIO_SCHEMA } from "../../src/scenario/scenario-schema.js";

const validate = new Ajv2020({ allErrors: true, strict: true, discriminator: true }).compile(SCENARIO_SCHEMA);
const TOPOLOGIES = join(import.meta.dirname, "..", "..", "scenarios", "topologies");
const INLINE_TOPOLOGIES = ["one-switch.json", "dual-socket.json"].map((f) => JSON.parse(readFileSync(join(TOPOLOGIES, f), "utf8")) as TopologySpec);

// Arbitrary valid parts: each within the schema's ranges, nothing about the topology's labels
// (the schema cannot know them; the loader's semantic pass checks them).
const label = fc.string({ minLength: 1, maxLength: 8 });
const micros = fc.double({ min: 0, max: 1e6, noNaN: true });
const subset = <T>(values: readonly T[]) => fc.uniqueArray(fc.constantFrom(...values), { maxLength: 4 });

const kernel: fc.Arbitrary<ScenarioKernel> = fc.record({ profile: fc.constantFrom(...KERNEL_PROFILES), mutants: subset(KERNEL_MUTANTS) }, { requiredKeys: [] });
const exported: fc.Arbitrary<ScenarioExport> = fc.record(
  { device: label, bar: fc.integer({ min: 0, max: 5 }), bytes: fc.integer({ min: 1, max: 1024 }).map((pages) => pages * 4096) },
  { requiredKeys: ["device", "bar"] },
);
const cq = fc.record(
  {
    placement: fc.constantFrom("host" as const, "bar" as const),
    pin: fc.constantFrom("pinned" as const, "pinned-revocable" as const),
    entries: fc.integer({ min: 1, max: 65536 }),
  },
  { requiredKeys: ["placement"] },
);
const workload: fc.Arbitrary<Workload> = fc.oneof(
  fc.record(
    {
      kind: fc.constant("rdma-stream" as const),
      nic: label,
      op: fc.constantFrom("write" as const, "read" as const),
      count: fc.integer({ min: 1, max: 1_000_000 }),
      bytes: fc.integer({ min: 1, max: 1_048_576 }),
      depth: fc.integer({ min: 1, max: 64 }),
      cq,
      startUs: micros,
    },
    { requiredKeys: ["kind", "nic", "count", "bytes"] },
  ),
  fc.record({ kind: fc.constant("qp-create" as const), nic: label, unconsumed: fc.boolean(), atUs: micros }, { requiredKeys: ["kind", "nic"] }),
);
const fault = fc.record(
  {
    kind: fc.constantFrom(...FAULT_KINDS),
    target: label,
    time: fc.oneof(
      fc.record({ atUs: micros }),
      fc.tuple(micros, micros).map((windowUs) => ({ windowUs })),
    ),
    with: fc.array(label, { maxLength: 3 }),
    fails: fc.boolean(),
    delayUs: micros,
  },
  { requiredKeys: ["kind", "target", "time"] },
);
const expectation: fc.Arbitrary<Expectation> = fc.record(
  {
    profile: fc.constantFrom(...KERNEL_PROFILES),
    mutants: subset(KERNEL_MUTANTS),
    verdict: fc.constantFrom("pass" as const, "violation" as const),
    invariant: fc.constantFrom(...INVARIANT_IDS),
  },
  { requiredKeys: ["verdict"] },
);
const positiveMicros = fc.double({ min: 0.001, max: 1e9, noNaN: true });

const parts = fc.record({
  name: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,15}$/),
  goal: fc.string({ minLength: 1 }),
  method: fc.string({ minLength: 1 }),
  topology: fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom(...INLINE_TOPOLOGIES)),
  kernel: fc.option(kernel, { nil: undefined }),
  iommu: fc.option(fc.boolean(), { nil: undefined }),
  exports: fc.array(exported, { minLength: 1, maxLength: 3 }),
  workloads: fc.array(workload, { minLength: 1, maxLength: 3 }),
  faults: fc.array(fault, { maxLength: 4 }),
  invariants: fc.option(subset(INVARIANT_IDS), { nil: undefined }),
  measurements: fc.option(subset(MEASUREMENTS), { nil: undefined }),
  budget: fc.record({ safetyUs: positiveMicros, livenessUs: positiveMicros }),
  seed: fc.option(fc.nat(), { nil: undefined }),
  expect: fc.array(expectation, { maxLength: 3 }),
});
type Parts = typeof parts extends fc.Arbitrary<infer P> ? P : never;

/** Builds a scenario from parts through every method of the builder. */
function build(p: Parts): Scenario {
  let b: ScenarioBuilder = scenario(p.name).goal(p.goal).method(p.method).topology(p.topology).budget(p.budget);
  if (p.kernel !== undefined) b = b.kernel(p.kernel);
  if (p.iommu !== undefined) b = b.iommu(p.iommu);
  for (const e of p.exports) b = b.export(e);
  for (const w of p.workloads) {
    if (w.kind === "rdma-stream") {
      const { kind: _kind, ...stream } = w;
      b = b.rdmaStream(stream);
    } else {
      const { kind: _kind, ...create } = w;
      b = b.qpCreate(create);
    }
  }
  for (const { kind, target, time, ...options } of p.faults) b = b.fault(kind, target, { ...time, ...options });
  if (p.invariants !== undefined) b = b.invariants(...p.invariants);
  if (p.measurements !== undefined) b = b.measurements(...p.measurements);
  if (p.seed !== undefined) b = b.seed(p.seed);
  if (p.expect.length > 0) b = b.expect(...p.expect);
  return b.build();
}

type Kind = "string" | "number" | "array" | "object" | "topology";
/** Values of the wrong JSON type for a field of each kind (`topology` is a string or an object). */
const WRONG: Record<Kind, readonly unknown[]> = {
  string: [7, true, null, {}, []],
  number: ["7", true, null, {}, []],
  array: ["x", 7, true, null, {}],
  object: ["x", 7, true, null, []],
  topology: [7, true, null, []],
};

type Path = readonly (string | number)[];
const jsonPath = (path: Path) => `$${path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("")}`;

/** Every field the schema requires in `s`, with its kind. */
function requiredFields(s: Scenario): [Path, Kind][] {
  const fields: [Path, Kind][] = [
    [["name"], "string"],
    [["goal"], "string"],
    [["method"], "string"],
    [["topology"], "topology"],
    [["exports"], "array"],
    [["workloads"], "array"],
    [["budget"], "object"],
    [["budget", "safetyUs"], "number"],
    [["budget", "livenessUs"], "number"],
  ];
  for (const i of s.exports.keys()) fields.push([["exports", i, "device"], "string"], [["exports", i, "bar"], "number"]);
  for (const [i, w] of s.workloads.entries()) {
    fields.push([["workloads", i, "kind"], "string"], [["workloads", i, "nic"], "string"]);
    if (w.kind === "rdma-stream") fields.push([["workloads", i, "count"], "number"], [["workloads", i, "bytes"], "number"]);
    if (w.kind === "rdma-stream" && w.cq !== undefined) fields.push([["workloads", i, "cq", "placement"], "string"]);
  }
  for (const i of (s.faults ?? []).keys()) fields.push([["faults", i, "fault"], "string"], [["faults", i, "target"], "string"]);
  for (const i of (s.expect ?? []).keys()) fields.push([["expect", i, "verdict"], "string"]);
  return fields;
}

/** A deep copy of `value` with the field at `path` replaced. */
function replaced(value: unknown, path: Path, by: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  at[path[path.length - 1] as string | number] = by;
  return copy;
}

describe("scenario builder: properties", () => {
  it("every scenario built from valid parts validates against the schema", () => {
    fc.assert(
      fc.property(parts, (p) => {
        const s = build(p);
        expect(validate(s) ? [] : validate.errors).toEqual([]);
        // What a file would hold: the JSON round trip changes nothing.
        expect(JSON.parse(JSON.stringify(s))).toStrictEqual(s);
      }),
      { numRuns: 300 },
    );
  });

  it("a required field of the wrong type is reported first, at its own path", () => {
    fc.assert(
      fc.property(parts, fc.nat(), fc.nat(), (p, pick, wrongPick) => {
        const s = build(p);
        const fields = requiredFields(s);
        const [path, kind] = fields[pick % fields.length] as [Path, Kind];
        const wrong = WRONG[kind][wrongPick % WRONG[kind].length];
        const checked = checkScenario(replaced(s, path, wrong), "generated.json", () => undefined);
        expect(checked.ok ? undefined : checked.errors[0]).toMatchObject({ file: "generated.json", jsonPath: jsonPath(path) });
      }),
      { numRuns: 500 },
    );
  });
});

describe("scenario builder: structure", () => {
  const base = scenario("minimal")
    .goal("g")
    .method("m")
    .topology("topologies/one-switch.json")
    .export({ device: "gpu0", bar: 1 })
    .qpCreate({ nic: "nic0" })
    .budget({ safetyUs: 1, livenessUs: 2 });

  it("leaves out what was never set, and lists parts in file order", () => {
    const s = base.build();
    expect(s).toStrictEqual({
      name: "minimal",
      goal: "g",
      method: "m",
      topology: "topologies/one-switch.json",
      exports: [{ device: "gpu0", bar: 1 }],
      workloads: [{ kind: "qp-create", nic: "nic0" }],
      budget: { safetyUs: 1, livenessUs: 2 },
    });
    expect(Object.keys(base.seed(3).iommu(true).kernel({ profile: "default" }).build())).toEqual([
      "name",
      "goal",
      "method",
      "topology",
      "kernel",
      "iommu",
      "exports",
      "workloads",
      "budget",
      "seed",
    ]);
  });

  it("is immutable: a shared base finishes two ways without either seeing the other", () => {
    const a = base.fault("flr", "gpu0", { atUs: 0.5 }).build();
    const b = base.fault("d3", "gpu0", { windowUs: [0, 1] }).build();
    expect(a.faults).toEqual([{ fault: "flr", target: "gpu0", atUs: 0.5 }]);
    expect(b.faults).toEqual([{ fault: "d3", target: "gpu0", windowUs: [0, 1] }]);
    expect(base.build().faults).toBeUndefined();
  });

  it("copies what it is given, so later changes to the caller's arrays do not leak in", () => {
    const mutants: ("E6" | "E7")[] = ["E6"];
    const withs = ["gpu1"];
    const s = base.kernel({ mutants }).fault("hot-reset", "gpu0", { atUs: 0, with: withs }).build();
    mutants.push("E7");
    withs.push("gpu2");
    expect(s.kernel).toEqual({ mutants: ["E6"] });
    expect(s.faults?.[0]).toEqual({ fault: "hot-reset", target: "gpu0", atUs: 0, with: ["gpu1"] });
  });

  it("throws on build() naming every missing required part", () => {
    expect(() => scenario("empty").build()).toThrow("scenario empty: missing goal, method, topology, exports, workloads, budget (set them before build())");
    expect(() => scenario("x").goal("g").method("m").topology("t").budget({ safetyUs: 1, livenessUs: 1 }).build()).toThrow(/missing exports, workloads \(/);
  });

  it("throws on a fault with both or neither of atUs and windowUs (a JavaScript caller can pass either)", () => {
    const both = { atUs: 1, windowUs: [0, 2] } as unknown as Fault & { atUs: number };
    const neither = {} as unknown as { atUs: number };
    expect(() => base.fault("flr", "gpu0", both)).toThrow("scenario minimal: fault flr on gpu0 needs exactly one of atUs and windowUs");
    expect(() => base.fault("flr", "gpu0", neither)).toThrow(/exactly one of atUs and windowUs/);
  });
});
