/**
 * The DMA bus: the completer's Unsupported Request [kernel.md §c.6], MMIO registers and the CPU's
 * accesses, the IOMMU at the root complex [kernel.md §a.7] and the route of an IOVA, address
 * decode, and requesters sharing a link. The requester side (cutting, tags, timing of one
 * requester, misuse) is dma-port.test.ts. What reached the end of its route is read from the
 * recorded `pci/tlp` events (test/support/dma-bus.ts).
 */
import { describe, expect, it } from "vitest";
import { oneSwitch } from "../../src/pci/builders.js";
import type { DmaOutcome } from "../../src/pci/dma-port.js";
import { Iommu } from "../../src/pci/iommu.js";
import type { RouteTarget } from "../../src/pci/route.js";
import type { PciFunction } from "../../src/pci/topology.js";
import { doneInto, landings, NS, P, world } from "../support/dma-bus.js";

describe("a target that does not answer memory requests (kernel.md §c.6)", () => {
  const cases: Array<{ name: string; disable: (gpu: PciFunction) => void; outcome: DmaOutcome; reason: string | undefined }> = [
    { name: "answering", disable: () => {}, outcome: "ok", reason: undefined },
    { name: "Memory Space off", disable: (gpu) => (gpu.memoryEnabled = false), outcome: "ur", reason: "Memory Space Enable is off" },
    { name: "in reset", disable: (gpu) => (gpu.inReset = true), outcome: "ur", reason: "in reset" },
    { name: "in D3hot", disable: (gpu) => (gpu.powerState = "D3hot"), outcome: "ur", reason: "in D3hot" },
  ];
  it.each(cases)("$name: write and read end $outcome; a refused write never reaches the BAR's registers", ({ disable, outcome, reason }) => {
    const { trace, bus, f, bar, run } = world();
    const gpu = f("gpu0");
    disable(gpu);
    const writes: number[] = [];
    bus.onMmioWrite(gpu, 1, (offset) => writes.push(offset));
    const base = bar("gpu0", 1).busAddress;
    const done: Array<[string, DmaOutcome, number]> = [];
    const port = bus.port(f("nic0"));
    port.write(base + 0x40, 64, doneInto(done, "write"));
    port.read(base + 0x80, 64, doneInto(done, "read"));
    run();
    expect(done.map(([label, o]) => [label, o])).toEqual([
      ["write", outcome],
      ["read", outcome],
    ]);
    expect(writes).toEqual(reason === undefined ? [0x40] : []);
    const urs = trace.tuples().filter(([, kind]) => kind === "pci/tlp.ur");
    const expected =
      reason === undefined ? [] : ["MWr", "MRd"].map((tlp, i) => ({ requester: "nic0", target: "gpu0 BAR1", tlp, address: base + 0x40 * (i + 1), reason }));
    expect(urs.map(([, , fields]) => fields)).toEqual(expected);
    // Both requests reach gpu0 BAR1 either way; `pci/tlp` says UR for the ones it refused, and
    // the read's completion (one CplD, named by the read's route) carries the same status back.
    const status = reason === undefined ? "SC" : "UR";
    expect(landings(trace, "nic0").map(([, tlp, , , target, s]) => [tlp, target, s])).toEqual([
      ["MWr", "gpu0 BAR1", status],
      ["MRd", "gpu0 BAR1", status],
      ["CplD", "gpu0 BAR1", status],
    ]);
  });
});

describe("MMIO from the CPU", () => {
  it("runs the BAR's handler once, with the offset, size and landing time; the route starts in the root complex", () => {
    const { trace, bus, f, bar, run } = world();
    const calls: Array<[number, number, number]> = [];
    bus.onMmioWrite(f("nic0"), 0, (offset, bytes, at) => calls.push([offset, bytes, at]));
    const done: Array<[string, DmaOutcome, number]> = [];
    const doorbell = bar("nic0", 0).cpuAddress + 0x800;
    bus.cpu.write(doorbell, 8, doneInto(done, "doorbell"));
    run();
    // Root complex 120 ns; root port → switch link: handed on 50 + 115 ns after it starts (285 000);
    // MWr 16 + 8 + 8 = 32 B (1 125.8 ps) on the switch → nic0 link, + 50 ns → 336 125.8 → 336 126.
    // (Unchanged by the switch crossing becoming an event: it happens at the whole ps 285 000.)
    expect(calls).toEqual([[0x800, 8, 336_126]]);
    expect(done).toEqual([["doorbell", "ok", 336_126]]);
    expect(landings(trace, "cpu")).toEqual([[336_126, "MWr", doorbell, 8, "nic0 BAR0", "SC"]]);
    expect(bus.route(undefined, bus.decode(undefined, bar("nic0", 0).cpuAddress)).hops.request[0]?.kind).toBe("root-complex");
  });
});

