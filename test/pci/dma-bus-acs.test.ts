/**
 * An ACS Control write at run time on the DMA bus [kernel.md §a.3, §a.7]: the compiled routes it
 * changes are recompiled (RR on the requester's ingress port sends its peer-to-peer requests up
 * to the root complex), TLPs in flight finish on their old path, and the root complex forwards
 * the redirected bus address to the BAR without an IOMMU or translates it as an IOVA (and blocks
 * it) with one.
 */
import { describe, expect, it } from "vitest";
import { ACS_CR, ACS_EC, ACS_RR, ACS_SV, acsBits, acsCtlWrite } from "../../src/pci/acs.js";
import type { DmaOutcome } from "../../src/pci/dma-port.js";
import { Iommu } from "../../src/pci/iommu.js";
import { describeRoute } from "../../src/pci/route.js";
import type { PciFunction } from "../../src/pci/topology.js";
import { doneInto, world } from "../support/dma-bus.js";

describe("acsCtlWrite: the ACS Control register", () => {
  const cases = [
    {
      name: "set RR CR EC on a port that implements them",
      cap: acsBits(["SV", "RR", "CR", "UF", "EC"]),
      has: true,
      old: 0,
      set: ACS_RR | ACS_CR | ACS_EC,
      clear: 0,
    },
    { name: "set then clear (clear wins)", cap: acsBits(["SV", "RR", "CR", "UF", "EC"]), has: true, old: ACS_SV, set: ACS_RR, clear: ACS_RR | ACS_SV },
    { name: "a bit the port does not implement stays 0", cap: acsBits(["SV", "RR"]), has: true, old: 0, set: ACS_RR | ACS_EC, clear: 0 },
    { name: "no ACS capability: no register", cap: 0, has: false, old: 0, set: ACS_RR, clear: 0 },
  ];
  it("table: old, set, clear → new and ignored bits", () => {
    const rows = cases.map(({ name, cap, has, old, set, clear }) => {
      const fn = { acsCtl: old, acsCap: cap, hasAcs: has };
      const w = acsCtlWrite(fn, set, clear);
      return [name, w.old, w.new, w.ignored, fn.acsCtl];
    });
    expect(rows).toEqual([
      ["set RR CR EC on a port that implements them", 0, ACS_RR | ACS_CR | ACS_EC, 0, ACS_RR | ACS_CR | ACS_EC],
      ["set then clear (clear wins)", ACS_SV, 0, 0, 0],
      ["a bit the port does not implement stays 0", 0, ACS_RR, ACS_EC, ACS_RR],
      ["no ACS capability: no register", 0, 0, ACS_RR, 0],
    ]);
  });
});

