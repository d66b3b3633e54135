/**
 * The robustness property every XML importer promises, and the mutations the property tests
 * apply to real fixture text.
 */
import fc from "fast-check";
import { expect } from "vitest";
import type { TopologyImport } from "../../src/io/import-types.js";
import { buildTopology } from "../../src/pci/build-topology.js";

/** A mutation of a document: truncation, a deleted or duplicated line, or an attribute value replaced by garbage. */
export const mutation = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("garbage" as const), at: fc.nat(), value: fc.string({ maxLength: 12 }) }),
);

export type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

export function mutate(text: string, m: Mutation): string {
  const lines = text.split("\n");
  const i = m.at % lines.length;
  switch (m.kind) {
    case "truncate":
      return text.slice(0, m.at % text.length);
    case "delete":
      return [...lines.slice(0, i), ...lines.slice(i + 1)].join("\n");
    case "duplicate":
      return [...lines.slice(0, i + 1), ...lines.slice(i)].join("\n");
    case "garbage": {
      const values = [...text.matchAll(/="([^"]*)"/g)];
      const target = values[m.at % values.length];
      if (!target || target.index === undefined) return text;
      return `${text.slice(0, target.index)}="${m.value.replace(/["<&]/g, "")}"${text.slice(target.index + target[0].length)}`;
    }
  }
}

/** The property every importer promises: a topology that builds or whose build errors are reported, or a located error. */
export function assertTopologyOrLocatedError(result: TopologyImport): void {
  if (!result.ok) {
    expect(result.error.file).toBe("f.xml");
    expect(result.error.message.length).toBeGreaterThan(0);
    expect(result.error.line !== undefined || result.error.xmlPath !== undefined).toBe(true);
    return;
  }
  const built = buildTopology(result.spec);
  if (!built.ok) expect(built.errors.length).toBeGreaterThan(0);
}
