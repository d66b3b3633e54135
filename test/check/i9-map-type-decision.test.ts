import { describe, expect, it } from "vitest";
import { createI9Monitor, expectedMapType } from "../../src/check/i9-map-type-decision.js";
import { Engine } from "../../src/fabric/engine.js";
import { ACS_CR, ACS_EC, ACS_RR, acsCtlWrite } from "../../src/pci/acs.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { P2pdma } from "../../src/pci/p2pdma.js";
import { fn, machine } from "../support/build.js";
import { exportFd, lateImporter, US } from "../vfio/world.js";
import { eventWriter, fabricWorld, feed, kinds, watch, ZEN3 } from "./fabric-worlds.js";

/** gpu0 exports BAR1 and nic0 maps it, on `spec` under `profile`. */
function mapOnce(spec: Parameters<typeof fabricWorld>[0], profile: Parameters<typeof fabricWorld>[1]) {
  const w = fabricWorld(spec, profile);
  const violations = watch(w.engine, createI9Monitor());
  const gpu0 = w.device("gpu0");
  gpu0.open();
  const { buf } = exportFd(gpu0);
  let mapped: boolean;
  try {
    lateImporter(w.engine, buf, w.f("nic0"), US);
    mapped = true;
  } catch {
    mapped = false;
  }
  const decisions = w.trace.events.filter((e) => e.layer === "p2pdma").map((e) => [e.provider, e.client, e.source, e.mapType]);
  return { violations, decisions, mapped };
}

describe("I9: map type decision", () => {
  it("table: the current rules from the walk's facts", () => {
    expect(
      [
        ["0000:02:00.0", [], true],
        ["0000:02:00.0", [], false],
        ["0000:02:00.0", ["0000:03:00.0"], true],
        ["0000:02:00.0", ["0000:03:00.0"], false],
        [null, [], true],
        [null, [], false],
      ].map(([c, r, a]) => expectedMapType(c as string | null, r as string[], a as boolean)),
    ).toEqual(["bus-addr", "bus-addr", "thru-host-bridge", "not-supported", "thru-host-bridge", "not-supported"]);
  });

  it("stays silent on the current kernel: BUS_ADDR below the switch, THRU_HOST_BRIDGE with ACS redirect on Zen", () => {
    const plain = mapOnce(oneSwitch(), "current");
    expect(plain).toEqual({ violations: [], decisions: [["gpu0", "nic0", "computed", "bus-addr"]], mapped: true });
    const redirect = mapOnce(oneSwitch(undefined, { acsRedirect: true, platform: ZEN3 }), "current");
    expect(redirect).toEqual({ violations: [], decisions: [["gpu0", "nic0", "computed", "thru-host-bridge"]], mapped: true });
  });

  it("fires under profile p2pdma-v4.20 (E26): an ACS redirect below the switch is rejected where Zen forwards it", () => {
    const run = mapOnce(oneSwitch(undefined, { acsRedirect: true, platform: ZEN3 }), "p2pdma-v4.20");
    expect(run.mapped).toBe(false);
    expect(run.violations).toHaveLength(1);
    const v = run.violations[0];
    expect(v?.invariant).toBe("I9");
    expect(v?.message).toMatch(
      /^p2pdma \(p2pdma-v4\.20\) answered NOT_SUPPORTED for gpu0 -> nic0, but with common upstream \S+, ACS redirect on \S+, \S+ and the host bridge forwards P2P the answer is THRU_HOST_BRIDGE$/,
    );
    expect(`${v?.event?.layer}/${v?.event?.kind}`).toBe("p2pdma/map-type");
    expect(kinds(v?.chain ?? [])).toEqual(["p2pdma/map-type"]);
  });

  it("fires on a NOT_SUPPORTED answer whose map succeeded or failed otherwise (hand-written: no model mutant reaches it)", () => {
    const ev = eventWriter();
    const ns = (t: number) =>
      ev(
        "p2pdma",
        "map-type",
        {
          provider: "gpu0",
          client: "nic0",
          clientIdx: 8,
          query: "map_type",
          source: "cache",
          stored: false,
          mapType: "not-supported",
          profile: "current",
          commonUpstream: null,
          acsRedirect: null,
          hostBridgeAllowed: null,
        },
        t,
      );
    const map = ev("dmabuf", "map", { buf: "gpu0/bar1#0", attach: 1, importer: "nic0", nents: 1, bytes: 4096 }, 1);
    const violations = feed(createI9Monitor(), [
      ns(0),
      map,
      ns(2),
      ev("dmabuf", "map.refused", { buf: "gpu0/bar1#0", attach: 1, importer: "nic0", errno: "EINVAL" }, 2),
    ]);
    expect(violations.map((v) => [v.invariant, v.timePs, v.message, kinds(v.chain)])).toEqual([
      [
        "I9",
        1,
        "map of gpu0/bar1#0 for nic0 succeeded although p2pdma answered NOT_SUPPORTED for gpu0 -> nic0: it must fail with EINVAL",
        ["p2pdma/map-type", "dmabuf/map"],
      ],
    ]);
  });
});

describe("I9 across an ACS change at run time (kernel.md §a.6)", () => {
  it("judges each decision against the bits the walk read when it was computed, never a cached answer against today's bits", () => {
    const topology = machine(oneSwitch(undefined, { platform: ZEN3 }));
    const engine = new Engine({ seed: 1 });
    const violations = watch(engine, createI9Monitor());
    const p2pdma = new P2pdma(topology, "current");
    p2pdma.trace = engine.trace;
    const [gpu, nic] = [fn(topology, "gpu0"), fn(topology, "nic0")];
    const answers = [p2pdma.mapType(gpu, nic)];
    acsCtlWrite(nic.upstream as NonNullable<typeof nic.upstream>, ACS_RR | ACS_CR | ACS_EC, 0);
    // The faithful kernel's stale BUS_ADDR (cache), then a distance computation over the new bits.
    answers.push(p2pdma.mapType(gpu, nic), p2pdma.calc(gpu, nic).mapType);
    expect([answers, violations]).toEqual([["bus-addr", "bus-addr", "thru-host-bridge"], []]);
  });
});
