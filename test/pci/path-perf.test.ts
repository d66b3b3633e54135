/**
 * DMA between places of a topology: the map type decides the route and whether the IOMMU is
 * involved; the platform decides how much the root complex and the IOTLB cost
 * [kernel.md §a.7, §c.6; pcie-timing.md §5].
 */
import { describe, expect, it } from "vitest";
import { Engine } from "../../src/fabric/engine.js";
import { TraceRecorder } from "../../src/fabric/recorder.js";
import { buildTopology } from "../../src/pci/build-topology.js";
import { dualSocket, oneSwitch } from "../../src/pci/builders.js";
import { runDmaStream } from "../../src/pci/dma-stream.js";
import { Fabric } from "../../src/pci/fabric.js";
import { Iommu } from "../../src/pci/iommu.js";
import { type PathPerfOptions, runPathPerf } from "../../src/pci/path-perf.js";
import { XEON_E5_V3_GEN3X8 } from "../../src/pci/perf-platform.js";
import { routeRequest } from "../../src/pci/route.js";
import type { PciFunction, Topology } from "../../src/pci/topology.js";
import type { TopologySpec } from "../../src/pci/topology-spec.js";

const TLP = { mps: 256, mrrs: 512, rcb: 64, rcbChunks: false, addressBits: 64, ecrc: false } as const;
const base: PathPerfOptions = { op: "read", sizeBytes: 4096, ops: 300, ideal: false, platform: XEON_E5_V3_GEN3X8, tlp: TLP, workingSetBytes: 1 << 20 };

function build(spec: TopologySpec): Topology {
  const result = buildTopology(spec);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.topology;
}
const fn = (t: Topology, key: string) => t.find(key) as PciFunction;
function ok(outcome: ReturnType<typeof runPathPerf>) {
  if (!outcome.ok) throw new Error(outcome.message);
  return outcome;
}

describe("peer-to-peer by map type", () => {
  it("BUS_ADDR turns in the switch and never meets the IOMMU; THRU_HOST_BRIDGE crosses the root complex and is translated", () => {
    const flat = build(oneSwitch(["gpu", "nic"], { iommu: "on" }));
    // With the IOMMU on, the kernel enabled ACS redirect on the switch ports: THRU_HOST_BRIDGE.
    const thru = ok(runPathPerf(flat, fn(flat, "nic0"), { kind: "bar", fn: fn(flat, "gpu0"), barIndex: 1 }, base));
    expect([thru.mapType, thru.route.includes("root complex"), thru.iotlb.misses > 0]).toEqual(["thru-host-bridge", true, true]);
    const open = build(oneSwitch(["gpu", "nic"], { iommu: "on" }));
    for (const f of open.functions) f.acsCtl = 0;
    const bus = ok(runPathPerf(open, fn(open, "nic0"), { kind: "bar", fn: fn(open, "gpu0"), barIndex: 1 }, { ...base, iommu: "4k" }));
    expect([bus.mapType, bus.route.includes("root complex"), bus.iotlb]).toEqual(["bus-addr", false, { hits: 0, misses: 0 }]);
    expect(bus.conserved && thru.conserved).toBe(true);
  });

  it("makes P2P reads through the root complex slower than through a switch", () => {
    const t = build(oneSwitch(["gpu", "nic"]));
    const viaSwitch = ok(runPathPerf(t, fn(t, "nic0"), { kind: "bar", fn: fn(t, "gpu0"), barIndex: 1 }, base)).result;
    const redirected = build(oneSwitch(["gpu", "nic"], { acsRedirect: true }));
    const viaRoot = ok(runPathPerf(redirected, fn(redirected, "nic0"), { kind: "bar", fn: fn(redirected, "gpu0"), barIndex: 1 }, base)).result;
    expect(viaRoot.latencyNsMedian).toBeGreaterThan(viaSwitch.latencyNsMedian + 300);
    expect(viaRoot.goodputGbps).toBeLessThan(viaSwitch.goodputGbps * 0.85);
  });

  it("refuses a pair the kernel would not map, saying why", () => {
    const d = build({ ...dualSocket(), platform: { cpuVendor: "intel", cpuFamily: 6 } });
    for (const hb of d.hostBridges) (hb.rootFunctions[0] as { identity: { deviceId: number } }).identity.deviceId = 0x1234;
    const refused = runPathPerf(d, fn(d, "nic0"), { kind: "bar", fn: fn(d, "gpu1"), barIndex: 1 }, base);
    expect(refused.ok ? "ran" : refused.message).toMatch(/^the kernel refuses this P2P mapping: no common upstream bridge; .* is not on the allow list/);
  });
});

