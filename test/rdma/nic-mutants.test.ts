// Goal: the two driver mutants of the NIC engine are caught by the invariants they break, and the
// same scenario without the mutant keeps them: `callbackReturnsBeforeDrain` (I1 for a dynamic MR,
// I22 for a pinned-revocable CQ) and `invalidateIgnored` (L1: the revoke never completes while the
// MR stays mapped, and WRITEs keep landing; I22: the hardware CQ context the driver did not stop
// keeps writing CQEs where its revoked buffer was) [kernel.md §d.1, §d.2, §f].
// Method: as test/rdma/nic-revoke.test.ts (helpers in nic-revoke-support.ts): the RDMA-write
// world streaming 16 KiB WRITEs into gpu0's BAR1, a MEM clear 1 ps after a chosen data or CQE
// write was issued; one WR outstanding (the story), and 32 at the stream's default depth (the
// invariant checks with many WRs in flight).
import { describe, expect, it } from "vitest";
import type { IbDriverMutants } from "../../src/rdma/verbs-device.js";
import { afterRevokeDone, cqeIssued, dataIssued, each, type Moment, memOff, reaped, type StreamShape, scenario, story } from "./nic-revoke-support.js";
import type { NicWorldOptions } from "./nic-world.js";

/** 32 WRITEs, all outstanding (the stream's default depth is the SQ depth, 64). */
const DEEP: StreamShape = { count: 32 };
const ONE: StreamShape = { depth: 1 };
const revocable: NicWorldOptions = { cqInBar: true, cqPin: "pinned-revocable" };

describe("mutant callbackReturnsBeforeDrain (default exporter)", () => {
  const rows = [
    ["correct driver", {}],
    ["mutant", { callbackReturnsBeforeDrain: true }],
  ] as const;

  it("dynamic MR: the mutant skips the drain, revoke.done comes with WRITE 2's data in flight, and all of it reaches the BAR after (I1 caught)", () => {
    const outcomes = rows.map(([name, mutants]) => {
      const s = scenario({ mutants }, dataIssued(2), memOff);
      expect(s.w.run()).toBe("quiet");
      const head = story(s.since()).slice(0, 13);
      return [name, head, afterRevokeDone(s.w)];
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
          "rdma/data.write nic0/mr#1 2 ok",
          "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
          "rdma/umem.unmap nic0/umem#1",
          "dmabuf/revoke.fences-signaled",
          "dmabuf/revoke.done",
          "vfio/revoke.done",
          "vfio/command.write false",
          "rdma/cqe.write 2 SUCCESS ok",
        ],
        { done: true, tlps: 0, ur: 0, data: [], cqes: [] },
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
          "rdma/data.write nic0/mr#1 2 ur",
          "rdma/cqe.write 2 SUCCESS ok",
          "rdma/mr.fault.failed nic0/mr#1",
          "rdma/wqe.failed 3 REM_ACCESS_ERR",
        ],
        // The 64 data TLPs of WRITE 2 (16 KiB in 256 B), all after revoke.done (refused UR: MEM is off by then).
        { done: true, tlps: 64, ur: 64, data: ["2 ur"], cqes: [] },
      ],
    ]);
  });

  it("pinned-revocable CQ: the mutant's callback returns with WRITE 2's data and CQE in flight, which reach the BAR after revoke.done (I22 caught)", () => {
    const outcomes = rows.map(([name, mutants]) => {
      const s = scenario({ ...revocable, mutants }, cqeIssued(2), memOff);
      expect(s.w.run()).toBe("quiet");
      const drains = story(s.since()).filter((line) => line.includes("driver.drain") || line.includes("revoke.done") || line.startsWith("rdma/cqe.write"));
      return [name, drains, afterRevokeDone(s.w)];
    });
    expect(outcomes).toEqual([
      [
        "correct driver",
        [
          "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 1",
          "rdma/driver.drain nic0/umem#2 nic0/umem#2/drain#1 1",
          "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
          "rdma/cqe.write 2 SUCCESS ok",
          "rdma/driver.drained nic0/umem#2 nic0/umem#2/drain#1",
          "dmabuf/revoke.done",
          "vfio/revoke.done",
        ],
        { done: true, tlps: 0, ur: 0, data: [], cqes: [] },
      ],
      [
        "mutant",
        [
          "rdma/driver.drain.skipped nic0/umem#1 1",
          "rdma/driver.drain.skipped nic0/umem#2 1",
          "dmabuf/revoke.done",
          "vfio/revoke.done",
          "rdma/cqe.write 2 SUCCESS ur",
        ],
        { done: true, tlps: 65, ur: 65, data: ["2 ur"], cqes: ["2 ur"] },
      ],
    ]);
  });

  it("with 32 WRs outstanding: the correct driver drains WRITEs 7 and 8 (I1, I22 hold), the mutant lets their data and CQEs reach the BAR after revoke.done (caught)", () => {
    const cases: ReadonlyArray<readonly [string, NicWorldOptions, Moment]> = [
      ["dynamic MR", {}, dataIssued(8)],
      ["pinned-revocable CQ", revocable, cqeIssued(8)],
    ];
    const outcomes = rows.flatMap(([name, mutants]) =>
      cases.map(([what, options, moment]) => {
        const s = scenario({ ...options, mutants }, moment, memOff, DEEP);
        expect(s.w.run()).toBe("quiet");
        return [name, what, story(s.since()).filter((line) => line.startsWith("rdma/driver.drain")), afterRevokeDone(s.w)];
      }),
    );
    const none = { done: true, tlps: 0, ur: 0, data: [], cqes: [] };
    expect(outcomes).toEqual([
      ["correct driver", "dynamic MR", ["rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 2", "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0"], none],
      [
        "correct driver",
        "pinned-revocable CQ",
        [
          "rdma/driver.drain nic0/umem#1 nic0/umem#1/drain#0 2",
          "rdma/driver.drain nic0/umem#2 nic0/umem#2/drain#1 2",
          "rdma/driver.drained nic0/umem#1 nic0/umem#1/drain#0",
          "rdma/driver.drained nic0/umem#2 nic0/umem#2/drain#1",
        ],
        none,
      ],
      // 61 of WRITE 7's data TLPs and WRITE 8's 64, refused UR; the CQ is in host memory.
      ["mutant", "dynamic MR", ["rdma/driver.drain.skipped nic0/umem#1 2"], { done: true, tlps: 125, ur: 125, data: ["7 ur", "8 ur"], cqes: [] }],
      // The CQ's revoke stopped it: only the CQEs already issued (7, 8) reach the BAR; later completions fail (CQ_ERR).
      [
        "mutant",
        "pinned-revocable CQ",
        ["rdma/driver.drain.skipped nic0/umem#1 2", "rdma/driver.drain.skipped nic0/umem#2 2"],
        { done: true, tlps: 117, ur: 117, data: ["7 ur", "8 ur"], cqes: ["7 ur", "8 ur"] },
      ],
    ]);
  });
});

