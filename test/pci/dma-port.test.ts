/**
 * A requester on the DMA bus: cutting into TLPs [pcie-timing.md §2], tags, timing hop by hop
 * [pcie-timing.md §3.2, §5], the route of each TLP as the page table stands when it is issued,
 * and misuse. What reached the end of its route is read from the recorded `pci/tlp` events.
 *
 * Every switch crossing on the bus is an event (the fabric's `express: false`), and the engine's
 * clock counts whole picoseconds: a TLP handed over at a fractional time crosses the switch at the
 * next whole picosecond, so times pinned here are up to 1 ps per switch later than the fractional
 * sums of serializations and latencies.
 */
import { describe, expect, it } from "vitest";
import { oneSwitch } from "../../src/pci/builders.js";
import type { DmaBusOptions } from "../../src/pci/dma-bus.js";
import type { DmaOutcome } from "../../src/pci/dma-port.js";
import { Iommu } from "../../src/pci/iommu.js";
import { GEN5_SERVER } from "../../src/pci/perf-platform.js";
import { doneInto, landings, P, world } from "../support/dma-bus.js";

describe("a BUS_ADDR write then read on the one-switch machine (GEN5_SERVER)", () => {
  it("lands each TLP at the time the links and the switch give, and says done once at the last one", () => {
    const { trace, bus, f, bar, run } = world();
    const base = bar("gpu0", 1).busAddress;
    const nic = bus.port(f("nic0"));
    const done: Array<[string, DmaOutcome, number]> = [];
    nic.write(base, 512, (outcome, at) => {
      done.push(["write", outcome, at]);
      nic.read(base, 256, doneInto(done, "read"));
    });
    run();
    // Gen4 x16, MPS 256: R = 16 GT/s × 16 × 128/130 = 252.06 Gb/s; A = F = 168 (dllp-limits), so
    // T = R × (1 − 8/168 − 8/168 − 4/1538) = 227.40 Gb/s, P = 8000 / T = 35.180 ps per byte.
    // Hops: link nic0 → switch (50 ns), cut-through switch (115 ns), link switch → gpu0 (50 ns).
    // A TLP is handed to the switch 50 + 115 ns after it starts (an event, at a whole ps), then
    // serializes on the egress. MWr 256 B = 16 + 256 + 8 = 280 B on the wire, 9 850.5 ps:
    //   #1 crosses at 165 000 and lands at 165 000 + 9 850.5 + 50 000 = 224 850.5 → 224 851;
    //   #2 starts 9 850.5 ps later on the first link, crosses at 174 850.5 → 174 851 (the egress
    //   is free from 174 850.5) and lands at 174 851 + 9 850.5 + 50 000 → 234 702.
    // MRd (24 B, 844.3 ps) issued at 234 702 crosses at 399 702 and lands at 399 702 + 844.3 + 50 000 → 450 547;
    // the BAR answers 125 ns later (575 547) with one CplD of 276 B (9 709.8 ps): 575 547 + 215 000 + 9 709.8 → 800 257.
    // (With the switch crossed without an event, the old fast path, #2, the MRd and the CplD came 1 ps earlier.)
    expect(P).toBeCloseTo(35.18028, 5);
    const bus1 = "gpu0 BAR1";
    expect(landings(trace)).toEqual([
      [224_851, "MWr", base, 256, bus1, "SC"],
      [234_702, "MWr", base + 256, 256, bus1, "SC"],
      [450_547, "MRd", base, 256, bus1, "SC"],
      [800_257, "CplD", base, 256, bus1, "SC"],
    ]);
    expect(done).toEqual([
      ["write", "ok", 234_702],
      ["read", "ok", 800_257],
    ]);
    expect(nic.inFlight).toBe(0);
  });
});

