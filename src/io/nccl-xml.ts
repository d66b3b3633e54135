/**
 * Imports a machine from an NCCL topology dump (`NCCL_TOPO_DUMP_FILE`, `<system version="1">`).
 *
 * NCCL walks each device's sysfs path upward two levels at a time, so it keeps one `<pci>` per
 * switch (the upstream port) and none for downstream ports, and it stops at the root complex,
 * which becomes a `<cpu>`:
 *
 * ```
 * <cpu numaid="3" vendor="AuthenticAMD" familyid="143" modelid="49">    host bridge (NUMA 3)
 *   <pci busid="0000:01:00.0" class="0x060400" …>                         switch upstream port
 *     <pci busid="0000:03:00.0" class="0x060400" …>                       (root port and downstream
 *       <pci busid="0000:07:00.0" class="0x030200" …><gpu dev="0"/>        ports assumed around them)
 *     <pci busid="0000:0c:00.0" class="0x020700" …><nic><net name="mlx5_0"/></nic>
 * ```
 *
 * Text inside elements is ignored (published dumps carry stray numbers after some `<pci>` tags).
 */
import { parseBdf, parseHexId } from "../pci/ids.js";
import type { LinkSpec, PlatformSpec, TopologySpec } from "../pci/topology-spec.js";
import type { ImportIssue, TopologyImport } from "./import-types.js";
import { type RawFunction, type RawHostBridge, repairPciTrees } from "./pci-tree-repair.js";
import { childrenNamed, ImportFailure, intAttribute, issueAt, parseXml, type XmlElement } from "./xml.js";

/** Options of {@link importNcclXml}. */
export interface NcclImportOptions {
  /**
   * How `<cpu>` elements become host bridges. `"per-root-port"` (default): one per top-level
   * `<pci>`, as on the servers these dumps come from (Intel Xeon SP PCIe stacks and AMD EPYC root
   * complexes each have their own root bus), so `nvidia-smi`'s NODE, not PHB, comes out between
   * devices under different top-level ports of one CPU. `"per-cpu"`: one host bridge per `<cpu>`
   * (and PCI domain).
   */
  readonly hostBridges?: "per-cpu" | "per-root-port";
}

/** Whether `text` looks like an NCCL topology dump. */
export function looksLikeNcclXml(text: string): boolean {
  return /<system[\s>]/.test(text) && /<cpu[\s>/]/.test(text);
}

const GT_PER_GEN: ReadonlyArray<readonly [number, number]> = [
  [2.5, 1],
  [5, 2],
  [8, 3],
  [16, 4],
  [32, 5],
  [64, 6],
];
const LINK_WIDTHS = new Set([1, 2, 4, 8, 12, 16, 32]);

/**
 * Imports an NCCL topology dump.
 *
 * Each `<cpu>` becomes a host bridge with `numaNode` = `numaid` (0 with a warning when absent or
 * -1); NCCL does not say which package a NUMA node belongs to, so `socket` = `numaid` (one
 * warning). A `<pci>` of class 0x0604xx is a switch upstream port; root ports and downstream ports
 * are assumed around it (see `repairPciTrees`). Links come from `link_speed` ("16.0 GT/s PCIe" or
 * "16 GT/s") and `link_width`. Aliases: `<net name>` for NICs (the first, when a NIC lists
 * several ports), `gpu<dev>` for GPUs, as `nvidia-smi` numbers them. The platform comes from the
 * first `<cpu>` (see {@link ncclPlatform}). NVLink is not modelled (one warning).
 * @returns the topology and every assumption as a located warning, or a located error for
 * malformed XML, a root other than `<system>`, no `<cpu>`, or a `<pci>` without a valid `busid`,
 * `class`, `vendor` or `device`. Never throws.
 */
