import { describe, expect, it } from "vitest";
import { createL3Monitor } from "../../src/check/l3-every-tlp-ends.js";
import { us } from "../../src/fabric/time.js";
import type { Bar } from "../../src/pci/topology.js";
import { eventWriter, fabricWorld, feed, kinds, watch } from "./fabric-worlds.js";

describe("L3: every read ends exactly once", () => {
  it("stays silent on the model: reads of a BAR, of host memory, and reads refused with UR while MEM is off all end", () => {
    const w = fabricWorld();
    const monitor = createL3Monitor();
    const violations = watch(w.engine, monitor);
    const bus = w.bus();
    const gpu0 = w.device("gpu0");
    gpu0.open();
    const bar1 = (w.f("gpu0").bars.find((b) => b.index === 1) as Bar).busAddress;
    const nic = bus.port(w.f("nic0"));
    nic.read(bar1, 64 * 1024);
    nic.read(bar1, 4096);
    nic.read(0x1000_0000, 8192);
    w.engine.scheduleAt(us(1), () => void gpu0.writeCommandMemory(false));
    w.engine.scheduleAt(us(5), () => nic.read(bar1, 2048));
    w.engine.runUntilQuiet({ eventsMax: 100_000 });
    const reads = w.trace.events.filter((e) => e.kind === "tlp" && e.tlp === "MRd").length;
    expect(reads).toBeGreaterThan(100);
    expect(violations).toEqual([]);
    expect(monitor.end?.(w.engine.nowPs)).toBeUndefined();
  });

  it("unit: a UR completion of a read the IOMMU refused does not end an open read of the same address", () => {
    const ev = eventWriter();
    const t = (time: number, tlp: string, address: number, bytes: number, status = "SC") =>
      ev("pci", "tlp", { requester: "nic0", tlp, address, bytes, target: "gpu0 BAR1", barOffset: 0, status, atPs: time }, time);
    const monitor = createL3Monitor();
    const violations = feed(monitor, [
      t(1, "MRd", 0x1000, 256),
      ev("pci", "iommu.fault", { requester: "nic0", tlp: "MRd", iova: 0x1000, fault: "not-present" }, 2),
      t(3, "CplD", 0x1000, 0, "UR"),
      t(4, "MRd", 0x2000, 256, "UR"),
      ev("pci", "tlp.ur", { requester: "nic0", target: "gpu0 BAR1", tlp: "MRd", address: 0x2000, reason: "Memory Space Enable is off" }, 4),
      t(5, "CplD", 0x1000, 256),
      t(6, "CplD", 0x2000, 0, "UR"),
    ]);
    expect(violations).toEqual([]);
    expect(monitor.end?.(10)).toBeUndefined();
  });

  it("unit: a completion timeout ends the read it names (a lost read request first, then an open read at that address); a completion after it is flagged", () => {
    const ev = eventWriter();
    const t = (time: number, tlp: string, address: number, bytes: number, status = "SC") =>
      ev("pci", "tlp", { requester: "nic0", tlp, address, bytes, target: "gpu0 BAR1", barOffset: 0, status, atPs: time }, time);
    const timeout = (time: number, address: number, bytes: number) =>
      ev("pci", "cpl.timeout", { requester: "nic0", tag: 0, address, bytes, target: "gpu0 BAR1", issuedPs: 0 }, time);
    const lost = (time: number, tlp: string, address: number) =>
      ev("pci", "tlp.lost", { requester: "nic0", tlp, address, bytes: 256, target: "gpu0 BAR1", link: "0000:02:00.0 up" }, time);
    const monitor = createL3Monitor();
    const open = t(1, "MRd", 0x1000, 512);
    const late = t(9, "CplD", 0x1100, 256);
    const violations = feed(monitor, [
      open,
      t(2, "CplD", 0x1000, 256),
      lost(3, "CplD", 0x1100),
      // A second read of 0x1100 lost before its target: its timeout must not end the open read.
      lost(4, "MRd", 0x1100),
      timeout(5, 0x1100, 256),
      t(6, "MRd", 0x8000, 256),
      timeout(7, 0x8000, 256),
      timeout(8, 0x1100, 256),
      late,
    ]);
    expect(violations.map((v) => [v.invariant, v.timePs, kinds(v.chain)])).toEqual([["L3", 9, ["pci/tlp"]]]);
    expect(monitor.end?.(100)).toBeUndefined();
  });

  it("fires at the end on a read never answered, and on a completion that answers no open read (hand-written: no model mutant reaches it)", () => {
    const ev = eventWriter();
    const t = (time: number, tlp: string, address: number, bytes: number, status = "SC") =>
      ev("pci", "tlp", { requester: "nic0", tlp, address, bytes, target: "gpu0 BAR1", barOffset: 0, status, atPs: time }, time);
    const monitor = createL3Monitor();
    const answered = t(1, "MRd", 0x1000, 512);
    const lost = t(2, "MRd", 0x4000, 256);
    const violations = feed(monitor, [
      answered,
      lost,
      t(3, "CplD", 0x1000, 256),
      t(4, "CplD", 0x1100, 256),
      t(5, "CplD", 0x1100, 256),
      t(6, "MRd", 0x8000, 128, "UR"),
      t(7, "CplD", 0x8000, 0, "UR"),
      t(8, "CplD", 0xa000, 0, "UR"),
    ]);
    expect(violations.map((v) => [v.invariant, v.timePs, v.message, kinds(v.chain)])).toEqual([
      ["L3", 5, "nic0 received a completion at 0x1100 (256 bytes) that answers no open read: a read ended twice or was never issued", ["pci/tlp"]],
    ]);
    const atEnd = monitor.end?.(100);
    expect(atEnd && [atEnd.invariant, atEnd.timePs, atEnd.message, atEnd.event, atEnd.chain]).toEqual([
      "L3",
      100,
      "nic0 MRd at 0x4000 to gpu0 BAR1 (256 bytes, 256 still expected) never completed; 1 read(s) open at the end of the run",
      undefined,
      [lost],
    ]);
  });
});
