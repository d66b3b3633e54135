/** Topology tables that importer tests compare whole. */
import type { PciFunction, Topology } from "../../src/pci/topology.js";

/** One row per host bridge and function: address, role, ids, kind, link, alias. */
export function treeRows(topology: Topology, hostBridgeIds?: readonly string[]): string[] {
  const hex = (value: number) => value.toString(16).padStart(4, "0");
  const rows: string[] = [];
  const walk = (fn: PciFunction, depth: number) => {
    const link = fn.link ? `Gen${fn.link.gen} x${fn.link.width}` : "-";
    const { vendorId, deviceId, deviceKind, name } = fn.identity;
    rows.push(`${"  ".repeat(depth)}${fn.id.slice(5)} ${fn.kind} ${hex(vendorId)}:${hex(deviceId)} ${deviceKind} ${link}${name ? ` ${name}` : ""}`);
    for (const child of fn.children) walk(child, depth + 1);
  };
  for (const hb of topology.hostBridges.filter((h) => hostBridgeIds === undefined || hostBridgeIds.includes(h.id))) {
    rows.push(`${hb.id} numa ${hb.numaNode} socket ${hb.socket}`);
    for (const fn of hb.rootFunctions) walk(fn, 1);
  }
  return rows;
}
