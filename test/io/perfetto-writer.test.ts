import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenarioFile } from "../../src/cli/load-scenario-file.js";
import { type ChromeTraceDocument, type ChromeTraceEvent, durUs, psToUs, validateChromeTrace } from "../../src/io/perfetto-format.js";
import { perfettoRunOptions } from "../../src/io/perfetto-run.js";
import { PerfettoWriter } from "../../src/io/perfetto-writer.js";
import { type RunOptions, type RunResult, runScenario } from "../../src/scenario/run-scenario.js";

const SCENARIOS = join(import.meta.dirname, "..", "..", "scenarios");

function load(name: string) {
  const loaded = loadScenarioFile(join(SCENARIOS, name));
  if (!loaded.ok) throw new Error(loaded.lines.join("\n"));
  return loaded.loaded;
}

/** Runs a scenario with the writer watching; returns the result and the document as written (parsed back). */
function traced(name: string, options: RunOptions = {}): { result: RunResult; doc: ChromeTraceDocument } {
  const writer = new PerfettoWriter();
  const result = runScenario(load(name), { ...options, seed: 1, ...perfettoRunOptions(writer) });
  writer.verdict(result.verdict, result.violations, result.endPs);
  return { result, doc: JSON.parse(writer.json()) as ChromeTraceDocument };
}

/** `group/track` of every thread, sorted. */
function trackNames(doc: ChromeTraceDocument): string[] {
  const events = doc.traceEvents;
  const groups = new Map(events.filter((e) => e.name === "process_name").map((e) => [e.pid, String(e.args?.name)]));
  return events
    .filter((e) => e.name === "thread_name")
    .map((e) => `${groups.get(e.pid)}/${String(e.args?.name)}`)
    .sort();
}

const count = (events: readonly ChromeTraceEvent[], key: (e: ChromeTraceEvent) => string) => {
  const counts: Record<string, number> = {};
  for (const e of events) counts[key(e)] = (counts[key(e)] ?? 0) + 1;
  return counts;
};