describe("mutant invalidateIgnored (default exporter)", () => {
  it("dynamic MR: the invalidate is ignored, the MR stays mapped, the revoke never completes (L1) and every later WRITE lands after revoke.marked", () => {
    const outcomes = [ONE, DEEP].flatMap((shape) =>
      [{}, { invalidateIgnored: true }].map((mutants) => {
        const s = scenario({ mutants }, dataIssued(shape === ONE ? 2 : 8), memOff, shape);
        expect(s.w.run()).toBe("quiet");
        const events = story(s.since());
        const marked = events.indexOf("dmabuf/revoke.marked");
        const landedAfter = events.slice(marked).filter((line) => line.startsWith("rdma/data.write") && line.endsWith(" ok")).length;
        return [events.slice(0, 4), events.includes("dmabuf/revoke.done"), s.w.dst.mapped, s.w.buf.mappingCount, landedAfter];
      }),
    );
    const correct = ["dmabuf/revoke.begin", "dmabuf/revoke.marked", "rdma/mr.zap nic0/mr#1", "dmabuf/fence.add nic0/umem#1/drain#0 bookkeep"];
    const ignored = ["dmabuf/revoke.begin", "dmabuf/revoke.marked", "rdma/mr.invalidate.ignored nic0/mr#1", "dmabuf/revoke.fences-signaled"];
    expect(outcomes).toEqual([
      // One outstanding: the correct driver drains WRITE 2; the mutant lets WRITEs 2 to 7 all land.
      [correct, true, false, 0, 1],
      [ignored, false, true, 1, 6],
      // 32 outstanding: the correct driver drains WRITEs 7 and 8; the mutant lets WRITEs 7 to 31 land.
      [correct, true, false, 0, 2],
      [ignored, false, true, 1, 25],
    ]);
  });

  it("pinned-revocable CQ: the revoke callback is ignored (driver.revoke.ignored) and the revoke never completes (L1)", () => {
    const outcomes = [{}, { invalidateIgnored: true }].map((mutants) => {
      const s = scenario({ ...revocable, mutants }, cqeIssued(2), memOff);
      expect(s.w.run()).toBe("quiet");
      const events = story(s.since());
      return [events.filter((line) => line.includes("ignored") || line === "dmabuf/revoke.done"), s.w.buf.mappingCount];
    });
    expect(outcomes).toEqual([
      [["dmabuf/revoke.done"], 0],
      [["rdma/mr.invalidate.ignored nic0/mr#1", "rdma/driver.revoke.ignored nic0/umem#2"], 1],
    ]);
  });

  it("pinned-revocable CQ: the CQ umem is unmapped and revoked, but the CQ context the driver did not stop keeps writing CQEs into the BAR (I22 caught)", () => {
    const outcomes = ([ONE, DEEP] as const).flatMap((shape) =>
      [{}, { invalidateIgnored: true }].map((mutants: IbDriverMutants) => {
        const s = scenario({ ...revocable, mutants }, cqeIssued(shape === ONE ? 2 : 8), memOff, shape);
        expect(s.w.run()).toBe("quiet");
        const cqUmem = story(s.since()).filter((line) => line.endsWith("nic0/umem#2"));
        // I22's window: from the CQ umem's revoke (its callback returned and it is unmapped) on.
        const late = afterRevokeDone(s.w, "rdma/umem.revoke");
        return [cqUmem, late.cqes, reaped(s.stream).length];
      }),
    );
    const stopped = ["rdma/umem.revoke.callback nic0/umem#2", "rdma/umem.unmap nic0/umem#2", "rdma/umem.revoke nic0/umem#2"];
    const ignored = [
      "rdma/umem.revoke.callback nic0/umem#2",
      "rdma/driver.revoke.ignored nic0/umem#2",
      "rdma/umem.unmap nic0/umem#2",
      "rdma/umem.revoke nic0/umem#2",
    ];
    expect(outcomes).toEqual([
      // The correct driver stops the CQ, drains CQE 2, then unmaps: nothing lands after; the user reaps 0 and 1 before MEM goes off.
      [stopped, [], 2],
      // The mutant: MEM never goes off (the MR's revoke waits forever), so CQEs 2 to 7 land, accepted, where the revoked buffer was.
      [ignored, each(2, 7, (i) => `${i} ok`), 8],
      // 32 outstanding: the correct driver's CQ drains CQEs 7 and 8 before the unmap; the user's first poll, queued behind the data, meets MEM off.
      [stopped, [], 0],
      [ignored, each(7, 31, (i) => `${i} ok`), 32],
    ]);
  });
});
