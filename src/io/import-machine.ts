/**
 * One machine from several files: each file's format is detected from its content, `lspci -tv`
 * and `lspci -vvv` of the same machine are merged, `lscpu` and `numactl --hardware` complete the
 * platform, and a file in no known format is skipped with a warning.
 */
import type { PlatformSpec, TopologySpec } from "../pci/topology-spec.js";
import { importHwlocXml, looksLikeHwlocXml } from "./hwloc-xml.js";
import type { ImportIssue, PlatformFacts } from "./import-types.js";
import { importLscpu, looksLikeLscpu } from "./lscpu.js";
import { importLspci } from "./lspci-import.js";
import { looksLikeLspciTree } from "./lspci-tree.js";
import { looksLikeLspciVerbose } from "./lspci-verbose.js";
import { importNcclXml, looksLikeNcclXml } from "./nccl-xml.js";
import { importNumactl, looksLikeNumactl } from "./numactl.js";
import { importTopologyDocument, looksLikeTopologyDocument } from "./topology-file.js";

/** The formats p2psim reads. */
export type InputFormat = "topology-document" | "lspci-tree" | "lspci-verbose" | "hwloc-xml" | "nccl-xml" | "lscpu" | "numactl";

/** One input file. */
export interface InputFile {
  readonly file: string;
  readonly text: string;
}

/** The outcome of {@link importMachine}. */
export type MachineImport =
  | {
      readonly ok: true;
      readonly spec: TopologySpec;
      /** The file the topology came from (the first, for merged lspci files), for locating build errors. */
      readonly topologyFile: string;
      /** Each file's detected format, in input order (undefined: skipped). */
      readonly formats: ReadonlyArray<InputFormat | undefined>;
      readonly warnings: readonly ImportIssue[];
    }
  | { readonly ok: false; readonly error: ImportIssue };

/** Detects a file's format from its content, most specific test first. Undefined: not a format p2psim reads. */
export function detectFormat(text: string): InputFormat | undefined {
  if (looksLikeNcclXml(text)) return "nccl-xml";
  if (looksLikeHwlocXml(text)) return "hwloc-xml";
  if (looksLikeTopologyDocument(text)) return "topology-document";
  if (looksLikeLspciTree(text)) return "lspci-tree";
  if (looksLikeLspciVerbose(text)) return "lspci-verbose";
  if (looksLikeNumactl(text)) return "numactl";
  if (looksLikeLscpu(text)) return "lscpu";
  return undefined;
}

/**
 * Imports one machine. Needs exactly one topology source: a topology document, `lspci` output
 * (`-tv` and/or `-vvv`, one of each at most), an hwloc XML or an NCCL XML; any number of `lscpu`
 * and `numactl --hardware` files may complete it.
 * @returns the merged document and every warning, or the first located error.
 */
export function importMachine(inputs: readonly InputFile[]): MachineImport {
  const warnings: ImportIssue[] = [];
  const formats = inputs.map((input) => detectFormat(input.text));
  inputs.forEach((input, i) => {
    if (formats[i] === undefined) {
      warnings.push({ file: input.file, message: "skipped: not a topology document, lspci -tv/-vvv, hwloc XML, NCCL XML, lscpu or numactl --hardware output" });
    }
  });
  const of = (format: InputFormat) => inputs.filter((_, i) => formats[i] === format);
  const trees = of("lspci-tree");
  const verboses = of("lspci-verbose");
  for (const extra of [...trees.slice(1), ...verboses.slice(1)]) {
    return {
      ok: false,
      error: { file: extra.file, message: "a second lspci file of the same kind: give one machine's lspci -tv and/or -vvv at most once each" },
    };
  }
  const lspci = trees.length + verboses.length > 0;
  const others = inputs.filter((_, i) => formats[i] === "topology-document" || formats[i] === "hwloc-xml" || formats[i] === "nccl-xml");
  if (others.length + (lspci ? 1 : 0) === 0) {
    return {
      ok: false,
      error: {
        file: inputs[0]?.file ?? "(no input)",
        message: "no topology: expected a topology document, lspci -tv/-vvv, hwloc XML or NCCL XML among the files",
      },
    };
  }
  if (others.length + (lspci ? 1 : 0) > 1) {
    const second = lspci ? (others[0] as InputFile) : (others[1] as InputFile);
    return {
      ok: false,
      error: {
        file: second.file,
        message: "a second topology source: give one machine's files in one format (lspci -tv and -vvv may go together, with lscpu and numactl)",
      },
    };
  }
  const source = lspci ? ((trees[0] ?? verboses[0]) as InputFile) : (others[0] as InputFile);
  const format = formats[inputs.indexOf(source)];
  const imported = lspci
    ? importLspci({ ...(trees[0] ? { tree: trees[0] } : {}), ...(verboses[0] ? { verbose: verboses[0] } : {}) })
    : format === "hwloc-xml"
      ? importHwlocXml(source.text, source.file)
      : format === "nccl-xml"
        ? importNcclXml(source.text, source.file)
        : importTopologyDocument(source.text, source.file);
  if (!imported.ok) return imported;
  warnings.push(...imported.warnings);
  let spec = imported.spec;
  for (const input of [...of("lscpu"), ...of("numactl")]) {
    const platform = formats[inputs.indexOf(input)] === "lscpu" ? importLscpu(input.text, input.file) : importNumactl(input.text, input.file);
    if (!platform.ok) return platform;
    warnings.push(...platform.warnings);
    spec = withPlatform(spec, platform.facts, input.file, warnings);
  }
  return { ok: true, spec, topologyFile: source.file, formats, warnings };
}

/** Completes (or corrects, with a warning) the document's platform from lscpu / numactl facts. */
function withPlatform(spec: TopologySpec, facts: PlatformFacts, file: string, warnings: ImportIssue[]): TopologySpec {
  const given = facts.platform ?? {};
  const current: Partial<PlatformSpec> = spec.platform ?? {};
  for (const key of ["cpuVendor", "cpuFamily", "cpuModel", "arch"] as const) {
    if (given[key] !== undefined && current[key] !== undefined && given[key] !== current[key]) {
      warnings.push({ file, message: `${key} ${String(given[key])} replaces ${String(current[key])} from the topology file` });
    }
  }
  const merged = { ...current, ...given };
  if (merged.cpuVendor === undefined || merged.cpuFamily === undefined) {
    if (merged.numaDistances !== undefined && spec.platform === undefined) {
      warnings.push({ file, message: "no CPU vendor and family known: the Intel family 6 default applies (give lscpu output)" });
    }
    return merged.numaDistances === undefined ? spec : { ...spec, platform: { cpuVendor: "intel", cpuFamily: 6, ...merged } };
  }
  return { ...spec, platform: { ...merged, cpuVendor: merged.cpuVendor, cpuFamily: merged.cpuFamily } };
}