describe("cutting into TLPs (pcie-timing.md §2)", () => {
  it("cuts a write at MPS and at the 4 KiB boundary", () => {
    const { bus, f, bar, run } = world();
    const got: Array<[number, number]> = [];
    bus.onMmioWrite(f("gpu0"), 1, (offset, bytes) => got.push([offset, bytes]));
    bus.port(f("nic0")).write(bar("gpu0", 1).busAddress + 4096 - 100, 1000);
    run();
    // 100 B up to the 4 KiB boundary, then whole MPS pieces, then the rest: 100 + 3 × 256 + 132.
    expect(got).toEqual([
      [3996, 100],
      [4096, 256],
      [4352, 256],
      [4608, 256],
      [4864, 132],
    ]);
  });

  /** `[kind, offset in gpu0 BAR1, bytes]` of every TLP of one read by nic0. */
  function readTlps(tlp: DmaBusOptions["tlp"], offset: number, bytes: number): Array<[string, number, number]> {
    const { trace, bus, f, bar, run } = world(oneSwitch(), tlp ? { tlp } : {});
    const base = bar("gpu0", 1).busAddress;
    const done: Array<[string, DmaOutcome, number]> = [];
    bus.port(f("nic0")).read(base + offset, bytes, doneInto(done, "read"));
    run();
    expect(done.map(([, outcome]) => outcome)).toEqual(["ok"]);
    return landings(trace).map(([, kind, address, n]) => [kind, address - base, n]);
  }
  const count = (tlps: Array<[string, number, number]>, kind: string) => tlps.filter(([k]) => k === kind).map(([, , n]) => n);

  it("asks for a 4 KiB read in 8 MRRS requests, answered by completions of MPS or, with rcbChunks, of the RCB", () => {
    const mps = readTlps({ mrrs: 512 }, 0, 4096);
    expect(count(mps, "MRd")).toEqual(Array(8).fill(512));
    expect(count(mps, "CplD")).toEqual(Array(16).fill(256));
    expect(mps.filter(([k]) => k === "MRd").map(([, offset]) => offset)).toEqual([0, 512, 1024, 1536, 2048, 2560, 3072, 3584]);
    const rcb = readTlps({ mrrs: 512, rcb: 64, rcbChunks: true }, 0, 4096);
    expect(count(rcb, "MRd")).toEqual(Array(8).fill(512));
    expect(count(rcb, "CplD")).toEqual(Array(64).fill(64));
  });

  it("never lets a request or a completion cross 4 KiB, and aligns the pieces after the first", () => {
    const tlps = readTlps(undefined, 4096 - 100, 1000);
    expect(count(tlps, "MRd")).toEqual([100, 512, 388]);
    expect(count(tlps, "CplD")).toEqual([100, 256, 256, 256, 132]);
    expect(tlps.filter(([k]) => k === "CplD").map(([, offset]) => offset)).toEqual([3996, 4096, 4352, 4608, 4864]);
  });
});

describe("tags", () => {
  it("keeps at most `tags` reads outstanding and sends the others, in order, as completions free tags", () => {
    const { trace, bus, f, bar, run } = world(oneSwitch(), { platform: { ...GEN5_SERVER, tags: 2 } });
    const base = bar("gpu0", 1).busAddress;
    const port = bus.port(f("nic0"));
    for (let i = 0; i < 5; i++) port.read(base + i * 64, 64);
    run();
    // MRd 24 B (844.3 ps): #0 crosses the switch at 165 000 and lands at 165 000 + 844.3 + 50 000 → 215 845;
    // #1 starts 844.3 later, crosses at 165 844.3 → 165 845 (an event, at a whole ps) and lands at 216 690.
    // #0's CplD (84 B, 2 955.1 ps) leaves 125 ns later (340 845) and lands 215 000 + 2 955.1 later → 558 801,
    // freeing a tag: #2 goes then and lands 215 845 later → 774 646. #1's CplD leaves at 341 690 but
    // waits for #0's on gpu0's link (free at 343 800.1), crosses at 508 800.1 → 508 801 and lands at
    // 508 801 + 2 955.1 + 50 000 → 561 757; #3 goes then → 777 602. #2 and #3 repeat #0 and #1 from
    // 558 801, and #4 goes when #2's CplD is back: 1 117 602 + 215 845.
    // The +1 ps against the old fast path (216 690, 561 757, 777 602, 1 120 558 were 1 ps earlier)
    // is that rounding of the crossing: with it, #1 no longer follows #0 back to back.
    const rows = landings(trace).map(([t, kind, address]) => [t, kind, address - base] as const);
    const mrd = rows.filter(([, kind]) => kind === "MRd").map(([t, , offset]) => [t, offset]);
    const cpl = rows.filter(([, kind]) => kind === "CplD").map(([t, , offset]) => [t, offset]);
    expect(mrd).toEqual([
      [215_845, 0],
      [216_690, 64],
      [774_646, 128],
      [777_602, 192],
      [1_333_447, 256],
    ]);
    expect(cpl).toEqual([
      [558_801, 0],
      [561_757, 64],
      [1_117_602, 128],
      [1_120_558, 192],
      [1_676_403, 256],
    ]);
    // Each read after the second goes out exactly when the completion two before it came back.
    for (let i = 2; i < 5; i++) expect((mrd[i]?.[0] ?? 0) - 215_845).toBe(cpl[i - 2]?.[0]);
  });
});

