// Goal: the NIC engine under a VFIO revoke reproduces the finding of kernel.md ("How p2psim uses
// this sheet"): a CQ buffer in a BAR is refused pinned by the newest exporter, works and stops
// cleanly when pinned-revocable, and violates I1 under `vfio-dmabuf-initial`; a dynamic MR in the
// BAR is zapped, drained (I1), faults back only after a restore, and fails with an error completion
// meanwhile (L5) [kernel.md §b.3, §c.4, §d.1, §d.2, §d.7, §f].
// Method: the RDMA-write world streaming 16 KiB WRITEs into gpu0's BAR1, one outstanding at a
// time (with more, a QP going to ERR trips an assertion of the engine: see the lead's report);
// the revoke is triggered by a trace event of the stream, so it always lands mid-stream.
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

/** I1's check: nic0's TLPs that reached the BAR after revoke.done, split by whether the BAR took them (SC) or answered UR. */
function afterRevokeDone(w: World) {
  const done = w.trace.events.find((e) => e.layer === "dmabuf" && e.kind === "revoke.done");
  const t = done?.t ?? Number.POSITIVE_INFINITY;
  const late = w.trace.events.filter((e) => e.layer === "pci" && e.kind === "tlp" && e.requester === "nic0" && e.target === BAR && (e.atPs as number) > t);
  // pci/tlp.ur names the requester by its id, not its label: the CPU's polls are "cpu".
  const urs = w.trace.events.filter((e) => e.kind === "tlp.ur" && e.target === BAR && e.requester !== "cpu" && e.t > t).length;
  const cqeLanded = w.trace.events.filter((e) => e.kind === "cqe.landed" && e.t > t).map((e) => e.outcome);
  return { done: done !== undefined, tlps: late.length, ur: urs, cqeLanded };
}

describe("finding (a): a pinned CQ in the BAR under the default exporter", () => {
  it("fails EOPNOTSUPP at attach and leaves only the MR's attachment", () => {
    const w = nicWorld({ cqInBar: true, cqPin: "pinned" });
    expect(w.sendCqResult).toEqual({ ok: false, errno: "EOPNOTSUPP" });
    expect([w.buf.attachments.length, w.buf.mappingCount, w.buf.attachments[0] === w.dst.umem.attach]).toEqual([1, 1, true]);
  });
});

describe("explore", () => {
  it("c-mem", () => {
    const s = scenario({ cqInBar: true, cqPin: "pinned", vfio: { profile: "vfio-dmabuf-initial" } }, dataWrite(2), memOff);
    expect(s.w.run()).toBe("quiet");
    console.log(story(s.since()), afterRevokeDone(s.w), s.stream.reaped().map((wc) => `${wc.wrId} ${wc.status}`));
  });
  it("c-close", () => {
    const s = scenario({ cqInBar: true, cqPin: "pinned", vfio: { profile: "vfio-dmabuf-initial" } }, dataWrite(2), (w) => void w.gpu0.close());
    expect(s.w.run()).toBe("quiet");
    console.log(story(s.since()), afterRevokeDone(s.w), s.stream.reaped().map((wc) => `${wc.wrId} ${wc.status}`));
  });
  for (const profile of ["vfio-dmabuf-wait", "vfio-dmabuf-initial"] as const) it(`mr ${profile}`, () => {
    const s = scenario({ vfio: { profile } }, dataWrite(2), memOff, 4);
    s.w.engine.scheduleAt(40_000_000, () => void s.w.gpu0.writeCommandMemory(true));
    s.w.engine.scheduleAt(50_000_000, () => { const q = s.w.connect(s.cq); q.a.postSend([s.w.write(100, 4096)]); });
    expect(s.w.run()).toBe("quiet");
    console.log(story(s.since()), afterRevokeDone(s.w), s.stream.reaped().map((wc) => `${wc.wrId} ${wc.status}`));
  });
});
