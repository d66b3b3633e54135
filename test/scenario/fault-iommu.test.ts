// Goal: the `iommu-unmap` fault tears down the NIC's THRU_HOST_BRIDGE IOVA mapping of the GPU BAR
// in the IOMMU (unmap + IOTLB invalidation) while RDMA traffic streams through it, and then every
// later TLP through it is blocked at the root complex and never reaches the BAR [kernel.md §c.6];
// a posted write is lost silently, a read fails its work request; a kernel whose unmap leaves the
// IOTLB entry cached (`iotlb-not-flushed`) lets DMA through to the BAR, which I21 flags.
// Method: the bundled scenario iommu-unmap-racing-thru-host-bridge.yaml, with the fault at a fixed
// 4 µs (seed 1), its stream as RDMA WRITEs (the file) or READs (the same with `op: read`); the run's
// trace is recorded and asserted as tables.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { type LoadedScenario, loadScenario } from "../../src/scenario/load-scenario.js";
import { runScenario } from "../../src/scenario/run-scenario.js";
import type { Fault, KernelMutant } from "../../src/scenario/scenario.js";

const FILE = join(import.meta.dirname, "..", "..", "scenarios", "iommu-unmap-racing-thru-host-bridge.yaml");

function load(): LoadedScenario {
  const read = (p: string) => {
    const path = resolve(dirname(FILE), p);
    return { file: path, text: readFileSync(path, "utf8") };
  };
  const loaded = loadScenario(readFileSync(FILE, "utf8"), FILE, read);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return loaded.loaded;
}

const AT_4US: Fault = { fault: "iommu-unmap", target: "nic0", atUs: 4 };

/** Runs the scenario (seed 1) with the stream as `op`, the IOMMU on or off, and `faults`; returns the result and the trace. */
function run(op: "write" | "read", options: { mutants?: readonly KernelMutant[]; faults?: readonly Fault[]; iommu?: boolean } = {}) {
  const loaded = load();
  const scenario = { ...loaded.scenario, iommu: options.iommu ?? true, workloads: loaded.scenario.workloads.map((w) => ({ ...w, op })) };
  const events: TraceEvent[] = [];
  const result = runScenario(
    { ...loaded, scenario },
    { seed: 1, mutants: options.mutants ?? [], faults: options.faults ?? [AT_4US], sinks: [(e) => events.push(e)] },
  );
  return { result, events };
}

const nicTlpsAtBar = (events: readonly TraceEvent[]) =>
  events.filter((e) => e.kind === "tlp" && e.requester === "nic0" && e.tlp === "MWr" && e.target === "gpu0 BAR1");
const iommuFaults = (events: readonly TraceEvent[]) => events.filter((e) => e.layer === "pci" && e.kind === "iommu.fault");

