/**
 * Parser of `lspci -t` drawings (`-t`, `-tv`, `-tvn`, `-tvnn`), the bus tree pciutils prints from
 * `ls-tree.c`. The drawing is a grid: a device starts at the column where its `DD.F` is written,
 * and its siblings start on later lines at the same column, introduced by `+-` (more follow) or
 * `\-` (the last one); `|` keeps a list open on the lines in between.
 *
 * ```
 * -+-[0000:00]-+-00.0  Intel Corporation Sky Lake-E DMI3 Registers [8086:2020]
 *  |           +-01.0-[01-04]----00.0-[02-04]--+-08.0-[03]--+-00.0  NVIDIA … [10de:1db4]
 *  |           |                               |            \-00.1  NVIDIA … [10de:10f0]
 *  |           |                               \-10.0-[04]--
 *  |           \-03.0-[06]--
 *  \-[0001:00]---02.0-[01]----00.0  Red Hat, Inc. Virtio 1.0 network device [1af4:1041]
 * ```
 *
 * - A root bus is labelled `[DDDD:BB]` (old pciutils: `[BB]`); one root is drawn as `-[0000:00]-`,
 *   several as a `+-[…]` / `\-[…]` list.
 * - A bridge is `DD.F-[SS]-` or `DD.F-[SS-EE]-` (secondary and subordinate bus) followed by one
 *   more `-` and its bus: nothing (an empty bus), `--DD.F` (one device) or a `+-`/`\-` list.
 *   When devices sit on more than one bus of the bridge's range, each bus gets its own label.
 * - A device that is not a bridge may be followed by two spaces and its name (`-v`), which ends
 *   in `[vvvv:dddd]` with `-nn`, or is just `vvvv:dddd` with `-n`. Bridges are drawn without names.
 *
 * The parser returns the drawing as nested buses; `lspci-import.ts` turns it into a topology.
 */
import type { ImportIssue } from "./import-types.js";

/** One function as the tree draws it. */
export interface LspciTreeFunction {
  readonly device: number;
  readonly fn: number;
  /** 1-based line where the function's `DD.F` is written. */
  readonly line: number;
  /** The name printed by `-tv` without the ids, when there is one. */
  readonly description: string | undefined;
  /** Vendor id from `-tvnn` (`[10de:1db4]`) or `-tvn` (`10de:1db4`). */
  readonly vendor: number | undefined;
  readonly deviceId: number | undefined;
  /** For a bridge: [secondary, subordinate] as drawn in `-[SS-EE]-`; undefined for other functions. */
  readonly busRange: readonly [number, number] | undefined;
  /** For a bridge: the buses drawn below it (normally one, the secondary bus, unlabelled). */
  readonly buses: readonly LspciTreeBus[];
}

/** One bus and the functions drawn on it. */
export interface LspciTreeBus {
  readonly domain: number;
  readonly bus: number;
  /** 1-based line where the bus starts. */
  readonly line: number;
  /** Whether the bus carries its own `[DDDD:BB]` label (root buses; extra buses in a bridge's range). */
  readonly labelled: boolean;
  readonly functions: readonly LspciTreeFunction[];
}

/** The outcome of {@link parseLspciTree}. */
export type LspciTreeParse =
  | { readonly ok: true; readonly roots: readonly LspciTreeBus[]; readonly warnings: readonly ImportIssue[] }
  | { readonly ok: false; readonly error: ImportIssue };

/** PCI has 256 bus numbers per domain, so no real drawing nests bridges deeper than that. */
const BRIDGE_DEPTH_MAX = 256;

/** Lines other tools print into a captured output (`lspci -t 2>&1`); skipped with a warning. */
const DIAGNOSTIC = /^(?:lspci|pcilib|setpci): /;

const LABEL = /^\[(?:([0-9a-fA-F]{4,8}):)?([0-9a-fA-F]{2})\]/;
const DEVFN = /^([0-9a-fA-F]{2})\.([0-7])/;
const RANGE = /^-\[([0-9a-fA-F]{2})(?:-([0-9a-fA-F]{2}))?\]-/;

interface MutableFunction {
  device: number;
  fn: number;
  line: number;
  description: string | undefined;
  vendor: number | undefined;
  deviceId: number | undefined;
  busRange: readonly [number, number] | undefined;
  buses: MutableBus[];
}

interface MutableBus {
  domain: number;
  bus: number;
  line: number;
  labelled: boolean;
  functions: MutableFunction[];
}

/** A parse failure at a 0-based row and column. */
interface Failure {
  readonly row: number;
  readonly col: number;
  readonly message: string;
}

/** A step returns the next row to read, or why it could not. */
type Step = number | Failure;

