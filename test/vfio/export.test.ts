import { describe, expect, it } from "vitest";
import { type DmaBufImporterOps, dmaBufAttach } from "../../src/dmabuf/attachment.js";
import { dmaBufMapAttachment, dmaBufUnmapAttachment } from "../../src/dmabuf/map.js";
import type { Bar } from "../../src/pci/topology.js";
import type { VfioPciDmaBuf } from "../../src/vfio/dmabuf-export.js";
import type { VfioProfile } from "../../src/vfio/profiles.js";
import { encodeDmaBufFeature, VFIO_DEVICE_FEATURE_DMA_BUF, VFIO_DEVICE_FEATURE_PROBE } from "../../src/vfio/uapi.js";
import { exportBytes, exportFd, fn, lateImporter, MIB, vfioWorld } from "./world.js";

const BUF = "gpu0/bar1#0";

describe("VFIO_DEVICE_FEATURE_DMA_BUF", () => {
  it("exports: registration reference, dma-buf, link under memory_lock and resv with revoked = memory disabled (I7), fd", () => {
    const w = vfioWorld();
    const gpu0 = w.device("gpu0");
    gpu0.open();
    expect(gpu0.deviceFeature(exportBytes(1))).toEqual({ ok: true, value: 3 });
    const H = "gpu0:feature";
    expect(w.trace.tuples()).toEqual([
      [0, "vfio/open", { device: "gpu0" }],
      [0, "vfio/registration.get", { device: "gpu0", refs: 2 }],
      [0, "dmabuf/export", { buf: BUF, size: 2 * MIB, dynamic: false }],
      [0, "vfio/memory_lock.down_write", { device: "gpu0", holder: H }],
      [0, "dmabuf/resv.lock", { buf: BUF, holder: H }],
      [0, "dmabuf/resv.unlock", { buf: BUF, holder: H }],
      [0, "vfio/memory_lock.up_write", { device: "gpu0", holder: H }],
      [
        0,
        "vfio/export",
        {
          device: "gpu0",
          buf: BUF,
          bar: 1,
          size: 2 * MIB,
          fd: 3,
          revoked: false,
          memoryEnabled: true,
          ranges: [{ offset: 0, length: 2 * MIB }],
          barSize: 64 * 2 ** 30,
        },
      ],
    ]);
    expect(gpu0.exportList.map((p) => [p.name, p.revoked, p.kref])).toEqual([[BUF, false, 1]]);
  });

  it("an export while MEM is off starts revoked; a PROBE answers 0; a bad request fails at its step with nothing taken", () => {
    const w = vfioWorld(undefined);
    const gpu0 = w.device("gpu0");
    fn(w.topology, "gpu0").memoryEnabled = false;
    gpu0.open();
    expect(exportFd(gpu0).priv.revoked).toBe(true);
    const probe = encodeDmaBufFeature({
      flags: VFIO_DEVICE_FEATURE_DMA_BUF | VFIO_DEVICE_FEATURE_PROBE,
      regionIndex: 1,
      openFlags: 0,
      dmaBufFlags: 0,
      ranges: [],
    });
    expect(gpu0.deviceFeature(probe)).toEqual({ ok: true, value: 0 });
    expect(gpu0.deviceFeature(exportBytes(2))).toEqual({ ok: false, errno: "EINVAL" });
    expect(w.trace.tuples().at(-1)).toEqual([0, "vfio/export.failed", { device: "gpu0", step: 9, errno: "EINVAL" }]);
    expect([gpu0.registrationRefs, gpu0.exportList.length, w.fdTable.openCount]).toEqual([2, 1, 1]);
  });
});

