import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROBES, ProbeSet } from "../../src/check/probes.js";
import { loadScenarioFile } from "../../src/cli/load-scenario-file.js";
import type { TimePs } from "../../src/fabric/time.js";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { runScenario } from "../../src/scenario/run-scenario.js";

const DIR = join(import.meta.dirname, "../../scenarios");

/** The probes a run hit, as `name ×count`, in catalogue order. */
function hitsOf(probes: Readonly<Record<string, number>>): string[] {
  return Object.keys(PROBES).flatMap((name) => ((probes[name] ?? 0) > 0 ? [`${name} ×${probes[name]}`] : []));
}

function scenarioHits(file: string, seed: number, profile?: "vfio-dmabuf-initial"): string[] {
  const loaded = loadScenarioFile(join(DIR, file));
  if (!loaded.ok) throw new Error(loaded.lines.join("\n"));
  return hitsOf(runScenario(loaded.loaded, { seed, ...(profile ? { profile } : {}) }).probes);
}

let seq = 0;
/** A hand-written event. */
function ev(t: number, layer: string, kind: string, fields: Record<string, string | number> = {}): TraceEvent {
  return { t: t as TimePs, seq: seq++, layer, kind, ...fields };
}

function probeHits(events: readonly TraceEvent[]): string[] {
  const probes = new ProbeSet();
  for (const e of events) probes.observe(e);
  return hitsOf(probes.hits);
}

describe("sometimes probes on the bundled scenarios", () => {
  it("seed 1 of each scenario hits exactly these probes", () => {
    const table = Object.fromEntries(
      [
        "acs-change-stale-map-type.yaml",
        "close-after-mem-disabled.yaml",
        "revoke-during-cq-writes-revocable.yaml",
        "rdma-write-during-flr.yaml",
        "slow-importer-delays-revoke.yaml",
        "qp-create-unconsumed-descriptor.yaml",
      ].map((f) => [f, scenarioHits(f, 1)]),
    );
    expect(table).toEqual({
      "acs-change-stale-map-type.yaml": ["invalidate-between-wqe-fetch-and-data ×8", "stale-map-type-used ×1"],
      "close-after-mem-disabled.yaml": ["invalidate-between-wqe-fetch-and-data ×8"],
      "revoke-during-cq-writes-revocable.yaml": ["invalidate-between-wqe-fetch-and-data ×8", "cq-error-raised ×1"],
      "rdma-write-during-flr.yaml": ["invalidate-between-wqe-fetch-and-data ×24"],
      "slow-importer-delays-revoke.yaml": ["invalidate-between-wqe-fetch-and-data ×32"],
      "qp-create-unconsumed-descriptor.yaml": [],
    });
  });

  it("the flagship under the initial-revoked profile races its revoke against CQE and data writes (seed 7)", () => {
    expect(scenarioHits("revoke-during-cq-writes.yaml", 7, "vfio-dmabuf-initial")).toEqual([
      "revoke-raced-cqe-write ×2",
      "revoke-raced-data-write ×3",
      "invalidate-between-wqe-fetch-and-data ×2",
      "ur-on-in-flight-request ×50",
    ]);
  });
});

describe("each probe on a hand-written trace", () => {
  it("a revoke between a write's issue and its landing is a race; one before the issue is not", () => {
    const events = [
      ev(10, "dmabuf", "revoke.begin", { buf: "gpu0/bar1#0" }),
      ev(20, "rdma", "cqe.write", { issuedPs: 5, cq: "nic0/cq#0" }),
      ev(30, "rdma", "cqe.write", { issuedPs: 12, cq: "nic0/cq#0" }),
      ev(40, "rdma", "data.write", { issuedPs: 8, qp: "nic0/qp#1" }),
    ];
    expect(probeHits(events)).toEqual(["revoke-raced-cqe-write ×1", "revoke-raced-data-write ×1"]);
  });

  it("an MR zap after a WQE fetch and before the data DMA, or before the WR fails", () => {
    const events = [
      ev(10, "rdma", "wqe.fetch", { qp: "nic0/qp#0" }),
      ev(11, "rdma", "data.write", { issuedPs: 11, qp: "nic0/qp#1" }),
      ev(12, "rdma", "mr.zap", { mr: "nic0/mr#1" }),
      ev(13, "rdma", "data.write", { issuedPs: 13, qp: "nic0/qp#1" }),
      ev(14, "rdma", "wqe.failed", { qp: "nic0/qp#0" }),
    ];
    expect(probeHits(events)).toEqual(["invalidate-between-wqe-fetch-and-data ×2"]);
  });

  it("a reset while an MR's page-fault process runs; none before it, after it, or during another process", () => {
    const events = [
      ev(9, "vfio", "reset.begin", { device: "gpu0" }),
      ev(10, "fabric", "process.spawn", { process: "nic0/mr#1/fault", pid: 7 }),
      ev(11, "fabric", "process.spawn", { process: "nic0/qp#0/sq", pid: 8 }),
      ev(12, "vfio", "reset.begin", { device: "gpu0" }),
      ev(13, "vfio", "hot-reset.begin", { device: "gpu0" }),
      // A successful fault says so before its process ends: the fault is still open here.
      ev(14, "rdma", "mr.fault", { mr: "nic0/mr#1" }),
      ev(15, "vfio", "reset.begin", { device: "gpu0" }),
      ev(16, "fabric", "process.exit", { process: "nic0/mr#1/fault", pid: 7 }),
      ev(17, "vfio", "reset.begin", { device: "gpu0" }),
      ev(18, "fabric", "process.exit", { process: "nic0/qp#0/sq", pid: 8 }),
    ];
    expect(probeHits(events)).toEqual(["reset-during-mr-fault ×3"]);
  });

  it("a UR, a CQ error event, and a stale cached map type each count; other async events and fresh answers do not", () => {
    const events = [
      ev(10, "pci", "tlp.ur", { requester: "nic0" }),
      ev(11, "rdma", "async.event", { type: "IB_EVENT_QP_FATAL", object: "nic0/qp#0" }),
      ev(12, "rdma", "async.event", { type: "IB_EVENT_CQ_ERR", object: "nic0/cq#0" }),
      ev(13, "p2pdma", "map-type", { provider: "gpu0", client: "nic0", mapType: "bus-addr" }),
      ev(14, "p2pdma", "map-type", { provider: "gpu0", client: "nic0", mapType: "bus-addr", staleAgainst: "thru-host-bridge" }),
    ];
    expect(probeHits(events)).toEqual(["ur-on-in-flight-request ×1", "cq-error-raised ×1", "stale-map-type-used ×1"]);
  });
});
