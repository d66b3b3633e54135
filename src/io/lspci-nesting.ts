/**
 * Puts lspci functions into trees, one per root bus: from `-vvv` by bus numbers (a function on
 * bus B sits below the bridge whose secondary bus is B), from `-t` as drawn, or from both (the
 * drawing gives the shape, `-vvv` the facts). A bus that no bridge leads to is a root bus.
 */
import { type Bdf, formatBdf } from "../pci/ids.js";
import type { ImportIssue } from "./import-types.js";
import { functionFromRecord, functionFromTree, type PlannedFunction } from "./lspci-facts.js";
import type { LspciTreeBus, LspciTreeFunction } from "./lspci-tree.js";
import type { LspciRecord } from "./lspci-verbose.js";

/** A root bus and the functions on it (with their subtrees). */
export interface PlannedRoot {
  readonly domain: number;
  readonly bus: number;
  /** Where the bus first appears. */
  readonly file: string;
  readonly line: number;
  readonly functions: PlannedFunction[];
}

/** A located failure: the input cannot describe a PCI hierarchy. */
export interface NestingError {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

const busKey = (domain: number, bus: number) => `${domain}:${bus}`;
const busName = (domain: number, bus: number) => `${domain.toString(16).padStart(4, "0")}:${bus.toString(16).padStart(2, "0")}`;

/**
 * Nests `-vvv` functions by their buses. A bridge whose secondary bus is not above its own bus,
 * or is claimed by an earlier bridge, keeps no children (noted). A root bus that lies inside a
 * bridge's [secondary, subordinate] range is reported: a bridge lspci did not list leads there.
 * @param records the records in file order.
 * @param file the `-vvv` file, for warnings.
 * @param iommuOn whether lspci showed IOMMU groups (see {@link functionFromRecord}).
 * @param warnings receives the warnings about root buses.
 * @returns the root buses in order of first appearance.
 */
export function nestRecords(records: readonly LspciRecord[], file: string, iommuOn: boolean, warnings: ImportIssue[]): PlannedRoot[] {
  const functions = records.map((record) => functionFromRecord(record, file, iommuOn));
  const claims = new Map<string, PlannedFunction>();
  for (const fn of functions) {
    const secondary = fn.secondaryBus;
    if (secondary === undefined || fn.kind === "endpoint") continue;
    const key = busKey(fn.bdf.domain, secondary);
    const other = claims.get(key);
    if (secondary <= fn.bdf.bus) {
      fn.notes.push(`secondary bus ${busName(fn.bdf.domain, secondary)} is not above its own bus (bridge not configured?): its bus is enumerated`);
      fn.secondaryBus = undefined;
    } else if (other) {
      fn.notes.push(`secondary bus ${busName(fn.bdf.domain, secondary)} is also ${formatBdf(other.bdf)}'s: its bus is enumerated`);
      fn.secondaryBus = undefined;
    } else {
      claims.set(key, fn);
    }
  }
  const roots = new Map<string, PlannedRoot>();
  for (const fn of functions) {
    const parent = claims.get(busKey(fn.bdf.domain, fn.bdf.bus));
    if (parent) parent.children.push(fn);
    else rootFor(roots, fn.bdf, file, fn.line).functions.push(fn);
  }
  const bridgesByDomain = new Map<number, PlannedFunction[]>();
  for (const bridge of claims.values()) bridgesByDomain.set(bridge.bdf.domain, [...(bridgesByDomain.get(bridge.bdf.domain) ?? []), bridge]);
  for (const root of roots.values()) {
    const around = bridgesByDomain.get(root.domain)?.find((bridge) => (bridge.secondaryBus as number) < root.bus && root.bus <= (bridge.subordinateBus ?? 0));
    if (around) {
      warnings.push({
        file: root.file,
        line: root.line,
        message: `bus ${busName(root.domain, root.bus)} lies in ${formatBdf(around.bdf)}'s bus range but no listed bridge leads to it: imported as a root bus`,
      });
    }
  }
  return [...roots.values()];
}

function rootFor(roots: Map<string, PlannedRoot>, bdf: Bdf, file: string, line: number): PlannedRoot {
  const key = busKey(bdf.domain, bdf.bus);
  let root = roots.get(key);
  if (!root) {
    root = { domain: bdf.domain, bus: bdf.bus, file, line, functions: [] };
    roots.set(key, root);
  }
  return root;
}

/**
 * Nests the functions of a `-t` drawing as drawn.
 * @param roots the parsed drawing.
 * @param file the tree's file, for issues.
 * @param warnings receives the warnings about buses no bridge leads to.
 * @returns the root buses, or a located error for a drawing no PCI hierarchy can have (a function
 *   or bus drawn twice, a secondary bus not above its bridge's bus).
 */
export function nestTree(roots: readonly LspciTreeBus[], file: string, warnings: ImportIssue[]): PlannedRoot[] | NestingError {
  return walkTree(roots, file, warnings, (tree, bdf) => functionFromTree(tree, bdf, file));
}

/**
 * Nests the functions of a `-t` drawing and takes their facts from the `-vvv` records of the same
 * machine. Disagreements (ids, bridge or not, secondary bus, functions in one text only) are
 * warnings located where they show; the drawing decides the shape.
 * @param roots the parsed drawing, from `treeFile`.
 * @param records the parsed records, from `verboseFile`.
 * @param iommuOn whether lspci showed IOMMU groups.
 * @param warnings receives the conflicts.
 * @returns the root buses, or a located error as {@link nestTree} gives.
 */
export function mergeTreeAndRecords(
  roots: readonly LspciTreeBus[],
  treeFile: string,
  records: readonly LspciRecord[],
  verboseFile: string,
  iommuOn: boolean,
  warnings: ImportIssue[],
): PlannedRoot[] | NestingError {
  const byBdf = new Map(records.map((record) => [formatBdf(record.bdf), record]));
  const used = new Set<string>();
  const conflict = (line: number, message: string) => warnings.push({ file: treeFile, line, message: `conflict: ${message}` });
  const planned = walkTree(roots, treeFile, warnings, (tree, bdf) => {
    const id = formatBdf(bdf);
    const record = byBdf.get(id);
    if (!record) {
      const fn = functionFromTree(tree, bdf, treeFile);
      fn.notes.push(`not in ${verboseFile}: only the tree's facts`);
      return fn;
    }
    used.add(id);
    const fn = functionFromRecord(record, verboseFile, iommuOn);
    if (tree.vendor !== undefined && record.vendor !== undefined && (tree.vendor !== record.vendor || tree.deviceId !== record.device)) {
      conflict(
        tree.line,
        `${id} is ${hexIds(tree.vendor, tree.deviceId)} in the tree but ${hexIds(record.vendor, record.device)} in ${verboseFile}: the latter is used`,
      );
    }
    if (tree.busRange) {
      const [secondary, subordinate] = tree.busRange;
      if (!record.bus) conflict(tree.line, `${id} is drawn as a bridge but ${verboseFile} shows no 'Bus:' line: the tree is followed`);
      else if (record.bus.secondary !== secondary) {
        conflict(tree.line, `${id} leads to bus ${hex2(secondary)} in the tree but to ${hex2(record.bus.secondary)} in ${verboseFile}: the tree is followed`);
      }
      if (fn.kind === "endpoint") fn.kind = "pci-bridge";
      fn.bridge = true;
      fn.secondaryBus = secondary;
      fn.subordinateBus = subordinate;
    } else if (fn.bridge) {
      conflict(tree.line, `${id} is a bridge in ${verboseFile} but the tree draws no bus below it: imported without children`);
    }
    return fn;
  });
  if ("message" in planned) return planned;
  for (const record of records) {
    const id = formatBdf(record.bdf);
    if (!used.has(id)) {
      warnings.push({
        file: verboseFile,
        line: record.line,
        message: `conflict: ${id} is in ${verboseFile} but not in the tree: left out (the tree gives the shape)`,
      });
    }
  }
  return planned;
}

const hex2 = (value: number) => value.toString(16).padStart(2, "0");
const hexIds = (vendor: number | undefined, device: number | undefined) =>
  `${vendor?.toString(16).padStart(4, "0") ?? "?"}:${device?.toString(16).padStart(4, "0") ?? "?"}`;

/** Walks the drawing, making each function with `make` and checking that the hierarchy is possible. */
function walkTree(
  roots: readonly LspciTreeBus[],
  file: string,
  warnings: ImportIssue[],
  make: (tree: LspciTreeFunction, bdf: Bdf) => PlannedFunction,
): PlannedRoot[] | NestingError {
  const planned: PlannedRoot[] = [];
  const buses = new Map<string, number>();
  const functions = new Map<string, number>();
  const visitBus = (bus: LspciTreeBus, domain: number, into: PlannedFunction[]): NestingError | undefined => {
    const key = busKey(domain, bus.bus);
    const before = buses.get(key);
    if (before !== undefined)
      return { file, line: bus.line, message: `bus ${busName(domain, bus.bus)} is drawn twice (also on line ${before}): expected each bus once` };
    buses.set(key, bus.line);
    for (const tree of bus.functions) {
      const bdf: Bdf = { domain, bus: bus.bus, device: tree.device, fn: tree.fn };
      const id = formatBdf(bdf);
      const seen = functions.get(id);
      if (seen !== undefined) return { file, line: tree.line, message: `${id} is drawn twice (also on line ${seen}): expected each function once` };
      functions.set(id, tree.line);
      const fn = make(tree, bdf);
      into.push(fn);
      if (!tree.busRange) continue;
      const [secondary] = tree.busRange;
      if (secondary <= bus.bus) {
        return { file, line: tree.line, message: `${id} draws secondary bus ${hex2(secondary)}: expected a bus number above its own bus ${hex2(bus.bus)}` };
      }
      for (const below of tree.buses) {
        if (!below.labelled || below.bus === secondary) {
          const failed = visitBus(below, domain, fn.children);
          if (failed) return failed;
          continue;
        }
        // lspci labels a bus inside a bridge's range that no bridge it knows leads to.
        warnings.push({
          file,
          line: below.line,
          message: `bus ${busName(below.domain, below.bus)} is drawn in ${id}'s range but no bridge leads to it: imported as a root bus`,
        });
        const failed = visitRoot(below);
        if (failed) return failed;
      }
    }
    return undefined;
  };
  const visitRoot = (bus: LspciTreeBus): NestingError | undefined => {
    const root: PlannedRoot = { domain: bus.domain, bus: bus.bus, file, line: bus.line, functions: [] };
    planned.push(root);
    return visitBus(bus, bus.domain, root.functions);
  };
  for (const root of roots) {
    const failed = visitRoot(root);
    if (failed) return failed;
  }
  return planned;
}