describe("iommu-unmap while nic0 streams RDMA WRITEs into gpu0 BAR1 through an IOVA (THRU_HOST_BRIDGE, IOMMU on)", () => {
  const { result, events } = run("write");

  it("the mapping is an IOVA: the switch's ACS redirect (enabled with the IOMMU) sends P2P up through the host bridge", () => {
    const map = events.find((e) => e.layer === "dmabuf" && e.kind === "map");
    expect([map?.importer, map?.mapKind, map?.sg]).toEqual(["nic0", "iova", [[0x1_0020_0000, 0x20_0000]]]);
  });

  it("the unmap removes the one 2 MiB page and invalidates its IOTLB entry; the next TLP faults 7.8 ns later; only TLPs translated before reach the BAR", () => {
    const at = events.findIndex((e) => e.layer === "iommu");
    const around = events
      .slice(at, at + 3)
      .map((e) => (e.layer === "iommu" ? [e.t, e.kind, e.iova, e.bytes, e.pages, e.iotlbInvalidated, e.iotlbStale] : [e.t, e.kind, e.tlp, e.iova, e.fault]));
    expect(around).toEqual([
      [4_000_000, "unmap", 0x1_0020_0000, 0x20_0000, 1, 1, 0],
      [4_007_847, "iommu.fault", "MWr", 0x1_0020_0a00, "unmapped"],
      [4_017_698, "iommu.fault", "MWr", 0x1_0020_0b00, "unmapped"],
    ]);
    // 32 WRs × 4 KiB in 256 B TLPs: each ends once, at the BAR or at the IOMMU. The BAR gets WR 0's
    // first ten TLPs only, those through the IOMMU before the unmap (they land about 0.7 µs later:
    // the P2P turn through the root complex); the eleventh is the first blocked.
    const atBar = nicTlpsAtBar(events).map((e) => e.address);
    expect(atBar).toEqual(Array.from({ length: 10 }, (_, i) => 0x1_0020_0000 + i * 0x100));
    expect([iommuFaults(events).length, atBar.length + iommuFaults(events).length]).toEqual([502, 32 * 16]);
  });

  it("a TLP translated before the unmap and landing after it keeps the BAR offset its translation gave (the translation travels with the TLP)", () => {
    const landed = nicTlpsAtBar(events).filter((e) => e.t > 4_000_000);
    expect(landed.length).toBeGreaterThan(0);
    expect(landed.map((e) => e.barOffset)).toEqual(landed.map((e) => Number(e.address) - 0x1_0020_0000));
  });

  it("posted writes are lost silently: every WR's data write ends in iommu-fault, yet all 32 complete successfully (the NIC never learns)", () => {
    const outcomes = events.filter((e) => e.kind === "data.write").map((e) => [e.wrId, e.outcome]);
    expect(outcomes.sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(Array.from({ length: 32 }, (_, wr) => [wr, "iommu-fault"]));
    expect([result.workloads, result.violations]).toEqual([["rdma-stream nic0: 32 posted, 32 ok, 0 failed"], []]);
  });

  it("the fault's report: affected, 502 requests refused, no revoke, no failed WR", () => {
    expect(result.faults).toEqual([
      expect.objectContaining({
        fault: "iommu-unmap",
        target: "nic0",
        atPs: 4_000_000,
        result: "done",
        revoked: 0,
        refused: 502,
        failedWrs: 0,
        affected: true,
      }),
    ]);
  });
});

describe("iommu-unmap while nic0 streams RDMA READs from gpu0 BAR1", () => {
  it("a blocked read completes with UR: the responder NAKs REM_ACCESS_ERR, the requester's WR fails and the rest are flushed; nothing waits", () => {
    const { result, events } = run("read");
    const failed = events.filter((e) => e.kind === "wqe.failed").map((e) => [e.wrId, e.status]);
    expect(failed).toEqual([[8, "REM_ACCESS_ERR"], ...Array.from({ length: 23 }, (_, i) => [9 + i, "WR_FLUSH_ERR"])]);
    expect([result.workloads, result.violations]).toEqual([["rdma-stream nic0: 32 posted, 8 ok, 24 failed"], []]);
    expect(result.faults).toEqual([expect.objectContaining({ refused: 64, failedWrs: 24, affected: true })]);
  });
});

describe("the mutant iotlb-not-flushed: unmap leaves the IOTLB entry cached", () => {
  it("DMA goes on through the stale translation to the BAR; I21 names the write, the IOVA, the BAR address and the unmap", () => {
    const { result, events } = run("write", { mutants: ["iotlb-not-flushed"] });
    expect(result.violations.map((v) => [v.invariant, v.timePs, v.message, v.chain.map((e) => `${e.layer}/${e.kind}`)])).toEqual([
      [
        "I21",
        4_007_847,
        "nic0 write at IOVA 0x100200a00 of gpu0/bar1#0 was translated to 0x380000000a00 through a stale IOTLB entry 7847 ps after its unmap at 4000000 ps (iommu-unmap fault): the IOVA was used after its unmap [kernel.md §c.6]",
        ["iommu/unmap", "iommu/stale-translation"],
      ],
    ]);
    const unmap = events.find((e) => e.layer === "iommu" && e.kind === "unmap");
    expect([unmap?.iotlbInvalidated, unmap?.iotlbStale]).toEqual([0, 1]);
    // None is refused: the 502 TLPs after the unmap are each translated through the stale entry.
    const stale = events.filter((e) => e.layer === "iommu" && e.kind === "stale-translation");
    expect([stale.length, iommuFaults(events).length, new Set(stale.map((e) => e.page)).size]).toEqual([502, 0, 1]);
    expect(result.faults).toEqual([expect.objectContaining({ refused: 0, failedWrs: 0 })]);
  });

  it("reads too: the first stale read is flagged", () => {
    const { result } = run("read", { mutants: ["iotlb-not-flushed"] });
    expect(result.violations.map((v) => [v.invariant, v.message.slice(0, 34)])).toEqual([["I21", "nic0 read at IOVA 0x100208000 of g"]]);
  });
});

describe("iommu-unmap where it has nothing to tear down", () => {
  it("without an IOMMU (dma-direct physical addresses) it does nothing: no event, not affected, the same trace as without the fault", () => {
    const struck = run("write", { iommu: false });
    const quiet = run("write", { iommu: false, faults: [] });
    expect(struck.events.find((e) => e.layer === "dmabuf" && e.kind === "map")?.mapKind).toBe("direct");
    expect([struck.events.filter((e) => e.layer === "iommu").length, struck.result.faults[0]?.affected]).toEqual([0, false]);
    expect(struck.result.fingerprint).toBe(quiet.result.fingerprint);
  });

  it("after the stream is over it tears the mapping down but affects nothing", () => {
    const { result, events } = run("write", { faults: [{ ...AT_4US, atUs: 19 }] });
    expect(events.filter((e) => e.layer === "iommu").map((e) => [e.kind, e.bytes])).toEqual([["unmap", 0x20_0000]]);
    expect(result.faults).toEqual([expect.objectContaining({ refused: 0, failedWrs: 0, affected: false })]);
  });

  it("a close after the unmap: the importer's own IOVA destroy finds nothing left (the kernel's WARN) and the run still passes", () => {
    const { result, events } = run("write", { faults: [AT_4US, { fault: "vfio-close", target: "gpu0", atUs: 6 }] });
    expect(result.violations).toEqual([]);
    expect(events.filter((e) => e.layer === "dmabuf" && e.kind === "unmap").map((e) => [e.t, e.importer])).toEqual([[6_000_000, "nic0"]]);
    expect(result.faults.map((f) => [f.fault, f.result, f.affected])).toEqual([
      ["iommu-unmap", "done", true],
      ["vfio-close", "ok", true],
    ]);
  });
});
