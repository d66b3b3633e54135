/**
 * Test support for the vfio layer: a machine (one switch with gpu0, gpu1, nic0 unless given), an
 * engine with a trace recorder, vfio-pci devices over its functions, export requests as uAPI bytes,
 * and a dynamic importer (nic0) whose unmap arrives a fixed time after each invalidate.
 */

import { type DmaBufAttachment, dmaBufAttach } from "../../src/dmabuf/attachment.js";
import type { DmaBuf } from "../../src/dmabuf/dma-buf.js";
import { dmaBufMapAttachment, dmaBufUnmapAttachment } from "../../src/dmabuf/map.js";
import { Engine } from "../../src/fabric/engine.js";
import { sleep } from "../../src/fabric/process.js";
import { TraceRecorder } from "../../src/fabric/recorder.js";
import type { TraceEvent } from "../../src/fabric/trace.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { P2pdma } from "../../src/pci/p2pdma.js";
import type { PciFunction } from "../../src/pci/topology.js";
import type { TopologySpec } from "../../src/pci/topology-spec.js";
import type { VfioPciDmaBuf } from "../../src/vfio/dmabuf-export.js";
import { FdTable } from "../../src/vfio/fd-table.js";
import type { VfioOptions } from "../../src/vfio/profiles.js";
import { encodeDmaBufFeature } from "../../src/vfio/uapi.js";
import { VfioPciDevice } from "../../src/vfio/vfio-pci-device.js";
import { fn, machine } from "../support/build.js";

export const MIB = 2 ** 20;
/** One microsecond in picoseconds. */
export const US = 1_000_000;

/** A world: engine, trace, machine, p2pdma state, one fd table, and a device factory. */
export function vfioWorld(spec: TopologySpec = oneSwitch(), fdsMax = 1024) {
  const topology = machine(spec);
  const engine = new Engine({ seed: 1, verify: true });
  const trace = new TraceRecorder().attach(engine.trace);
  const p2pdma = new P2pdma(topology);
  const fdTable = new FdTable(fdsMax);
  const device = (name: string, options: VfioOptions = {}) => new VfioPciDevice(engine, fn(topology, name), { p2pdma, fdTable, options });
  return { topology, engine, trace, p2pdma, fdTable, device };
}

/** The uAPI bytes of an export of `ranges` ([offset, length] in bytes) of BAR `bar`. */
export function exportBytes(bar: number, ranges: ReadonlyArray<readonly [number, number]> = [[0, 2 * MIB]]): Uint8Array {
  return encodeDmaBufFeature({
    regionIndex: bar,
    openFlags: 0,
    dmaBufFlags: 0,
    ranges: ranges.map(([offset, length]) => ({ offset: BigInt(offset), length: BigInt(length) })),
  });
}

/** Exports BAR `bar` of `device` synchronously and returns the fd and the dma-buf behind it. */
export function exportFd(device: VfioPciDevice, bar = 1, ranges?: ReadonlyArray<readonly [number, number]>) {
  const result = device.deviceFeature(exportBytes(bar, ranges));
  if (!result.ok) throw new Error(`export failed: ${result.errno}`);
  const buf = device.fdTable.peek(result.value) as DmaBuf<VfioPciDmaBuf> | undefined;
  if (buf === undefined) throw new Error("no dma-buf behind the fd");
  return { fd: result.value, buf, priv: buf.priv };
}

/**
 * nic0 as a dynamic, peer-to-peer, revocable importer of `buf`, mapped once now. Its invalidate
 * callback unmaps every mapping `unmapDelayPs` later (a late importer), and never re-maps.
 */
export function lateImporter(engine: Engine, buf: DmaBuf<VfioPciDmaBuf>, importer: PciFunction, unmapDelayPs: number) {
  const holder = importer.id;
  const attached = dmaBufAttach(buf, importer, {
    allowPeer2peer: true,
    invalidateMappings: (attach: DmaBufAttachment<VfioPciDmaBuf>) => {
      if (attach.mapCount === 0) return;
      engine.spawn(`${importer.label} unmap`, function* () {
        yield sleep(unmapDelayPs);
        yield buf.resv.acquire(holder);
        for (const sgt of [...attach.sgts]) dmaBufUnmapAttachment(attach, sgt);
        buf.resv.unlock(holder);
      });
    },
  });
  if (!attached.ok) throw new Error(`attach failed: ${attached.errno}`);
  const attach = attached.value;
  const map = () => {
    buf.resv.lock(holder);
    const result = dmaBufMapAttachment(attach);
    buf.resv.unlock(holder);
    return result;
  };
  const mapped = map();
  if (!mapped.ok) throw new Error(`map failed: ${mapped.errno}`);
  return { attach, map, sgt: mapped.value };
}

/** Kinds hidden by {@link brief}: lock hand-offs and process bookkeeping, which the full-trace tests pin. */
const QUIET = new Set(["vfio/memory_lock.down_write", "vfio/memory_lock.up_write", "fabric/process.spawn", "fabric/process.exit"]);
const SHOWN_DMABUF = new Set(["dmabuf/invalidate", "dmabuf/unmap", "dmabuf/fence.signal"]);

/** An event as `[time in µs, "kind detail"]`: vfio events and the importer's invalidate/unmap. */
export function brief(events: readonly TraceEvent[]): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const event of events) {
    const kind = `${event.layer}/${event.kind}`;
    if (QUIET.has(kind) || (event.layer !== "vfio" && !SHOWN_DMABUF.has(kind))) continue;
    const detail = [event.device, event.buf, event.memory, event.state, event.method, event.errno]
      .filter((v) => v !== undefined && v !== null)
      .map((v) => (typeof v === "boolean" ? (v ? "on" : "off") : String(v)))
      .join(" ");
    out.push([event.t / US, `${kind} ${detail}`.trim()]);
  }
  return out;
}

export { fn, machine };
