import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = new URL("../../src/", import.meta.url).pathname;
/** Files allowed closures: the engine demo runs once per process, never in a sweep. */
const EXEMPT = new Set(["scenario/engine-demo.ts"]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/**
 * Process bodies must be module-level generator functions, spawned through an arrow
 * (`engine.spawn(name, () => body(args))`): V8 gives every generator *closure* its own initial map
 * in old space, and that map keeps the closure's captures (the whole run) alive through every
 * scavenge until a full GC: a sweep of many seeds then promotes most of each run, and two worker
 * threads stop scaling (issue #7).
 */
describe("no generator closures in src", () => {
  it("has no `function*` expression and no nested `function*` declaration", () => {
    const found = sources(SRC)
      .filter((file) => !EXEMPT.has(file.slice(SRC.length)))
      .flatMap((file) =>
        readFileSync(file, "utf8")
          .split("\n")
          .flatMap((line, i) =>
            /function\*\s*\(/.test(line) || /^\s+(export\s+)?function\*/.test(line) ? [`${file.slice(SRC.length)}:${i + 1}: ${line.trim()}`] : [],
          ),
      );
    expect(found).toEqual([]);
  });
});
