import { describe, expect, it } from "vitest";
import { type DmaBufAttachment, dmaBufAttach } from "../../src/dmabuf/attachment.js";
import { dmaBufMapAttachment, dmaBufUnmapAttachment } from "../../src/dmabuf/map.js";
import { DmaFence } from "../../src/dmabuf/reservation.js";
import { type DmaBufRevokeProfile, dmaBufRevoke } from "../../src/dmabuf/revoke.js";
import { sleep } from "../../src/fabric/process.js";
import { us } from "../../src/fabric/time.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { type BarExporterPriv, barExporter, fn, machine, recordedEngine } from "./world.js";

const MIB = 2 ** 20;
const topology = machine(oneSwitch());
const gpu0 = fn(topology, "gpu0");
const nic0 = fn(topology, "nic0");
const NIC = nic0.id;
const EXP = "exporter:gpu0/bar1";
const BUF = "gpu0/bar1";
const bar1 = gpu0.bars.find((b) => b.index === 1)?.cpuAddress ?? 0;

/**
 * gpu0 BAR1 exported (vfio policy unless given), nic0 attached dynamically and mapped at t = 0,
 * an RDMA fence (BOOKKEEP) that signals at 5 µs, and an importer whose invalidate callback starts a
 * process that unmaps 8 µs later and then tries to map again. The revoke starts at 1 µs.
 */
function scenario(profile: DmaBufRevokeProfile, options: { revocable?: boolean } = {}) {
  const { engine, trace } = recordedEngine();
  const buf = barExporter(engine, topology, gpu0, 1, {
    ranges: [{ paddr: bar1, len: 2 * MIB }],
    policy: options.revocable === false ? "vfio-initial" : "vfio",
  });
  const unmapLate = (attach: DmaBufAttachment<BarExporterPriv>) =>
    engine.spawn("nic0 unmap", function* () {
      yield sleep(us(8));
      yield buf.resv.acquire(NIC);
      for (const sgt of [...attach.sgts]) dmaBufUnmapAttachment(attach, sgt);
      dmaBufMapAttachment(attach);
      buf.resv.unlock(NIC);
    });
  const attached = dmaBufAttach(buf, nic0, { allowPeer2peer: true, ...(options.revocable === false ? {} : { invalidateMappings: (a) => void unmapLate(a) }) });
  if (!attached.ok) throw new Error(attached.errno);
  buf.resv.lock(NIC);
  dmaBufMapAttachment(attached.value);
  buf.resv.addFence(new DmaFence(engine, "rdma-write").signalAt(us(5)), "bookkeep");
  buf.resv.unlock(NIC);
  engine.scheduleAt(us(1), () => void dmaBufRevoke(buf, { profile, markRevoked: (b) => (b.priv.revoked = true) }));
  const setupEvents = trace.events.length;
  return { engine, buf, events: () => trace.tuples().slice(setupEvents) };
}