export function importNcclXml(text: string, file: string, options: NcclImportOptions = {}): TopologyImport {
  const parsed = parseXml(text);
  if (!parsed.ok) return { ok: false, error: { file, line: parsed.line, message: `not well-formed XML: ${parsed.message}` } };
  const root = parsed.root;
  if (root.name !== "system") return { ok: false, error: issueAt(file, root, `expected an NCCL <system> document, found <${root.name}>`) };
  const cpus = childrenNamed(root, "cpu");
  if (cpus.length === 0) return { ok: false, error: issueAt(file, root, "expected at least one <cpu> element") };
  const reader = new NcclReader(file);
  const hostBridges: RawHostBridge[] = [];
  try {
    for (const cpu of cpus) hostBridges.push(...reader.cpu(cpu, options.hostBridges ?? "per-root-port"));
  } catch (error) {
    if (error instanceof ImportFailure) return { ok: false, error: error.issue };
    throw error;
  }
  const warnings = reader.warnings;
  if (reader.nvlinks > 0) warnings.push(issueAt(file, root, `${reader.nvlinks} <nvlink> elements ignored: p2psim models PCIe only`));
  warnings.push(issueAt(file, cpus[0], "NCCL does not say which CPU package a NUMA node belongs to: each host bridge's socket is taken to be its NUMA node"));
  const repaired = repairPciTrees(hostBridges, {
    file,
    foldsDownstreamPorts: true,
    rootPortReason: "NCCL folds root ports into <cpu>",
    downstreamPortReason: "NCCL keeps only the upstream port of each switch",
  });
  if (!repaired.ok) return repaired;
  const platform = ncclPlatform(cpus, file, warnings);
  const spec: TopologySpec = { name: file, platform, hostBridges: repaired.hostBridges };
  return { ok: true, spec, warnings: [...warnings, ...repaired.warnings] };
}

/**
 * The CPU from the first `<cpu>` with a `vendor`: GenuineIntel is Intel, AuthenticAMD AMD, other
 * vendors (HygonGenuine, CentaurHauls, …) "other". NCCL writes `familyid` as base family +
 * (extended family << 4) (143 = 0x8f for Zen 2), so the family is decoded as x86 defines it: base
 * + extended when the base is 0xf (0x8f → 0x17). `modelid` is already the displayed model. A
 * non-x86 `arch` without vendor gives "other", family 0. Without any, the topology's default, an
 * Intel family 6 CPU, is filled in with a warning.
 */
export function ncclPlatform(cpus: readonly XmlElement[], file: string, warnings: ImportIssue[]): PlatformSpec {
  const cpu = cpus.find((c) => c.attributes.has("vendor")) ?? cpus[0];
  const a = cpu?.attributes ?? new Map<string, string>();
  const archText = a.get("arch");
  const arch = archText === undefined ? undefined : archText === "x86_64" ? "x86" : /^(arm64|aarch64)$/.test(archText) ? "arm64" : "other";
  const differing = cpus.find((c) => ["vendor", "familyid", "modelid"].some((key) => c.attributes.get(key) !== a.get(key)));
  if (differing) warnings.push(issueAt(file, differing, "<cpu> elements report different CPUs: the first is used"));
  const vendor = a.get("vendor");
  const familyId = cpu === undefined ? undefined : intAttribute(cpu, "familyid");
  const model = cpu === undefined ? undefined : intAttribute(cpu, "modelid");
  const withArch = (spec: PlatformSpec): PlatformSpec => ({
    ...spec,
    ...(model === undefined ? {} : { cpuModel: model }),
    ...(arch === undefined ? {} : { arch }),
  });
  if (vendor !== undefined && familyId !== undefined) {
    const base = familyId & 0xf;
    const cpuFamily = base === 0xf ? base + (familyId >> 4) : base;
    return withArch({ cpuVendor: vendor === "GenuineIntel" ? "intel" : vendor === "AuthenticAMD" ? "amd" : "other", cpuFamily });
  }
  if (arch !== undefined && arch !== "x86") return withArch({ cpuVendor: "other", cpuFamily: 0 });
  warnings.push(issueAt(file, cpu, "no CPU vendor and familyid: assumed an Intel family 6 CPU (the topology default)"));
  return withArch({ cpuVendor: "intel", cpuFamily: 6 });
}

class NcclReader {
  readonly warnings: ImportIssue[] = [];
  nvlinks = 0;

  constructor(private readonly file: string) {}

  private fail(element: XmlElement, message: string): never {
    throw new ImportFailure(issueAt(this.file, element, message));
  }