describe("Perfetto trace of the revocable flagship (seed 1)", () => {
  const { result, doc } = traced("revoke-during-cq-writes-revocable.yaml");
  const events = doc.traceEvents;
  const trackOf = (e: ChromeTraceEvent) =>
    trackNames({ ...doc, traceEvents: events.filter((m) => m.name !== "thread_name" || (m.pid === e.pid && m.tid === e.tid)) });

  it("is a valid Chrome JSON trace", () => {
    expect(result.verdict).toBe("pass");
    expect(validateChromeTrace(doc)).toEqual([]);
  });

  it("has one track per link direction, QP, CQ (lanes where DMA operations overlap), the driver, the VFIO device and the verdict", () => {
    expect(trackNames(doc)).toEqual([
      "NIC/nic0/cq#0",
      "NIC/nic0/cq#0 [2]",
      "NIC/nic0/driver",
      "NIC/nic0/qp#0",
      "NIC/nic0/qp#1",
      "NIC/nic0/qp#1 [2]",
      "NIC/nic0/qp#1 [3]",
      "VFIO devices/gpu0",
      "links/0000:00:01.0→0000:01:00.0",
      "links/0000:01:00.0→0000:00:01.0",
      "links/0000:02:00.0→gpu0",
      "links/0000:02:02.0→nic0",
      "links/gpu0→0000:02:00.0",
      "links/nic0→0000:02:02.0",
      "verdict/verdict",
    ]);
    // Processes in display order: verdict, VFIO and the revoke first, then the NIC, then the wire.
    const order = events
      .filter((e) => e.name === "process_sort_index")
      .map((e) => [events.find((p) => p.name === "process_name" && p.pid === e.pid)?.args?.name, e.args?.sort_index]);
    expect(order).toEqual([
      ["verdict", 1],
      ["VFIO devices", 2],
      ["NIC", 3],
      ["links", 5],
      ["switch ports", 6],
    ]);
  });

  it("draws the revoke window and the reset on gpu0, and the 8 CQE writes on the CQ with exact ps in args", () => {
    const revoke = events.filter((e) => e.ph === "X" && e.name === "revoke gpu0/bar1#0");
    expect(revoke).toHaveLength(1);
    expect(revoke[0]).toMatchObject({ ts: psToUs(5_787_381), dur: 0, args: { buf: "gpu0/bar1#0", profile: "vfio-dmabuf-wait", ps: 5787381, durPs: 0 } });
    expect(trackOf(revoke[0] as ChromeTraceEvent)).toEqual(["VFIO devices/gpu0"]);
    const reset = events.find((e) => e.ph === "X" && e.name === "reset (flr)");
    expect(reset).toMatchObject({ ts: psToUs(5_787_381), dur: durUs(5_787_381, 100_005_787_381), args: { ps: 5_787_381, durPs: 100_000_000_000 } });
    const cqes = events.filter((e) => e.ph === "X" && e.name.startsWith("CQE WR "));
    expect(cqes.map((e) => e.name)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((wr) => `CQE WR ${wr} SUCCESS`));
    // WR 0: issued at 2,437,794 ps, done at 2,711,859 ps (the trace's cqe.write).
    expect(cqes[0]?.args).toMatchObject({ ps: 2_437_794, durPs: 2_711_859 - 2_437_794, outcome: "ok" });
  });

  it("draws request → completion arrows for every read, WQE → data write and → CQE per WR, and revoke → each invalidate and unmap", () => {
    const starts = events.filter((e) => e.ph === "s");
    // 130 NIC reads of host memory (WQE fetches and payload) and 15 CPU reads of the BAR.
    expect(count(starts, (e) => e.name)).toEqual({ "read → completion": 145, "WQE → data write": 8, "WQE → CQE": 8, "revoke → importer": 8 });
    const ids = new Set(starts.map((e) => e.id));
    expect(ids.size).toBe(starts.length);
    // Every revoke arrow starts on gpu0 at the revoke and ends on the NIC driver's track, at the same instant.
    const revokeArrows = events.filter((e) => (e.ph === "s" || e.ph === "f") && e.name === "revoke → importer");
    expect(new Set(revokeArrows.map((e) => `${e.ph} ${trackOf(e)[0]} ${e.ts}`))).toEqual(
      new Set([`s VFIO devices/gpu0 ${psToUs(5_787_381)}`, `f NIC/nic0/driver ${psToUs(5_787_381)}`]),
    );
  });

  it("samples link utilisation and credits in use on the links, and TLPs queued at switch ports", () => {
    const counters = new Set(events.filter((e) => e.ph === "C").map((e) => e.name));
    expect([...counters].sort()).toEqual([
      "0000:00:01.0→0000:01:00.0 utilisation %",
      "0000:01:00.0→0000:00:01.0 credits non-posted",
      "0000:01:00.0→0000:00:01.0 credits posted",
      "0000:01:00.0→0000:00:01.0 utilisation %",
      "0000:02:00.0→gpu0 utilisation %",
      "0000:02:02.0→nic0 utilisation %",
      "gpu0→0000:02:00.0 utilisation %",
      "nic0→0000:02:02.0 credits non-posted",
      "nic0→0000:02:02.0 credits posted",
      "nic0→0000:02:02.0 utilisation %",
      "switch 0000:01:00.0 port 0000:02:00.0 queued",
      "switch 0000:01:00.0 port 0000:02:02.0 queued",
      "switch 0000:01:00.0 upstream port queued",
    ]);
    const utilisation = events.filter((e) => e.ph === "C" && e.name.endsWith("utilisation %")).map((e) => Number(e.args?.percent));
    expect(Math.min(...utilisation)).toBe(0);
    expect(Math.max(...utilisation)).toBeLessThanOrEqual(100);
    expect(doc.otherData).toMatchObject({ generator: "p2psim", droppedSlices: {}, droppedFlows: 0 });
  });

  it("ends with the verdict as a global instant", () => {
    const instants = events.filter((e) => e.ph === "i");
    expect(instants.map((e) => [e.name, e.s, e.ts])).toEqual([["verdict: PASS", "g", psToUs(result.endPs)]]);
  });
});

