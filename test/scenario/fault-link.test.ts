/**
 * The link faults of the catalogue (fault-link.ts) in scenario runs on the one-switch machine:
 * nic0 streams 4 KiB RDMA WRITEs (or READs) to gpu0's BAR1 through a dma-buf MR.
 * - link-retrain nic0 to x4: the link waits for Recovery, then serializes at x4; the stream ends later;
 * - link-down gpu0 for 5 µs during RDMA READs: the switch port answers the NIC's reads with UR,
 *   the responder NAKs, the WR completes in error;
 * - completion-timeout gpu0: the reads are swallowed, the NIC's completion timer fires 50 µs
 *   after each was sent, the WR completes in error.
 * Each fault's report shows what it did; a run without faults keeps the fingerprint it had before
 * these faults existed; every run passes its monitors (L3 included).
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { type LoadedScenario, loadScenario } from "../../src/scenario/load-scenario.js";
import { type RunResult, runScenario } from "../../src/scenario/run-scenario.js";

const DIR = join(import.meta.dirname, "..", "..", "scenarios");

function load(text: string): LoadedScenario {
  const file = join(DIR, "inline.yaml");
  const read = (p: string) => {
    const path = resolve(dirname(file), p);
    return { file: path, text: readFileSync(path, "utf8") };
  };
  const loaded = loadScenario(text, file, read);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return loaded.loaded;
}

/** The stream scenario with `faults` (a YAML flow list). */
function scenario(op: "write" | "read", faults: string, count = 32): LoadedScenario {
  return load(`
name: link-fault
goal: a link fault during an RDMA stream
method: nic0 streams 4 KiB RDMA ${op.toUpperCase()}s with gpu0 BAR1
topology: topologies/one-switch.json
exports:
  - { device: gpu0, bar: 1 }
workloads:
  - { kind: rdma-stream, nic: nic0, op: ${op}, count: ${count}, bytes: 4096, depth: 8, cq: { placement: host } }
faults: ${faults}
budget: { safetyUs: 20, livenessUs: 20000 }
`);
}

/** Runs `loaded` (seed 1), recording every event. */
function run(loaded: LoadedScenario): { result: RunResult; events: TraceEvent[] } {
  const events: TraceEvent[] = [];
  const result = runScenario(loaded, { sinks: [(e) => events.push(e)] });
  return { result, events };
}

/** What names an event in the sequences below (TLP-level events by kind and tag/address; the rest by their fields that matter). */
function row(e: TraceEvent): unknown[] {
  const key = `${e.layer}/${e.kind}`;
  switch (key) {
    case "pci/cpl.timeout":
      return [e.t, key, e.tag, e.issuedPs];
    case "pci/tlp.ur":
    case "pci/tlp.lost":
      return [e.t, key, e.tlp];
    case "rdma/wqe.failed":
    case "rdma/responder.nak":
      return [e.t, key, e.wrId, e.status];
    case "rdma/cqe.write":
      return [e.t, key, e.wrId, e.status];
    default:
      return [e.t, key];
  }
}

/** The first `n` events from `fromPs` on, without TLP landings and CQ polls, as {@link row}s. */
function after(events: readonly TraceEvent[], fromPs: number, n: number): unknown[][] {
  return events
    .filter((e) => e.t >= fromPs && !(e.layer === "pci" && e.kind === "tlp") && !(e.layer === "rdma" && e.kind === "cq.poll"))
    .slice(0, n)
    .map(row);
}

const quiet = { revoked: 0, refused: 0, failedWrs: 0, timedOut: 0, lost: 0, delayed: 0 };

/** The time of each WR's CQE write, and its status, in order. */
function cqes(events: readonly TraceEvent[]): Array<[number, unknown, unknown]> {
  return events.filter((e) => e.layer === "rdma" && e.kind === "cqe.write").map((e) => [e.t, e.wrId, e.status]);
}

describe("a run without link faults", () => {
  it("keeps the fingerprint it had before the link faults were built (WRITE and READ streams, seed 1)", () => {
    // Fingerprints taken from the tree before the link faults existed (then re-pinned when every
    // p2pdma map-type answer went on the trace, and when it got `staleAgainst: null`): arming no
    // fault must change nothing a run does.
    expect([run(scenario("write", "[]", 200)).result.fingerprint, run(scenario("read", "[]", 200)).result.fingerprint]).toEqual([
      "c9520ae9a5533617",
      "044bff816b66d06d",
    ]);
  });
});

describe("link-retrain", () => {
  it("nic0's link to x4 at 4 µs: Recovery holds the WQE fetch until 6 µs, then every batch of eight WRITEs takes about four times as long", () => {
    const baseline = run(scenario("write", "[]", 200));
    const { result, events } = run(scenario("write", "[{ fault: link-retrain, target: nic0, width: 4, atUs: 4 }]", 200));
    expect(result.verdict).toBe("pass");
    expect(result.faults).toEqual([
      expect.objectContaining({ fault: "link-retrain", target: "nic0", atPs: 4_000_000, result: "done", ...quiet, delayed: 1, affected: true }),
    ]);
    expect(after(events, 4_000_000, 5)).toEqual([
      [4_000_000, "pci/link.retrain"],
      [6_000_000, "pci/link.trained"],
      [6_054_404, "rdma/wqe.fetch"],
      [9_399_605, "rdma/data.write"],
      [9_531_714, "rdma/cqe.write", 8, "SUCCESS"],
    ]);
    const retrain = events.find((e) => e.kind === "link.retrain");
    expect(retrain && [retrain.fromWidth, retrain.toWidth, retrain.fromGbps, retrain.toGbps]).toEqual([16, 4, 227.40012098867757, 58.14006482318528]);
    // Before the fault both runs are the same; after it, CQEs of one batch come 0.63 µs apart instead of 0.16 µs.
    expect(cqes(events).slice(0, 8)).toEqual(cqes(baseline.events).slice(0, 8));
    expect(
      cqes(baseline.events)
        .slice(8, 10)
        .map(([t]) => t),
    ).toEqual([6_808_782, 6_969_486]);
    expect(
      cqes(events)
        .slice(8, 10)
        .map(([t]) => t),
    ).toEqual([9_531_714, 10_160_265]);
    expect([cqes(baseline.events).at(-1)?.[0], cqes(events).at(-1)?.[0]]).toEqual([99_408_588, 206_421_760]);
  });
});