describe("the route of each TLP follows the page table as it stands when the TLP is issued", () => {
  it("sends the second write to an IOVA page remapped from memory to gpu0 BAR1 to the BAR", () => {
    const IOVA = 0x10000;
    const iommu = new Iommu();
    const { trace, bus, f, bar, run } = world(oneSwitch(undefined, { iommu: "on" }), { iommu });
    const domain = iommu.domainOf(f("nic0").id);
    const gpuWrites: number[] = [];
    bus.onMmioWrite(f("gpu0"), 1, (offset) => gpuWrites.push(offset));
    const port = bus.port(f("nic0"));
    expect(iommu.map(domain, IOVA, 0x4000_0000, 4096, 4096, "rw").ok).toBe(true);
    const done: Array<[string, DmaOutcome, number]> = [];
    port.write(IOVA + 0x40, 64, doneInto(done, "to memory"));
    run();
    expect(iommu.unmap(domain, IOVA, 4096).ok).toBe(true);
    expect(iommu.map(domain, IOVA, bar("gpu0", 1).cpuAddress + 0x3000, 4096, 4096, "rw", { mmio: true }).ok).toBe(true);
    port.write(IOVA + 0x80, 64, doneInto(done, "to the BAR"));
    run();
    expect(done.map(([label, outcome]) => [label, outcome])).toEqual([
      ["to memory", "ok"],
      ["to the BAR", "ok"],
    ]);
    expect(landings(trace).map(([, kind, address, , target]) => [kind, address, target])).toEqual([
      ["MWr", IOVA + 0x40, "host memory"],
      ["MWr", IOVA + 0x80, "gpu0 BAR1"],
    ]);
    expect(gpuWrites).toEqual([0x3080]);
  });
});

describe("misuse", () => {
  it("throws for a size that is not a positive integer, a time in the past, and a requester that is not an endpoint", () => {
    const { engine, bus, f, bar, topology } = world();
    const port = bus.port(f("nic0"));
    const address = bar("gpu0", 1).busAddress;
    expect(() => port.write(address, 0)).toThrow(/positive integer, got 0/);
    expect(() => port.read(address, 1.5)).toThrow(/positive integer, got 1.5/);
    expect(() => port.write(address, -64)).toThrow(/positive integer/);
    engine.scheduleAt(1000, () => {});
    engine.runUntilQuiet({ eventsMax: 10 });
    expect(() => port.write(address, 64, undefined, 999)).toThrow(/in the past/);
    expect(() => port.read(address, 64, undefined, 999)).toThrow(/in the past/);
    // Nothing was allocated for the refused operations: none is left waiting for TLPs that never come.
    expect(port.inFlight).toBe(0);
    expect(engine.runUntilQuiet({ eventsMax: 10 }).status).toBe("quiet");
    expect(() => bus.port(f("0000:02:00.0"))).toThrow(/downstream-port, not a DMA requester/);
    const other = world().f("nic0");
    expect(() => bus.port(other)).toThrow(new RegExp(`not in topology ${topology.name}`));
    expect(() => bus.onMmioWrite(f("gpu0"), 2, () => {})).toThrow(/no memory BAR 2/);
    bus.onMmioWrite(f("gpu0"), 0, () => {});
    expect(() => bus.onMmioWrite(f("gpu0"), 0, () => {})).toThrow(/already has registers/);
    expect(() => bus.cpu.read(0x4000_0000, 64)).toThrow(/do not cross the fabric/);
    expect(bus.port(f("nic0"))).toBe(port);
  });
});
