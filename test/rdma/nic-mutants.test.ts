// Goal: the two driver mutants of the NIC engine are caught by the invariants they break, and the
// same scenario without the mutant keeps them: `callbackReturnsBeforeDrain` (I1 for a dynamic MR,
// I22 for a pinned-revocable CQ) and `invalidateIgnored` (L1: the revoke never completes while the
// MR stays mapped, and WRITEs keep landing) [kernel.md §d.1, §d.2, §f].
// Method: as test/rdma/nic-revoke.test.ts (its helpers are repeated here: a test file cannot
// import another's): the RDMA-write world, 16 KiB WRITEs one at a time into gpu0's BAR1, a MEM
// clear triggered by a stream event.
import { describe, expect, it } from "vitest";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { startRdmaWriteStream } from "../../src/scenario/rdma-write-stream.js";
import { type NicWorldOptions, nicWorld } from "./nic-world.js";

const BAR = "gpu0 BAR1";
type World = ReturnType<typeof nicWorld>;

/**
 * The world with `count` WRITEs of 16 KiB streamed into the BAR MR, and `revoke(w)` run at the
 * time of the first event `at` matches. `since()`: the trace from that event on.
 */
function scenario(options: NicWorldOptions, at: (e: TraceEvent) => boolean, revoke: (w: World) => void, count = 8) {
  const w = nicWorld({ tlpEvents: true, ...options });
  if (!w.sendCqResult.ok) throw new Error(`send CQ: ${w.sendCqResult.errno}`);
  const cq = w.sendCqResult.value;
  const { a } = w.connect(cq);
  const stream = startRdmaWriteStream(w, a, w.nic.cq(cq), { count, bytes: 16384, depth: 1, batch: 1 });
  let first = -1;
  w.engine.trace.subscribe((e) => {
    if (first >= 0 || !at(e)) return;
    first = w.trace.events.length - 1;
    w.engine.scheduleAt(e.t, () => revoke(w));
  });
  return { w, cq, a, stream, since: () => w.trace.events.slice(Math.max(first, 0)) };
}

const memOff = (w: World) => void w.gpu0.writeCommandMemory(false);
const dataWrite = (wrId: number) => (e: TraceEvent) => e.kind === "data.write" && e.wrId === wrId;
const cqeWrite = (wrId: number) => (e: TraceEvent) => e.kind === "cqe.write" && e.wrId === wrId;

const STORY = new Set([
  "revoke.begin",
  "revoke.marked",
  "revoke.fences-signaled",
  "revoke.done",
  "mr.zap",
  "mr.fault",
  "mr.fault.failed",
  "driver.drain",
  "driver.drained",
  "driver.drain.skipped",
  "umem.revoke.callback",
  "umem.map",
  "umem.unmap",
  "umem.revoke",
  "fence.add",
  "data.landed",
  "cqe.write",
  "cqe.landed",
  "wqe.failed",
  "qp.error",
  "async.event",
  "command.write",
  "restore",
  "driver.revoke.ignored",
  "mr.invalidate.ignored",
  "cleanup",
]);

/** The events that tell the story, in order, as "kind detail" (no times: the order is the claim). */
function story(events: readonly TraceEvent[]): string[] {
  return events
    .filter((e) => STORY.has(e.kind))
    .map((e) => {
      const detail = [e.mr, e.umem, e.fence, e.usage, e.wrId, e.status, e.outcome, e.type, e.syndrome || undefined, e.memory, e.inFlight, e.fatal]
        .filter((v) => v !== undefined)
        .join(" ");
      const kind = `${e.layer}/${e.kind}`;
      return detail === "" ? kind : `${kind} ${detail}`;
    });
}

/**
 * I1's check: nic0's TLPs that reached the BAR after the revoke returned (`from`: the dmabuf
 * revoke.done, or for a close the vfio cleanup) and before a restore; how many the BAR refused
 * (UR), and the outcomes of the CQE writes that landed in that window.
 */
function afterRevokeDone(w: World, from = "revoke.done") {
  const done = w.trace.events.find((e) => (e.layer === "dmabuf" || e.layer === "vfio") && e.kind === from);
  const t = done?.t ?? Number.POSITIVE_INFINITY;
  const end = w.trace.events.find((e) => e.layer === "vfio" && e.kind === "restore")?.t ?? Number.POSITIVE_INFINITY;
  const inWindow = (at: number) => at > t && at < end;
  const late = w.trace.events.filter((e) => e.layer === "pci" && e.kind === "tlp" && e.requester === "nic0" && e.target === BAR && inWindow(e.atPs as number));
  // pci/tlp.ur names the requester by its id, not its label: the CPU's polls are "cpu".
  const urs = w.trace.events.filter((e) => e.kind === "tlp.ur" && e.target === BAR && e.requester !== "cpu" && inWindow(e.t)).length;
  const cqeLanded = w.trace.events.filter((e) => e.kind === "cqe.landed" && inWindow(e.t)).map((e) => e.outcome);
  return { done: done !== undefined, tlps: late.length, ur: urs, cqeLanded };
}

