/**
 * The published JSON Schema of a scenario file (`p2psim schema` prints it, so editors can validate
 * and autocomplete). It mirrors {@link Scenario} in scenario.ts; an inline topology is checked
 * against the topology schema by reference. A test checks that every bundled scenario and every
 * builder output validate against it.
 */
import { INVARIANT_IDS } from "../check/monitor.js";
import { TOPOLOGY_SCHEMA } from "../io/topology-schema.js";
import { ACS_FLAGS } from "../pci/acs.js";
import { LINK_WIDTHS, PCIE_GENS } from "../pci/dllp-limits.js";
import { FAULT_KINDS, KERNEL_MUTANTS, KERNEL_PROFILES, MEASUREMENTS } from "./scenario.js";

/**
 * The topology schema embedded (without its own identity; its `$defs` lifted beside it, where its
 * `#/$defs/…` references then resolve), so the file is self-contained for editors offline.
 */
const { $id: _id, $schema: _schema, $defs: topologyDefs, ...topologySchema } = TOPOLOGY_SCHEMA;

const label = { type: "string", minLength: 1 };
const micros = { type: "number", minimum: 0 };
const positive = { type: "integer", minimum: 1 };

const cq = {
  type: "object",
  additionalProperties: false,
  required: ["placement"],
  properties: {
    placement: { enum: ["host", "bar"], description: "host: user memory; bar: the first export at offset 1 MiB, through a DMABUF buffer descriptor" },
    pin: { enum: ["pinned", "pinned-revocable"], description: "How a BAR CQ's umem is pinned (default pinned)" },
    entries: { ...positive, maximum: 65536 },
  },
};

/** `kind` picks the branch, so a schema error speaks of that workload's properties only. */
const workload = {
  type: "object",
  required: ["kind"],
  properties: { kind: { enum: ["rdma-stream", "qp-create"] } },
  discriminator: { propertyName: "kind" },
  oneOf: [
    {
      type: "object",
      additionalProperties: false,
      required: ["kind", "nic", "count", "bytes"],
      properties: {
        kind: { const: "rdma-stream", description: "RDMA WRITEs (or READs) between the NIC and the first export through a dma-buf MR" },
        nic: label,
        op: { enum: ["write", "read"] },
        count: { ...positive, maximum: 1_000_000 },
        bytes: { ...positive, maximum: 1_048_576 },
        depth: { ...positive, maximum: 64 },
        cq,
        startUs: micros,
      },
    },
    {
      type: "object",
      additionalProperties: false,
      required: ["kind", "nic"],
      properties: {
        kind: { const: "qp-create", description: "A QP creation with buffer descriptors; unconsumed adds one the driver does not load" },
        nic: label,
        unconsumed: { type: "boolean" },
        atUs: micros,
      },
    },
  ],
};

const fault = {
  type: "object",
  additionalProperties: false,
  required: ["fault", "target"],
  oneOf: [
    { required: ["atUs"], properties: { atUs: true } },
    { required: ["windowUs"], properties: { windowUs: true } },
  ],
  properties: {
    fault: { enum: FAULT_KINDS },
    target: { ...label, description: "What the fault hits: a device label (gpu0), a NIC, or a port" },
    atUs: { ...micros, description: "A fixed time" },
    windowUs: { type: "array", items: micros, minItems: 2, maxItems: 2, description: "[from, to]: the seed draws the time" },
    with: { type: "array", items: label, description: "hot-reset: the other devices of the reset set" },
    fails: { type: "boolean", description: "hot-reset: the bus reset itself fails (EAGAIN) and the undo path runs" },
    delayUs: { ...micros, description: "slow-importer: how late the NIC's driver unmaps after draining" },
    durationUs: {
      ...micros,
      description: "link-down: when the link is back; completion-timeout: how long the target stays mute (omitted: the rest of the run)",
    },
    width: { enum: LINK_WIDTHS, description: "link-retrain: the width the link trains to" },
    gen: { enum: PCIE_GENS, description: "link-retrain: the generation the link trains to (default: unchanged)" },
    acsSet: { type: "array", items: { enum: ACS_FLAGS }, uniqueItems: true, description: "acs-change: ACS Control bits to set" },
    acsClear: { type: "array", items: { enum: ACS_FLAGS }, uniqueItems: true, description: "acs-change: ACS Control bits to clear" },
  },
};

/** The schema. */
export const SCENARIO_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://p2psim.dev/schema/scenario.json",
  title: "p2psim scenario",
  description: "A machine, its kernel, programs driving DMA, faults, invariants to watch and a time budget.",
  type: "object",
  additionalProperties: false,
  required: ["name", "goal", "method", "topology", "exports", "workloads", "budget"],
  $defs: { ...topologyDefs, topology: topologySchema },
  properties: {
    $schema: { type: "string" },
    name: { type: "string", pattern: "^[a-z0-9][a-z0-9-]*$" },
    goal: { type: "string", minLength: 1 },
    method: { type: "string", minLength: 1 },
    topology: { anyOf: [{ type: "string", minLength: 1, description: "A topology file, relative to the scenario file" }, { $ref: "#/$defs/topology" }] },
    kernel: {
      type: "object",
      additionalProperties: false,
      properties: { profile: { enum: KERNEL_PROFILES }, mutants: { type: "array", items: { enum: KERNEL_MUTANTS }, uniqueItems: true } },
    },
    iommu: { type: "boolean" },
    exports: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["device", "bar"],
        properties: { device: label, bar: { type: "integer", minimum: 0, maximum: 5 }, bytes: { ...positive, multipleOf: 4096 } },
      },
    },
    workloads: { type: "array", minItems: 1, items: workload },
    faults: { type: "array", items: fault },
    invariants: { type: "array", items: { enum: INVARIANT_IDS }, uniqueItems: true },
    measurements: { type: "array", items: { enum: MEASUREMENTS }, uniqueItems: true },
    budget: {
      type: "object",
      additionalProperties: false,
      required: ["safetyUs", "livenessUs"],
      properties: { safetyUs: { type: "number", exclusiveMinimum: 0 }, livenessUs: { type: "number", exclusiveMinimum: 0 } },
    },
    seed: { type: "integer", minimum: 0 },
    expect: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["verdict"],
        properties: {
          profile: { enum: KERNEL_PROFILES },
          mutants: { type: "array", items: { enum: KERNEL_MUTANTS } },
          verdict: { enum: ["pass", "violation"] },
          invariant: { enum: INVARIANT_IDS },
        },
      },
    },
  },
} as const;
