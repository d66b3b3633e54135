/**
 * Reads the NUMA nodes and their distance table from `numactl --hardware`:
 *
 * ```
 * available: 2 nodes (0-1)
 * node 0 cpus: 0 1 2 3
 * node 0 size: 64136 MB
 * node 0 free: 60012 MB
 * node 1 cpus: 4 5 6 7
 * …
 * node distances:
 * node   0   1
 *   0:  10  21
 *   1:  21  10
 * ```
 */
import type { ImportIssue, PlatformImport } from "./import-types.js";

/** Whether `text` looks like `numactl --hardware` output. */
export function looksLikeNumactl(text: string): boolean {
  return /^available: \d+ nodes?/m.test(text) || /^No NUMA available/m.test(text);
}

/**
 * Parses `numactl --hardware` output into NUMA node ids and `platform.numaDistances`, whose row
 * i and column j are the i-th and j-th node of the table header (node ids in that order, usually
 * 0..n-1). "No NUMA available on this system" gives one node, 0, with a warning; a missing table
 * gives no distances, with a warning.
 * @returns the facts and warnings, or a located error when the `available:` line is missing or
 * the distance table is not square over its header's nodes. Never throws.
 */
export function importNumactl(text: string, file: string): PlatformImport {
  const lines = text.split(/\r?\n/);
  const warnings: ImportIssue[] = [];
  const noNuma = lines.findIndex((line) => /^No NUMA available/.test(line));
  if (noNuma !== -1) {
    warnings.push({ file, line: noNuma + 1, message: "numactl found no NUMA: one node, 0, assumed" });
    return { ok: true, facts: { numaNodes: [0] }, warnings };
  }
  const availableAt = lines.findIndex((line) => /^available:/.test(line));
  const available = /^available: (\d+) nodes? \(([\d,\s-]*)\)\s*$/.exec(lines[availableAt] ?? "");
  if (!available) {
    const line = availableAt === -1 ? 1 : availableAt + 1;
    return { ok: false, error: { file, line, message: 'not numactl --hardware output: expected a line like "available: 2 nodes (0-1)"' } };
  }
  const numaNodes = parseNodeList(available[2] as string);
  if (numaNodes === undefined)
    return { ok: false, error: { file, line: availableAt + 1, message: `expected a node list like "0-3,8", got "${available[2]}"` } };
  if (numaNodes.length !== Number(available[1])) {
    warnings.push({ file, line: availableAt + 1, message: `"${available[1]} nodes" but the list names ${numaNodes.length}: the list is used` });
  }
  const tableAt = lines.findIndex((line) => /^node distances:\s*$/.test(line));
  if (tableAt === -1) {
    warnings.push({ file, line: lines.length, message: 'no "node distances:" table: NUMA distances left out' });
    return { ok: true, facts: { numaNodes }, warnings };
  }
  const table = distanceTable(lines, tableAt, file);
  if (!table.ok) return table;
  if (table.header.join(",") !== numaNodes.join(",")) {
    warnings.push({
      file,
      line: tableAt + 2,
      message: `the distance table's nodes (${table.header.join(", ")}) differ from the available nodes (${numaNodes.join(", ")})`,
    });
  }
  return { ok: true, facts: { numaNodes, platform: { numaDistances: table.rows } }, warnings };
}

/** The table after `node distances:` (at index `at`): a header of node ids, then one `N:` row per node. */
function distanceTable(
  lines: readonly string[],
  at: number,
  file: string,
): { ok: true; header: number[]; rows: number[][] } | { ok: false; error: ImportIssue } {
  const headerMatch = /^node((?:\s+\d+)+)\s*$/.exec(lines[at + 1] ?? "");
  if (!headerMatch) return { ok: false, error: { file, line: at + 2, message: 'expected the header "node   0   1 …" after "node distances:"' } };
  const header = (headerMatch[1] as string).trim().split(/\s+/).map(Number);
  const rows: number[][] = [];
  for (const [i, node] of header.entries()) {
    const line = at + 3 + i;
    const row = /^\s*(\d+):((?:\s+\d+)+)\s*$/.exec(lines[line - 1] ?? "");
    const values = row ? (row[2] as string).trim().split(/\s+/).map(Number) : [];
    if (!row || Number(row[1]) !== node || values.length !== header.length) {
      return { ok: false, error: { file, line, message: `expected the row "${node}:" with ${header.length} distances, got "${lines[line - 1] ?? ""}"` } };
    }
    rows.push(values);
  }
  return { ok: true, header, rows };
}

/** Parses `0-3,8` into `[0, 1, 2, 3, 8]`; undefined when malformed or absurdly long. */
function parseNodeList(text: string): number[] | undefined {
  const nodes: number[] = [];
  for (const part of text.split(",").map((p) => p.trim())) {
    const range = /^(\d{1,4})(?:-(\d{1,4}))?$/.exec(part);
    if (!range) return undefined;
    const first = Number(range[1]);
    const last = range[2] === undefined ? first : Number(range[2]);
    if (last < first || last - first > 4096) return undefined;
    for (let node = first; node <= last; node++) nodes.push(node);
  }
  return nodes;
}
