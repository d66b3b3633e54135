import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { findBannedApis, findLayerViolations, findLongFile, importSpecifiers, layerOf, MODEL_LAYERS } from "./support/tidy.js";

const SRC = join(import.meta.dirname, "..", "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

const files = sourceFiles(SRC).map((path) => ({ path: relative(SRC, path).split("\\").join("/"), text: readFileSync(path, "utf8") }));

describe("tidy: the rules fire on bad code", () => {
  it("finds banned APIs in code but not in comments or strings", () => {
    const text = [
      "const x = Math.random();",
      "// Math.random in a comment",
      'const s = "Date.now";',
      "const d = Date.now();",
      "async function f() { await g(); }",
      "new Promise(() => {});",
      "setTimeout(f, 1);",
    ].join("\n");
    expect(findBannedApis("f.ts", text).map((f) => [f.line, f.rule.split(" (")[0]])).toEqual([
      [1, "banned API: Math.random"],
      [4, "banned API: Date"],
      [5, "banned API: async"],
      [5, "banned API: await"],
      [6, "banned API: Promise"],
      [7, "banned API: timers"],
    ]);
  });

  it("reads value, type-only, re-export, dynamic and augmentation imports", () => {
    const text = [
      'import { a } from "../pci/a.js";',
      'import type { B } from "../dmabuf/b.js";',
      'export { c } from "./c.js";',
      'const m = import("../rdma/m.js");',
      'declare module "../vfio/v.js" {}',
    ].join("\n");
    expect(importSpecifiers(text)).toEqual([
      { specifier: "../pci/a.js", line: 1 },
      { specifier: "../dmabuf/b.js", line: 2 },
      { specifier: "./c.js", line: 3 },
      { specifier: "../rdma/m.js", line: 4 },
      { specifier: "../vfio/v.js", line: 5 },
    ]);
  });

  it("rejects upward, sideways and type-only upward imports", () => {
    expect(findLayerViolations("fabric/engine.ts", 'import type { X } from "../pci/x.js";').map((f) => f.rule)).toEqual([
      "layer fabric may not import pci (../pci/x.js)",
    ]);
    expect(findLayerViolations("vfio/device.ts", 'import { Y } from "../rdma/y.js";').map((f) => f.rule)).toEqual([
      "layer vfio may not import rdma (../rdma/y.js)",
    ]);
    expect(findLayerViolations("rdma/umem.ts", 'import { Z } from "../vfio/z.js";')).toHaveLength(1);
    expect(findLayerViolations("pci/a.ts", 'import { E } from "../fabric/engine.js";\nimport { F } from "./f.js";')).toEqual([]);
    expect(findLayerViolations("cli/main.ts", 'import { G } from "../../test/g.js";').map((f) => f.rule)).toEqual(["import of ../../test/g.js leaves src/"]);
  });

  it("flags files over the length limit", () => {
    expect(findLongFile("f.ts", "x\n".repeat(400))).toEqual([]);
    expect(findLongFile("f.ts", "x\n".repeat(401))).toHaveLength(1);
  });
});

describe("tidy: src/ keeps the rules", () => {
  it("has source files in every layer it scans", () => {
    expect(files.length).toBeGreaterThan(10);
    expect(files.every((f) => layerOf(f.path) !== undefined)).toBe(true);
  });

  it("model code uses no wall clock, unseeded randomness or Promises", () => {
    const model = files.filter((f) => (MODEL_LAYERS as readonly string[]).includes(layerOf(f.path) ?? ""));
    expect(model.flatMap((f) => findBannedApis(f.path, f.text))).toEqual([]);
  });

  it("no layer imports upward or sideways", () => {
    expect(files.flatMap((f) => findLayerViolations(f.path, f.text))).toEqual([]);
  });

  it("no source file exceeds 400 lines", () => {
    expect(files.flatMap((f) => findLongFile(f.path, f.text))).toEqual([]);
  });
});
