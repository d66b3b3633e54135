/**
 * The connection levels of `nvidia-smi topo -m` between two PCI functions, computed from the
 * topology so that a report can print them beside the kernel's map type. They answer a different
 * question than p2pdma: what the path crosses, not whether the kernel allows it.
 *
 * ```
 *  hb0 ── 00:01.0 root port ── 01:00.0 switch USP ─┬─ 02:00.0 DSP ── gpu0
 *                                                   └─ 02:01.0 DSP ── gpu1     gpu0-gpu1: PIX (one switch)
 *      └─ 00:02.0 root port ── gpu2                                          gpu0-gpu2: PHB
 *  hb1 (same NUMA node) ── … gpu3                                              gpu0-gpu3: NODE
 * ```
 */
import type { PciFunction } from "./topology.js";

/** A `nvidia-smi topo -m` level (NVLink levels are not modelled). */
export type NvidiaSmiLevel =
  /** The same function. */
  | "X"
  /** The path crosses at most one PCIe bridge (a whole switch counts as one). */
  | "PIX"
  /** The path crosses several PCIe bridges but not the host bridge. */
  | "PXB"
  /** The path goes through one host bridge (different root ports, or root-complex integrated endpoints). */
  | "PHB"
  /** The path crosses host bridges within one NUMA node. */
  | "NODE"
  /** The path crosses NUMA nodes (the SMP interconnect between sockets). */
  | "SYS";

/**
 * The nvidia-smi level between two functions.
 *
 * Below a common upstream node, the bridges counted are those strictly between the two
 * functions and below the node where the path turns around: the turning node itself is not
 * crossed (traffic moves along its secondary bus), a switch's upstream and downstream ports
 * together count as one bridge, a PCI bridge counts as one, and a root port never counts (a path
 * that turns around below it never crosses it). Two functions of one device cross nothing: PIX.
 * Meant for endpoints, as nvidia-smi shows only GPUs and NICs; for a bridge argument the ports of
 * its own switch still count when the path leaves through them.
 * @returns `"X"` for one function; PIX/PXB when the two share an upstream node; PHB on one host
 * bridge otherwise; NODE or SYS across host bridges, by the functions' NUMA nodes.
 */
export function nvidiaSmiLevel(a: PciFunction, b: PciFunction): NvidiaSmiLevel {
  if (a === b) return "X";
  if (a.hostBridge !== b.hostBridge) return a.identity.numaNode === b.identity.numaNode ? "NODE" : "SYS";
  const aUp = a.upstreamChain();
  const bUp = b.upstreamChain();
  const common = aUp.find((node) => bUp.includes(node));
  if (common === undefined) return "PHB";
  const below = (chain: readonly PciFunction[]) => chain.slice(1, chain.indexOf(common));
  const bridges = new Set<string>();
  for (const node of [...below(aUp), ...below(bUp)]) {
    const bridge = bridgeOf(node);
    if (bridge !== undefined) bridges.add(bridge);
  }
  return bridges.size <= 1 ? "PIX" : "PXB";
}

/** The bridge a node on the path belongs to, by id: a switch is named by its upstream port; root ports and endpoints are none. */
function bridgeOf(node: PciFunction): string | undefined {
  switch (node.kind) {
    case "upstream-port":
    case "pci-bridge":
      return node.id;
    case "downstream-port":
      return node.upstream?.kind === "upstream-port" ? node.upstream.id : node.id;
    case "root-port":
    case "endpoint":
      return undefined;
  }
}
