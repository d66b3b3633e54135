/**
 * The published JSON Schema of a topology document (`p2psim schema topology` prints it, so
 * editors can validate and autocomplete). It mirrors `TopologySpec` in src/pci/topology-spec.ts;
 * a test checks that every builder's output and every importer's output validate against it.
 */

const hexOrNumber = {
  anyOf: [
    { type: "string", pattern: "^(0x)?[0-9a-fA-F]+$" },
    { type: "integer", minimum: 0 },
  ],
};

const acsFlag = { enum: ["SV", "TB", "RR", "CR", "UF", "EC", "DT"] };

const functionSchema = {
  type: "object",
  additionalProperties: false,
  required: ["kind"],
  properties: {
    kind: { enum: ["root-port", "upstream-port", "downstream-port", "pci-bridge", "endpoint"], description: "The PCIe role of the function" },
    name: { type: "string", minLength: 1, description: "A short alias, e.g. gpu0" },
    bdf: { type: "string", pattern: "^([0-9a-fA-F]{1,8}:)?[0-9a-fA-F]{1,2}:[0-9a-fA-F]{1,2}\\.[0-7]$", description: "PCI address, e.g. 0000:41:00.0" },
    slot: { type: "integer", minimum: 0, maximum: 31 },
    function: { type: "integer", minimum: 0, maximum: 7 },
    vendor: hexOrNumber,
    device: hexOrNumber,
    classCode: hexOrNumber,
    description: { type: "string" },
    numaNode: { type: "integer", minimum: 0 },
    acs: {
      type: "object",
      additionalProperties: false,
      required: ["cap"],
      properties: { cap: { type: "array", items: acsFlag, uniqueItems: true }, ctl: { type: "array", items: acsFlag, uniqueItems: true } },
    },
    link: {
      type: "object",
      additionalProperties: false,
      properties: {
        capGen: { type: "integer", minimum: 1, maximum: 6 },
        capWidth: { type: "integer", minimum: 1, maximum: 32 },
        gen: { type: "integer", minimum: 1, maximum: 6 },
        width: { type: "integer", minimum: 1, maximum: 32 },
      },
    },
    mps: { enum: [128, 256, 512, 1024, 2048, 4096] },
    mrrs: { enum: [128, 256, 512, 1024, 2048, 4096] },
    memoryEnabled: { type: "boolean" },
    powerState: { enum: ["D0", "D1", "D2", "D3hot", "D3cold"] },
    flr: { type: "boolean" },
    bars: {
      type: "array",
      maxItems: 6,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["index", "size"],
        properties: {
          index: { type: "integer", minimum: 0, maximum: 5 },
          size: { type: "integer", minimum: 1, description: "Bytes, a power of two" },
          type: { enum: ["mem32", "mem64", "io"] },
          prefetchable: { type: "boolean" },
          address: hexOrNumber,
        },
      },
    },
    secondaryBus: { type: "integer", minimum: 0, maximum: 255 },
    children: { type: "array", items: { $ref: "#/$defs/function" } },
  },
} as const;

/** The schema, as a JSON-serialisable object (draft 2020-12). */
export const TOPOLOGY_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://p2psim.dev/schema/topology.json",
  title: "p2psim topology",
  description: "A PCI topology: host bridges and, under each, the tree of PCI functions as Linux sees it.",
  type: "object",
  additionalProperties: false,
  required: ["hostBridges"],
  properties: {
    $schema: { type: "string" },
    name: { type: "string" },
    platform: {
      type: "object",
      additionalProperties: false,
      required: ["cpuVendor", "cpuFamily"],
      properties: {
        cpuVendor: { enum: ["intel", "amd", "other"] },
        cpuFamily: { type: "integer", minimum: 0 },
        cpuModel: { type: "integer", minimum: 0 },
        arch: { enum: ["x86", "arm64", "other"] },
        numaDistances: { type: "array", items: { type: "array", items: { type: "integer", minimum: 0 } } },
      },
    },
    iommu: { enum: ["on", "off"] },
    kernel: {
      type: "object",
      additionalProperties: false,
      properties: {
        disableAcsRedir: { type: "array", items: { type: "string" } },
        acsConfigured: { type: "boolean", description: "ACS control was read from a running kernel: do not apply the boot-time ACS setup again" },
        configAcs: { type: "string" },
      },
    },
    hostBridges: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["devices"],
        properties: {
          id: { type: "string", minLength: 1 },
          domain: { type: "integer", minimum: 0, maximum: 65535 },
          bus: { type: "integer", minimum: 0, maximum: 255 },
          numaNode: { type: "integer", minimum: 0 },
          socket: { type: "integer", minimum: 0 },
          busOffset: { type: "integer" },
          devices: { type: "array", items: { $ref: "#/$defs/function" } },
        },
      },
    },
  },
  $defs: { function: functionSchema },
} as const;
