/**
 * The machine facts of an hwloc XML export, where hwloc v1 and v2 spell them differently:
 *
 * | fact | v1 (hwloc 1.x) | v2 |
 * |---|---|---|
 * | CPU package | `Socket` (before 1.11) or `Package` | `Package` |
 * | NUMA locality of I/O | the NUMANode object the I/O hangs under | the `nodeset` of the CPU object it hangs under (NUMANodes are memory children) |
 * | NUMA distances | `<distances relative_depth latency_base><latency value/>…` | `<distances2 type="NUMANode"><indexes>…<u64values>…` |
 *
 * The CPU identity (`CPUVendor`, `CPUFamilyNumber`, `CPUModelNumber` infos on packages) and the
 * `Architecture` info on the Machine are spelled the same in both.
 */
import type { PlatformSpec } from "../pci/topology-spec.js";
import type { ImportIssue } from "./import-types.js";
import { childrenNamed, intAttribute, issueAt, type XmlElement } from "./xml.js";

const PACKAGE_TYPES = new Set(["Package", "Socket"]);

/** Where a host bridge hangs: its NUMA node and CPU package. */
export interface HwlocPlacement {
  readonly numaNode: number;
  /** Undefined when no package can be told; the topology then uses the NUMA node. */
  readonly socket: number | undefined;
  readonly warnings: readonly ImportIssue[];
}

/**
 * The NUMA node and package of an I/O object, from the CPU objects above it (`ancestors`,
 * outermost first). NUMA node: the nearest NUMANode ancestor (v1), else the lowest node of the
 * nearest ancestor's `nodeset` (v2; a warning when it spans several), else 0 (a warning).
 * Socket: the nearest Package/Socket ancestor, else the only package below the nearest ancestor
 * (v1 hangs I/O beside the package, under its NUMANode), else unknown (a warning).
 */
export function hwlocPlacement(object: XmlElement, ancestors: readonly XmlElement[], file: string): HwlocPlacement {
  const warnings: ImportIssue[] = [];
  const nearest = (test: (element: XmlElement) => boolean) => [...ancestors].reverse().find(test);
  const typeOf = (element: XmlElement) => element.attributes.get("type") ?? "";
  const numaAncestor = nearest((e) => typeOf(e) === "NUMANode");
  let numaNode = numaAncestor === undefined ? undefined : intAttribute(numaAncestor, "os_index");
  if (numaNode === undefined) {
    const nodes = bitmapBits(nearest((e) => e.attributes.has("nodeset"))?.attributes.get("nodeset") ?? "");
    numaNode = nodes[0];
    if (nodes.length > 1)
      warnings.push(issueAt(file, object, `the I/O hangs under an object spanning NUMA nodes ${nodes.join(", ")}: assumed node ${nodes[0]}`));
  }
  if (numaNode === undefined) {
    warnings.push(issueAt(file, object, "no NUMA node above this host bridge: assumed node 0"));
    numaNode = 0;
  }
  const packageAncestor = nearest((e) => PACKAGE_TYPES.has(typeOf(e)));
  let socket: number | undefined;
  if (packageAncestor !== undefined) socket = intAttribute(packageAncestor, "os_index");
  else {
    const parent = ancestors[ancestors.length - 1];
    const packages = parent === undefined ? [] : descendants(parent).filter((e) => PACKAGE_TYPES.has(typeOf(e)));
    socket = packages.length === 1 ? intAttribute(packages[0] as XmlElement, "os_index") : undefined;
  }
  if (socket === undefined)
    warnings.push(issueAt(file, object, `no single CPU package above this host bridge: its socket is taken to be its NUMA node ${numaNode}`));
  return { numaNode, socket, warnings };
}

/**
 * The platform: CPU identity from the first package with a `CPUVendor` info (or the Machine's),
 * `Architecture` from the Machine, and NUMA latencies. Missing identity takes the topology's
 * default, Intel family 6, with a warning; packages that disagree are a warning too.
 */
export function hwlocMachineFacts(root: XmlElement, file: string): { platform: PlatformSpec; warnings: ImportIssue[] } {
  const warnings: ImportIssue[] = [];
  const objects = descendants(root);
  const machine = objects.find((e) => e.attributes.get("type") === "Machine");
  const packages = objects.filter((e) => PACKAGE_TYPES.has(e.attributes.get("type") ?? "") && infosOf(e).has("CPUVendor"));
  const cpu = packages[0] ?? machine;
  const infos = cpu === undefined ? new Map<string, string>() : infosOf(cpu);
  const identity = (e: XmlElement) => ["CPUVendor", "CPUFamilyNumber", "CPUModelNumber"].map((key) => infosOf(e).get(key)).join("/");
  const differing = packages.find((e) => identity(e) !== identity(packages[0] as XmlElement));
  if (differing)
    warnings.push(
      issueAt(file, differing, `packages report different CPUs (${identity(packages[0] as XmlElement)} and ${identity(differing)}): the first is used`),
    );
  const arch = archOf(machine === undefined ? undefined : infosOf(machine).get("Architecture"));
  const vendorText = infos.get("CPUVendor");
  const family = parseDecimal(infos.get("CPUFamilyNumber"));
  const model = parseDecimal(infos.get("CPUModelNumber"));
  const numaDistances = numaLatencies(root, objects, file, warnings);
  let identityPart: Pick<PlatformSpec, "cpuVendor" | "cpuFamily">;
  if (vendorText !== undefined && family !== undefined) {
    identityPart = { cpuVendor: vendorText === "GenuineIntel" ? "intel" : vendorText === "AuthenticAMD" ? "amd" : "other", cpuFamily: family };
  } else if (arch !== undefined && arch !== "x86") {
    identityPart = { cpuVendor: "other", cpuFamily: 0 };
  } else {
    identityPart = { cpuVendor: "intel", cpuFamily: 6 };
    warnings.push(issueAt(file, cpu ?? root, "no CPUVendor and CPUFamilyNumber infos: assumed an Intel family 6 CPU (the topology default)"));
  }
  const platform: PlatformSpec = {
    ...identityPart,
    ...(model === undefined ? {} : { cpuModel: model }),
    ...(arch === undefined ? {} : { arch }),
    ...(numaDistances === undefined ? {} : { numaDistances }),
  };
  return { platform, warnings };
}

