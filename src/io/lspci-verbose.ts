/**
 * Parser of `lspci -vvv` text (`-vv`, `-vvv`, `-vvvnn`, `-vvvnnD`, run as root or not) into one
 * record per function, holding the facts p2psim reads. Layout, as pciutils' `lspci.c` prints it:
 *
 * ```
 * 0000:02:10.0 PCI bridge [0604]: PLX Technology, Inc. PEX 8747 … [10b5:8747] (rev ba) (prog-if 00 [Normal decode])
 * →Control: I/O+ Mem+ BusMaster+ …                        one tab: a register or a capability
 * →Bus: primary=02, secondary=03, subordinate=03, sec-latency=0
 * →Capabilities: [68] Express (v2) Downstream Port (Slot+), MSI 00
 * →→LnkSta:→Speed 2.5GT/s (downgraded), Width x16          two tabs: a field of that capability
 * →→→TrErr- Train- SlotClk+ DLActive+ BWMgmt+ ABWMgmt+     three: the field continues
 * ```
 *
 * Records are separated by blank lines. Lines whose key p2psim reads are parsed strictly: a
 * `Region`, `Bus:`, `LnkSta:` … line that cannot be what lspci prints is a located error naming
 * the expected form. Every other line is skipped, whatever it says, so that fields added by newer
 * pciutils (or removed by older ones) do not matter. Capability fields are read in
 * `lspci-verbose-caps.ts`.
 */
import { type Bdf, parseBdf } from "../pci/ids.js";
import type { ImportIssue } from "./import-types.js";
import { classFromName } from "./lspci-class-names.js";
import { type CapabilityProblem, CapabilityReader, type LspciCapabilities } from "./lspci-verbose-caps.js";

/** One Base Address Register line (`Region N: …`). */
export interface LspciBar {
  readonly index: number;
  readonly type: "mem32" | "mem64" | "io";
  readonly prefetchable: boolean;
  /**
   * What lspci said about the address: `assigned` (an address), `disabled` (an address, with
   * decoding off in the Command register), `virtual` (an address the OS reports but the BAR does
   * not hold), `unassigned` (`<unassigned>`, `<ignored>` or a broken 64-bit slot: no address).
   */
  readonly state: "assigned" | "disabled" | "virtual" | "unassigned";
  /** Hex digits of the address without `0x`, for every state but `unassigned`. */
  readonly addressHex: string | undefined;
  /** `[size=…]` in bytes; undefined when lspci printed none. */
  readonly size: number | undefined;
  /** `low-1M` or `type 3` memory (obsolete BAR types). */
  readonly unusualType: string | undefined;
  readonly line: number;
}

/** How the class code was found. */
export type ClassSource =
  /** `[cccc]` (`-nn`) or a bare `cccc` (`-n`). */
  | "id"
  /** A subclass name from `pci.ids`. */
  | "name"
  /** A base-class name: the subclass is unknown. */
  | "base-name"
  /** A name `pci.ids` does not know. */
  | "unknown";

/** One function of `lspci -vvv`, with the facts p2psim imports. */
export interface LspciRecord {
  readonly bdf: Bdf;
  /** 1-based line of the header. */
  readonly line: number;
  readonly className: string;
  /** The 24-bit class code (class, subclass, prog-if), when it could be found. */
  readonly classCode: number | undefined;
  readonly classSource: ClassSource;
  readonly vendor: number | undefined;
  readonly device: number | undefined;
  readonly description: string | undefined;
  /** Number of indented lines: 0 for plain `lspci` output. */
  readonly detailLines: number;
  /** `Control: … Mem±`. */
  readonly memoryEnabled: boolean | undefined;
  readonly numaNode: number | undefined;
  readonly iommuGroup: number | undefined;
  /** `Bus: primary=…, secondary=…, subordinate=…` (type 1 and CardBus headers only). */
  readonly bus: { readonly primary: number; readonly secondary: number; readonly subordinate: number; readonly line: number } | undefined;
  readonly bars: readonly LspciBar[];
  /** The capabilities, as `lspci-verbose-caps.ts` read them. */
  readonly caps: LspciCapabilities;
}