describe("the IOMMU's IOTLB (pcie-timing.md §5 rows 5-7)", () => {
  const t = build(oneSwitch(["gpu", "nic"]));
  const read64 = (iommu: "off" | "4k" | "2m", workingSetBytes: number) =>
    ok(runPathPerf(t, fn(t, "nic0"), { kind: "host" }, { ...base, sizeBytes: 64, ops: 12_000, iommu, workingSetBytes }));

  it("costs nothing while the working window fits the IOTLB reach, a walk per access beyond it, nothing with 2 MiB pages", () => {
    const off = read64("off", 4 << 20).result;
    const fits = read64("4k", 256 << 10);
    const beyond = read64("4k", 4 << 20);
    const large = read64("2m", 4 << 20);
    expect(fits.iotlb.misses).toBe(64);
    expect(fits.result.goodputGbps).toBeCloseTo(off.goodputGbps, 1);
    expect(beyond.iotlb).toEqual({ hits: 0, misses: 12_000 });
    expect(beyond.result.latencyNsMedian - off.latencyNsMedian).toBeCloseTo(260, 0);
    expect(beyond.result.goodputGbps).toBeLessThan(off.goodputGbps * 0.85);
    expect(large.result.goodputGbps).toBeCloseTo(off.goodputGbps, 1);
  });
});

describe("failures are values and trace events", () => {
  it("answers Unsupported Request when the target's memory is disabled, it is in reset or in D3: writes dropped, reads completed with UR", () => {
    const t = build(oneSwitch(["gpu", "nic"]));
    fn(t, "gpu0").memoryEnabled = false;
    const reads = ok(runPathPerf(t, fn(t, "nic0"), { kind: "bar", fn: fn(t, "gpu0"), barIndex: 1 }, { ...base, ops: 10 })).result;
    expect([reads.opsCompleted, reads.opsFailed, reads.unsupportedRequests]).toEqual([0, 10, 80]);
    const writes = ok(runPathPerf(t, fn(t, "nic0"), { kind: "bar", fn: fn(t, "gpu0"), barIndex: 1 }, { ...base, op: "write", ops: 10 })).result;
    expect([writes.opsFailed, writes.unsupportedRequests]).toEqual([10, 160]);
    fn(t, "gpu0").memoryEnabled = true;
    fn(t, "gpu0").inReset = true;
    expect(ok(runPathPerf(t, fn(t, "nic0"), { kind: "bar", fn: fn(t, "gpu0"), barIndex: 1 }, { ...base, ops: 2 })).result.opsFailed).toBe(2);
    fn(t, "gpu0").inReset = false;
    fn(t, "gpu0").powerState = "D3hot";
    expect(ok(runPathPerf(t, fn(t, "nic0"), { kind: "bar", fn: fn(t, "gpu0"), barIndex: 1 }, { ...base, ops: 2 })).result.opsFailed).toBe(2);
    fn(t, "gpu0").powerState = "D0";
    expect(ok(runPathPerf(t, fn(t, "nic0"), { kind: "bar", fn: fn(t, "gpu0"), barIndex: 1 }, { ...base, ops: 2 })).result.opsFailed).toBe(0);
  });

  it("blocks DMA to an unmapped IOVA before it reaches memory, with a fault event and a failed read", () => {
    const t = build(oneSwitch(["gpu", "nic"]));
    const nic = fn(t, "nic0");
    const engine = new Engine({ seed: 1 });
    const recorder = new TraceRecorder().attach(engine.trace);
    const fabric = new Fabric(engine, { platform: XEON_E5_V3_GEN3X8, ideal: false, tlp: TLP });
    const target = { kind: "host-memory" as const, numaNode: 0 };
    const iommu = new Iommu();
    iommu.domainOf(nic.id);
    const result = runDmaStream(engine, fabric, {
      requester: nic,
      target,
      route: routeRequest(nic, target),
      baseAddress: 0x7f00_0000_0000,
      op: "read",
      sizeBytes: 64,
      ops: 3,
      workingSetBytes: 1 << 20,
      tags: 32,
      inflightBytes: 1 << 20,
      issueLatencyPs: 0,
      completerLatencyPs: 100_000,
      iommu,
    });
    expect([result.opsFailed, result.iommuFaults]).toEqual([3, 3]);
    expect(recorder.tuples().filter(([, kind]) => kind === "pci/iommu.fault")).toHaveLength(3);
    expect(recorder.tuples()[0]?.[2]).toEqual({ requester: "0000:04:00.0", tlp: "MRd", iova: 0x7f00_0000_0000, fault: "unmapped" });
  });
});

