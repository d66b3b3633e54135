// Goal: L1 stays silent when every revoke completes (every trigger, both profiles; the RDMA world
// with a correct driver) and fires for the driver mutant invalidateIgnored (the MR is never
// unmapped, the revoke never completes) and for E13 (close's second drain waits forever), at the
// end of the run; a bound shorter than nic0's 8 µs unmap makes a completing revoke late.
import { describe, expect, it } from "vitest";
import { createL1Monitor } from "../../src/check/l1-revoke-completes.js";
import { us } from "../../src/fabric/time.js";
import { dataIssued } from "../rdma/nic-revoke-support.js";
import { row } from "./revoke-support.js";
import { EVERY_TRIGGER, rdmaRun, vfioRun } from "./revoke-worlds.js";

const CLOSE_AFTER_MEM_OFF = [
  [1, (d) => d.writeCommandMemory(false)],
  [50, (d) => d.close()],
] as const satisfies ReadonlyArray<readonly [number, (d: import("../../src/vfio/vfio-pci-device.js").VfioPciDevice) => unknown]>;

describe("L1", () => {
  it("is silent when every revoke completes", () => {
    const runs = [
      vfioRun([createL1Monitor()], {}, EVERY_TRIGGER),
      vfioRun([createL1Monitor()], { profile: "vfio-dmabuf-initial" }, EVERY_TRIGGER),
      vfioRun([createL1Monitor()], {}, CLOSE_AFTER_MEM_OFF),
      rdmaRun([createL1Monitor()], {}, dataIssued(2)),
    ];
    expect(runs.map((r) => r.violations.map(row))).toEqual([[], [], [], []]);
  });

  it("fires for invalidateIgnored: the MR stays mapped and the revoke is still open when the run ends", () => {
    const run = rdmaRun([createL1Monitor()], { mutants: { invalidateIgnored: true } }, dataIssued(2));
    expect([run.status, run.violations.map(row)]).toEqual([
      "quiet",
      [
        [
          "L1",
          "gpu0 gpu0/bar1#0: the revoke, begun at 11296369 ps, never completed: still open when the run ended at 33250846 ps (21954477 ps later)",
          null,
          ["vfio/revoke", "dmabuf/revoke.begin", "dmabuf/revoke.marked", "dmabuf/invalidate", "dmabuf/revoke.fences-signaled"],
        ],
      ],
    ]);
  });

  it("fires for E13: close's cleanup drains again, underflows the kref and never completes", () => {
    const run = vfioRun([createL1Monitor()], { mutants: ["E13"] }, CLOSE_AFTER_MEM_OFF);
    expect(run.violations.map(row)).toEqual([
      [
        "L1",
        "gpu0 gpu0/bar1#0: close's revoke (cleanup), begun at 50000000 ps, never completed: still open when the run ended at 50000000 ps (0 ps later)",
        null,
        ["vfio/cleanup", "dmabuf/invalidate", "vfio/kref.underflow"],
      ],
    ]);
  });

  it("with a bound of 5 µs, the revoke that waits 8 µs for nic0's unmap is late: flagged at the first event past its deadline (nic0's unmap at 9 µs), timed at the deadline (6 µs)", () => {
    const run = vfioRun([createL1Monitor({ boundPs: us(5) })], {}, [[1, (d) => d.writeCommandMemory(false)]]);
    expect(run.violations.map((v) => v.timePs)).toEqual([us(6)]);
    expect(run.violations.map(row)).toEqual([
      [
        "L1",
        "gpu0 gpu0/bar1#0: the revoke, begun at 1000000 ps, took longer than the bound of 5000000 ps",
        null,
        ["vfio/revoke", "dmabuf/revoke.begin", "dmabuf/revoke.marked", "dmabuf/invalidate", "dmabuf/revoke.fences-signaled"],
      ],
    ]);
  });
});