describe("Perfetto trace of the flagship under vfio-dmabuf-initial (seed 1)", () => {
  const { result, doc } = traced("revoke-during-cq-writes.yaml", { profile: "vfio-dmabuf-initial" });
  const events = doc.traceEvents;

  it("is valid and carries the I1 violation as a global instant with its message and causal chain", () => {
    expect(validateChromeTrace(doc)).toEqual([]);
    const i1 = result.violations.find((v) => v.invariant === "I1");
    expect(i1?.message).toMatch(/after the revoke returned/);
    const instant = events.find((e) => e.ph === "i" && e.name.startsWith("violation of I1"));
    expect(instant).toMatchObject({
      name: `violation of I1: ${i1?.message}`,
      s: "g",
      ts: psToUs(i1?.timePs ?? 0),
      args: { invariant: "I1", message: i1?.message },
    });
    const chain = instant?.args?.chain as string[];
    expect(chain).toHaveLength(i1?.chain.length ?? -1);
    expect(chain.at(-1)).toMatch(/^\d+ ps pci\/tlp /);
    expect(events.filter((e) => e.ph === "i").at(-1)?.name).toBe(`verdict: VIOLATION of ${result.violations.map((v) => v.invariant).join(", ")}`);
  });

  it("shows the CQE writes after the revoke ending in UR on the BAR, the last one where I1 breaks", () => {
    const revoke = events.find((e) => e.ph === "X" && e.name === "revoke gpu0/bar1#0") as ChromeTraceEvent;
    const late = events.filter((e) => e.ph === "X" && e.name.startsWith("CQE WR ") && e.ts > revoke.ts);
    expect(late.map((e) => e.args?.outcome)).toEqual(Array(8).fill("ur"));
    const i1 = result.violations.find((v) => v.invariant === "I1");
    expect(late.some((e) => Number(e.args?.ps) + Number(e.args?.durPs) === i1?.timePs)).toBe(true);
    expect(trackNames(doc)).toContain("VFIO devices/gpu0 UR");
  });
});

describe("Perfetto trace of a revoke that waits for a drain (mem-clear-during-p2p-reads, seed 1)", () => {
  const { doc } = traced("mem-clear-during-p2p-reads.yaml");
  const events = doc.traceEvents;

  it("draws the drain on the NIC driver's track for as long as the revoke waits, with an arrow from the revoke to it", () => {
    expect(validateChromeTrace(doc)).toEqual([]);
    const revoke = events.find((e) => e.ph === "X" && e.name === "revoke gpu0/bar1#0");
    const drain = events.find((e) => e.ph === "X" && e.name === "drain nic0/umem#1 (8 in flight)");
    expect([revoke?.args?.ps, revoke?.args?.durPs]).toEqual([5_787_381, 1_499_607]);
    expect([drain?.args?.ps, drain?.args?.durPs]).toEqual([5_787_381, 1_499_607]);
    // Invalidate, umem invalidate and drain at the revoke; unmap and umem unmap when the drain is over.
    const finishes = events.filter((e) => e.ph === "f" && e.name === "revoke → importer").map((e) => e.ts);
    expect(finishes).toEqual([5_787_381, 5_787_381, 5_787_381, 7_286_988, 7_286_988].map(psToUs));
  });
});

describe("tracing changes nothing", () => {
  it("gives the same fingerprint and event count with and without the writer", () => {
    for (const [name, profile] of [
      ["revoke-during-cq-writes-revocable.yaml", "default"],
      ["revoke-during-cq-writes.yaml", "vfio-dmabuf-initial"],
    ] as const) {
      const plain = runScenario(load(name), { seed: 1, profile });
      const { result } = traced(name, { profile });
      expect([result.fingerprint, result.events], name).toEqual([plain.fingerprint, plain.events]);
    }
  });
});
