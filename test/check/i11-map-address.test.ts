import { describe, expect, it } from "vitest";
import { createI11Monitor } from "../../src/check/i11-map-address.js";
import { eventWriter, feed, kinds } from "./fabric-worlds.js";
import { realMap } from "./sg-map-events.js";

describe("I11: mapping addresses", () => {
  it("stays silent on the model's BUS_ADDR mapping of a BAR with its own bus offset", () => {
    const map = realMap();
    expect(map.mapKind).toBe("bus-addr");
    expect(feed(createI11Monitor(), [map])).toEqual([]);
  });

  it("fires under mutant E27: BAR1 mapped with BAR0's bus offset", () => {
    const map = realMap({ mutants: ["E27"] });
    const [v, ...rest] = feed(createI11Monitor(), [map]);
    expect(rest).toEqual([]);
    expect(v?.invariant).toBe("I11");
    expect(v?.message).toMatch(
      /^map of gpu0\/bar1#0 for nic0: sg entry 0 is at 0x[0-9a-f]+ where 0x[0-9a-f]+ was expected \(BUS_ADDR must be CPU physical \+ the BAR's bus offset 0x1000000000\)$/,
    );
    expect(kinds(v?.chain ?? [])).toEqual(["dmabuf/map"]);
  });

  it("fires when an IOMMU fault hits a live BUS_ADDR mapping, and not after its unmap (hand-written)", () => {
    const ev = eventWriter();
    const map = ev("dmabuf", "map", {
      buf: "gpu0/bar1#0",
      attach: 1,
      importer: "nic0",
      nents: 1,
      bytes: 0x2000,
      sg: [[0x1_0000_0000, 0x2000]],
      ranges: [[0x1_0000_0000, 0x2000]],
      mapKind: "bus-addr",
      barCpuAddress: 0x1_0000_0000,
      barBusAddress: 0x1_0000_0000,
    });
    const fault = (t: number) => ev("pci", "iommu.fault", { requester: "nic0", tlp: "MWr", iova: 0x1_0000_1000, fault: "not-present" }, t);
    const unmap = ev("dmabuf", "unmap", { buf: "gpu0/bar1#0", attach: 1, importer: "nic0" }, 2);
    const violations = feed(createI11Monitor(), [map, fault(1), unmap, fault(3)]);
    expect(violations.map((v) => [v.invariant, v.timePs, v.message, kinds(v.chain)])).toEqual([
      [
        "I11",
        1,
        "nic0 MWr at bus address 0x100001000 of its BUS_ADDR mapping of gpu0/bar1#0 went through the IOMMU (not-present)",
        ["dmabuf/map", "pci/iommu.fault"],
      ],
    ]);
  });
});
