import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = new URL("../../src/", import.meta.url).pathname;
/** The layers whose code runs in every run of a sweep. */
const PER_RUN = ["fabric", "pci", "dmabuf", "vfio", "rdma", "check", "scenario"];
/** Files allowed the pattern: module constants, and code that runs once per command or per failing seed. */
const EXEMPT = new Set([
  "pci/perf-platform.ts",
  "scenario/scenario-schema.ts",
  "scenario/capsule.ts",
  "scenario/capsule-freeze.ts",
  "scenario/determinism.ts",
  "scenario/shrink.ts",
]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** The lines of `text` without comments (whole comment lines blanked, trailing `// …` cut), so line numbers hold. */
function code(text: string): string[] {
  return text.split("\n").map((line) => (/^\s*(\*|\/\*|\/\/)/.test(line) ? "" : line.replace(/\s\/\/ .*$/, "")));
}

/** `name:line: text` of every object literal in `source` that opens with a spread and goes on with a member that is not one. */
function spreadThenExtend(name: string, source: string): string[] {
  const lines = code(source);
  const text = lines.join("\n");
  const found: string[] = [];
  for (const m of text.matchAll(/\{\s*\.\.\./g)) {
    let depth = 0;
    let extended = false;
    for (let i = m.index; i < text.length; i++) {
      const c = text[i] as string;
      if ("{[(".includes(c)) depth++;
      else if ("}])".includes(c)) {
        if (--depth === 0) break;
      } else if (c === "," && depth === 1 && /^\s*[^\s}.]/.test(text.slice(i + 1))) extended = true;
    }
    if (extended) {
      const line = text.slice(0, m.index).split("\n").length;
      found.push(`${name}:${line}: ${lines[line - 1]?.trim()}`);
    }
  }
  return found;
}

/**
 * Per-run code builds no `{ ...a, b }` literal: V8 (11, Node 20) clones `a`'s map into a map of
 * no transition tree, so adding `b` makes a fresh map in old space at every evaluation, and those
 * maps kept each run's young objects alive through scavenges (issue #7: two sweep threads stopped
 * scaling). Spell the fields out. `{ ...DEFAULTS, ...given }` stays allowed: a typed override only
 * overwrites keys the defaults have, which adds no map.
 */
describe("no spread-then-extend literals in per-run code", () => {
  it("finds none outside the exempt files", () => {
    const found = PER_RUN.flatMap((dir) => sources(join(SRC, dir)))
      .map((file) => file.slice(SRC.length))
      .filter((name) => !EXEMPT.has(name))
      .flatMap((name) => spreadThenExtend(name, readFileSync(join(SRC, name), "utf8")));
    expect(found).toEqual([]);
  });

  it("recognises the pattern, across lines too, and lets merges, overrides-only and comments pass", () => {
    const source = [
      "const a = { ...base, route };",
      "const b = {",
      "  ...base,",
      "  extra: 1,",
      "};",
      "const c = { ...DEFAULTS, ...given };",
      "const d = { kind: k, ...(x ? { x } : {}) };",
      "const e = { ...f({ g, h }) };",
      "// `{ ...fields(), more }` in a comment",
    ].join("\n");
    expect(spreadThenExtend("t.ts", source)).toEqual(["t.ts:1: const a = { ...base, route };", "t.ts:2: const b = {"]);
  });
});
