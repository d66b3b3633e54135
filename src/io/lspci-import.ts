/**
 * Imports a real machine from `lspci -tv` and/or `lspci -vvv` text into a {@link TopologySpec}.
 *
 * 1. Parse each text (`lspci-tree.ts`, `lspci-verbose.ts`); a malformed line ends the import
 *    with its file and line.
 * 2. Describe every function (`lspci-facts.ts`): kind from the Express capability, ids, ACS,
 *    link, payload sizes, power state and BARs from `-vvv`; names and ids only from `-t`.
 * 3. Nest the functions (`lspci-nesting.ts`): by the drawing of the tree when there is one, else
 *    by bus numbers, each bridge taking the functions on its secondary bus. Every bus no bridge
 *    leads to is a root bus with a host bridge of its own (`pci0000:00`, the kernel's name).
 * 4. Give bridges whose port type nobody printed a kind from their place: on a root bus a Root
 *    Port, below a port a switch upstream port when bridges hang below it (else a PCI bridge),
 *    below an upstream port a downstream port.
 * 5. Report every default and every disagreement between the two texts as a warning: one per
 *    function (all its notes), plus a few for the whole machine.
 */
import { formatBdf } from "../pci/ids.js";
import type { FunctionKind, FunctionSpec, HostBridgeSpec, TopologySpec } from "../pci/topology-spec.js";
import type { ImportIssue, TopologyImport } from "./import-types.js";
import type { PlannedFunction } from "./lspci-facts.js";
import { mergeTreeAndRecords, nestRecords, nestTree, type PlannedRoot } from "./lspci-nesting.js";
import { type LspciTreeBus, parseLspciTree } from "./lspci-tree.js";
import { type LspciRecord, parseLspciVerbose } from "./lspci-verbose.js";

export { looksLikeLspciTree } from "./lspci-tree.js";
export { looksLikeLspciVerbose } from "./lspci-verbose.js";

/** One input text and the name of the file it came from (used in every issue). */
export interface LspciText {
  readonly text: string;
  readonly file: string;
}

/**
 * Builds a topology document from `lspci -t` output, `lspci -vvv` output, or both taken on the
 * same machine (then the tree gives the shape and `-vvv` the facts; disagreements are warnings).
 * @param input `tree`: output of `lspci -t`, `-tv`, `-tvn` or `-tvnn`; `verbose`: output of
 *   `lspci -vv`/`-vvv`, with or without `-nn` and `-D`, as root or not.
 * @returns the document and its warnings (every default taken, every conflict); or the first
 *   malformed line, located by file and line, with what was expected there. Never throws.
 */
export function importLspci(input: { readonly tree?: LspciText; readonly verbose?: LspciText }): TopologyImport {
  const { tree, verbose } = input;
  if (!tree && !verbose) return { ok: false, error: { file: "<none>", message: "expected the text of lspci -t, of lspci -vvv, or both" } };
  const warnings: ImportIssue[] = [];
  let roots: LspciTreeBus[] | undefined;
  if (tree) {
    const parsed = parseLspciTree(tree.text, tree.file);
    if (!parsed.ok) return parsed;
    roots = [...parsed.roots];
    warnings.push(...parsed.warnings);
  }
  let records: LspciRecord[] | undefined;
  if (verbose) {
    const parsed = parseLspciVerbose(verbose.text, verbose.file);
    if (!parsed.ok) return parsed;
    records = [...parsed.records];
    warnings.push(...parsed.warnings);
  }
  const iommuOn = records?.some((record) => record.iommuGroup !== undefined) ?? false;
  let planned: readonly PlannedRoot[];
  if (tree && roots && verbose && records) {
    const merged = mergeTreeAndRecords(roots, tree.file, records, verbose.file, iommuOn, warnings);
    if ("message" in merged) return { ok: false, error: merged };
    planned = merged;
  } else if (tree && roots) {
    const nested = nestTree(roots, tree.file, warnings);
    if ("message" in nested) return { ok: false, error: nested };
    planned = nested;
  } else {
    planned = nestRecords(records ?? [], verbose?.file ?? "", iommuOn, warnings);
  }
  const hostBridges = [...planned].sort((a, b) => a.domain - b.domain || a.bus - b.bus).map((root) => hostBridgeSpec(root, warnings));
  const spec: TopologySpec = {
    name: `lspci ${verbose?.file ?? tree?.file}`,
    ...(iommuOn ? { iommu: "on" as const } : {}),
    // lspci reads ACS control from the running kernel, after pci_enable_acs [kernel.md §a.8].
    kernel: { acsConfigured: true },
    hostBridges,
  };
  // Whole-machine warnings first, then the located ones in reading order (the tree's file first).
  const fileOrder = (issue: ImportIssue) => (tree && issue.file === tree.file ? 0 : 1);
  const located = warnings.sort((a, b) => fileOrder(a) - fileOrder(b) || (a.line ?? 0) - (b.line ?? 0));
  return { ok: true, spec, warnings: [...machineWarnings(tree, verbose, records, planned), ...located] };
}

