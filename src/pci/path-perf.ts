/**
 * `p2psim perf TOPOLOGY --from DEV --to DEV[:barN]|host`: a DMA stream between two places of a
 * topology, addressed the way the kernel would map it [kernel.md §a.7]:
 * - to host memory: the physical address, or an IOVA through the IOMMU when one is on;
 * - to a peer's BAR with map type BUS_ADDR: the BAR's bus address (CPU address + `busOffset`);
 *   the TLPs turn around in the common switch and never meet the IOMMU;
 * - THRU_HOST_BRIDGE: the BAR's CPU physical address, or an IOVA mapped with the MMIO attribute
 *   when an IOMMU is on; the TLPs cross the root complex;
 * - NOT_SUPPORTED: no run; the kernel would refuse the mapping, and the reason says why.
 */
import { assert } from "../fabric/assert.js";
import { Engine } from "../fabric/engine.js";
import { type DmaOp, type DmaStreamResult, runDmaStream } from "./dma-stream.js";
import { Fabric, type FabricTlpSettings } from "./fabric.js";
import { IOMMU_PAGE_2M, IOMMU_PAGE_4K, Iommu } from "./iommu.js";
import type { PerfRunView } from "./link-perf.js";
import { P2pdma, type P2pdmaProfile, type PciP2pdmaMapType } from "./p2pdma.js";
import type { PerfPlatform } from "./perf-platform.js";
import { decodeAddress, describeRoute, type RouteTarget, routeRequest } from "./route.js";
import type { Bar, PciFunction, Topology } from "./topology.js";

/** Where the stream goes. */
export type PathTarget =
  /** System memory on a NUMA node (default: the requester's host bridge's node). */
  { readonly kind: "host"; readonly numaNode?: number } | { readonly kind: "bar"; readonly fn: PciFunction; readonly barIndex: number };

/** The run's settings. */
export interface PathPerfOptions {
  readonly op: DmaOp;
  readonly sizeBytes: number;
  readonly ops: number;
  readonly ideal: boolean;
  readonly platform: PerfPlatform;
  readonly tlp: FabricTlpSettings;
  /** IOMMU page size, or off; default: 4 KiB pages when the topology has its IOMMU on, else off. */
  readonly iommu?: "off" | "4k" | "2m";
  /** Bytes the operations cycle through (the working window). */
  readonly workingSetBytes: number;
  readonly profile?: P2pdmaProfile;
  /** Called before the stream starts, to watch it (a timeline writer); must only read. */
  readonly observe?: (run: PerfRunView) => void;
}

/** A run, or why there is none. */
export type PathPerfOutcome =
  | {
      readonly ok: true;
      readonly result: DmaStreamResult;
      readonly mapType: PciP2pdmaMapType | "host-memory";
      readonly route: string;
      readonly iommu: "off" | "4k" | "2m";
      readonly iotlb: { readonly hits: number; readonly misses: number };
      readonly conserved: boolean;
    }
  | { readonly ok: false; readonly message: string };

/** IOVAs start here, as a kernel IOVA allocator would hand them out below the 48-bit top. */
const IOVA_BASE = 0x7f00_0000_0000;
/** Host memory buffers the stream uses start here (physical). */
const HOST_BUFFER = 0x1_0000_0000;