/** The outcome of {@link parseLspciVerbose}. */
export type LspciVerboseParse =
  | { readonly ok: true; readonly records: readonly LspciRecord[]; readonly warnings: readonly ImportIssue[] }
  | { readonly ok: false; readonly error: ImportIssue };

/** A record while its lines are read. */
interface RecordBuilder extends Omit<LspciRecord, "bars" | "detailLines" | "memoryEnabled" | "numaNode" | "iommuGroup" | "bus" | "caps"> {
  detailLines: number;
  memoryEnabled: boolean | undefined;
  numaNode: number | undefined;
  iommuGroup: number | undefined;
  bus: LspciRecord["bus"];
  bars: LspciBar[];
  /** The one-tab key being read (`Capabilities` or another register). */
  section: "capability" | "other";
  readonly reader: CapabilityReader;
}

const HEADER = /^((?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]) (.*)$/;
const DIAGNOSTIC = /^(?:lspci|pcilib|setpci): /;
const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/**
 * Parses `lspci -vvv` text.
 * @param text the whole output.
 * @param file the file name, for located issues.
 * @returns one record per function in file order, and warnings for lines skipped from other tools;
 *   or the first malformed line, with what was expected there.
 */
export function parseLspciVerbose(text: string, file: string): LspciVerboseParse {
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  const records: LspciRecord[] = [];
  const warnings: ImportIssue[] = [];
  const seen = new Map<string, number>();
  let current: RecordBuilder | undefined;
  const fail = (line: number, message: string): LspciVerboseParse => ({ ok: false, error: { file, line, message } });
  /** Ends the current record; returns the located problem its capabilities leave, if any. */
  const close = (): CapabilityProblem | undefined => {
    if (!current) return undefined;
    const { reader, section: _section, ...rest } = current;
    current = undefined;
    const caps = reader.finish();
    if ("message" in caps) return caps;
    records.push({ ...rest, caps });
    return undefined;
  };
  for (let index = 0; index < lines.length; index++) {
    const lineNo = index + 1;
    const line = (lines[index] as string).trimEnd();
    if (line === "" || line.startsWith("\t")) {
      const problem = line === "" ? close() : current ? readDetail(current, line, lineNo) : { line: lineNo, message: ORPHAN };
      if (problem) return fail(problem.line, problem.message);
      continue;
    }
    if (DIAGNOSTIC.test(line)) {
      warnings.push({ file, line: lineNo, message: `skipped a message from another tool: "${line}"` });
      continue;
    }
    const header = parseHeader(line, lineNo);
    if (typeof header === "string") return fail(lineNo, header);
    const closed = close();
    if (closed) return fail(closed.line, closed.message);
    const key = `${header.bdf.domain}:${header.bdf.bus}:${header.bdf.device}.${header.bdf.fn}`;
    const before = seen.get(key);
    if (before !== undefined) return fail(lineNo, `function ${line.split(" ")[0]} is listed twice (also on line ${before}): expected each function once`);
    seen.set(key, lineNo);
    current = header;
  }
  const closed = close();
  if (closed) return fail(closed.line, closed.message);
  if (records.length === 0) return fail(1, "expected lspci -vvv output: no function header such as '00:00.0 Host bridge [0600]: …' found");
  if (records.every((record) => record.detailLines === 0)) {
    return fail(records[0]?.line ?? 1, "expected lspci -vvv output, found plain lspci output (no indented detail lines): run lspci -vvv");
  }
  return { ok: true, records, warnings };
}

const ORPHAN = "expected a function header such as '00:1f.2 SATA controller [0106]: …' before this indented line";

/**
 * Whether `text` looks like `lspci -v…` output: the first line (after blank lines and other tools'
 * messages) is a function header and some line is indented with a tab.
 * @param text any text.
 * @returns true for likely `-v`/`-vv`/`-vvv` output; {@link parseLspciVerbose} still decides.
 */
