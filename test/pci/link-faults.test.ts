/**
 * Link faults in the transport (fabric.ts, link-direction.ts, dma-port.ts), as whole traces on
 * the one-switch machine (Gen4 x16 links, GEN5_SERVER: 50 ns per link, 115 ns per switch,
 * completion timeout 50 µs, Recovery 2 µs):
 * - a retrain to x4: TLPs booked before keep their times, later ones wait for Recovery and then
 *   serialize at the x4 bandwidth;
 * - a link down and up again: TLPs on it are lost (`pci/tlp.lost`), a request heading below the
 *   port is answered UR by the port, reads whose completions were lost end by completion timeout
 *   50 µs after they were sent, holding their tags until then; after the link is up reads complete;
 * - a muted completer: its reads end by completion timeout, its writes land.
 * The L3 monitor watches each run and stays silent.
 */
import { describe, expect, it } from "vitest";
import { createL3Monitor } from "../../src/check/l3-every-tlp-ends.js";
import { us } from "../../src/fabric/time.js";
import { DMA_BUS_TLP_DEFAULTS } from "../../src/pci/dma-bus.js";
import type { DmaOutcome } from "../../src/pci/dma-port.js";
import { tlpBandwidthGbps } from "../../src/pci/pcie-model.js";
import type { PciFunction } from "../../src/pci/topology.js";
import { watch } from "../check/fabric-worlds.js";
import { doneInto, P, world } from "../support/dma-bus.js";

/** A trace event, compactly: time, layer/kind, and what names it (a TLP's kind, address offset and status; a fault event's own fields). */
type Row = [number, string, ...unknown[]];

/** The recorded events as {@link Row}s; addresses relative to `base`. */
function rows(trace: ReturnType<typeof world>["trace"], base: number): Row[] {
  return trace.tuples().map(([t, kind, e]) => {
    const at = (a: unknown) => (a as number) - base;
    if (kind === "pci/tlp") return [t, kind, e.tlp, at(e.address), e.bytes, e.status];
    if (kind === "pci/tlp.lost") return [t, kind, e.tlp, at(e.address), e.bytes, e.link];
    if (kind === "pci/tlp.ur") return [t, kind, e.tlp, at(e.address), e.reason];
    if (kind === "pci/cpl.timeout") return [t, kind, e.tag, at(e.address), e.bytes, e.issuedPs];
    return [t, kind, e];
  });
}

function upstreamOf(fn: PciFunction): PciFunction {
  expect(fn.upstream).toBeDefined();
  return fn.upstream as PciFunction;
}

describe("link-retrain", () => {
  it("x16 → x4 at 0.1 µs: A (booked before) keeps its x16 spacing; B (sent during Recovery) starts after it, at the x4 spacing", () => {
    const { trace, bus, f, engine, run } = world();
    const monitor = createL3Monitor();
    const violations = watch(engine, monitor);
    const nic = bus.port(f("nic0"));
    const done: Array<[string, DmaOutcome, number]> = [];
    const host = 0x1000_0000;
    nic.write(host, 1024, doneInto(done, "A"));
    engine.scheduleAt(us(0.1), () => bus.fabric.retrain(upstreamOf(f("nic0")), 4));
    engine.scheduleAt(us(1), () => nic.write(host + 0x1000, 1024, doneInto(done, "B")));
    run();
    const x4 = tlpBandwidthGbps({ gen: 4, lanes: 4, ...DMA_BUS_TLP_DEFAULTS });
    const P4 = 8000 / x4;
    expect(rows(trace, host)).toEqual([
      [
        100_000,
        "pci/link.retrain",
        { port: "0000:02:02.0", device: "nic0", fromGen: 4, fromWidth: 16, toGen: 4, toWidth: 4, fromGbps: 8000 / P, toGbps: x4, recoveryPs: 2_000_000 },
      ],
      // MWr of 256 B: 280 B on the wire, 9 850.5 ps apart at x16.
      [224_851, "pci/tlp", "MWr", 0, 256, "SC"],
      [234_702, "pci/tlp", "MWr", 256, 256, "SC"],
      [244_552, "pci/tlp", "MWr", 512, 256, "SC"],
      [254_403, "pci/tlp", "MWr", 768, 256, "SC"],
      [2_100_000, "pci/link.trained", { port: "0000:02:02.0", device: "nic0", gen: 4, width: 4, waited: 4 }],
      // B starts at 2.1 µs (0.1 + 2 µs of Recovery) and its TLPs are 280 × 137.6 = 38 527.65 ps apart at x4.
      [2_353_528, "pci/tlp", "MWr", 0x1000, 256, "SC"],
      [2_392_056, "pci/tlp", "MWr", 0x1100, 256, "SC"],
      [2_430_583, "pci/tlp", "MWr", 0x1200, 256, "SC"],
      [2_469_111, "pci/tlp", "MWr", 0x1300, 256, "SC"],
    ]);
    expect(280 * P4).toBeCloseTo(38_527.65, 1);
    // Done when in memory: the last TLP's event time plus the root complex's 120 ns.
    expect(done).toEqual([
      ["A", "ok", 374_403],
      ["B", "ok", 2_589_111],
    ]);
    expect(violations).toEqual([]);
    expect(monitor.end?.(engine.nowPs)).toBeUndefined();
  });
});

