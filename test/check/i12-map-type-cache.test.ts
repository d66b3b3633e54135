import { describe, expect, it } from "vitest";
import { createI12Monitor } from "../../src/check/i12-map-type-cache.js";
import { Engine } from "../../src/fabric/engine.js";
import { ACS_REDIRECT_BITS, acsCtlWrite } from "../../src/pci/acs.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { P2pdma } from "../../src/pci/p2pdma.js";
import { fn, machine } from "../support/build.js";
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

describe("I12 against the mutant that refreshes the cache on an ACS change", () => {
  /** gpu0 → nic0 looked up, ACS redirect set on nic0's port (p2pdma told, as the mutant would be), looked up again. */
  function run(refreshOnAcsChange: boolean) {
    const topology = machine(oneSwitch(undefined, { platform: ZEN3 }));
    const engine = new Engine({ seed: 1 });
    const violations = watch(engine, createI12Monitor());
    const p2pdma = new P2pdma(topology, "current", { refreshOnAcsChange });
    p2pdma.trace = engine.trace;
    const [gpu, nic] = [fn(topology, "gpu0"), fn(topology, "nic0")];
    const port = nic.upstream as NonNullable<typeof nic.upstream>;
    p2pdma.mapType(gpu, nic);
    acsCtlWrite(port, ACS_REDIRECT_BITS, 0);
    p2pdma.acsChanged(port);
    p2pdma.mapType(gpu, nic);
    return violations.map((v) => [v.invariant, v.message, kinds(v.chain)]);
  }

  it("the faithful cache keeps its answer: silent", () => {
    expect(run(false)).toEqual([]);
  });

  it("the refreshed cache recomputes a pair it held, with no teardown: I12 fires", () => {
    expect(run(true)).toEqual([
      ["I12", "pci_p2pdma_map_type recomputed gpu0 -> nic0 (thru-host-bridge) although its cache holds bus-addr", ["p2pdma/map-type", "p2pdma/map-type"]],
    ]);
  });
});