describe("exporter ops", () => {
  const revocable: DmaBufImporterOps<VfioPciDmaBuf> = { allowPeer2peer: true, invalidateMappings: () => undefined };
  /** One row per attach rule of §c.3, in the order the op checks them. */
  const ATTACH_ROWS: ReadonlyArray<{
    name: string;
    profile: VfioProfile;
    memory: boolean;
    ops: DmaBufImporterOps<VfioPciDmaBuf> | undefined;
    expected: string;
  }> = [
    { name: "static importer (peer2peer false)", profile: "vfio-dmabuf-wait", memory: true, ops: undefined, expected: "EOPNOTSUPP" },
    {
      name: "dynamic, not peer-to-peer capable",
      profile: "vfio-dmabuf-wait",
      memory: true,
      ops: { ...revocable, allowPeer2peer: false },
      expected: "EOPNOTSUPP",
    },
    { name: "peer-to-peer but revoked", profile: "vfio-dmabuf-wait", memory: false, ops: revocable, expected: "ENODEV" },
    { name: "peer-to-peer, not revocable", profile: "vfio-dmabuf-wait", memory: true, ops: { allowPeer2peer: true }, expected: "EOPNOTSUPP" },
    { name: "peer-to-peer and revocable", profile: "vfio-dmabuf-wait", memory: true, ops: revocable, expected: "ok" },
    {
      name: "initial profile: not revocable is accepted (E17's other side)",
      profile: "vfio-dmabuf-initial",
      memory: true,
      ops: { allowPeer2peer: true },
      expected: "ok",
    },
    {
      name: "initial profile: still refuses a revoked export",
      profile: "vfio-dmabuf-initial",
      memory: false,
      ops: { allowPeer2peer: true },
      expected: "ENODEV",
    },
  ];

  it.each(ATTACH_ROWS)("attach: $name -> $expected", ({ profile, memory, ops, expected }) => {
    const w = vfioWorld();
    const gpu0 = w.device("gpu0", { profile });
    fn(w.topology, "gpu0").memoryEnabled = memory;
    gpu0.open();
    const { buf } = exportFd(gpu0);
    const result = dmaBufAttach(buf, fn(w.topology, "nic0"), ops);
    expect(result.ok ? "ok" : result.errno).toBe(expected);
  });

  it("map builds the bus-address list and takes a kref per mapping; unmap drops it; map of a revoked export is ENODEV", () => {
    const w = vfioWorld();
    const gpu0 = w.device("gpu0");
    gpu0.open();
    const { buf, priv } = exportFd(gpu0, 1, [[4 * MIB, 2 * MIB]]);
    const bar1 = gpu0.fn.bars.find((b) => b.index === 1) as Bar;
    const { attach, map, sgt } = lateImporter(w.engine, buf, fn(w.topology, "nic0"), 0);
    const second = map();
    if (!second.ok) throw new Error(second.errno);
    expect(sgt.entries).toEqual([{ dmaAddress: bar1.busAddress + 4 * MIB, length: 2 * MIB }]);
    expect(priv.kref).toBe(3);
    buf.resv.lock("t");
    dmaBufUnmapAttachment(attach, second.value);
    expect(priv.kref).toBe(2);
    priv.revoked = true;
    expect(dmaBufMapAttachment(attach)).toEqual({ ok: false, errno: "ENODEV" });
    buf.resv.unlock("t");
  });
});