/** Warnings about facts missing from the whole input rather than from one function. */
function machineWarnings(
  tree: LspciText | undefined,
  verbose: LspciText | undefined,
  records: readonly LspciRecord[] | undefined,
  planned: readonly PlannedRoot[],
): ImportIssue[] {
  const file = verbose?.file ?? tree?.file ?? "";
  const issues: ImportIssue[] = [];
  const firstRoot = planned.find((root) => root.domain === 0 && root.bus === 0);
  const rootVendor = firstRoot && sortByDevfn(firstRoot.functions)[0]?.facts.vendor;
  issues.push({
    file,
    message:
      "lspci does not show the CPU: platform defaults to Intel family 6 on x86; set platform (from lscpu) for the host-bridge rules [kernel.md §a.3 step 5]" +
      (rootVendor === "0x1022" ? " — the first root-bus device is AMD's, so the AMD Zen rule probably applies" : ""),
  });
  if (!records) {
    const hasIds = (fns: readonly PlannedFunction[]): boolean => fns.some((fn) => fn.facts.vendor !== undefined || hasIds(fn.children));
    const withIds = planned.some((root) => hasIds(root.functions));
    issues.push({
      file,
      message:
        "lspci -t shows only the shape: no class codes, ACS (treated as absent), links, BAR addresses or sizes, MPS/MRRS, power states, " +
        "NUMA nodes or IOMMU groups; defaults apply (add lspci -vvv of the same machine for them)" +
        (withIds ? "" : "; no vendor:device ids either (use lspci -tvnn)"),
    });
    return issues;
  }
  const withoutIds = records.filter((record) => record.vendor === undefined).length;
  if (withoutIds > 0)
    issues.push({ file, message: `${withoutIds} functions have no [vendor:device] ids (lspci run without -nn): vendor and device default to ffff` });
  const fromNames = records.filter((record) => record.classSource === "name").length;
  if (fromNames > 0) issues.push({ file, message: `the class codes of ${fromNames} functions come from their class names (lspci run without -nn)` });
  if (!records.some((record) => record.iommuGroup !== undefined)) {
    issues.push({ file, message: "no 'IOMMU group:' lines: the IOMMU is taken as off" });
  }
  if (!records.some((record) => record.numaNode !== undefined)) {
    issues.push({ file, message: "no 'NUMA node:' lines: every host bridge is put on NUMA node 0" });
  }
  return issues;
}

/** The host bridge of one root bus; its NUMA node is the first one its functions name. */
function hostBridgeSpec(root: PlannedRoot, warnings: ImportIssue[]): HostBridgeSpec {
  const nodes = new Set<number>();
  let numaNode: number | undefined;
  const devices = sortByDevfn(root.functions).map((fn) => functionSpec(fn, undefined, warnings));
  const visit = (fns: readonly FunctionSpec[]) => {
    for (const fn of fns) {
      if (fn.numaNode !== undefined) {
        numaNode ??= fn.numaNode;
        nodes.add(fn.numaNode);
      }
      visit(fn.children ?? []);
    }
  };
  visit(devices);
  const id = `pci${root.domain.toString(16).padStart(4, "0")}:${root.bus.toString(16).padStart(2, "0")}`;
  if (nodes.size > 1) {
    warnings.push({
      file: root.file,
      line: root.line,
      message: `${id}: functions name NUMA nodes ${[...nodes].join(", ")}: the host bridge takes node ${numaNode}`,
    });
  }
  return { id, domain: root.domain, bus: root.bus, ...(numaNode === undefined ? {} : { numaNode }), devices };
}

/** The spec of one function and its subtree; guesses missing kinds from the parent's (step 4). */
function functionSpec(fn: PlannedFunction, parentKind: FunctionKind | undefined, warnings: ImportIssue[]): FunctionSpec {
  let kind = fn.kind;
  if (kind === undefined) {
    kind = guessKind(fn, parentKind);
    fn.notes.push(`kind ${kind} guessed from its place in the tree (${fn.guessReason ?? "no port type"})`);
  }
  const id = formatBdf(fn.bdf);
  if (fn.notes.length > 0) warnings.push({ file: fn.file, line: fn.line, message: `${id}: ${fn.notes.join("; ")}` });
  const known = kind;
  const children = sortByDevfn(fn.children).map((child) => functionSpec(child, known, warnings));
  return {
    kind,
    bdf: id,
    ...fn.facts,
    ...(kind !== "endpoint" && fn.secondaryBus !== undefined ? { secondaryBus: fn.secondaryBus } : {}),
    ...(children.length > 0 ? { children } : {}),
  };
}

function guessKind(fn: PlannedFunction, parentKind: FunctionKind | undefined): FunctionKind {
  if (!fn.bridge) return "endpoint";
  // The kind matters beyond reports: the host-bridge allow list accepts a first root-bus device
  // that is not 00.0 only when it is a Root Port [kernel.md §a.4].
  if (parentKind === undefined) return "root-port";
  if (parentKind === "upstream-port") return "downstream-port";
  if (parentKind === "pci-bridge") return "pci-bridge";
  // Below a port: a switch shows its downstream ports as bridges on its internal bus.
  return fn.children.some((child) => child.bridge) ? "upstream-port" : "pci-bridge";
}

function sortByDevfn(fns: readonly PlannedFunction[]): PlannedFunction[] {
  return [...fns].sort((a, b) => a.bdf.device - b.bdf.device || a.bdf.fn - b.bdf.fn);
}