/**
 * Parses the text of `lspci -t`, `-tv`, `-tvn` or `-tvnn`.
 * @param text the whole output.
 * @param file the file name, for located issues.
 * @returns the root buses in drawing order with the functions nested below their bridges, or the
 *   first line that cannot be part of such a drawing (with what was expected there).
 */
export function parseLspciTree(text: string, file: string): LspciTreeParse {
  const lines = text
    .replace(/^\uFEFF/, "")
    .split("\n")
    .map((line) => line.trimEnd());
  const warnings: ImportIssue[] = [];
  const skipNoise = (from: number): number => {
    let row = from;
    for (; row < lines.length; row++) {
      const line = lines[row] as string;
      if (DIAGNOSTIC.test(line)) warnings.push({ file, line: row + 1, message: `skipped a message from another tool: "${line}"` });
      else if (line !== "") break;
    }
    return row;
  };
  const first = skipNoise(0);
  if (first >= lines.length) return { ok: false, error: { file, line: 1, message: "expected the output of lspci -t, found no tree" } };
  const parser = new TreeParser(lines);
  const end = parser.top(first);
  if (typeof end !== "number") return { ok: false, error: { file, line: end.row + 1, message: `column ${end.col + 1}: ${end.message}` } };
  const after = skipNoise(end);
  if (after < lines.length) {
    return { ok: false, error: { file, line: after + 1, message: `expected the end of the tree (it ended on line ${end}), found more text` } };
  }
  const notes = [...parser.notes].sort((a, b) => a.row - b.row || a.col - b.col);
  for (const note of notes) warnings.push({ file, line: note.row + 1, message: `column ${note.col + 1}: ${note.message}` });
  return { ok: true, roots: parser.roots, warnings };
}

/** Recursive descent over the grid, mirroring pciutils' `show_tree_bridge`/`show_tree_bus`/`show_tree_dev`. */
class TreeParser {
  readonly roots: MutableBus[] = [];
  /** Oddities that do not stop the parse (0-based row and column). */
  readonly notes: Failure[] = [];

  constructor(private readonly lines: readonly string[]) {}

  private text(row: number): string {
    return this.lines[row] ?? "";
  }

  /** The first line: `-[DDDD:BB]-…` for one root bus, `-+-[DDDD:BB]-…` for several. */
  top(row: number): Step {
    const line = this.text(row);
    if (!line.startsWith("-")) return { row, col: 0, message: "expected a tree starting with '-[' (one root bus) or '-+-[' (several)" };
    if (line.startsWith("[", 1)) {
      const label = LABEL.exec(line.slice(1));
      if (!label) return { row, col: 1, message: "expected a root bus label such as '[0000:00]'" };
      const bus = newBus(label, row);
      this.roots.push(bus);
      const col = 1 + label[0].length;
      if (line[col] !== "-") return { row, col, message: "expected '-' after the root bus label" };
      return this.bus(row, col + 1, bus, 0);
    }
    return this.busList(row, 1, 0, this.roots, "root buses");
  }

  /** A `+-[DDDD:BB]-…` / `\-[DDDD:BB]-…` list of labelled buses whose branches stand in column `col`. */
  private busList(row: number, col: number, depth: number, out: MutableBus[], what: string): Step {
    return this.list(row, col, what, (at) => {
      const line = this.text(at);
      const label = LABEL.exec(line.slice(col + 2));
      if (!label) return { row: at, col: col + 2, message: "expected a bus label such as '[0000:00]'" };
      const bus = newBus(label, at);
      out.push(bus);
      const after = col + 2 + label[0].length;
      if (line[after] !== "-") return { row: at, col: after, message: "expected '-' after the bus label" };
      return this.bus(at, after + 1, bus, depth);
    });
  }

  /**
   * A list whose entries start with `+-` (more follow) or `\-` (the last) in column `col`, each
   * read by `entry`. A list that stops before a `\-` entry is what `lspci -t -s …` prints when
   * the filter hides the rest: accepted, with a warning.
   */
  private list(row: number, col: number, what: string, entry: (row: number) => Step): Step {
    for (let at = row; ; ) {
      const branch = this.text(at).slice(col, col + 2);
      if (branch !== "+-" && branch !== "\\-") return { row: at, col, message: `expected '+-' or '\\-' starting a list of ${what}` };
      const next = entry(at);
      if (typeof next !== "number" || branch === "\\-") return next;
      for (let inside = at + 1; inside < next; inside++) {
        if (this.text(inside)[col] !== "|") return { row: inside, col, message: `expected '|' continuing the list of ${what} opened on line ${row + 1}` };
      }
      if (!this.continues(next, col)) {
        this.notes.push({ row, col, message: `the list of ${what} opened here ends without a '\\-' entry (output filtered with lspci -s?)` });
        return next;
      }
      at = next;
    }
  }

