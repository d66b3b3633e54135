/**
 * The pair matrix of `p2psim topo --matrix`: for every ordered pair of devices (row = provider,
 * column = client) the kernel's map type and distance, and the `nvidia-smi topo -m` level.
 */

import type { NvidiaSmiLevel } from "../pci/nvidia-level.js";
import type { PciP2pdmaMapType } from "../pci/p2pdma.js";

/** One cell, as computed by the caller. */
export interface PairCell {
  readonly mapType: PciP2pdmaMapType;
  readonly distance: number;
  readonly nvidiaLevel: NvidiaSmiLevel;
}

const SHORT: Record<PciP2pdmaMapType, string> = { "bus-addr": "BUS", "thru-host-bridge": "HB", "not-supported": "NO" };

/** What the cell abbreviations mean, printed under the matrix. */
export const MATRIX_LEGEND = [
  "cell: <map type> <distance> <nvidia-smi level>; row = provider (the BAR owner), column = client (the DMA master)",
  "map type: BUS = bus-addr (P2P turns around in a switch, no IOMMU), HB = thru-host-bridge (through the root complex and IOMMU), NO = not-supported",
  "nvidia-smi: PIX ≤ 1 PCIe bridge, PXB several bridges, PHB through a host bridge, NODE across host bridges of one NUMA node, SYS across NUMA nodes",
].join("\n");

/**
 * Renders the matrix.
 * @param labels one label per device, in order.
 * @param cell the cell of row i, column j (i ≠ j); the diagonal prints `X`.
 */
export function renderPairMatrix(labels: readonly string[], cell: (row: number, column: number) => PairCell): string {
  const cells = labels.map((_, i) => labels.map((__, j) => (i === j ? "X" : formatCell(cell(i, j)))));
  const width = Math.max(...labels.map((l) => l.length), ...cells.flat().map((c) => c.length)) + 2;
  const header = " ".repeat(width) + labels.map((l) => l.padEnd(width)).join("");
  const rows = labels.map((label, i) => label.padEnd(width) + (cells[i] ?? []).map((c) => c.padEnd(width)).join(""));
  return [header.trimEnd(), ...rows.map((r) => r.trimEnd())].join("\n");
}

function formatCell(cell: PairCell): string {
  return `${SHORT[cell.mapType]} ${cell.distance} ${cell.nvidiaLevel}`;
}
