/**
 * The Chrome JSON trace event format (what chrome://tracing and ui.perfetto.dev open): the event
 * shapes the Perfetto writer produces, the ps → µs conversion, and a validator of a written
 * document against the format's rules, for the tests and for anyone post-processing a trace.
 *
 * Phases used: `M` metadata (process and thread names and sort indexes), `X` complete slices,
 * `B`/`E` balanced slices (accepted by the validator, not written), `s`/`f` flow arrows, `C`
 * counters and `i` instants. Times (`ts`, `dur`) are microseconds as numbers; the writer keeps
 * the exact picoseconds in `args.ps` and `args.durPs`.
 */

/** A phase of the format, as far as p2psim writes or checks it. */
export type ChromeTracePhase = "M" | "X" | "B" | "E" | "s" | "t" | "f" | "C" | "i";

/** Argument values a trace event may carry. */
export type ChromeTraceArg = string | number | boolean | null | readonly ChromeTraceArg[] | { readonly [key: string]: ChromeTraceArg };

/** One event of the `traceEvents` array. */
export interface ChromeTraceEvent {
  readonly name: string;
  readonly ph: ChromeTracePhase;
  /** Microseconds. */
  readonly ts: number;
  readonly pid: number;
  readonly tid: number;
  /** `X` only: microseconds. */
  readonly dur?: number;
  readonly cat?: string;
  /** Flow events: the arrow's id (one `s` and one `f` per id). */
  readonly id?: number;
  /** `f`: `"e"` binds the arrow's end to the slice enclosing `ts`. */
  readonly bp?: "e";
  /** `i`: scope (`g` global, `p` process, `t` thread). */
  readonly s?: "g" | "p" | "t";
  readonly args?: { readonly [key: string]: ChromeTraceArg };
}

/** A whole file: the object form, which also carries metadata. */
export interface ChromeTraceDocument {
  readonly traceEvents: readonly ChromeTraceEvent[];
  /** How the viewer displays times; the data is in µs either way. */
  readonly displayTimeUnit: "ns" | "ms";
  /** What wrote the file and what it left out (caps on per-TLP slices). */
  readonly otherData: { readonly [key: string]: ChromeTraceArg };
}

/**
 * Picoseconds → the format's microseconds, on a grid viewers cannot misread (the exact ps go in
 * args). A binary double cannot hold most decimal µs exactly, so a time read back by a viewer
 * (Perfetto truncates `ts * 1000` to integer ns; speedscope and chrome://tracing add doubles)
 * could land a hair before its true value and make a TLP overlap the one before it on its wire.
 * So a time is its whole ps plus a thousandth of a ps.
 */
export function psToUs(ps: number): number {
  return (Math.round(ps) + GRID_OFFSET_PS) / 1e6;
}

/** The offset of every time above its whole ps: far above a double's error for runs up to a second, far below what a viewer shows. */
const GRID_OFFSET_PS = 0.001;

/**
 * The `dur` of a slice from `startPs` to `endPs`, in µs, two grid offsets short of whole ps:
 * back-to-back slices (a busy wire) stay disjoint both for a viewer that truncates to ns and for
 * one that adds doubles, and a slice inside another stays inside it. Never negative.
 */
export function durUs(startPs: number, endPs: number): number {
  return Math.max(0, Math.round(endPs) - Math.round(startPs) - 2 * GRID_OFFSET_PS) / 1e6;
}

const PHASES = new Set<string>(["M", "X", "B", "E", "s", "t", "f", "C", "i"]);
const METADATA_NAMES = new Set(["process_name", "process_sort_index", "thread_name", "thread_sort_index", "process_labels"]);
/** Slack for comparing µs sums: ps / 1e6 is not exact in binary. */
const EPSILON_US = 1e-9;

/**
 * Checks a parsed document against the format's rules: the `traceEvents` array; per event a
 * string `name`, a known `ph`, numeric `ts`, `pid` and `tid`; `dur` ≥ 0 on `X`; `args.name` or
 * `args.sort_index` on `M`; `B`/`E` balanced per thread, never ending before they begin; `X`
 * slices of one thread nested or disjoint (what Perfetto needs to draw them); every flow id with
 * exactly one `s` and one `f`, the finish not before the start; counter args all numbers.
 * @returns the problems found, each naming the event index; empty when the document is valid.
 */