describe("link-down", () => {
  it("gpu0's link down 0.45-5.45 µs: completions on it lost, the port answers UR below it, the reads time out 50 µs after they were sent; after it is up a read completes", () => {
    const { trace, bus, f, bar, engine, run } = world();
    const monitor = createL3Monitor();
    const violations = watch(engine, monitor);
    const nic = bus.port(f("nic0"));
    const done: Array<[string, DmaOutcome, number]> = [];
    const base = bar("gpu0", 1).busAddress;
    const port = upstreamOf(f("gpu0"));
    nic.read(base, 2048, doneInto(done, "A"));
    nic.write(base + 0x10000, 1024, doneInto(done, "W"));
    engine.scheduleAt(us(0.45), () => bus.fabric.linkDown(port));
    engine.scheduleAt(us(1), () => nic.read(base + 0x2000, 512, doneInto(done, "B")));
    engine.scheduleAt(us(1), () => nic.write(base + 0x3000, 256, doneInto(done, "W2")));
    engine.scheduleAt(us(5.45), () => bus.fabric.linkUp(port));
    engine.scheduleAt(us(6), () => nic.read(base + 0x4000, 512, doneInto(done, "C")));
    run();
    const up = "0000:02:00.0 up";
    const below = "the link below 0000:02:00.0 is down";
    expect(rows(trace, base)).toEqual([
      [215_845, "pci/tlp", "MRd", 0, 512, "SC"],
      [216_690, "pci/tlp", "MRd", 512, 512, "SC"],
      [217_534, "pci/tlp", "MRd", 1024, 512, "SC"],
      [218_378, "pci/tlp", "MRd", 1536, 512, "SC"],
      [228_229, "pci/tlp", "MWr", 0x10000, 256, "SC"],
      [238_079, "pci/tlp", "MWr", 0x10100, 256, "SC"],
      [247_930, "pci/tlp", "MWr", 0x10200, 256, "SC"],
      [257_780, "pci/tlp", "MWr", 0x10300, 256, "SC"],
      // gpu0 answered at +125 ns; its eight CplDs are on its up link when the link goes down.
      [450_000, "pci/link.down", { port: "0000:02:00.0", device: "gpu0", lost: 8 }],
      ...[0, 256, 512, 768, 1024, 1280, 1536, 1792].map((a): Row => [450_000, "pci/tlp.lost", "CplD", a, 256, up]),
      // B and W2 reach the port above the link that is down: UR; B's UR completion comes back from the port.
      [1_165_000, "pci/tlp.ur", "MRd", 0x2000, below],
      [1_165_845, "pci/tlp.ur", "MWr", 0x3000, below],
      [1_330_704, "pci/tlp", "CplD", 0x2000, 0, "UR"],
      [5_450_000, "pci/link.up", { port: "0000:02:00.0", device: "gpu0", gen: 4, width: 16 }],
      [6_215_845, "pci/tlp", "MRd", 0x4000, 512, "SC"],
      [6_565_555, "pci/tlp", "CplD", 0x4000, 256, "SC"],
      [6_575_265, "pci/tlp", "CplD", 0x4100, 256, "SC"],
      // A's four reads (tags 0-3, sent at 0) end by completion timeout 50 µs later.
      ...[0, 1, 2, 3].map((tag): Row => [50_000_000, "pci/cpl.timeout", tag, tag * 512, 512, 0]),
    ]);
    expect(done).toEqual([
      ["W", "ok", 257_780],
      ["W2", "ur", 1_165_845],
      ["B", "ur", 1_330_704],
      ["C", "ok", 6_575_265],
      ["A", "timeout", 50_000_000],
    ]);
    const links = bus.fabric.allLinks().map((l) => [l.config.name, l.counters.tlpsLost]);
    expect(links.filter(([, lost]) => lost !== 0)).toEqual([[up, 8]]);
    expect(violations).toEqual([]);
    expect(monitor.end?.(engine.nowPs)).toBeUndefined();
  });

  it("holds a read's tag until its timer fires: with the tags used up by lost reads, the next read waits for the timeout", () => {
    const { trace, bus, f, bar, engine, run } = world(undefined, { platform: { ...world().bus.platform, tags: 2 } });
    const nic = bus.port(f("nic0"));
    const done: Array<[string, DmaOutcome, number]> = [];
    const base = bar("gpu0", 1).busAddress;
    const port = upstreamOf(f("gpu0"));
    nic.read(base, 1024, doneInto(done, "A"));
    engine.scheduleAt(us(0.3), () => bus.fabric.linkDown(port));
    engine.scheduleAt(us(0.4), () => bus.fabric.linkUp(port));
    engine.scheduleAt(us(1), () => nic.read(base + 0x1000, 256, doneInto(done, "B")));
    run();
    expect(done).toEqual([
      ["A", "timeout", 50_000_000],
      ["B", "ok", 50_565_555],
    ]);
    expect(rows(trace, base).filter(([, kind]) => kind === "pci/cpl.timeout")).toEqual([
      [50_000_000, "pci/cpl.timeout", 0, 0, 512, 0],
      [50_000_000, "pci/cpl.timeout", 1, 512, 512, 0],
    ]);
  });
});