const IOVA_MEM = 0x10000;
const IOVA_BAR = 0x20000;
const IOVA_NONE = 0x30000;

/** The one-switch machine with the IOMMU on: nic0's IOVA_MEM maps memory, IOVA_BAR maps gpu0 BAR1 + 0x3000 (mmio). */
function iommuWorld(acsRedirect: boolean) {
  const iommu = new Iommu();
  const w = world(oneSwitch(undefined, { iommu: "on" }), { iommu });
  // The builder's IOMMU-on machine has ACS redirect on every port (as the kernel enables it); without it, clear it.
  if (!acsRedirect) for (const fn of w.topology.functions) fn.acsCtl = 0;
  const domain = iommu.domainOf(w.f("nic0").id);
  expect(iommu.map(domain, IOVA_MEM, 0x4000_0000, 4096, 4096, "rw").ok).toBe(true);
  expect(iommu.map(domain, IOVA_BAR, w.bar("gpu0", 1).cpuAddress + 0x3000, 4096, 4096, "rw", { mmio: true }).ok).toBe(true);
  return { ...w, iommu };
}

describe("with the IOMMU on (ACS redirect: peer traffic goes through the root complex)", () => {
  it("sends a mapped page to memory or to the peer BAR, and faults an unmapped one for writes and reads", () => {
    const { trace, bus, f, run, iommu } = iommuWorld(true);
    const gpuWrites: number[] = [];
    bus.onMmioWrite(f("gpu0"), 1, (offset) => gpuWrites.push(offset));
    const port = bus.port(f("nic0"));
    const done: Array<[string, DmaOutcome, number]> = [];
    port.write(IOVA_MEM, 64, doneInto(done, "memory"));
    port.write(IOVA_BAR + 0x40, 64, doneInto(done, "peer"));
    port.write(IOVA_NONE, 64, doneInto(done, "unmapped write"));
    port.read(IOVA_NONE, 64, doneInto(done, "unmapped read"));
    run();
    // All four go up to the root complex, back to back on nic0's link (MWr 88 B: 3 095.9 ps; MRd
    // 24 B: 844.3 ps), each crossing the switch at the next whole ps after its hand-over; the root
    // port's receiver stores and forwards. At the root complex: 120 ns, a 260 ns IOTLB miss each,
    // and 200 ns more for peer traffic.
    // - memory: at the root port at 165 000 + 3 095.9 + 50 000 → 218 096 (the event), in memory
    //   380 ns later (atPs 598 096, when the write is done);
    // - peer: crosses at 168 095.9 → 168 096, at the root port at 221 191.9 → 221 192, leaves it at
    //   801 192 and crosses the switch and gpu0's link: + 165 000 + 3 095.9 + 50 000 → 1 019 288;
    // - unmapped write: at the root port at 224 288, faulted there, done after the walk (484 288);
    // - unmapped read: at the root port at 225 133, faulted; its UR completion leaves the root
    //   complex at 225 133 + 260 000 + 120 000 = 605 133 but queues behind the peer write, which
    //   booked the root port's downward link from 801 192 (a completion does not pass a posted
    //   write), so it starts at 804 287.9, crosses at 969 287.9 → 969 288, and is back at
    //   969 288 + 703.6 (20 B) + 50 000 → 1 019 992.
    expect(landings(trace)).toEqual([
      [218_096, "MWr", IOVA_MEM, 64, "host memory", "SC", 598_096],
      [1_019_288, "MWr", IOVA_BAR + 0x40, 64, "gpu0 BAR1", "SC"],
      [1_019_992, "CplD", IOVA_NONE, 0, "host memory", "UR"],
    ]);
    expect(done).toEqual([
      ["unmapped write", "iommu-fault", 484_288],
      ["memory", "ok", 598_096],
      ["peer", "ok", 1_019_288],
      ["unmapped read", "iommu-fault", 1_019_992],
    ]);
    expect(gpuWrites).toEqual([0x3040]);
    const faults = trace.tuples().filter(([, kind]) => kind === "pci/iommu.fault");
    expect(faults).toEqual([
      [224_288, "pci/iommu.fault", { requester: "nic0", tlp: "MWr", iova: IOVA_NONE, fault: "unmapped" }],
      [225_133, "pci/iommu.fault", { requester: "nic0", tlp: "MRd", iova: IOVA_NONE, fault: "unmapped" }],
    ]);
    expect(iommu.stats()).toMatchObject({ misses: 4, faults: 2 });
  });
});

