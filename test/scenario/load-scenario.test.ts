import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadScenario, type ReadRelative, type ScenarioIssue } from "../../src/scenario/load-scenario.js";
import { FAULT_KINDS, KERNEL_MUTANTS, KERNEL_PROFILES } from "../../src/scenario/scenario.js";
import { scenario } from "../../src/scenario/scenario-builder.js";
import { SCENARIO_SCHEMA } from "../../src/scenario/scenario-schema.js";

const SCENARIOS = join(import.meta.dirname, "..", "..", "scenarios");
const FLAGSHIP = join(SCENARIOS, "revoke-during-cq-writes.yaml");
const FLAGSHIP_TEXT = readFileSync(FLAGSHIP, "utf8");
const ONE_SWITCH = JSON.parse(readFileSync(join(SCENARIOS, "topologies", "one-switch.json"), "utf8")) as Record<string, unknown>;

/** Reads topology files relative to scenarios/, as the command does for a file there. */
const read: ReadRelative = (path) => {
  const file = resolve(SCENARIOS, path);
  try {
    return { file, text: readFileSync(file, "utf8") };
  } catch {
    return undefined;
  }
};

/** A mutable copy of the flagship document. */
type Doc = Record<string, unknown> & {
  kernel: Record<string, unknown>;
  exports: Record<string, unknown>[];
  faults: Record<string, unknown>[];
  budget: Record<string, unknown>;
};
const flagshipDoc = () => parseYaml(FLAGSHIP_TEXT) as Doc;

/** The first issue of `doc` written as JSON to `bad.json` beside the bundled scenarios. */
function firstIssue(doc: unknown): ScenarioIssue | undefined {
  const loaded = loadScenario(JSON.stringify(doc, null, 2), join(SCENARIOS, "bad.json"), read);
  return loaded.ok ? undefined : loaded.errors[0];
}

const quoted = (names: readonly string[]) => names.map((n) => JSON.stringify(n)).join(", ");
const BAD = join(SCENARIOS, "bad.json");

/** gpu0 with a child: an endpoint has no secondary bus, which the schema allows and the builder refuses. */
function oneSwitchWithChildOfGpu0(): Record<string, unknown> {
  const spec = structuredClone(ONE_SWITCH) as { hostBridges: { devices: { children: { children: { children: Record<string, unknown>[] }[] }[] }[] }[] };
  const gpu0 = spec.hostBridges[0]?.devices[1]?.children[0]?.children[0]?.children[0];
  if (gpu0 === undefined) throw new Error("one-switch.json changed shape: gpu0 is not where this test expects it");
  gpu0.children = [{ kind: "endpoint", name: "stray", vendor: "0x10de", device: "0x20b0" }];
  const { $schema: _schema, ...inline } = spec as unknown as Record<string, unknown>;
  return inline;
}