  /** Whether `row` holds the next entry of a list in column `col`: only spaces and '|' in front, then `+-` or `\-`. */
  private continues(row: number, col: number): boolean {
    const line = this.text(row);
    const branch = line.slice(col, col + 2);
    return (branch === "+-" || branch === "\\-") && /^[ |]*$/.test(line.slice(0, col));
  }

  /** The bus that starts in column `col` of `row`: empty, one device (`--`), or a list (`+-`, `\-`). */
  private bus(row: number, col: number, bus: MutableBus, depth: number): Step {
    const line = this.text(row);
    if (col >= line.length) return row + 1;
    if (line.startsWith("--", col)) return this.device(row, col + 2, bus, depth);
    if (line[col] === "+" || line[col] === "\\") return this.deviceList(row, col, bus, depth);
    return { row, col, message: "expected '--' (one device), '+-' or '\\-' (a list of devices), or the end of the line (an empty bus)" };
  }

  private deviceList(row: number, col: number, bus: MutableBus, depth: number): Step {
    return this.list(row, col, "devices", (at) => this.device(at, col + 2, bus, depth));
  }

  /** `DD.F`, then a bridge's `-[SS-EE]-` and its bus, or an optional name. */
  private device(row: number, col: number, bus: MutableBus, depth: number): Step {
    const line = this.text(row);
    const devfn = DEVFN.exec(line.slice(col));
    if (!devfn) return { row, col, message: "expected a device and function such as '00.0'" };
    const device = Number.parseInt(devfn[1] as string, 16);
    if (device > 0x1f) return { row, col, message: `device ${devfn[1]} is above 1f, the highest device number` };
    const fn: MutableFunction = {
      device,
      fn: Number(devfn[2]),
      line: row + 1,
      description: undefined,
      vendor: undefined,
      deviceId: undefined,
      busRange: undefined,
      buses: [],
    };
    bus.functions.push(fn);
    let at = col + devfn[0].length;
    if (line.startsWith("-[", at)) {
      const range = RANGE.exec(line.slice(at));
      if (!range) return { row, col: at, message: "expected a bridge's bus range such as '-[01]-' or '-[01-04]-'" };
      const secondary = Number.parseInt(range[1] as string, 16);
      fn.busRange = [secondary, range[2] === undefined ? secondary : Number.parseInt(range[2], 16)];
      at += range[0].length;
      if (line[at] !== "-") return { row, col: at, message: "expected '-' after the bridge's bus range" };
      if (depth + 1 > BRIDGE_DEPTH_MAX) return { row, col: at, message: `bridges nested deeper than ${BRIDGE_DEPTH_MAX} levels` };
      at += 1;
      if (line.startsWith("+-[", at) || line.startsWith("\\-[", at)) return this.busList(row, at, depth + 1, fn.buses, "buses");
      const below: MutableBus = { domain: bus.domain, bus: secondary, line: row + 1, labelled: false, functions: [] };
      fn.buses.push(below);
      return this.bus(row, at, below, depth + 1);
    }
    const rest = line.slice(at);
    if (rest === "") return row + 1;
    if (!rest.startsWith("  ")) return { row, col: at, message: "expected two spaces and the device's name, a bridge's '-[', or the end of the line" };
    Object.assign(fn, parseDeviceName(rest.trim()));
    return row + 1;
  }
}

function newBus(label: RegExpExecArray, row: number): MutableBus {
  return {
    domain: label[1] === undefined ? 0 : Number.parseInt(label[1], 16),
    bus: Number.parseInt(label[2] as string, 16),
    line: row + 1,
    labelled: true,
    functions: [],
  };
}

/** Splits `-tv`/`-tvnn`/`-tvn` name text into the description and the ids. */
function parseDeviceName(text: string): { description: string | undefined; vendor: number | undefined; deviceId: number | undefined } {
  const numeric = /^(?:Device )?([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(text);
  if (numeric) return { description: undefined, vendor: Number.parseInt(numeric[1] as string, 16), deviceId: Number.parseInt(numeric[2] as string, 16) };
  const named = /^(.*?)\s*\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]$/.exec(text);
  if (named) {
    return { description: named[1] || undefined, vendor: Number.parseInt(named[2] as string, 16), deviceId: Number.parseInt(named[3] as string, 16) };
  }
  return { description: text, vendor: undefined, deviceId: undefined };
}

/**
 * Whether `text` looks like `lspci -t` output: its first line (after blank lines and other tools'
 * messages) starts a tree with `-[DDDD:BB]` or `-+-[DDDD:BB]`.
 * @param text any text.
 * @returns true for a likely tree; {@link parseLspciTree} still decides whether it is one.
 */
export function looksLikeLspciTree(text: string): boolean {
  const first = text
    .replace(/^\uFEFF/, "")
    .split("\n")
    .find((line) => line.trim() !== "" && !DIAGNOSTIC.test(line));
  return first !== undefined && /^-(?:\+-)?\[(?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}\]/.test(first);
}