describe("the route of an address, with the IOMMU on, with and without ACS redirect (kernel.md §a.7)", () => {
  /** For one access of nic0: its route, its outcome, where in gpu0 BAR1 it landed, and how many translations the IOMMU did. */
  function access(acsRedirect: boolean, address: (w: ReturnType<typeof iommuWorld>) => number) {
    const w = iommuWorld(acsRedirect);
    const offsets: number[] = [];
    w.bus.onMmioWrite(w.f("gpu0"), 1, (offset) => offsets.push(offset));
    const a = address(w);
    const done: Array<[string, DmaOutcome, number]> = [];
    w.bus.port(w.f("nic0")).write(a, 64, doneInto(done, "write"));
    w.run();
    const { hits, misses } = w.iommu.stats();
    const hops = w.bus.routeOf(w.f("nic0"), a).hops.request.map((hop) => (hop.kind === "root-complex" ? "rc" : hop.kind));
    return [hops.join(" "), done.map(([, outcome, at]) => [outcome, at])[0], offsets, hits + misses];
  }
  const busAddress = (w: ReturnType<typeof iommuWorld>) => w.bar("gpu0", 1).busAddress + 0x40;
  const iova = () => IOVA_BAR + 0x40;

  it("sends an IOVA up to the root complex and its IOMMU whatever ACS says; a bus address only with redirect", () => {
    const viaRc = "link switch link rc link switch link";
    // BUS_ADDR turning in the switch: 165 000 + 3 095.9 + 50 000 → 218 096, never translated (I11).
    // Through the root complex: at the root port at 218 096, + 120 + 200 + 260 ns, then
    // + 165 000 + 3 095.9 + 50 000 → 1 016 192. With ACS redirect a bus address goes there too and
    // the IOMMU, which has no such IOVA, faults it (why the kernel maps THRU_HOST_BRIDGE then).
    expect([access(false, busAddress), access(false, iova), access(true, busAddress), access(true, iova)]).toEqual([
      ["link switch link", ["ok", 218_096], [0x40], 0],
      [viaRc, ["ok", 1_016_192], [0x3040], 1],
      [viaRc, ["iommu-fault", 478_096], [], 1],
      [viaRc, ["ok", 1_016_192], [0x3040], 1],
    ]);
  });
});

