/**
 * What every importer of a real machine's description returns. Importers read text (the CLI
 * reads the files) and never throw on bad input: malformed input is a located error, missing
 * facts are filled with documented defaults and reported as warnings.
 */
import type { PlatformSpec, TopologySpec } from "../pci/topology-spec.js";

/** A located problem in an input file. */
export interface ImportIssue {
  /** The file, as the user named it. */
  readonly file: string;
  /** 1-based line, for text formats and where an XML parser reports one. */
  readonly line?: number;
  /** Where in an XML document, like `/topology/object[1]/object[3]` or `system/cpu[2]/pci[1]`. */
  readonly xmlPath?: string;
  /** Where in a JSON or YAML document, like `$.hostBridges[0].devices[2].kind`. */
  readonly jsonPath?: string;
  /** What was wrong or assumed, and what was expected. */
  readonly message: string;
}

/** The outcome of importing one topology file. */
export type TopologyImport =
  | { readonly ok: true; readonly spec: TopologySpec; readonly warnings: readonly ImportIssue[] }
  | { readonly ok: false; readonly error: ImportIssue };

/** What `lscpu` and `numactl --hardware` contribute: the CPU and the NUMA nodes. */
export interface PlatformFacts {
  readonly platform?: Partial<PlatformSpec>;
  /** NUMA node ids present on the machine. */
  readonly numaNodes?: readonly number[];
  /** CPU packages (sockets). */
  readonly sockets?: number;
}

/** The outcome of importing a platform file (`lscpu`, `numactl --hardware`). */
export type PlatformImport =
  | { readonly ok: true; readonly facts: PlatformFacts; readonly warnings: readonly ImportIssue[] }
  | { readonly ok: false; readonly error: ImportIssue };