export function looksLikeLspciVerbose(text: string): boolean {
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  const first = lines.find((line) => line.trim() !== "" && !DIAGNOSTIC.test(line));
  return first !== undefined && typeof parseHeader(first.trimEnd(), 1) !== "string" && lines.some((line) => line.startsWith("\t"));
}

/** Parses `BB:DD.F Class [cccc]: Vendor Device [vvvv:dddd] (rev rr) (prog-if pp [name])` and its `-n` and plain forms. */
function parseHeader(line: string, lineNo: number): RecordBuilder | string {
  const match = HEADER.exec(line);
  if (!match) return "expected a function header such as '00:1f.2 SATA controller [0106]: …' or a tab-indented detail line";
  const bdf = parseBdf(match[1] as string);
  if (!bdf) return `expected a device number 00-1f in ${match[1]}`;
  const rest = match[2] as string;
  const colon = rest.indexOf(": ");
  if (colon < 0) return "expected '<class>: <vendor> <device>' after the address";
  const classPart = rest.slice(0, colon);
  let name = rest.slice(colon + 2);
  let progIf: number | undefined;
  const prog = /\s*\(prog-if ([0-9a-fA-F]{2})(?: \[[^\]]*\])?\)$/.exec(name);
  if (prog) {
    progIf = Number.parseInt(prog[1] as string, 16);
    name = name.slice(0, prog.index);
  }
  const rev = /\s*\(rev ([0-9a-fA-F]{2})\)$/.exec(name);
  if (rev) name = name.slice(0, rev.index);
  const ids = parseIds(name);
  const klass = parseClass(classPart, progIf ?? 0);
  return {
    bdf,
    line: lineNo,
    className: klass.name,
    classCode: klass.code,
    classSource: klass.source,
    vendor: ids.vendor,
    device: ids.device,
    description: ids.description,
    detailLines: 0,
    memoryEnabled: undefined,
    numaNode: undefined,
    iommuGroup: undefined,
    bus: undefined,
    bars: [],
    reader: new CapabilityReader(),
    section: "other",
  };
}

function parseClass(text: string, progIf: number): { name: string; code: number | undefined; source: ClassSource } {
  const withId = /^(.*?) ?\[([0-9a-fA-F]{4})\]$/.exec(text) ?? /^()([0-9a-fA-F]{4})$/.exec(text);
  if (withId) return { name: withId[1] as string, code: (Number.parseInt(withId[2] as string, 16) << 8) | progIf, source: "id" };
  const known = classFromName(text);
  if (!known) return { name: text, code: undefined, source: "unknown" };
  // A base-class name is printed when pci.ids lacks the subclass; 80 is the PCI "other" subclass.
  if (!known.exact) return { name: text, code: (known.base << 16) | 0x8000 | progIf, source: "base-name" };
  return { name: text, code: (known.classCode16 << 8) | progIf, source: "name" };
}