describe("mutant callbackReturnsBeforeDrain (default exporter)", () => {
  const rows = [
    ["correct driver", {}],
    ["mutant", { callbackReturnsBeforeDrain: true }],
  ] as const;

  it("dynamic MR: the mutant skips the drain, revoke.done comes with WRITE 2's data in flight, and all of it reaches the BAR after (I1 caught)", () => {
    const outcomes = rows.map(([name, mutants]) => {
      const s = scenario({ mutants }, dataWrite(2), memOff);
      expect(s.w.run()).toBe("quiet");
      const head = story(s.since()).slice(0, 14);
      return [name, head, afterRevokeDone(s.w).tlps];
    });
    expect(outcomes).toEqual([
      [
        "correct driver",
        [
          "dmabuf/revoke.begin",
          "dmabuf/revoke.marked",
          "rdma/mr.zap nic0/mr#1",
          "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep",
          "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 1",
          "rdma/cqe.write 2 SUCCESS",
          "rdma/data.landed nic0/mr#1 2 ok",
          "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
          "rdma/umem.unmap nic0/umem#1",
          "dmabuf/revoke.fences-signaled",
          "dmabuf/revoke.done",
          "vfio/revoke.done",
          "vfio/command.write false",
          "rdma/cqe.landed 2 ok",
        ],
        0,
      ],
      [
        "mutant",
        [
          "dmabuf/revoke.begin",
          "dmabuf/revoke.marked",
          "rdma/mr.zap nic0/mr#1",
          "rdma/driver.drain.skipped nic0/umem#1 1",
          "rdma/umem.unmap nic0/umem#1",
          "dmabuf/revoke.fences-signaled",
          "dmabuf/revoke.done",
          "vfio/revoke.done",
          "vfio/command.write false",
          "rdma/cqe.write 2 SUCCESS",
          "rdma/data.landed nic0/mr#1 2 ur",
          "rdma/cqe.landed 2 ok",
          "rdma/mr.fault.failed nic0/mr#1",
          "rdma/wqe.failed 3 REM_ACCESS_ERR",
        ],
        // The 64 data TLPs of WRITE 2 (16 KiB in 256 B), all after revoke.done (refused UR: MEM is off by then).
        64,
      ],
    ]);
  });

  it("pinned-revocable CQ: the mutant's callback returns with WRITE 2's CQE in flight, which reaches the BAR after revoke.done (I22 caught)", () => {
    const outcomes = rows.map(([name, mutants]) => {
      const s = scenario({ cqInBar: true, cqPin: "pinned-revocable", mutants }, cqeWrite(2), memOff);
      expect(s.w.run()).toBe("quiet");
      const drains = story(s.since()).filter((line) => line.includes("driver.drain") || line.includes("revoke.done") || line.startsWith("rdma/cqe.landed"));
      return [name, drains, afterRevokeDone(s.w)];
    });
    expect(outcomes).toEqual([
      [
        "correct driver",
        [
          "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 1",
          "rdma/driver.drain nic0/umem#2 nic0/umem#2/drain#1 1",
          "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
          "rdma/cqe.landed 2 ok",
          "rdma/driver.drained nic0/umem#2 nic0/umem#2/drain#1",
          "dmabuf/revoke.done",
          "vfio/revoke.done",
        ],
        { done: true, tlps: 0, ur: 0, cqeLanded: [] },
      ],
      [
        "mutant",
        [
          "rdma/driver.drain.skipped nic0/umem#1 1",
          "rdma/driver.drain.skipped nic0/umem#2 1",
          "dmabuf/revoke.done",
          "vfio/revoke.done",
          "rdma/cqe.landed 2 ur",
        ],
        { done: true, tlps: 65, ur: 65, cqeLanded: ["ur"] },
      ],
    ]);
  });
});

describe("mutant invalidateIgnored (default exporter)", () => {
  it("dynamic MR: the invalidate is ignored, the MR stays mapped, the revoke never completes (L1) and every later WRITE lands after revoke.marked", () => {
    const outcomes = [{}, { invalidateIgnored: true }].map((mutants) => {
      const s = scenario({ mutants }, dataWrite(2), memOff);
      expect(s.w.run()).toBe("quiet");
      const events = story(s.since());
      const marked = events.indexOf("dmabuf/revoke.marked");
      const landedAfter = events.slice(marked).filter((line) => line.startsWith("rdma/data.landed") && line.endsWith(" ok")).length;
      return [events.slice(0, 4), events.includes("dmabuf/revoke.done"), s.w.dst.mapped, s.w.buf.mappingCount, landedAfter];
    });
    expect(outcomes).toEqual([
      [["dmabuf/revoke.begin", "dmabuf/revoke.marked", "rdma/mr.zap nic0/mr#1", "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep"], true, false, 0, 1],
      // WRITEs 2 to 7 all land: nothing stops the NIC while the exporter waits for an unmap that never comes.
      [["dmabuf/revoke.begin", "dmabuf/revoke.marked", "rdma/mr.invalidate.ignored nic0/mr#1", "dmabuf/revoke.fences-signaled"], false, true, 1, 6],
    ]);
  });

  it("pinned-revocable CQ: the revoke callback is ignored (driver.revoke.ignored) and the revoke never completes (L1)", () => {
    const outcomes = [{}, { invalidateIgnored: true }].map((mutants) => {
      const s = scenario({ cqInBar: true, cqPin: "pinned-revocable", mutants }, cqeWrite(2), memOff);
      expect(s.w.run()).toBe("quiet");
      const events = story(s.since());
      return [events.filter((line) => line.includes("ignored") || line === "dmabuf/revoke.done"), s.w.buf.mappingCount];
    });
    expect(outcomes).toEqual([
      [["dmabuf/revoke.done"], 0],
      [["rdma/mr.invalidate.ignored nic0/mr#1", "rdma/driver.revoke.ignored nic0/umem#2"], 1],
    ]);
  });
});
