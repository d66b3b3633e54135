import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { importTopologyDocument, jsonPathOf, looksLikeTopologyDocument, validateTopologyDocument } from "../../src/io/topology-file.js";
import { buildTopology } from "../../src/pci/build-topology.js";
import { dgxLike, dualSocket, oneSwitch, twoSwitchesUnderOneRootPort } from "../../src/pci/builders.js";

describe("topology documents", () => {
  it("every builder's output validates against the published schema and builds", () => {
    for (const spec of [oneSwitch(), twoSwitchesUnderOneRootPort(), dualSocket(), dgxLike({ iommu: "on", acsRedirect: true })]) {
      expect(validateTopologyDocument(JSON.parse(JSON.stringify(spec)), "builder").ok).toBe(true);
      expect(buildTopology(spec).ok).toBe(true);
    }
  });

  it("names the file, the JSON path and the expectation for each kind of mistake", () => {
    const cases: Array<[string, string]> = [
      [
        '{"hostBridges":[{"devices":[{"kind":"switch"}]}]}',
        '$.hostBridges[0].devices[0].kind: expected one of "root-port", "upstream-port", "downstream-port", "pci-bridge", "endpoint"',
      ],
      [
        '{"hostBridges":[{"devices":[{"kind":"endpoint","vendor":"nope"}]}]}',
        '$.hostBridges[0].devices[0].vendor: expected a hexadecimal string such as "0x10de" or a non-negative integer',
      ],
      ['{"hostBridges":[{"devices":[],"colour":1}]}', '$.hostBridges[0]: unknown property "colour"'],
      ['{"hostBridges":[{}]}', '$.hostBridges[0]: expected a property "devices"'],
      ['{"hostBridges":[{"devices":[{"kind":"endpoint","bars":[{"index":0,"size":"big"}]}]}]}', "$.hostBridges[0].devices[0].bars[0].size: expected integer"],
      ['{"iommu":"yes","hostBridges":[{"devices":[]}]}', '$.iommu: expected one of "on", "off"'],
      ["{}", '$: expected a property "hostBridges"'],
    ];
    for (const [text, expected] of cases) {
      const result = importTopologyDocument(text, "t.json");
      expect(result.ok).toBe(false);
      if (!result.ok) expect(`${result.error.jsonPath}: ${result.error.message}`).toBe(expected);
      if (!result.ok) expect(result.error.file).toBe("t.json");
    }
  });

  it("reads YAML, and reports YAML syntax errors with a line", () => {
    const ok = importTopologyDocument("name: tiny\nhostBridges:\n  - devices:\n      - kind: endpoint\n        name: gpu0\n", "t.yaml");
    expect(ok.ok && ok.spec.hostBridges[0]?.devices[0]?.name).toBe("gpu0");
    const bad = importTopologyDocument("hostBridges:\n  - devices: [\n", "t.yaml");
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatchObject({ file: "t.yaml", line: expect.any(Number), message: expect.stringMatching(/^not valid YAML/) });
    const json = importTopologyDocument("{ nope", "t.json");
    expect(!json.ok && json.error.message).toMatch(/^not valid JSON/);
  });

  it("never throws, whatever the text", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const result = importTopologyDocument(text, "f");
        expect(result.ok || result.error.message.length > 0).toBe(true);
      }),
    );
  });

  it("converts JSON pointers to JSON paths and recognises documents", () => {
    expect(jsonPathOf("")).toBe("$");
    expect(jsonPathOf("/hostBridges/0/devices/12/bars/3/size")).toBe("$.hostBridges[0].devices[12].bars[3].size");
    expect(jsonPathOf("/a~1b/x y")).toBe('$["a/b"]["x y"]');
    expect(looksLikeTopologyDocument('{ "hostBridges": [] }')).toBe(true);
    expect(looksLikeTopologyDocument("hostBridges:\n  - devices: []")).toBe(true);
    expect(looksLikeTopologyDocument("00:00.0 Host bridge: Intel")).toBe(false);
  });
});