describe("link-down", () => {
  it("gpu0's link down 4-9 µs during RDMA READs: the switch port answers the reads UR, the responder NAKs, WR 8 fails and the QP flushes the rest", () => {
    const { result, events } = run(scenario("read", "[{ fault: link-down, target: gpu0, atUs: 4, durationUs: 5 }]"));
    expect(result.verdict).toBe("pass");
    expect(result.faults).toEqual([
      expect.objectContaining({ fault: "link-down", target: "gpu0", atPs: 4_000_000, result: "done", ...quiet, refused: 64, failedWrs: 24, affected: true }),
    ]);
    const rows = after(events, 4_000_000, 200);
    const urs = rows.filter((r) => r[1] === "pci/tlp.ur");
    // WRs 8-15, eight MRds of 512 B each: 64 reads, each refused at the port above gpu0.
    expect(urs.length).toBe(64);
    expect(urs.every((r) => r[2] === "MRd")).toBe(true);
    expect(rows.filter((r) => r[1] !== "pci/tlp.ur").slice(0, 13)).toEqual([
      [4_000_000, "pci/link.down"],
      [4_145_262, "rdma/cqe.write", 7, "SUCCESS"],
      [4_185_262, "rdma/post.send"],
      [4_521_388, "rdma/wqe.fetch"],
      ...[8, 9, 10, 11, 12, 13, 14, 15].map((wrId, i) => [
        [5_824_908, 5_831_662, 5_838_417, 5_845_172, 5_851_926, 5_858_681, 5_865_435, 5_872_190][i],
        "rdma/responder.nak",
        wrId,
        "REM_ACCESS_ERR",
      ]),
      [5_926_548, "rdma/wqe.failed", 8, "REM_ACCESS_ERR"],
    ]);
    expect(cqes(events).find(([, wrId]) => wrId === 8)).toEqual([6_264_644, 8, "REM_ACCESS_ERR"]);
    expect(events.filter((e) => e.kind === "link.up").map((e) => [e.t, e.device, e.gen, e.width])).toEqual([[9_000_000, "gpu0", 4, 16]]);
  });
});

describe("completion-timeout", () => {
  it("gpu0 mute 4-7 µs during RDMA READs: WR 8's reads are never answered, time out 50 µs after they were sent, and WR 8 completes in error", () => {
    const { result, events } = run(scenario("read", "[{ fault: completion-timeout, target: gpu0, atUs: 4, durationUs: 3 }]"));
    expect(result.verdict).toBe("pass");
    expect(result.faults).toEqual([
      expect.objectContaining({
        fault: "completion-timeout",
        target: "gpu0",
        atPs: 4_000_000,
        result: "done",
        ...quiet,
        failedWrs: 24,
        timedOut: 64,
        affected: true,
      }),
    ]);
    expect(after(events, 4_000_000, 14)).toEqual([
      [4_000_000, "pci/completer.mute"],
      [4_145_262, "rdma/cqe.write", 7, "SUCCESS"],
      [4_185_262, "rdma/post.send"],
      [4_521_388, "rdma/wqe.fetch"],
      [7_000_000, "pci/completer.unmute"],
      // WR 8's eight reads (tags 63 down to 56), sent at 5.488 µs, reached gpu0 while it was mute.
      ...[63, 62, 61, 60, 59, 58, 57, 56].map((tag) => [55_488_293, "pci/cpl.timeout", tag, 5_488_293]),
      [55_488_293, "rdma/responder.nak", 8, "REM_ACCESS_ERR"],
    ]);
    expect(events.filter((e) => e.kind === "wqe.failed").map((e) => [e.wrId, e.status])[0]).toEqual([8, "REM_ACCESS_ERR"]);
    expect(
      cqes(events)
        .find(([, wrId]) => wrId === 8)
        ?.slice(1),
    ).toEqual([8, "REM_ACCESS_ERR"]);
  });
});

describe("the bundled scenario link-retrain-during-revoke.yaml", () => {
  it("seed 1: the retrain mattered (TLPs waited for Recovery) and the revoke still drained: pass", () => {
    const file = join(DIR, "link-retrain-during-revoke.yaml");
    const read = (p: string) => {
      const path = resolve(dirname(file), p);
      return { file: path, text: readFileSync(path, "utf8") };
    };
    const loaded = loadScenario(readFileSync(file, "utf8"), file, read);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    const { result, events } = run(loaded.loaded);
    expect(result.verdict).toBe("pass");
    const [retrain] = result.faults;
    expect(retrain && [retrain.fault, retrain.affected, retrain.delayed > 0]).toEqual(["link-retrain", true, true]);
    expect(events.filter((e) => e.kind === "link.retrain").map((e) => [e.device, e.fromWidth, e.toWidth])).toEqual([["gpu0", 16, 1]]);
  });
});
