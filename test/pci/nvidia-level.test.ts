import { describe, expect, it } from "vitest";
import { nvidiaSmiLevel } from "../../src/pci/nvidia-level.js";
import type { Topology } from "../../src/pci/topology.js";
import { ep, hb, machine, pciBridge, pciSwitch, pick, rootPort } from "../support/topologies.js";

/**
 *   hb0 (NUMA 0) ─ rp0 ─ s1 ─┬─ s1.d0 ─ gpu0 (00.0), gpu0audio (00.1)
 *                  │          ├─ s1.d1 ─ gpu1
 *                  │          ├─ s1.d2 ─ s2 ─ s2.d0 ─ nic0
 *                  │          └─ s1.d3 ─ br1 (PCI bridge) ─ legacy2
 *               ─ rp1 ─┬─ gpu2
 *                  │    └─ s3 ─ s3.d0 ─ nic1
 *               ─ rp2 ─ br0 (PCI bridge) ─┬─ legacy0
 *                  │                       └─ legacy1
 *               ─ rciep (on the root bus)
 *   hb1 (NUMA 0) ─ rp3 ─ gpu3
 *   hb2 (NUMA 1) ─ rp4 ─ gpu4
 */
function levelsMachine(): Topology {
  return machine([
    hb(
      [
        rootPort("rp0", [
          pciSwitch("s1", [
            [ep("gpu0"), ep("gpu0audio", { function: 1 })],
            [ep("gpu1")],
            [pciSwitch("s2", [[ep("nic0")]])],
            [pciBridge("br1", [ep("legacy2")])],
          ]),
        ]),
        rootPort("rp1", [ep("gpu2"), pciSwitch("s3", [[ep("nic1")]])]),
        rootPort("rp2", [pciBridge("br0", [ep("legacy0"), ep("legacy1")])]),
        ep("rciep"),
      ],
      { numaNode: 0 },
    ),
    hb([rootPort("rp3", [ep("gpu3")])], { numaNode: 0 }),
    hb([rootPort("rp4", [ep("gpu4")])], { numaNode: 1 }),
  ]);
}

describe("nvidiaSmiLevel", () => {
  it("gives the nvidia-smi topo -m level of every listed pair, the same both ways", () => {
    const t = levelsMachine();
    const pairs: Array<[string, string, string]> = [
      ["gpu0", "gpu0", "X"],
      ["gpu0", "gpu0audio", "PIX"],
      ["gpu0", "gpu1", "PIX"],
      ["gpu0", "nic0", "PXB"],
      ["gpu1", "nic0", "PXB"],
      ["gpu1", "legacy2", "PXB"],
      ["gpu2", "nic1", "PIX"],
      ["legacy0", "legacy1", "PIX"],
      ["gpu0", "gpu2", "PHB"],
      ["nic0", "nic1", "PHB"],
      ["gpu2", "legacy0", "PHB"],
      ["gpu2", "rciep", "PHB"],
      ["gpu0", "gpu3", "NODE"],
      ["rciep", "gpu3", "NODE"],
      ["gpu0", "gpu4", "SYS"],
      ["gpu3", "gpu4", "SYS"],
    ];
    const level = (a: string, b: string) => nvidiaSmiLevel(pick(t, a), pick(t, b));
    expect(pairs.map(([a, b]) => [a, b, level(a, b), level(b, a)])).toEqual(pairs.map(([a, b, expected]) => [a, b, expected, expected]));
  });
});