describe("link-down twice before the first losses' arrival times", () => {
  it("loses each TLP once: the second down loses only what was sent after the link came up; lost writes end their operations `lost`", () => {
    const { trace, bus, f, engine, run } = world();
    const nic = bus.port(f("nic0"));
    const done: Array<[string, DmaOutcome, number]> = [];
    const port = upstreamOf(f("nic0"));
    nic.write(0x1000_0000, 2048, doneInto(done, "A"));
    engine.scheduleAt(us(0.05), () => bus.fabric.linkDown(port));
    engine.scheduleAt(us(0.06), () => bus.fabric.linkUp(port));
    engine.scheduleAt(us(0.07), () => nic.write(0x2000_0000, 256, doneInto(done, "B")));
    engine.scheduleAt(us(0.08), () => bus.fabric.linkDown(port));
    run();
    const lost = trace.tuples().filter(([, kind]) => kind.startsWith("pci/link.") || kind === "pci/tlp.lost");
    expect(lost.map(([t, kind, e]) => [t, kind, e.lost ?? e.address])).toEqual([
      [50_000, "pci/link.down", 8],
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => [50_000, "pci/tlp.lost", 0x1000_0000 + i * 256]),
      [60_000, "pci/link.up", undefined],
      [80_000, "pci/link.down", 1],
      [80_000, "pci/tlp.lost", 0x2000_0000],
    ]);
    expect(done).toEqual([
      ["A", "lost", 50_000],
      ["B", "lost", 80_000],
    ]);
    const link = bus.fabric.allLinks().find((l) => l.config.name === "0000:02:02.0 up");
    expect(link && [link.counters.tlpsSent, link.counters.tlpsDelivered, link.counters.tlpsLost]).toEqual([9, 0, 9]);
    // Nothing reached the end of its route.
    expect(trace.tuples().filter(([, kind]) => kind === "pci/tlp")).toEqual([]);
  });
});

describe("completion-timeout (a muted completer)", () => {
  it("gpu0 muted: its read ends by timeout 50 µs after it was sent, a write lands; unmuted, a read completes", () => {
    const { trace, bus, f, bar, engine, run } = world();
    const monitor = createL3Monitor();
    const violations = watch(engine, monitor);
    const nic = bus.port(f("nic0"));
    const done: Array<[string, DmaOutcome, number]> = [];
    const base = bar("gpu0", 1).busAddress;
    bus.fabric.mutedCompleters.add(f("gpu0"));
    nic.read(base, 256, doneInto(done, "A"));
    nic.write(base + 0x1000, 256, doneInto(done, "W"));
    engine.scheduleAt(us(10), () => bus.fabric.mutedCompleters.delete(f("gpu0")));
    engine.scheduleAt(us(11), () => nic.read(base + 0x2000, 256, doneInto(done, "B")));
    run();
    expect(rows(trace, base)).toEqual([
      [215_845, "pci/tlp", "MRd", 0, 256, "SC"],
      [225_696, "pci/tlp", "MWr", 0x1000, 256, "SC"],
      [11_215_845, "pci/tlp", "MRd", 0x2000, 256, "SC"],
      [11_565_555, "pci/tlp", "CplD", 0x2000, 256, "SC"],
      [50_000_000, "pci/cpl.timeout", 0, 0, 256, 0],
    ]);
    expect(done).toEqual([
      ["W", "ok", 225_696],
      ["B", "ok", 11_565_555],
      ["A", "timeout", 50_000_000],
    ]);
    expect(violations).toEqual([]);
    expect(monitor.end?.(engine.nowPs)).toBeUndefined();
  });
});