/** Each row: what is wrong, how the flagship is changed, the first issue the loader must report. */
const BAD_DOCUMENTS: readonly [string, (d: Doc) => unknown, ScenarioIssue][] = [
  ["an unknown property", (d) => ({ ...d, colour: "red" }), { file: BAD, jsonPath: "$", message: 'unknown property "colour"' }],
  ["no budget", ({ budget: _budget, ...d }) => d, { file: BAD, jsonPath: "$", message: 'expected a property "budget"' }],
  [
    "a fault kind outside the catalogue",
    (d) => ({ ...d, faults: [{ ...d.faults[0], fault: "meteor" }] }),
    { file: BAD, jsonPath: "$.faults[0].fault", message: `expected one of ${quoted(FAULT_KINDS)}` },
  ],
  [
    "an unknown kernel profile",
    (d) => ({ ...d, kernel: { profile: "linux-2.6" } }),
    { file: BAD, jsonPath: "$.kernel.profile", message: `expected one of ${quoted(KERNEL_PROFILES)}` },
  ],
  [
    "an unknown mutant",
    (d) => ({ ...d, kernel: { mutants: ["E6", "E99"] } }),
    { file: BAD, jsonPath: "$.kernel.mutants[1]", message: `expected one of ${quoted(KERNEL_MUTANTS)}` },
  ],
  [
    "a fault with both atUs and windowUs",
    (d) => ({ ...d, faults: [{ ...d.faults[0], atUs: 3 }] }),
    { file: BAD, jsonPath: "$.faults[0]", message: 'expected exactly one of "atUs" or "windowUs"' },
  ],
  [
    "a window past the safety phase",
    (d) => ({ ...d, faults: [{ ...d.faults[0], windowUs: [1, 30] }] }),
    { file: BAD, jsonPath: "$.faults[0].windowUs[1]", message: "expected a time within the safety phase (<= 20)" },
  ],
  [
    "a fixed time past the safety phase",
    (d) => ({ ...d, faults: [{ fault: "flr", target: "gpu0", atUs: 20.5 }] }),
    { file: BAD, jsonPath: "$.faults[0].atUs", message: "expected a time within the safety phase (<= 20)" },
  ],
  [
    "a window with from > to",
    (d) => ({ ...d, faults: [{ ...d.faults[0], windowUs: [6, 1] }] }),
    { file: BAD, jsonPath: "$.faults[0].windowUs", message: "expected [from, to] with from <= to" },
  ],
  [
    "an unknown device label",
    (d) => ({ ...d, exports: [{ ...d.exports[0], device: "gpu9" }] }),
    { file: BAD, jsonPath: "$.exports[0].device", message: 'expected a device label of the topology, found "gpu9"' },
  ],
  [
    "an unknown NIC label",
    (d) => ({ ...d, workloads: [{ kind: "qp-create", nic: "nic7" }] }),
    { file: BAD, jsonPath: "$.workloads[0].nic", message: 'expected a NIC label of the topology, found "nic7"' },
  ],
  [
    "a BAR the device lacks",
    (d) => ({ ...d, exports: [{ device: "gpu0", bar: 2 }] }),
    { file: BAD, jsonPath: "$.exports[0].bar", message: "expected a memory BAR of gpu0" },
  ],
  [
    "more bytes than the BAR has",
    (d) => ({ ...d, exports: [{ device: "gpu0", bar: 0, bytes: 32 * 2 ** 20 }] }),
    { file: BAD, jsonPath: "$.exports[0].bytes", message: "expected at most 16777216 (the BAR's size)" },
  ],
  [
    "the default 2 MiB export of a 16 KiB BAR",
    (d) => ({ ...d, exports: [{ device: "nvme0", bar: 0 }], faults: [] }),
    { file: BAD, jsonPath: "$.exports[0].bytes", message: "expected at most 16384 (the BAR's size)" },
  ],
  [
    "a fault on a device the scenario did not open",
    (d) => ({ ...d, faults: [{ fault: "flr", target: "gpu1", atUs: 2 }] }),
    { file: BAD, jsonPath: "$.faults[0].target", message: 'expected an exported device (gpu0), found "gpu1"' },
  ],
  [
    "a hot reset taking a device on another bus",
    (d) => ({
      ...d,
      exports: [...d.exports, { device: "gpu1", bar: 1 }],
      faults: [{ fault: "hot-reset", target: "gpu0", with: ["gpu1"], atUs: 3 }],
    }),
    { file: BAD, jsonPath: "$.faults[0].with[0]", message: "expected a device on the bus of gpu0 (a hot reset resets one bus)" },
  ],
  [
    "a topology path that does not exist",
    (d) => ({ ...d, topology: "topologies/nope.json" }),
    { file: BAD, jsonPath: "$.topology", message: 'expected a readable topology file, found "topologies/nope.json"' },
  ],
  [
    "an inline topology that fails to build",
    (d) => ({ ...d, topology: oneSwitchWithChildOfGpu0() }),
    {
      file: BAD,
      jsonPath: "$.topology.hostBridges[0].devices[1].children[0].children[0].children[0].children",
      message: "an endpoint has no secondary bus: expected no children",
    },
  ],
];