function parseIds(name: string): { vendor: number | undefined; device: number | undefined; description: string | undefined } {
  // `-n` prints the ids alone; an unknown vendor prints as `Device vvvv:dddd`.
  const numeric = /^(?:Device )?([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(name);
  if (numeric) return { vendor: Number.parseInt(numeric[1] as string, 16), device: Number.parseInt(numeric[2] as string, 16), description: undefined };
  const named = /^(.*?)\s*\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]$/.exec(name);
  if (named) return { vendor: Number.parseInt(named[2] as string, 16), device: Number.parseInt(named[3] as string, 16), description: named[1] || undefined };
  return { vendor: undefined, device: undefined, description: name.trim() || undefined };
}

/** Reads one indented line into the record. Returns a located problem for a malformed line. */
function readDetail(record: RecordBuilder, line: string, lineNo: number): { line: number; message: string } | undefined {
  record.detailLines++;
  const depth = /^\t*/.exec(line)?.[0].length ?? 0;
  const content = line.slice(depth).trim();
  const problem = (message: string) => ({ line: lineNo, message });
  if (depth >= 2) {
    if (record.section !== "capability") return undefined;
    const message = record.reader.readField(depth, content, lineNo);
    return message === undefined ? undefined : problem(message);
  }
  record.section = "other";
  const key = content.slice(0, content.indexOf(":") + 1);
  switch (key) {
    case "Control:": {
      const mem = /\bMem([+-])/.exec(content);
      if (!mem) return problem("expected 'Mem+' or 'Mem-' in the Control register line");
      record.memoryEnabled = mem[1] === "+";
      return undefined;
    }
    case "Bus:": {
      const bus = /^Bus: primary=([0-9a-fA-F]{2}), secondary=([0-9a-fA-F]{2}), subordinate=([0-9a-fA-F]{2})\b/.exec(content);
      if (!bus) return problem("expected 'Bus: primary=BB, secondary=BB, subordinate=BB, …'");
      const [primary, secondary, subordinate] = [bus[1], bus[2], bus[3]].map((hex) => Number.parseInt(hex as string, 16)) as [number, number, number];
      record.bus = { primary, secondary, subordinate, line: lineNo };
      return undefined;
    }
    case "NUMA node:": {
      const node = /^NUMA node: (\d+)$/.exec(content);
      if (!node) return problem("expected 'NUMA node: N'");
      record.numaNode = Number(node[1]);
      return undefined;
    }
    case "IOMMU group:": {
      const group = /^IOMMU group: (\d+)$/.exec(content);
      if (!group) return problem("expected 'IOMMU group: N'");
      record.iommuGroup = Number(group[1]);
      return undefined;
    }
    case "Capabilities:": {
      const message = record.reader.start(content.slice(key.length).trim(), lineNo);
      if (message !== undefined) return problem(message);
      record.section = "capability";
      return undefined;
    }
    default:
      if (/^Region \d+:/.test(content)) {
        const bar = parseBar(content, lineNo);
        if (typeof bar === "string") return problem(bar);
        record.bars.push(bar);
      }
      return undefined;
  }
}

/** `Region 1: Memory at d0000000 (64-bit, prefetchable) [size=256M]`, `Region 5: I/O ports at e000 [size=128]`, and their variants. */
function parseBar(content: string, lineNo: number): LspciBar | string {
  const expected = "expected 'Region N: Memory at ADDR (32-bit|64-bit, [non-]prefetchable) [size=S]' or 'Region N: I/O ports at ADDR [size=S]'";
  const head = /^Region ([0-5]): (Memory|I\/O ports) at (<unassigned>|<ignored>|<broken-64-bit-slot>|[0-9a-fA-F]+)/.exec(content);
  if (!head) return /^Region [0-5]:/.test(content) ? expected : "expected a BAR number 0-5 after 'Region'";
  let rest = content.slice(head[0].length);
  let type: LspciBar["type"] = "io";
  let prefetchable = false;
  let unusualType: string | undefined;
  if (head[2] === "Memory") {
    const kind = /^ \((32-bit|64-bit|low-1M|type 3), (non-)?prefetchable\)/.exec(rest);
    if (!kind) return expected;
    type = kind[1] === "64-bit" ? "mem64" : "mem32";
    if (kind[1] === "low-1M" || kind[1] === "type 3") unusualType = kind[1];
    prefetchable = kind[2] === undefined;
    rest = rest.slice(kind[0].length);
  }
  const flags = /^((?: \[(?:disabled|virtual|enhanced)\])*)(?: \[size=(\d+)([KMGT]?)\])?$/.exec(rest);
  if (!flags) return expected;
  const address = head[3] as string;
  const assigned = !address.startsWith("<");
  const marks = flags[1] as string;
  const state: LspciBar["state"] = !assigned ? "unassigned" : marks.includes("[virtual]") ? "virtual" : marks.includes("[disabled]") ? "disabled" : "assigned";
  const size = flags[2] === undefined ? undefined : Number(flags[2]) * (SIZE_UNITS[flags[3] as string] as number);
  return { index: Number(head[1]), type, prefetchable, state, addressHex: assigned ? address.toLowerCase() : undefined, size, unusualType, line: lineNo };
}
