/**
 * The rules `test/tidy.test.ts` enforces on `src/`, as pure functions over file text so that
 * each rule can be shown to fire on a bad example.
 */

/** Layers in import order; a layer may import only the layers listed for it. */
export const LAYER_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  fabric: [],
  pci: ["fabric"],
  dmabuf: ["fabric", "pci"],
  vfio: ["fabric", "pci", "dmabuf"],
  rdma: ["fabric", "pci", "dmabuf"],
  check: ["fabric", "pci", "dmabuf", "vfio", "rdma"],
  io: ["fabric", "pci", "dmabuf", "vfio", "rdma", "check"],
  scenario: ["fabric", "pci", "dmabuf", "vfio", "rdma", "check", "io"],
  cli: ["fabric", "pci", "dmabuf", "vfio", "rdma", "check", "io", "scenario"],
};

/** Layers whose code is the model: no wall clock, no unseeded randomness, no Promises. */
export const MODEL_LAYERS = ["fabric", "pci", "dmabuf", "vfio", "rdma", "check", "scenario"] as const;

/** The most lines a source file may have. */
export const FILE_LINES_MAX = 400;

const BANNED: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bMath\.random\b/, "Math.random (use engine.rng.stream)"],
  [/\bDate\b/, "Date (simulated time comes from the engine)"],
  [/\bperformance\.now\b/, "performance.now"],
  [/\bprocess\.hrtime\b/, "process.hrtime"],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, "timers"],
  [/\bprocess\.nextTick\b/, "process.nextTick"],
  [/\basync\b/, "async (the engine owns all ordering)"],
  [/\bawait\b/, "await"],
  [/\bPromise\b/, "Promise"],
];

/** One broken rule, located. */
export interface TidyFinding {
  readonly file: string;
  readonly line: number;
  readonly rule: string;
}

/** Removes comments and string contents, keeping line breaks, so rules see only code. */
export function stripCommentsAndStrings(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`/g, (match) => {
    if (match.startsWith('"') || match.startsWith("'")) return `${match[0]}${match[0]}`;
    return match.replace(/[^\n]/g, " ");
  });
}

/** Banned wall-clock, randomness and asynchrony APIs in model code. */
export function findBannedApis(file: string, text: string): TidyFinding[] {
  const findings: TidyFinding[] = [];
  stripCommentsAndStrings(text)
    .split("\n")
    .forEach((line, index) => {
      for (const [pattern, rule] of BANNED) {
        if (pattern.test(line)) findings.push({ file, line: index + 1, rule: `banned API: ${rule}` });
      }
    });
  return findings;
}

/** Module specifiers of every import, re-export and dynamic import in `text`, with their lines. */
export function importSpecifiers(text: string): Array<{ specifier: string; line: number }> {
  const result: Array<{ specifier: string; line: number }> = [];
  const pattern =
    /\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|\bdeclare\s+module\s+["']([^"']+)["']/g;
  for (const match of text.matchAll(pattern)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (specifier === undefined) continue;
    const line = text.slice(0, match.index).split("\n").length;
    result.push({ specifier, line });
  }
  return result;
}

/** The layer a `src/`-relative path belongs to (`"pci/p2pdma.ts"` → `"pci"`). */
export function layerOf(srcRelativePath: string): string | undefined {
  const first = srcRelativePath.split("/")[0];
  return first !== undefined && first in LAYER_IMPORTS ? first : undefined;
}

/** Imports that go upward or sideways. `path` is relative to `src/`. */
export function findLayerViolations(path: string, text: string): TidyFinding[] {
  const layer = layerOf(path);
  if (layer === undefined) return [{ file: path, line: 1, rule: "file outside every layer of src/" }];
  const allowed = LAYER_IMPORTS[layer] ?? [];
  const findings: TidyFinding[] = [];
  const dir = path.split("/").slice(0, -1);
  for (const { specifier, line } of importSpecifiers(text)) {
    if (!specifier.startsWith(".")) continue;
    const target = resolveRelative(dir, specifier);
    const targetLayer = layerOf(target);
    if (targetLayer === undefined) {
      findings.push({ file: path, line, rule: `import of ${specifier} leaves src/` });
    } else if (targetLayer !== layer && !allowed.includes(targetLayer)) {
      findings.push({ file: path, line, rule: `layer ${layer} may not import ${targetLayer} (${specifier})` });
    }
  }
  return findings;
}

/** Files longer than {@link FILE_LINES_MAX}. */
export function findLongFile(file: string, text: string): TidyFinding[] {
  const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  return lines > FILE_LINES_MAX ? [{ file, line: lines, rule: `file has ${lines} lines (at most ${FILE_LINES_MAX})` }] : [];
}

function resolveRelative(dir: readonly string[], specifier: string): string {
  const parts = [...dir];
  for (const part of specifier.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}