describe("loadScenario: a bad document is refused with the file, the JSON path and what was expected", () => {
  it.each(BAD_DOCUMENTS)("%s", (_what, change, issue) => {
    expect(firstIssue(change(flagshipDoc()))).toEqual(issue);
  });

  it("every row starts from a document that loads, so each row's change is what breaks it", () => {
    expect(firstIssue(flagshipDoc())).toBeUndefined();
  });

  it("invalid JSON: the parser's message, no path", () => {
    const text = '{ "name": "x", }';
    let parserMessage = "";
    try {
      JSON.parse(text);
    } catch (error) {
      parserMessage = (error as Error).message;
    }
    const loaded = loadScenario(text, "broken.json", read);
    expect(loaded.ok ? undefined : loaded.errors).toEqual([{ file: "broken.json", message: `not valid JSON: ${parserMessage}` }]);
  });

  const noTime = (d: Doc) => ({ ...d, faults: [{ fault: "device-reset", target: "gpu0" }] });

  it("a fault with neither atUs nor windowUs says exactly one of them is expected", () => {
    expect(firstIssue(noTime(flagshipDoc()))).toEqual({ file: BAD, jsonPath: "$.faults[0]", message: 'expected exactly one of "atUs" or "windowUs"' });
  });

  const BROKEN_YAML = "name: x\ngoal: g\nmethod: m\ngoal: again\nbudget: { safetyUs: 1, livenessUs: 2 }\n";

  it("invalid YAML: the file, the line of the problem (the second `goal`) and the parser's message, no path", () => {
    const loaded = loadScenario(BROKEN_YAML, "broken.yaml", read);
    expect(loaded.ok ? undefined : loaded.errors).toEqual([{ file: "broken.yaml", line: 4, message: "not valid YAML: Map keys must be unique" }]);
  });
});

describe("bundled scenarios", () => {
  const files = readdirSync(SCENARIOS).filter((f) => /\.(ya?ml|json)$/.test(f));

  it("include the flagship", () => {
    expect(files).toContain("revoke-during-cq-writes.yaml");
  });

  it.each(files)("%s loads clean", (name) => {
    const file = join(SCENARIOS, name);
    const loaded = loadScenario(readFileSync(file, "utf8"), file, (p) => read(resolve(dirname(file), p)));
    expect(loaded.ok ? [] : loaded.errors).toEqual([]);
  });
});

describe("the builder writes the flagship", () => {
  const built = scenario("revoke-during-cq-writes")
    .goal(
      "A VFIO reset during in-flight CQ writes into a GPU BAR never lets DMA land after the revoke returned; the newest exporter refuses the pinned CQ umem.",
    )
    .method(
      "nic0 streams 4 KiB RDMA WRITEs into gpu0 BAR1 with its send CQ in the same BAR (pinned umem, buffer descriptor); VFIO_DEVICE_RESET of gpu0 at a seed-drawn time.",
    )
    .topology("topologies/one-switch.json")
    .kernel({ profile: "default" })
    .export({ device: "gpu0", bar: 1, bytes: 2097152 })
    .rdmaStream({ nic: "nic0", op: "write", count: 32, bytes: 4096, depth: 8, cq: { placement: "bar", pin: "pinned", entries: 64 } })
    .fault("device-reset", "gpu0", { windowUs: [1, 6] })
    .budget({ safetyUs: 20, livenessUs: 250000 })
    .seed(1)
    .expect({ profile: "default", verdict: "pass" }, { profile: "vfio-dmabuf-initial", verdict: "violation", invariant: "I1" })
    .build();

  it("as the same object the file parses to, key order included", () => {
    expect(built).toStrictEqual(parseYaml(FLAGSHIP_TEXT));
    expect(JSON.stringify(built)).toBe(JSON.stringify(parseYaml(FLAGSHIP_TEXT)));
  });

  it("which validates against the schema and loads", () => {
    const validate = new Ajv2020({ allErrors: true, strict: true, discriminator: true }).compile(SCENARIO_SCHEMA);
    expect(validate(built) ? [] : validate.errors).toEqual([]);
    const loaded = loadScenario(JSON.stringify(built), FLAGSHIP, read);
    expect(loaded.ok && loaded.loaded.scenario).toEqual(built);
  });
});