describe("DmaBus.writeAcsCtl", () => {
  it("recompiles exactly the routes RR on nic0's port changes: the route table before and after", () => {
    const { bus, f, bar, trace } = world();
    const nic = f("nic0");
    const gpu = f("gpu0");
    const routes = () => [
      bus.route(nic, { kind: "bar", fn: gpu, bar: bar("gpu0", 1) }),
      bus.route(nic, { kind: "bar", fn: f("gpu1"), bar: bar("gpu1", 1) }),
      bus.route(nic, { kind: "host-memory", numaNode: 0 }),
      bus.route(gpu, { kind: "bar", fn: nic, bar: bar("nic0", 0) }),
      bus.route(undefined, { kind: "bar", fn: gpu, bar: bar("gpu0", 1) }),
    ];
    const table = () => routes().map((r) => `${r.requester?.label ?? "cpu"} → ${r.targetName}: ${describeRoute(r.hops.request)}`);
    const before = table();
    const objects = routes();
    const port = nic.upstream;
    if (port === undefined) throw new Error("nic0 has a port");
    const write = bus.writeAcsCtl(port, ACS_RR | ACS_CR | ACS_EC, 0);
    expect([write.old, write.new, write.rerouted.map((r) => r.targetName)]).toEqual([0, ACS_RR | ACS_CR | ACS_EC, ["gpu0 BAR1", "gpu1 BAR1"]]);
    // The same route objects (a requester's remembered routes follow), with new paths.
    expect(routes().every((r, i) => r === objects[i])).toBe(true);
    const p = port.id;
    const usp = port.upstream?.id;
    const rp = port.upstream?.upstream?.id;
    const dsp = (name: string) => f(name).upstream?.id;
    expect([before, table()]).toEqual([
      [
        `nic0 → gpu0 BAR1: link ${p} up · switch ${usp} (${p} → ${dsp("gpu0")}) · link ${dsp("gpu0")} down`,
        `nic0 → gpu1 BAR1: link ${p} up · switch ${usp} (${p} → ${dsp("gpu1")}) · link ${dsp("gpu1")} down`,
        `nic0 → host memory: link ${p} up · switch ${usp} (${p} → ${usp}) · link ${rp} up · root complex hb0`,
        `gpu0 → nic0 BAR0: link ${dsp("gpu0")} up · switch ${usp} (${dsp("gpu0")} → ${p}) · link ${p} down`,
        `cpu → gpu0 BAR1: root complex hb0 · link ${rp} down · switch ${usp} (${usp} → ${dsp("gpu0")}) · link ${dsp("gpu0")} down`,
      ],
      [
        `nic0 → gpu0 BAR1: link ${p} up · switch ${usp} (${p} → ${usp}) · link ${rp} up · root complex hb0 · link ${rp} down · switch ${usp} (${usp} → ${dsp("gpu0")}) · link ${dsp("gpu0")} down`,
        `nic0 → gpu1 BAR1: link ${p} up · switch ${usp} (${p} → ${usp}) · link ${rp} up · root complex hb0 · link ${rp} down · switch ${usp} (${usp} → ${dsp("gpu1")}) · link ${dsp("gpu1")} down`,
        `nic0 → host memory: link ${p} up · switch ${usp} (${p} → ${usp}) · link ${rp} up · root complex hb0`,
        // RR on nic0's port redirects what enters there, not what leaves: gpu0's requests still turn in the switch.
        `gpu0 → nic0 BAR0: link ${dsp("gpu0")} up · switch ${usp} (${dsp("gpu0")} → ${p}) · link ${p} down`,
        `cpu → gpu0 BAR1: root complex hb0 · link ${rp} down · switch ${usp} (${usp} → ${dsp("gpu0")}) · link ${dsp("gpu0")} down`,
      ],
    ]);
    const events = trace.events.filter((e) => e.layer === "pci" && (e.kind === "acs.ctl" || e.kind === "route.changed"));
    expect(events.map(({ kind, ...rest }) => [kind, rest.port ?? rest.target, rest.new ?? rest.throughRootComplex, rest.rerouted ?? null])).toEqual([
      ["acs.ctl", p, ["RR", "CR", "EC"], 2],
      ["route.changed", "gpu0 BAR1", true, null],
      ["route.changed", "gpu1 BAR1", true, null],
    ]);
    // Clearing the bits again restores the switch-local routes; writing what is there changes nothing.
    expect(bus.writeAcsCtl(port, 0, ACS_RR | ACS_CR | ACS_EC).rerouted).toHaveLength(2);
    expect(table()).toEqual(before);
    expect(bus.writeAcsCtl(port, 0, ACS_RR).rerouted).toEqual([]);
  });

  /** nic0 writes 64 B to gpu0 BAR1's bus address at 0, RR is set on nic0's port at 1 ps, nic0 writes again at 1 µs. */
  function redirectRun(withIommu: boolean) {
    const iommu = withIommu ? new Iommu() : undefined;
    const w = world(undefined, iommu ? { iommu } : {});
    const { bus, f, bar, engine } = w;
    const sent: Array<[string, number]> = [];
    bus.fabric.observeLinks({ sent: (link, tlp) => sent.push([link.config.name, tlp.address]) });
    const base = bar("gpu0", 1).busAddress;
    const done: Array<[string, DmaOutcome, number]> = [];
    const port = bus.port(f("nic0"));
    port.write(base, 64, doneInto(done, "before"));
    engine.scheduleAt(1, () => bus.writeAcsCtl(f("nic0").upstream as PciFunction, ACS_RR, 0));
    engine.scheduleAt(1_000_000, () => port.write(base + 0x40, 64, doneInto(done, "after")));
    w.run();
    const links = (address: number) => sent.filter(([, a]) => a === address).map(([name]) => name);
    const events = w.trace.events
      .filter((e) => e.layer === "pci")
      .map(
        (e) => `${e.kind} ${e.kind === "tlp" ? `${e.tlp} ${e.target} ${e.status}` : e.kind === "iommu.fault" ? `${e.tlp} ${e.fault}` : (e.port ?? e.target)}`,
      );
    return { done: done.map(([l, o]) => [l, o]), before: links(base), after: links(base + 0x40), events };
  }

  it("no IOMMU: the TLP in flight turns in the switch; the next climbs to the root complex, which forwards it down to the BAR", () => {
    const r = redirectRun(false);
    expect(r.done).toEqual([
      ["before", "ok"],
      ["after", "ok"],
    ]);
    expect(r).toEqual({
      done: [
        ["before", "ok"],
        ["after", "ok"],
      ],
      // In flight when the bits changed: keeps its switch-local path.
      before: ["0000:02:02.0 up", "0000:02:00.0 down"],
      after: ["0000:02:02.0 up", "0000:00:01.0 up", "0000:00:01.0 down", "0000:02:00.0 down"],
      events: ["acs.ctl 0000:02:02.0", "route.changed gpu0 BAR1", "tlp MWr gpu0 BAR1 SC", "tlp MWr gpu0 BAR1 SC"],
    });
  });

  it("IOMMU on: the redirected bus address is translated as an IOVA at the root complex and blocked", () => {
    const r = redirectRun(true);
    expect(r.done).toEqual([
      ["before", "ok"],
      ["after", "iommu-fault"],
    ]);
    expect(r).toEqual({
      done: [
        ["before", "ok"],
        ["after", "iommu-fault"],
      ],
      before: ["0000:02:02.0 up", "0000:02:00.0 down"],
      // Up to the root complex, where the IOMMU finds no IOVA at the bus address: the write is lost.
      after: ["0000:02:02.0 up", "0000:00:01.0 up"],
      events: ["acs.ctl 0000:02:02.0", "route.changed gpu0 BAR1", "tlp MWr gpu0 BAR1 SC", "iommu.fault MWr unmapped"],
    });
  });
});
