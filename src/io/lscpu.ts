/**
 * Reads the CPU and NUMA facts of `lscpu` output: the platform the host-bridge decision of p2pdma
 * reads [kernel.md §a.3 step 5], the number of sockets and the NUMA node ids.
 *
 * ```
 * Architecture:            x86_64
 * Vendor ID:               AuthenticAMD
 *   Model name:            AMD EPYC 7742 64-Core Processor
 *     CPU family:          23
 *     Model:               49
 *     Socket(s):           2
 * NUMA:
 *   NUMA node(s):          8
 *   NUMA node0 CPU(s):     0-15,128-143
 * ```
 *
 * Newer util-linux indents sections; older versions do not. Both read the same.
 */
import type { PlatformSpec } from "../pci/topology-spec.js";
import type { ImportIssue, PlatformImport } from "./import-types.js";

/** Whether `text` looks like `lscpu` output. */
export function looksLikeLscpu(text: string): boolean {
  return /^\s*Architecture:/m.test(text) && /^\s*(Vendor ID|CPU\(s\)):/m.test(text);
}

/** A key of interest with the line it was found on. */
interface Field {
  readonly value: string;
  readonly line: number;
}

/**
 * Parses `lscpu` output.
 *
 * - `Vendor ID`: GenuineIntel is Intel, AuthenticAMD AMD; anything else (HygonGenuine, ARM, …) is
 *   "other", because the kernel's Zen rule tests the AMD vendor only [kernel.md §a.3 step 5].
 * - `Architecture`: x86_64/i?86 is x86, aarch64 arm64, anything else "other".
 * - `CPU family`, `Model` (decimal, as lscpu prints them), `Socket(s)` (`-` means unknown).
 * - NUMA node ids from the `NUMA nodeN CPU(s):` lines, else 0..n-1 from `NUMA node(s):` (a warning).
 *
 * When a key repeats (heterogeneous CPUs list one block per core type) the first value is used,
 * with a warning if a later one differs.
 * @returns the facts and warnings, or a located error when no key is found or a value that must
 * be a number is not. Never throws.
 */
export function importLscpu(text: string, file: string): PlatformImport {
  const fields = new Map<string, Field>();
  const warnings: ImportIssue[] = [];
  const nodeLines: Array<{ node: number; line: number }> = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const match = /^\s*([^:]+?):\s*(.*?)\s*$/.exec(raw);
    if (!match) return;
    const key = match[1] as string;
    const value = match[2] as string;
    const line = index + 1;
    const node = /^NUMA node(\d+) CPU\(s\)$/.exec(key);
    if (node) nodeLines.push({ node: Number(node[1]), line });
    const earlier = fields.get(key);
    if (earlier === undefined) fields.set(key, { value, line });
    else if (earlier.value !== value && KEYS.has(key))
      warnings.push({ file, line, message: `"${key}" repeats with "${value}": the first value, "${earlier.value}", is used` });
  });
  if (![...KEYS].some((key) => fields.has(key))) {
    return { ok: false, error: { file, line: 1, message: 'not lscpu output: expected lines such as "Architecture: x86_64" and "Vendor ID: GenuineIntel"' } };
  }
  const numbers = new Map<string, number | undefined>();
  for (const key of ["CPU family", "Model", "Socket(s)", "NUMA node(s)"]) {
    const field = fields.get(key);
    if (field === undefined || field.value === "-" || field.value === "") continue;
    if (!/^\d{1,9}$/.test(field.value))
      return { ok: false, error: { file, line: field.line, message: `"${key}" should be a decimal number, got "${field.value}"` } };
    numbers.set(key, Number(field.value));
  }
  const vendor = fields.get("Vendor ID")?.value;
  const archText = fields.get("Architecture")?.value;
  const platform: Partial<PlatformSpec> = {
    ...(vendor === undefined ? {} : { cpuVendor: vendor === "GenuineIntel" ? "intel" : vendor === "AuthenticAMD" ? "amd" : "other" }),
    ...(numbers.get("CPU family") === undefined ? {} : { cpuFamily: numbers.get("CPU family") as number }),
    ...(numbers.get("Model") === undefined ? {} : { cpuModel: numbers.get("Model") as number }),
    ...(archText === undefined ? {} : { arch: /^(x86_64|i[3-6]86)$/.test(archText) ? "x86" : archText === "aarch64" ? "arm64" : "other" }),
  };
  const nodeCount = numbers.get("NUMA node(s)");
  let numaNodes = [...new Set(nodeLines.map((n) => n.node))].sort((a, b) => a - b);
  if (numaNodes.length === 0 && nodeCount !== undefined) {
    numaNodes = Array.from({ length: nodeCount }, (_, i) => i);
    warnings.push({ file, line: fields.get("NUMA node(s)")?.line ?? 1, message: `no "NUMA nodeN CPU(s)" lines: assumed nodes 0..${nodeCount - 1}` });
  } else if (nodeCount !== undefined && nodeCount !== numaNodes.length) {
    warnings.push({
      file,
      line: fields.get("NUMA node(s)")?.line ?? 1,
      message: `"NUMA node(s): ${nodeCount}" but ${numaNodes.length} node lines: the node lines are used`,
    });
  }
  const sockets = numbers.get("Socket(s)");
  return {
    ok: true,
    facts: { platform, ...(numaNodes.length === 0 ? {} : { numaNodes }), ...(sockets === undefined ? {} : { sockets }) },
    warnings,
  };
}

const KEYS = new Set(["Architecture", "Vendor ID", "CPU family", "Model", "Socket(s)", "NUMA node(s)"]);