/** NUMA latencies in node order (row i = node i), from v2 `<distances2>` or v1 `<distances>`; undefined (with a warning when present but unusable) otherwise. */
function numaLatencies(root: XmlElement, objects: readonly XmlElement[], file: string, warnings: ImportIssue[]): number[][] | undefined {
  const nodes = objects.filter((e) => e.attributes.get("type") === "NUMANode");
  const v2 = childrenNamed(root, "distances2").find((e) => e.attributes.get("type") === "NUMANode" && ((intAttribute(e, "kind") ?? 0) & 4) !== 0);
  if (v2 !== undefined) {
    const numbers = (name: string) =>
      childrenNamed(v2, name).flatMap((e) =>
        e.text
          .split(/\s+/)
          .filter((word) => word !== "")
          .map(parseDecimalOrNaN),
      );
    const indexes = v2.attributes.get("indexing") === "os" ? numbers("indexes") : [];
    return squareInNodeOrder(indexes, numbers("u64values"), v2, file, warnings);
  }
  const v1 = objects.flatMap((e) => childrenNamed(e, "distances")).find((e) => intAttribute(e, "nbobjs") === nodes.length);
  if (v1 === undefined) return undefined;
  const base = Number.parseFloat(v1.attributes.get("latency_base") ?? "1");
  const values = childrenNamed(v1, "latency").map((e) => Math.round(Number.parseFloat(e.attributes.get("value") ?? "") * base));
  return squareInNodeOrder(
    nodes.map((node) => intAttribute(node, "os_index") ?? Number.NaN),
    values,
    v1,
    file,
    warnings,
  );
}

/** Arranges `values` (row-major, rows in `indexes` order) so that row i is node i; undefined with a warning unless the indexes are 0..n-1 in some order. */
function squareInNodeOrder(
  indexes: readonly number[],
  values: readonly number[],
  where: XmlElement,
  file: string,
  warnings: ImportIssue[],
): number[][] | undefined {
  const n = indexes.length;
  const valid =
    n > 0 && values.length === n * n && values.every((v) => Number.isSafeInteger(v) && v >= 0) && [...indexes].sort((a, b) => a - b).every((v, i) => v === i);
  if (!valid) {
    warnings.push(issueAt(file, where, "NUMA distances are not a square matrix over nodes 0..n-1 (OS indexes): left out"));
    return undefined;
  }
  const matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  indexes.forEach((row, i) => {
    indexes.forEach((column, j) => {
      (matrix[row] as number[])[column] = values[i * n + j] as number;
    });
  });
  return matrix;
}

/** Every `<object>` below `element`, depth-first. */
function descendants(element: XmlElement): XmlElement[] {
  return childrenNamed(element, "object").flatMap((child) => [child, ...descendants(child)]);
}

function infosOf(element: XmlElement): Map<string, string> {
  return new Map(childrenNamed(element, "info").map((info) => [info.attributes.get("name") ?? "", info.attributes.get("value") ?? ""]));
}

function archOf(text: string | undefined): PlatformSpec["arch"] {
  if (text === undefined) return undefined;
  if (/^(x86_64|i[3-6]86|amd64)$/.test(text)) return "x86";
  return /^(aarch64|arm64)$/.test(text) ? "arm64" : "other";
}

/** Bit numbers set in an hwloc bitmap string (`0x00000003`, `0xffffffff,,0x0`: 32-bit words, most significant first, empty = 0), lowest first. */
export function bitmapBits(text: string): number[] {
  const words = text.split(",").reverse();
  const bits: number[] = [];
  words.forEach((word, w) => {
    if (/f\.\.\.f/.test(word)) return;
    const value = word === "" ? 0 : Number.parseInt(word.replace(/^0x/, ""), 16);
    if (!Number.isFinite(value)) return;
    for (let b = 0; b < 32; b++) if (Math.floor(value / 2 ** b) % 2 === 1) bits.push(w * 32 + b);
  });
  return bits;
}

function parseDecimal(text: string | undefined): number | undefined {
  return text !== undefined && /^\d{1,9}$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

function parseDecimalOrNaN(text: string): number {
  return parseDecimal(text) ?? Number.NaN;
}