export function validateChromeTrace(doc: unknown): string[] {
  const problems: string[] = [];
  const events = (doc as { traceEvents?: unknown } | null)?.traceEvents;
  if (!Array.isArray(events)) return ["the document has no traceEvents array"];
  const open = new Map<string, number[]>();
  const slices = new Map<string, Array<[number, number, number]>>();
  const flows = new Map<number, { s: number[]; f: number[]; sTs: number; fTs: number }>();
  for (const [i, raw] of (events as unknown[]).entries()) {
    const e = raw as Partial<ChromeTraceEvent> & Record<string, unknown>;
    const at = `event ${i} (${String(e?.name)})`;
    if (typeof e !== "object" || e === null) {
      problems.push(`event ${i} is not an object`);
      continue;
    }
    if (typeof e.name !== "string") problems.push(`${at}: name is not a string`);
    if (typeof e.ph !== "string" || !PHASES.has(e.ph)) {
      problems.push(`${at}: unknown phase ${String(e.ph)}`);
      continue;
    }
    for (const field of ["ts", "pid", "tid"] as const)
      if (typeof e[field] !== "number" || !Number.isFinite(e[field])) problems.push(`${at}: ${field} is not a number`);
    const track = `${e.pid}/${e.tid}`;
    const ts = e.ts as number;
    switch (e.ph) {
      case "M":
        if (!METADATA_NAMES.has(e.name as string)) problems.push(`${at}: unknown metadata name`);
        if (typeof e.args !== "object" || e.args === null || !("name" in e.args || "sort_index" in e.args || "labels" in e.args))
          problems.push(`${at}: metadata without args.name or args.sort_index`);
        break;
      case "X":
        if (typeof e.dur !== "number" || !(e.dur >= 0)) problems.push(`${at}: X without a non-negative dur`);
        else pushTo(slices, track, [ts, ts + e.dur, i]);
        break;
      case "B":
        pushTo(open, track, ts);
        break;
      case "E": {
        const begun = open.get(track)?.pop();
        if (begun === undefined) problems.push(`${at}: E without a B on ${track}`);
        else if (ts + EPSILON_US < begun) problems.push(`${at}: E before its B on ${track}`);
        break;
      }
      case "s":
      case "t":
      case "f": {
        if (typeof e.id !== "number") {
          problems.push(`${at}: flow event without a numeric id`);
          break;
        }
        const flow = flows.get(e.id) ?? { s: [], f: [], sTs: 0, fTs: 0 };
        flows.set(e.id, flow);
        if (e.ph === "s") {
          flow.s.push(i);
          flow.sTs = ts;
        } else if (e.ph === "f") {
          flow.f.push(i);
          flow.fTs = ts;
        }
        break;
      }
      case "C":
        if (typeof e.args !== "object" || e.args === null || Object.values(e.args).some((v) => typeof v !== "number"))
          problems.push(`${at}: counter args are not all numbers`);
        break;
      case "i":
        if (e.s !== undefined && !["g", "p", "t"].includes(e.s)) problems.push(`${at}: unknown instant scope ${e.s}`);
        break;
    }
  }
  for (const [track, stack] of open) if (stack.length > 0) problems.push(`${stack.length} B without E on ${track}`);
  for (const [id, flow] of flows) {
    if (flow.s.length !== 1 || flow.f.length !== 1) problems.push(`flow ${id}: ${flow.s.length} starts and ${flow.f.length} finishes (want one each)`);
    else if (flow.fTs + EPSILON_US < flow.sTs) problems.push(`flow ${id}: finishes before it starts`);
  }
  for (const [track, list] of slices) problems.push(...nestingProblems(track, list));
  return problems;
}

/** X slices of one thread must nest or be disjoint: a slice that starts inside another ends inside it. */
function nestingProblems(track: string, list: Array<[number, number, number]>): string[] {
  const sorted = [...list].sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const stack: Array<[number, number, number]> = [];
  const problems: string[] = [];
  for (const slice of sorted) {
    while (stack.length > 0 && (stack.at(-1) as [number, number, number])[1] <= slice[0] + EPSILON_US) stack.pop();
    const parent = stack.at(-1);
    if (parent !== undefined && slice[1] > parent[1] + EPSILON_US) {
      problems.push(`event ${slice[2]} overlaps event ${parent[2]} on ${track} without nesting`);
      continue;
    }
    stack.push(slice);
  }
  return problems;
}

function pushTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
