// Goal: L2 stays silent when a close completes, whatever the exports' state before it (usable, or
// revoked by a MEM clear), and fires for E13, whose close after a MEM clear never completes; the
// chain tells the story: the earlier drain, the close, its cleanup, the kref underflow.
import { describe, expect, it } from "vitest";
import { createL2Monitor } from "../../src/check/l2-close-completes.js";
import { feed, handWritten, row } from "./revoke-support.js";
import { EVERY_TRIGGER, vfioRun } from "./revoke-worlds.js";

describe("L2", () => {
  it("is silent when the close completes, after every trigger or right after a MEM clear", () => {
    const runs = [
      vfioRun([createL2Monitor()], {}, EVERY_TRIGGER),
      vfioRun([createL2Monitor()], {}, [
        [1, (d) => d.writeCommandMemory(false)],
        [50, (d) => d.close()],
      ]),
    ];
    expect(runs.map((r) => [r.gpu0.opened, r.violations.map(row)])).toEqual([
      [false, []],
      [false, []],
    ]);
  });

  it("fires for E13: the close after a MEM clear hangs in its second drain", () => {
    const run = vfioRun([createL2Monitor()], { mutants: ["E13"] }, [
      [1, (d) => d.writeCommandMemory(false)],
      [50, (d) => d.close()],
    ]);
    expect(run.violations.map(row)).toEqual([
      [
        "L2",
        "gpu0: the close of the device fd, begun at 50000000 ps, never completed: still open when the run ended at 50000000 ps (0 ps later)",
        null,
        ["vfio/revoke.done", "vfio/close.begin", "vfio/cleanup", "vfio/kref.underflow"],
      ],
    ]);
  });

  it("a close that takes longer than the bound is flagged at the first event past the deadline", () => {
    const ev = handWritten();
    const events = [ev(0, "vfio/close.begin", { device: "gpu0" }), ev(5, "vfio/open", { device: "gpu1" }), ev(20, "vfio/open", { device: "gpu2" })];
    expect(feed(createL2Monitor({ boundPs: 10 }), events)).toEqual([
      ["L2", "gpu0: the close of the device fd, begun at 0 ps, took longer than the bound of 10 ps", null, ["vfio/close.begin"]],
    ]);
  });
});