/** Runs one size of the stream. */
export function runPathPerf(topology: Topology, from: PciFunction, to: PathTarget, options: PathPerfOptions): PathPerfOutcome {
  const iommuMode = options.iommu ?? (topology.iommuEnabled ? "4k" : "off");
  const pageSize = iommuMode === "2m" ? IOMMU_PAGE_2M : IOMMU_PAGE_4K;
  const iommu = iommuMode === "off" ? undefined : new Iommu();
  let target: RouteTarget;
  let base: number;
  let mapType: PciP2pdmaMapType | "host-memory";
  let completerLatencyPs: number;
  const span = Math.ceil(options.workingSetBytes / pageSize) * pageSize;
  if (to.kind === "host") {
    target = { kind: "host-memory", numaNode: to.numaNode ?? from.hostBridge.numaNode };
    mapType = "host-memory";
    base = HOST_BUFFER;
    // A working window larger than the LLC is served from DRAM (§5 rows 1-2).
    completerLatencyPs = options.ideal
      ? 0
      : options.platform.memoryLatencyPs + (options.workingSetBytes > options.platform.llcBytes ? options.platform.dramExtraPs : 0);
    if (iommu) {
      const mapped = iommu.map(iommu.domainOf(from.id), IOVA_BASE, HOST_BUFFER, span, pageSize, "rw");
      if (!mapped.ok) return { ok: false, message: `IOMMU map of the host buffer refused: ${mapped.reason}` };
      base = IOVA_BASE;
    }
  } else {
    const bar = to.fn.bars.find((b) => b.index === to.barIndex);
    if (!bar || bar.type === "io") return { ok: false, message: `${to.fn.id} has no memory BAR ${to.barIndex}` };
    if (options.workingSetBytes > bar.sizeBytes)
      return { ok: false, message: `the working window (${options.workingSetBytes} B) is larger than BAR ${bar.index} (${bar.sizeBytes} B)` };
    target = { kind: "bar", fn: to.fn, bar };
    const decision = new P2pdma(topology, options.profile ?? "current").calc(to.fn, from);
    mapType = decision.mapType;
    if (mapType === "not-supported") return { ok: false, message: `the kernel refuses this P2P mapping: ${decision.reason.summary}` };
    completerLatencyPs = options.ideal ? 0 : options.platform.barReadLatencyPs;
    base = mapType === "bus-addr" ? bar.busAddress : bar.cpuAddress;
    if (mapType === "thru-host-bridge" && iommu) {
      const mapped = iommu.map(iommu.domainOf(from.id), IOVA_BASE, barPageStart(bar, pageSize), Math.min(span, bar.sizeBytes), pageSize, "rw", { mmio: true });
      if (!mapped.ok) return { ok: false, message: `IOMMU map of the BAR refused: ${mapped.reason}` };
      base = IOVA_BASE + (bar.cpuAddress - barPageStart(bar, pageSize));
    }
  }
  // The fabric routes by address: decode where the first request lands. A BUS_ADDR peer decodes at
  // its BAR; IOVAs and host addresses reach the root complex, which translates and decodes them.
  const landing =
    iommu === undefined && target.kind === "bar"
      ? decodeAddress(topology.functions, mapType === "bus-addr" ? base : base + target.fn.hostBridge.busOffset, from.hostBridge.numaNode)
      : target;
  assert(
    landing.kind === target.kind && (landing.kind !== "bar" || target.kind !== "bar" || landing.fn === target.fn),
    "address decode disagrees with the target",
  );
  const route = routeRequest(from, target);
  if (route.request.length === 0) return { ok: false, message: `${from.id} and the target are functions of one device: the DMA never leaves it` };
  const engine = new Engine({ seed: 0 });
  const fabric = new Fabric(engine, { platform: options.platform, ideal: options.ideal, tlp: options.tlp });
  // Memory or a peer on another NUMA node is reached over the inter-socket link (§5 row 4).
  options.observe?.({ engine, fabric, topology, ...(iommu && route.throughRootComplex ? { iommu } : {}) });
  const remote = (target.kind === "host-memory" ? target.numaNode : target.fn.hostBridge.numaNode) !== from.hostBridge.numaNode;
  const result = runDmaStream(engine, fabric, {
    requester: from,
    target,
    route,
    baseAddress: base,
    op: options.op,
    sizeBytes: options.sizeBytes,
    ops: options.ops,
    workingSetBytes: options.workingSetBytes,
    tags: options.ideal ? Number.POSITIVE_INFINITY : options.platform.tags,
    inflightBytes: options.ideal ? Number.POSITIVE_INFINITY : options.platform.windowBytes,
    issueLatencyPs: options.ideal ? 0 : options.platform.dmaIssueLatencyPs,
    completerLatencyPs: completerLatencyPs + (remote && !options.ideal ? options.platform.remoteSocketPs : 0),
    ...(iommu && route.throughRootComplex ? { iommu } : {}),
    ...(options.platform.p2pReads === "refuse" && !options.ideal ? { refuseP2pReads: true } : {}),
  });
  const stats = iommu?.stats();
  const links = fabric.allLinks();
  return {
    ok: true,
    result,
    mapType,
    route: describeRoute(route.request),
    iommu: iommuMode,
    iotlb: { hits: stats?.hits ?? 0, misses: stats?.misses ?? 0 },
    conserved: links.every((l) => l.counters.tlpsSent === l.counters.tlpsDelivered && l.creditsBalanced()),
  };
}

function barPageStart(bar: Bar, pageSize: number): number {
  return Math.floor(bar.cpuAddress / pageSize) * pageSize;
}