describe("platform policies and conservation", () => {
  it("answers peer-to-peer reads through the root complex with UR where the platform does not forward them", () => {
    const t = build(oneSwitch(["gpu", "nic"], { acsRedirect: true }));
    const platform = { ...XEON_E5_V3_GEN3X8, p2pReads: "refuse" as const };
    const reads = ok(runPathPerf(t, fn(t, "nic0"), { kind: "bar", fn: fn(t, "gpu0"), barIndex: 1 }, { ...base, platform, ops: 5 })).result;
    expect([reads.opsFailed, reads.unsupportedRequests]).toEqual([5, 40]);
    const writes = ok(runPathPerf(t, fn(t, "nic0"), { kind: "bar", fn: fn(t, "gpu0"), barIndex: 1 }, { ...base, platform, op: "write", ops: 5 })).result;
    expect(writes.opsFailed).toBe(0);
    const open = build(oneSwitch(["gpu", "nic"]));
    expect(ok(runPathPerf(open, fn(open, "nic0"), { kind: "bar", fn: fn(open, "gpu0"), barIndex: 1 }, { ...base, platform, ops: 5 })).result.opsFailed).toBe(0);
  });

  it("adds the remote-socket penalty for memory on another NUMA node (+53 ns, §5 row 4)", () => {
    const d = build(dualSocket());
    const read = (numaNode: number) =>
      ok(runPathPerf(d, fn(d, "nic0"), { kind: "host", numaNode }, { ...base, sizeBytes: 64, ops: 200, iommu: "off" })).result.latencyNsMedian;
    expect(read(1) - read(0)).toBeCloseTo(53, 0);
  });

  it("serves a working window larger than the LLC from DRAM (+54 ns, §5 row 2)", () => {
    const t = build(oneSwitch(["gpu", "nic"]));
    const read = (workingSetBytes: number) =>
      ok(runPathPerf(t, fn(t, "nic0"), { kind: "host" }, { ...base, sizeBytes: 64, ops: 200, workingSetBytes, iommu: "off" })).result.latencyNsMedian;
    expect(read(64 << 20) - read(1 << 20)).toBeCloseTo(54, 0);
  });

  it("keeps links and credits consistent after every event in verify mode", () => {
    const t = build(oneSwitch(["gpu", "nic"]));
    const nic = fn(t, "nic0");
    const engine = new Engine({ seed: 1, verify: true });
    const platform = { ...XEON_E5_V3_GEN3X8, rootPortCredits: { ...XEON_E5_V3_GEN3X8.rootPortCredits, posted: { header: 2, data: 32 } } };
    const fabric = new Fabric(engine, { platform, ideal: false, tlp: TLP });
    const target = { kind: "bar" as const, fn: fn(t, "gpu0"), bar: fn(t, "gpu0").bars[1] as NonNullable<PciFunction["bars"][1]> };
    const result = runDmaStream(engine, fabric, {
      requester: nic,
      target,
      route: routeRequest(nic, target),
      baseAddress: target.bar.busAddress,
      op: "rw",
      sizeBytes: 4096,
      ops: 50,
      workingSetBytes: 1 << 20,
      tags: 8,
      inflightBytes: 1 << 16,
      issueLatencyPs: 0,
      completerLatencyPs: 100_000,
    });
    expect(result.opsCompleted).toBe(50);
    expect(fabric.allLinks().every((l) => l.counters.tlpsSent === l.counters.tlpsDelivered && l.creditsBalanced())).toBe(true);
  });
});