  /** The host bridges of one `<cpu>`: one per PCI domain, or one per top-level `<pci>`. */
  cpu(cpu: XmlElement, mode: "per-cpu" | "per-root-port"): RawHostBridge[] {
    let numaNode = intAttribute(cpu, "numaid");
    if (numaNode === undefined) {
      this.warnings.push(issueAt(this.file, cpu, `numaid=${JSON.stringify(cpu.attributes.get("numaid") ?? "")} is not a NUMA node: assumed node 0`));
      numaNode = 0;
    }
    for (const nic of childrenNamed(cpu, "nic")) this.warnings.push(issueAt(this.file, nic, "a <nic> directly under <cpu> has no PCI function: ignored"));
    const functions = childrenNamed(cpu, "pci").map((pci) => this.pci(pci));
    const groups = new Map<string, RawFunction[]>();
    for (const fn of functions) {
      const key = mode === "per-cpu" ? `${fn.bdf.domain}` : `${fn.bdf.domain}:${fn.bdf.bus}`;
      groups.set(key, [...(groups.get(key) ?? []), fn]);
    }
    return [...groups.values()].map((group) => ({
      domain: (group[0] as RawFunction).bdf.domain,
      rootBus: undefined,
      numaNode,
      socket: numaNode,
      functions: group,
      where: cpu,
    }));
  }

  private pci(pci: XmlElement): RawFunction {
    const a = pci.attributes;
    const bdf = parseBdf(a.get("busid") ?? "");
    if (bdf === undefined) this.fail(pci, `expected busid="DDDD:BB:DD.F", got ${quoted(a.get("busid"))}`);
    const classCode = this.hexAttribute(pci, "class", true);
    const ids = { vendor: this.hexAttribute(pci, "vendor", false), device: this.hexAttribute(pci, "device", false) };
    const busid = a.get("busid") as string;
    const { link, warning } = linkFromGTs(a.get("link_speed"), a.get("link_width"), busid);
    const gpu = childrenNamed(pci, "gpu")[0];
    const nets = childrenNamed(pci, "nic").flatMap((nic) => childrenNamed(nic, "net"));
    const netNames = nets.map((net) => net.attributes.get("name")).filter((name) => name !== undefined && name !== "");
    if (netNames.length > 1) {
      this.warnings.push(
        issueAt(
          this.file,
          pci,
          `${busid} lists ${netNames.length} network ports (${netNames.join(", ")}): named after the first (NCCL merges a multi-port NIC's functions)`,
        ),
      );
    }
    if (gpu) this.nvlinks += childrenNamed(gpu, "nvlink").length;
    const gpuIndex = gpu === undefined ? undefined : intAttribute(gpu, "dev");
    const name = netNames[0] ?? (gpuIndex === undefined ? undefined : `gpu${gpuIndex}`);
    const isBridge = classCode >> 8 === 0x0604;
    const children = childrenNamed(pci, "pci").map((child) => this.pci(child));
    if (!isBridge && children.length > 0) this.fail(pci, `${busid} has class ${a.get("class")}, not a bridge, but has <pci> elements below it`);
    return {
      bdf,
      isBridge,
      secondaryBus: undefined,
      name,
      ...ids,
      classCode,
      description: netNames.length > 1 ? `network ports ${netNames.join(", ")}` : undefined,
      link,
      linkWarning: warning,
      children,
      where: pci,
    };
  }

  private hexAttribute(pci: XmlElement, name: string, required: true): number;
  private hexAttribute(pci: XmlElement, name: string, required: false): number | undefined;
  private hexAttribute(pci: XmlElement, name: string, required: boolean): number | undefined {
    const text = pci.attributes.get(name);
    if (text === undefined && !required) return undefined;
    const value = parseHexId(text ?? "");
    if (value === undefined || value > 0xffffff) this.fail(pci, `expected ${name}="0x…" (hexadecimal), got ${quoted(text)}`);
    return value;
  }
}

/**
 * Turns NCCL's `link_speed` ("16.0 GT/s PCIe", "16 GT/s", "2.5 GT/s") and `link_width` into a
 * generation and width. @returns the link, or none with a warning when either is missing,
 * unknown or not a PCIe value.
 */
export function linkFromGTs(speed: string | undefined, width: string | undefined, busid: string): { link: LinkSpec | undefined; warning: string | undefined } {
  const rate = /^\s*(\d+(?:\.\d+)?)\s*GT\/s/.exec(speed ?? "");
  const gen = rate === null ? undefined : GT_PER_GEN.find(([gts]) => gts === Number(rate[1]))?.[1];
  const lanes = /^\s*\d{1,2}\s*$/.test(width ?? "") ? Number(width) : undefined;
  if (gen === undefined || lanes === undefined || !LINK_WIDTHS.has(lanes)) {
    return { link: undefined, warning: `${busid}: link_speed=${quoted(speed)} link_width=${quoted(width)} is not a PCIe link: the link is left unknown` };
  }
  return { link: { gen, width: lanes }, warning: undefined };
}

function quoted(value: string | undefined): string {
  return value === undefined ? "nothing" : JSON.stringify(value);
}
