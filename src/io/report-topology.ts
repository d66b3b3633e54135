/**
 * The machine as the run and explore JSON carry it (`topology`), for the HTML report: the tree
 * of functions with their links and BARs, and the p2pdma map type and distance of every
 * exporter/importer pair of the scenario, computed with the model's own walk
 * (`calcMapTypeAndDist`, [kernel.md §a.3]) so the report shows what the run decided on.
 */
import { calcMapTypeAndDist, type P2pdmaProfile, type PciP2pdmaMapType } from "../pci/p2pdma.js";
import type { PciFunction, Topology } from "../pci/topology.js";

/** One function of the tree. */
export interface ReportFunction {
  /** The BDF, `0000:05:00.0`. */
  readonly id: string;
  /** The alias if there is one, else the BDF. */
  readonly label: string;
  /** `root-port`, `upstream-port`, `downstream-port`, `endpoint`, … */
  readonly kind: string;
  readonly description: string | null;
  /** The trained link and its capability; null for a function without one. */
  readonly link: { readonly gen: number; readonly width: number; readonly capGen: number; readonly capWidth: number } | null;
  readonly bars: ReadonlyArray<{ readonly index: number; readonly sizeBytes: number; readonly prefetchable: boolean }>;
  readonly children: readonly ReportFunction[];
}

/** One host bridge and the functions on its root bus. */
export interface ReportHostBridge {
  readonly id: string;
  readonly numaNode: number;
  readonly socket: number;
  readonly functions: readonly ReportFunction[];
}

/** The map type of one exporter (provider, the BAR owner) and importer (client, the DMA master). */
export interface ReportPair {
  readonly exporter: string;
  readonly importer: string;
  readonly mapType: PciP2pdmaMapType;
  readonly distance: number;
}

/** The `topology` field of the run and explore JSON. */
export interface ReportTopology {
  readonly name: string;
  /** The p2pdma rules the pairs were computed under. */
  readonly p2pdmaProfile: P2pdmaProfile;
  readonly hostBridges: readonly ReportHostBridge[];
  readonly pairs: readonly ReportPair[];
}

function reportFunction(fn: PciFunction): ReportFunction {
  return {
    id: fn.id,
    label: fn.label,
    kind: fn.kind,
    description: fn.identity.description ?? null,
    link: fn.link === undefined ? null : { gen: fn.link.gen, width: fn.link.width, capGen: fn.link.capGen, capWidth: fn.link.capWidth },
    bars: fn.bars.filter((b) => b.type !== "io").map((b) => ({ index: b.index, sizeBytes: b.sizeBytes, prefetchable: b.prefetchable })),
    children: fn.children.map(reportFunction),
  };
}

/**
 * Describes the machine and the pairs.
 * @param pairs exporter and importer labels (or BDFs); pairs naming no function of the topology are skipped.
 */
export function reportTopology(
  topology: Topology,
  pairs: ReadonlyArray<{ readonly exporter: string; readonly importer: string }>,
  profile: P2pdmaProfile = "current",
): ReportTopology {
  const seen = new Set<string>();
  const computed: ReportPair[] = [];
  for (const { exporter, importer } of pairs) {
    const provider = topology.find(exporter);
    const client = topology.find(importer);
    const key = `${exporter}\u0000${importer}`;
    if (provider === undefined || client === undefined || seen.has(key)) continue;
    seen.add(key);
    const result = calcMapTypeAndDist(provider, client, topology, profile);
    computed.push({ exporter: provider.label, importer: client.label, mapType: result.mapType, distance: result.distance });
  }
  return {
    name: topology.name,
    p2pdmaProfile: profile,
    hostBridges: topology.hostBridges.map((hb) => ({ id: hb.id, numaNode: hb.numaNode, socket: hb.socket, functions: hb.rootFunctions.map(reportFunction) })),
    pairs: computed,
  };
}
