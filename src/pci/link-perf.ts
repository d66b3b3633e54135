/**
 * The single-link DMA benchmark of `p2psim perf --link`: one device attached to a root port with
 * host memory behind it, running a saturating stream of DMA operations of one size through the
 * same fabric and stream code as any topology.
 *
 * ```
 *  device (DMA engine) ──up: MWr, MRd──▶ root port ─ root complex ─ host memory (LLC)
 *                      ◀──down: CplD─────
 * ```
 *
 * `ideal` makes credits, tags, the in-flight window and every latency non-limiting, so that the
 * result is the link ceiling the pcie-bench model computes [pcie-timing.md §3].
 */
import { assert } from "../fabric/assert.js";
import { Engine } from "../fabric/engine.js";
import { buildTopology } from "./build-topology.js";
import { type DmaOp, runDmaStream } from "./dma-stream.js";
import { Fabric } from "./fabric.js";
import type { Iommu } from "./iommu.js";
import type { LinkConfig } from "./pcie-model.js";
import type { PerfPlatform } from "./perf-platform.js";
import { routeRequest } from "./route.js";
import type { PciFunction, Topology } from "./topology.js";

export type { DmaOp } from "./dma-stream.js";

/** One run. */
export interface LinkPerfConfig {
  readonly link: LinkConfig;
  readonly op: DmaOp;
  readonly sizeBytes: number;
  /** Operations to run (each of `sizeBytes`; for `rw`, steps of one write and one read). */
  readonly ops: number;
  /** Make credits, tags, window and latencies non-limiting: the link ceiling. */
  readonly ideal: boolean;
  readonly platform: PerfPlatform;
  /** Called before the stream starts, to watch it (a timeline writer); must only read. */
  readonly observe?: (run: PerfRunView) => void;
}

/** What a perf run lets an observer watch: its clock, its fabric, the topology, and the IOMMU when one translates. */
export interface PerfRunView {
  readonly engine: Engine;
  readonly fabric: Fabric;
  readonly topology: Topology;
  readonly iommu?: Iommu;
}

/** What one run measured. */
export interface LinkPerfResult {
  readonly sizeBytes: number;
  readonly op: DmaOp;
  /** Payload per direction of the op (for rw: of each stream), Gb/s. */
  readonly goodputGbps: number;
  readonly transactionsPerSec: number;
  readonly latencyNsMedian: number;
  readonly latencyNsP99: number;
  /** TLPs on both directions. */
  readonly tlps: number;
  readonly events: number;
  readonly simulatedPs: number;
  /** Every TLP sent was delivered and every credit came back. */
  readonly conserved: boolean;
}

/** Runs one configuration and measures it. */
export function runLinkPerf(config: LinkPerfConfig): LinkPerfResult {
  const { link, op, sizeBytes, ops, ideal, platform } = config;
  const built = buildTopology({
    name: `${link.gen}x${link.lanes}`,
    hostBridges: [
      {
        devices: [
          {
            kind: "root-port",
            link: { gen: link.gen, width: link.lanes, capGen: link.gen, capWidth: link.lanes },
            children: [{ kind: "endpoint", name: "dev", link: { gen: link.gen, width: link.lanes, capGen: link.gen, capWidth: link.lanes } }],
          },
        ],
      },
    ],
  });
  assert(built.ok, "the single-link topology builds");
  const device = built.topology.find("dev") as PciFunction;
  const engine = new Engine({ seed: 0 });
  const fabric = new Fabric(engine, { platform, ideal, tlp: link });
  const target = { kind: "host-memory" as const, numaNode: 0 };
  config.observe?.({ engine, fabric, topology: built.topology });
  const result = runDmaStream(engine, fabric, {
    requester: device,
    target,
    route: routeRequest(device, target),
    baseAddress: 0x1_0000_0000,
    op,
    sizeBytes,
    ops,
    workingSetBytes: Math.max(sizeBytes, 64 * 2 ** 20),
    tags: ideal ? Number.POSITIVE_INFINITY : platform.tags,
    inflightBytes: ideal ? Number.POSITIVE_INFINITY : platform.windowBytes,
    issueLatencyPs: ideal ? 0 : platform.dmaIssueLatencyPs,
    completerLatencyPs: ideal ? 0 : platform.memoryLatencyPs,
  });
  const links = fabric.allLinks();
  return {
    sizeBytes,
    op,
    goodputGbps: result.goodputGbps,
    transactionsPerSec: result.transactionsPerSec,
    latencyNsMedian: result.latencyNsMedian,
    latencyNsP99: result.latencyNsP99,
    tlps: result.tlps,
    events: engine.eventsFired,
    simulatedPs: engine.nowPs,
    conserved: links.every((l) => l.counters.tlpsSent === l.counters.tlpsDelivered && l.creditsBalanced()),
  };
}
