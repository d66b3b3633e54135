/**
 * The topology as text, like `lspci -tv` but annotated with what p2psim reasons about: each
 * function's role, its alias, its identity, its link (trained and, when lower, capable), its
 * ACS capability and control, and its IOMMU group.
 *
 * ```
 * host bridge hb0 · domain 0000 · root bus 00 · NUMA node 0 · socket 0
 * ├─ 00:00.0  endpoint         Intel Ice Lake host bridge [8086:09a2]
 * └─ 00:01.0  root-port        Intel Ice Lake PCIe root port [8086:347a]  Gen4 x16  ACS SV RR CR UF EC, ctl none
 *    └─ 01:00.0  upstream-port  Broadcom PEX88xxx switch upstream port [1000:c010]  Gen4 x16
 * ```
 */
import { acsFlags } from "../pci/acs.js";
import type { PciFunction, Topology } from "../pci/topology.js";

/** Options of {@link renderTopologyTree}. */
export interface TreeOptions {
  /** IOMMU group per function id, shown as `group N`. */
  readonly iommuGroups?: ReadonlyMap<string, number>;
}

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, "0");
}

/** The short address shown in the tree: `BB:DD.F`, with the domain when it is not 0. */
function shortAddress(fn: PciFunction): string {
  return fn.bdf.domain === 0 ? fn.id.slice(5) : fn.id;
}

/** `Gen4 x16`, or `Gen1 x16 (capable Gen3 x16)` when the link trained below its capability. */
export function describeLink(fn: PciFunction): string | undefined {
  const link = fn.link;
  if (!link) return undefined;
  const trained = `Gen${link.gen} x${link.width}`;
  return link.gen < link.capGen || link.width < link.capWidth ? `${trained} (capable Gen${link.capGen} x${link.capWidth})` : trained;
}

/** `ACS SV RR CR UF EC, ctl RR CR` — the capability, then what control has enabled. */
export function describeAcs(fn: PciFunction): string | undefined {
  if (!fn.hasAcs) return undefined;
  const ctl = acsFlags(fn.acsCtl);
  return `ACS ${acsFlags(fn.acsCap).join(" ") || "none"}, ctl ${ctl.join(" ") || "none"}`;
}

function describeFunction(fn: PciFunction, options: TreeOptions): string {
  const name = fn.identity.name ? `${fn.identity.name}  ` : "";
  const what = fn.identity.description ?? `class ${hex(fn.identity.classCode, 6)}`;
  const parts = [`${shortAddress(fn)}  ${fn.kind.padEnd(15)} ${name}${what} [${hex(fn.identity.vendorId, 4)}:${hex(fn.identity.deviceId, 4)}]`];
  const link = describeLink(fn);
  if (link) parts.push(link);
  const acs = describeAcs(fn);
  if (acs) parts.push(acs);
  const group = options.iommuGroups?.get(fn.id);
  if (group !== undefined) parts.push(`group ${group}`);
  if (!fn.memoryEnabled) parts.push("MEM off");
  if (fn.powerState !== "D0") parts.push(fn.powerState);
  return parts.join("  ");
}

/** Renders every host bridge and the tree below it. */
export function renderTopologyTree(topology: Topology, options: TreeOptions = {}): string {
  const lines: string[] = [];
  for (const hb of topology.hostBridges) {
    lines.push(`host bridge ${hb.id} · domain ${hex(hb.domain, 4)} · root bus ${hex(hb.rootBus, 2)} · NUMA node ${hb.numaNode} · socket ${hb.socket}`);
    const walk = (functions: readonly PciFunction[], indent: string) => {
      functions.forEach((fn, i) => {
        const last = i === functions.length - 1;
        lines.push(`${indent}${last ? "└─ " : "├─ "}${describeFunction(fn, options)}`);
        walk(fn.children, `${indent}${last ? "   " : "│  "}`);
      });
    };
    walk(hb.rootFunctions, "");
  }
  return lines.join("\n");
}
