import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SCENARIO_SCHEMA } from "../../src/scenario/scenario-schema.js";

describe("scenario.schema.json", () => {
  it("at the repository root is SCENARIO_SCHEMA as `p2psim schema scenario` prints it (regenerate it when this fails)", () => {
    const file = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "scenario.schema.json"), "utf8")) as unknown;
    expect(file).toStrictEqual(JSON.parse(JSON.stringify(SCENARIO_SCHEMA)));
  });
});
