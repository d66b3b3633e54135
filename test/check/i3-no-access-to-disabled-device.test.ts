import { describe, expect, it } from "vitest";
import { createI3Monitor } from "../../src/check/i3-no-access-to-disabled-device.js";
import { us } from "../../src/fabric/time.js";
import type { Bar } from "../../src/pci/topology.js";
import { eventWriter, fabricWorld, feed, kinds } from "./fabric-worlds.js";

describe("I3: no access lands on a device in reset, with MEM off or out of D0", () => {
  it("stays silent on the model, which answers UR while gpu0's MEM is off and during its FLR, and records those UR hits", () => {
    const w = fabricWorld();
    const monitor = createI3Monitor();
    const violations: unknown[] = [];
    w.engine.trace.subscribe((e) => {
      const v = monitor.observe(e);
      if (v) violations.push(v);
    });
    const bus = w.bus();
    const gpu0 = w.device("gpu0", { resetDurationPs: us(20) });
    gpu0.open();
    const bar1 = (w.f("gpu0").bars.find((b) => b.index === 1) as Bar).busAddress;
    const nic = bus.port(w.f("nic0"));
    const dma = (t: number) =>
      w.engine.scheduleAt(us(t), () => {
        nic.write(bar1, 4096);
        nic.read(bar1 + 8192, 1024);
        bus.cpu.write((w.f("gpu0").bars.find((b) => b.index === 1) as Bar).cpuAddress, 8);
      });
    dma(0);
    w.engine.scheduleAt(us(1), () => void gpu0.writeCommandMemory(false));
    dma(5);
    w.engine.scheduleAt(us(10), () => void gpu0.writeCommandMemory(true));
    dma(15);
    w.engine.scheduleAt(us(20), () => void gpu0.writeDevCtlFlr());
    dma(30);
    w.engine.runUntilQuiet({ eventsMax: 100_000 });
    expect(violations).toEqual([]);
    const hits = monitor.urHits.map((h) => [h.t >= us(5) && h.t < us(10) ? "mem-off" : h.t >= us(20) ? "reset" : "other", h.requester, h.tlp, h.reason]);
    expect(new Set(hits.map((h) => JSON.stringify(h)))).toEqual(
      new Set(
        [
          ["mem-off", "nic0", "MWr", "Memory Space Enable is off"],
          ["mem-off", "nic0", "MRd", "Memory Space Enable is off"],
          ["mem-off", "cpu", "MWr", "Memory Space Enable is off"],
          ["reset", "nic0", "MWr", "in reset"],
          ["reset", "nic0", "MRd", "in reset"],
          ["reset", "cpu", "MWr", "in reset"],
        ].map((h) => JSON.stringify(h)),
      ),
    );
    expect(monitor.urCount).toBe(hits.length);
  });

  it("stays silent when a long write from nic0 and CPU stores straddle MEM off and an FLR", () => {
    const w = fabricWorld();
    const monitor = createI3Monitor();
    const violations: unknown[] = [];
    w.engine.trace.subscribe((e) => {
      const v = monitor.observe(e);
      if (v) violations.push(v);
    });
    const bus = w.bus();
    const gpu0 = w.device("gpu0", { resetDurationPs: us(3) });
    gpu0.open();
    const bar1 = w.f("gpu0").bars.find((b) => b.index === 1) as Bar;
    bus.port(w.f("nic0")).write(bar1.busAddress, 2 ** 20);
    bus.port(w.f("gpu1")).read(bar1.busAddress, 2 ** 20);
    for (let i = 0; i < 200; i++) w.engine.scheduleAt(i * 100_000, () => bus.cpu.write(bar1.cpuAddress + 64 * i, 64));
    w.engine.scheduleAt(us(1), () => void gpu0.writeCommandMemory(false));
    w.engine.scheduleAt(us(4), () => void gpu0.writeCommandMemory(true));
    w.engine.scheduleAt(us(8), () => void gpu0.writeDevCtlFlr());
    w.engine.runUntilQuiet({ eventsMax: 1_000_000 });
    expect(violations).toEqual([]);
    expect(monitor.urCount).toBeGreaterThan(10);
  });

  it("fires on a successful request while MEM is off or in reset, and on one answered before a reset that lands after it (hand-written: the model answers UR)", () => {
    const ev = eventWriter();
    const tlp = (t: number, status: string, atPs = t) =>
      ev("pci", "tlp", { requester: "nic0", tlp: "MWr", address: 0x9000_0000, bytes: 256, target: "gpu0 BAR1", barOffset: 0, status, atPs }, t);
    const off = ev("vfio", "command.write", { device: "gpu0", memory: false }, 10);
    const violations = feed(createI3Monitor(), [
      off,
      tlp(11, "UR"),
      tlp(12, "SC"),
      ev("vfio", "command.write", { device: "gpu0", memory: true }, 13),
      tlp(14, "SC", 40),
      ev("vfio", "reset.begin", { device: "gpu0", method: "flr" }, 30),
      ev("vfio", "reset.end", { device: "gpu0", method: "flr" }, 50),
      tlp(60, "SC"),
      ev("vfio", "power.set", { device: "gpu0", state: "D3hot" }, 70),
      tlp(71, "SC"),
    ]);
    expect(violations.map((v) => [v.invariant, v.timePs, v.message, kinds(v.chain)])).toEqual([
      [
        "I3",
        12,
        "nic0 MWr at 0x90000000 landed on gpu0 BAR1 with status SC while gpu0 is Memory Space Enable off: it must be UR",
        ["vfio/command.write", "pci/tlp"],
      ],
      [
        "I3",
        30,
        "nic0 MWr at 0x90000000 lands on gpu0 BAR1 at 40 ps, after gpu0 went in flr reset at 30 ps, yet it was answered successfully",
        ["pci/tlp", "vfio/reset.begin"],
      ],
      ["I3", 71, "nic0 MWr at 0x90000000 landed on gpu0 BAR1 with status SC while gpu0 is in D3hot: it must be UR", ["vfio/power.set", "pci/tlp"]],
    ]);
  });
});