describe("close", () => {
  it("revokes for good: attach and map fail forever, through reopen and MEM toggles; the fd stays valid", () => {
    const w = vfioWorld();
    const gpu0 = w.device("gpu0");
    const nic0 = fn(w.topology, "nic0");
    gpu0.open();
    const { fd, buf, priv } = exportFd(gpu0);
    const { attach, map } = lateImporter(w.engine, buf, nic0, 0);
    const close = gpu0.close();
    w.engine.runUntilQuiet({ eventsMax: 1000 });
    expect([close.result, priv.vdev, priv.linked, priv.revoked, attach.mapCount]).toEqual([{ ok: true, value: undefined }, undefined, false, true, 0]);
    gpu0.open();
    gpu0.writeCommandMemory(false);
    w.engine.runUntilQuiet({ eventsMax: 1000 });
    gpu0.writeCommandMemory(true);
    w.engine.runUntilQuiet({ eventsMax: 1000 });
    expect(map()).toEqual({ ok: false, errno: "ENODEV" });
    expect(dmaBufAttach(buf, nic0, { allowPeer2peer: true, invalidateMappings: () => undefined })).toEqual({ ok: false, errno: "ENODEV" });
    expect(w.fdTable.peek(fd)).toBe(buf);
  });

  it("registration references balance (I8): +1 per export, -1 once at release or at close, never both; every priv freed once", () => {
    const w = vfioWorld();
    const gpu0 = w.device("gpu0");
    gpu0.open();
    const exports = [exportFd(gpu0), exportFd(gpu0, 1, [[2 * MIB, 2 * MIB]]), exportFd(gpu0, 3)];
    w.fdTable.close(exports[0]?.fd ?? -1);
    expect([gpu0.registrationRefs, gpu0.exportList.length]).toEqual([3, 2]);
    gpu0.close();
    w.engine.runUntilQuiet({ eventsMax: 1000 });
    expect([gpu0.registrationRefs, gpu0.exportList.length]).toEqual([1, 0]);
    for (const e of exports.slice(1)) w.fdTable.close(e.fd);
    expect([gpu0.registrationRefs, gpu0.registrationGets, gpu0.registrationPuts]).toEqual([1, 3, 3]);
    expect(exports.map((e) => e.priv.frees)).toEqual([1, 1, 1]);
  });

  it("a final fput during a trigger waits for memory_lock before it unlinks (§c.5)", () => {
    const w = vfioWorld();
    const gpu0 = w.device("gpu0");
    gpu0.open();
    const slow = exportFd(gpu0);
    const other = exportFd(gpu0, 3);
    lateImporter(w.engine, slow.buf, fn(w.topology, "nic0"), 8_000_000);
    gpu0.writeCommandMemory(false);
    w.engine.runUntil(2_000_000);
    w.fdTable.close(other.fd);
    expect([other.priv.linked, other.priv.frees]).toEqual([true, 0]);
    w.engine.runUntilQuiet({ eventsMax: 1000 });
    expect([other.priv.linked, other.priv.frees, gpu0.registrationRefs]).toEqual([false, 1, 2]);
    expect(w.trace.tuples().filter(([, k]) => k === "vfio/release.unlink")).toEqual([
      [8_000_000, "vfio/release.unlink", { device: "gpu0", buf: "gpu0/bar3#1" }],
    ]);
  });
});

describe("mutants of the export path", () => {
  it("E10: an fd failure drops the dma-buf once (default) or also falls through the unwind: registration put twice, priv freed twice (I8)", () => {
    const run = (mutants: "E10"[]) => {
      const w = vfioWorld(undefined, 1);
      const gpu0 = w.device("gpu0", { mutants });
      gpu0.open();
      const first = exportFd(gpu0);
      const failedExport = gpu0.deviceFeature(exportBytes(3));
      const leaked = gpu0.exportList.length;
      const failedPriv = w.trace.events.filter((e) => e.kind === "priv.free").map((e) => [e.buf, e.frees]);
      w.fdTable.close(first.fd);
      const next = gpu0.deviceFeature(exportBytes(3));
      return { failedExport, leaked, failedPriv, refsAfter: gpu0.registrationRefs, next };
    };
    expect(run([])).toEqual({
      failedExport: { ok: false, errno: "EMFILE" },
      leaked: 1,
      failedPriv: [["gpu0/bar3#1", 1]],
      refsAfter: 2,
      next: { ok: true, value: 3 },
    });
    expect(run(["E10"])).toEqual({
      failedExport: { ok: false, errno: "EMFILE" },
      leaked: 1,
      failedPriv: [
        ["gpu0/bar3#1", 1],
        ["gpu0/bar3#1", 2],
      ],
      refsAfter: 0,
      next: { ok: false, errno: "ENODEV" },
    });
  });

  it("E27: one provider per device maps BAR1 with BAR0's bus offset instead of its own (I11)", () => {
    const mapOf = (mutants: "E27"[]) => {
      const w = vfioWorld();
      const gpu = fn(w.topology, "gpu0");
      // Two host-bridge windows with different bus offsets (the spec format has one per bridge).
      const bars = gpu.bars.map((b) => (b.index === 1 ? { ...b, busAddress: b.cpuAddress + 0x10_0000_0000 } : b));
      (gpu as unknown as { bars: readonly Bar[] }).bars = bars;
      const gpu0 = w.device("gpu0", { mutants });
      gpu0.open();
      const { buf } = exportFd(gpu0);
      const bar1 = bars.find((b) => b.index === 1) as Bar;
      return lateImporter(w.engine, buf, fn(w.topology, "nic0"), 0).sgt.entries[0]?.dmaAddress === bar1.busAddress;
    };
    expect([mapOf([]), mapOf(["E27"])]).toEqual([true, false]);
  });
});