describe("decode", () => {
  it("tells bus windows, CPU addresses and IOVAs apart", () => {
    const OFFSET = 2 ** 40;
    const spec = oneSwitch(undefined, { iommu: "on" });
    const iommu = new Iommu();
    const { bus, f, bar } = world({ ...spec, hostBridges: spec.hostBridges.map((hb) => ({ ...hb, busOffset: OFFSET })) }, { iommu });
    const nic = f("nic0");
    const gpu1 = f("gpu1");
    const bar1 = bar("gpu0", 1);
    expect(bar1.busAddress - bar1.cpuAddress).toBe(OFFSET);
    const domain = iommu.domainOf(nic.id);
    iommu.map(domain, 0x20000, bar1.cpuAddress + 0x3000, 4096, 4096, "rw", { mmio: true });
    iommu.map(domain, 0x10000, 0x4000_0000, 4096, 4096, "rw");
    const name = (t: RouteTarget) => (t.kind === "bar" ? `${t.fn.label} BAR${t.bar.index}` : `memory node ${t.numaNode}`);
    const rows: Array<[string, PciFunction | undefined, number]> = [
      ["device, bus window", nic, bar1.busAddress + 0x40],
      ["device, last byte of the window", nic, bar1.busAddress + bar1.sizeBytes - 1],
      ["device, a BAR's CPU address is an IOVA", nic, bar1.cpuAddress + 0x40],
      ["device, IOVA mapped mmio", nic, 0x20040],
      ["device, IOVA mapped to memory", nic, 0x10040],
      ["device, unmapped IOVA", nic, 0x30000],
      ["another domain, same IOVA", gpu1, 0x20040],
      ["CPU, CPU address", undefined, bar1.cpuAddress + 0x40],
      ["CPU, bus address", undefined, bar1.busAddress + 0x40],
    ];
    expect(rows.map(([label, requester, address]) => [label, name(bus.decode(requester, address))])).toEqual([
      ["device, bus window", "gpu0 BAR1"],
      ["device, last byte of the window", "gpu0 BAR1"],
      ["device, a BAR's CPU address is an IOVA", "memory node 0"],
      ["device, IOVA mapped mmio", "gpu0 BAR1"],
      ["device, IOVA mapped to memory", "memory node 0"],
      ["device, unmapped IOVA", "memory node 0"],
      ["another domain, same IOVA", "memory node 0"],
      ["CPU, CPU address", "gpu0 BAR1"],
      ["CPU, bus address", "memory node 0"],
    ]);
    expect([
      bus.offsetInBar(nic, bar1.busAddress + 0x40, bar1),
      bus.offsetInBar(nic, 0x20040, bar1),
      bus.offsetInBar(undefined, bar1.cpuAddress + 0x40, bar1),
    ]).toEqual([0x40, 0x3040, 0x40]);
  });
});

describe("two requesters sharing the switch → gpu0 link", () => {
  function shared() {
    const { engine, trace, bus, f, bar, run } = world();
    const base = bar("gpu0", 1).busAddress;
    let landed = 0;
    bus.onMmioWrite(f("gpu0"), 1, (_offset, bytes) => (landed += bytes));
    const done: Array<[string, DmaOutcome, number]> = [];
    bus.port(f("nic0")).write(base, 64 * 1024, doneInto(done, "nic0"));
    bus.port(f("gpu1")).write(base + 64 * 1024, 64 * 1024, doneInto(done, "gpu1"));
    run();
    const egress = bus.fabric.allLinks().find((link) => link.config.name === `${f("0000:02:00.0").id} down`);
    const order = trace.events.filter((e) => e.layer === "pci" && e.kind === "tlp").map((e) => e.requester);
    return { done, landed, order, counters: { ...egress?.counters }, fingerprint: engine.trace.fingerprint.hex() };
  }

  it("interleaves the two at the egress TLP by TLP, keeps it busy for the whole 128 KiB, and runs the same twice", () => {
    const first = shared();
    expect(first.landed).toBe(128 * 1024);
    expect(first.counters).toMatchObject({ tlpsSent: 512, tlpsDelivered: 512, payloadBytes: 128 * 1024, wireBytes: 512 * 280 });
    const serialization = 512 * 280 * P;
    expect(first.counters.busyPs).toBeCloseTo(serialization, 3);
    // Both first TLPs reach the switch at 165 000 (nic0's first: it was issued first); from then on
    // each requester's next TLP is at the switch long before the egress is free (the ingress links
    // are as fast as the egress), so the egress takes them in arrival order: nic0, gpu1, nic0, …
    expect(first.order).toEqual(Array.from({ length: 512 }, (_, i) => (i % 2 === 0 ? "nic0" : "gpu1")));
    // The egress is busy back to back from 165 000: the last MWr (gpu1's) lands at
    // 165 000 + 512 × 280 × P + 50 000 = 5 258 444.99 → 5 258 445, nic0's last one MWr (9 850.5 ps) before.
    // (The old fast path did not interleave them: nic0's TLPs, booked on the egress ahead of time, went first.)
    expect(first.done).toEqual([
      ["nic0", "ok", Math.ceil(165 * NS + 511 * 280 * P + 50 * NS)],
      ["gpu1", "ok", Math.ceil(165 * NS + 512 * 280 * P + 50 * NS)],
    ]);
    expect(first.done.map(([, , at]) => at)).toEqual([5_248_595, 5_258_445]);
    expect(shared()).toEqual(first);
  });
});