describe("revoke, in simulated time", () => {
  it("the full sequence waits under resv for the late fence, drops resv, then waits for the late unmap", () => {
    const { engine, buf, events } = scenario("vfio-dmabuf-wait");
    expect(engine.runUntilQuiet({ eventsMax: 100 }).status).toBe("quiet");
    expect(events()).toEqual([
      [us(1), "fabric/process.spawn", { process: "revoke:gpu0/bar1", pid: 0 }],
      [us(1), "dmabuf/revoke.begin", { buf: BUF, profile: "vfio-dmabuf-wait" }],
      [us(1), "dmabuf/resv.lock", { buf: BUF, holder: EXP }],
      [us(1), "dmabuf/revoke.marked", { buf: BUF }],
      [us(1), "dmabuf/invalidate", { buf: BUF, attach: 0, importer: "nic0" }],
      [us(1), "fabric/process.spawn", { process: "nic0 unmap", pid: 1 }],
      [us(5), "dmabuf/fence.signal", { fence: "rdma-write" }],
      [us(5), "dmabuf/revoke.fences-signaled", { buf: BUF }],
      [us(5), "dmabuf/resv.unlock", { buf: BUF, holder: EXP }],
      [us(9), "dmabuf/resv.lock", { buf: BUF, holder: NIC }],
      [us(9), "dmabuf/unmap", { buf: BUF, attach: 0, importer: "nic0" }],
      [us(9), "dmabuf/map.refused", { buf: BUF, attach: 0, importer: "nic0", errno: "ENODEV" }],
      [us(9), "dmabuf/resv.unlock", { buf: BUF, holder: NIC }],
      [us(9), "fabric/process.exit", { process: "nic0 unmap", pid: 1 }],
      [us(9), "dmabuf/revoke.done", { buf: BUF, profile: "vfio-dmabuf-wait", invalidated: 1 }],
      [us(9), "fabric/process.exit", { process: "revoke:gpu0/bar1", pid: 0 }],
    ]);
    expect(buf.mappingCount).toBe(0);
    expect(dmaBufAttach(buf, nic0, { allowPeer2peer: true, invalidateMappings: () => undefined })).toEqual({ ok: false, errno: "ENODEV" });
  });

  it("the vfio-dmabuf-initial profile flags and notifies under resv and returns at once, before the fence and the unmap (E12)", () => {
    const { engine, events } = scenario("vfio-dmabuf-initial");
    engine.runUntilQuiet({ eventsMax: 100 });
    expect(events()).toEqual([
      [us(1), "fabric/process.spawn", { process: "revoke:gpu0/bar1", pid: 0 }],
      [us(1), "dmabuf/revoke.begin", { buf: BUF, profile: "vfio-dmabuf-initial" }],
      [us(1), "dmabuf/resv.lock", { buf: BUF, holder: EXP }],
      [us(1), "dmabuf/revoke.marked", { buf: BUF }],
      [us(1), "dmabuf/invalidate", { buf: BUF, attach: 0, importer: "nic0" }],
      [us(1), "fabric/process.spawn", { process: "nic0 unmap", pid: 1 }],
      [us(1), "dmabuf/resv.unlock", { buf: BUF, holder: EXP }],
      [us(1), "dmabuf/revoke.done", { buf: BUF, profile: "vfio-dmabuf-initial", invalidated: 1 }],
      [us(1), "fabric/process.exit", { process: "revoke:gpu0/bar1", pid: 0 }],
      [us(5), "dmabuf/fence.signal", { fence: "rdma-write" }],
      [us(9), "dmabuf/resv.lock", { buf: BUF, holder: NIC }],
      [us(9), "dmabuf/unmap", { buf: BUF, attach: 0, importer: "nic0" }],
      [us(9), "dmabuf/map.refused", { buf: BUF, attach: 0, importer: "nic0", errno: "ENODEV" }],
      [us(9), "dmabuf/resv.unlock", { buf: BUF, holder: NIC }],
      [us(9), "fabric/process.exit", { process: "nic0 unmap", pid: 1 }],
    ]);
  });

  it("an importer holding the resv delays the revoke's first step until it unlocks", () => {
    const { engine, buf, events } = scenario("vfio-dmabuf-wait");
    engine.spawn("nic0 busy", function* () {
      yield buf.resv.acquire(NIC);
      yield sleep(us(3));
      buf.resv.unlock(NIC);
    });
    engine.runUntilQuiet({ eventsMax: 100 });
    const firstLocks = events()
      .filter(([, kind]) => kind.startsWith("dmabuf/resv") || kind === "dmabuf/revoke.begin")
      .slice(0, 4);
    expect(firstLocks).toEqual([
      [0, "dmabuf/resv.lock", { buf: BUF, holder: NIC }],
      [us(1), "dmabuf/revoke.begin", { buf: BUF, profile: "vfio-dmabuf-wait" }],
      [us(3), "dmabuf/resv.unlock", { buf: BUF, holder: NIC }],
      [us(3), "dmabuf/resv.lock", { buf: BUF, holder: EXP }],
    ]);
  });

  it("an importer without an invalidate callback never unmaps: the full revoke never completes (why VFIO refuses it, L1)", () => {
    const { engine, buf, events } = scenario("vfio-dmabuf-wait", { revocable: false });
    expect(engine.runUntilQuiet({ eventsMax: 100 }).status).toBe("quiet");
    expect(events().map(([t, kind]) => [t, kind])).toEqual([
      [us(1), "fabric/process.spawn"],
      [us(1), "dmabuf/revoke.begin"],
      [us(1), "dmabuf/resv.lock"],
      [us(1), "dmabuf/revoke.marked"],
      [us(5), "dmabuf/fence.signal"],
      [us(5), "dmabuf/revoke.fences-signaled"],
      [us(5), "dmabuf/resv.unlock"],
    ]);
    expect([engine.processes.liveCount, buf.mappingCount]).toEqual([1, 1]);
  });
});
