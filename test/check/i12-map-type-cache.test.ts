import { describe, expect, it } from "vitest";
import { createI12Monitor } from "../../src/check/i12-map-type-cache.js";
import { ACS_REDIRECT_BITS } from "../../src/pci/acs.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { exportFd, lateImporter, US } from "../vfio/world.js";
import { eventWriter, fabricWorld, feed, kinds, watch, ZEN3 } from "./fabric-worlds.js";

describe("I12: the map-type cache", () => {
  it("stays silent while the cache answers a stale BUS_ADDR after ACS redirect was turned on", () => {
    const w = fabricWorld(oneSwitch(undefined, { platform: ZEN3 }));
    const violations = watch(w.engine, createI12Monitor());
    const gpu0 = w.device("gpu0");
    gpu0.open();
    const { buf } = exportFd(gpu0);
    const importer = lateImporter(w.engine, buf, w.f("nic0"), US);
    for (const fn of w.topology.functions) if (fn.hasAcs) fn.acsCtl |= ACS_REDIRECT_BITS;
    expect(importer.map().ok).toBe(true);
    // A distance computation stores the fresh answer (xa_store), which the next lookup returns.
    w.p2pdma.calc(w.f("gpu0"), w.f("nic0"));
    expect(importer.map().ok).toBe(true);
    const answers = w.trace.events.filter((e) => e.layer === "p2pdma").map((e) => [e.query, e.source, e.stored, e.mapType]);
    expect(answers).toEqual([
      ["map_type", "computed", true, "bus-addr"],
      ["map_type", "cache", false, "bus-addr"],
      ["calc", "computed", true, "thru-host-bridge"],
      ["map_type", "cache", false, "thru-host-bridge"],
    ]);
    expect(violations).toEqual([]);
  });

  it("fires on a cache answer that differs from what was stored, and on a bypassed cache (hand-written: no model mutant reaches it)", () => {
    const ev = eventWriter();
    const answer = (t: number, query: string, source: string, stored: boolean, mapType: string) =>
      ev(
        "p2pdma",
        "map-type",
        {
          provider: "gpu0",
          client: "nic0",
          clientIdx: 0x300,
          query,
          source,
          stored,
          mapType,
          profile: "current",
          commonUpstream: null,
          acsRedirect: null,
          hostBridgeAllowed: null,
        },
        t,
      );
    const violations = feed(createI12Monitor(), [
      answer(0, "map_type", "cache", false, "bus-addr"),
      answer(1, "map_type", "computed", true, "bus-addr"),
      answer(2, "map_type", "cache", false, "thru-host-bridge"),
      answer(3, "map_type", "computed", true, "thru-host-bridge"),
      ev("p2pdma", "teardown", { provider: "gpu0" }, 4),
      answer(5, "map_type", "computed", true, "not-supported"),
      answer(6, "map_type", "cache", false, "not-supported"),
    ]);
    expect(violations.map((v) => [v.invariant, v.timePs, v.message, kinds(v.chain)])).toEqual([
      ["I12", 0, "p2pdma answered bus-addr for gpu0 -> nic0 from its cache, but nothing was stored for that pair", ["p2pdma/map-type"]],
      [
        "I12",
        2,
        "p2pdma's cache answered thru-host-bridge for gpu0 -> nic0, but it stored bus-addr and was never torn down",
        ["p2pdma/map-type", "p2pdma/map-type"],
      ],
      ["I12", 3, "pci_p2pdma_map_type recomputed gpu0 -> nic0 (thru-host-bridge) although its cache holds bus-addr", ["p2pdma/map-type", "p2pdma/map-type"]],
    ]);
  });
});
