/**
 * The `dmabuf/map` fields the I11/I14/I15 monitors read (`sg`, `ranges`, `mapKind`,
 * `barCpuAddress`, `barBusAddress`), built in the test from the model's own mapping until the
 * model emits them: the map event of a real run, enriched with the real `DmaBufDma` and export.
 */
import type { DmaBufDma } from "../../src/dmabuf/map.js";
import type { TraceEvent } from "../../src/fabric/trace.js";
import type { Bar } from "../../src/pci/topology.js";
import type { VfioPciDmaBuf } from "../../src/vfio/dmabuf-export.js";
import type { VfioOptions } from "../../src/vfio/profiles.js";
import { exportFd, fn, lateImporter, MIB, vfioWorld } from "../vfio/world.js";

/** The map event of `sgt`, with the fields the lead is asked to add to `dmabuf/map`. */
export function enrichedMap(mapEvent: TraceEvent, sgt: DmaBufDma, priv: VfioPciDmaBuf): TraceEvent {
  const bar = priv.provider.fn.bars.find((b) => b.index === priv.barIndex) as Bar;
  return {
    ...mapEvent,
    sg: sgt.entries.map((e) => [e.dmaAddress, e.length]),
    ranges: priv.physVec.map((r) => [r.paddr, r.len]),
    mapKind: sgt.kind,
    barCpuAddress: bar.cpuAddress,
    barBusAddress: bar.busAddress,
  } as TraceEvent;
}

/**
 * gpu0 BAR1 exported as two ranges and mapped by nic0, BAR1 given its own bus offset (two host
 * bridge windows, as test/vfio/export.test.ts does for E27); returns the enriched map event.
 */
export function realMap(options: VfioOptions = {}, busOffset = 0x10_0000_0000): TraceEvent {
  const w = vfioWorld();
  const gpu = fn(w.topology, "gpu0");
  const bars = gpu.bars.map((b) => (b.index === 1 ? { ...b, busAddress: b.cpuAddress + busOffset } : b));
  (gpu as unknown as { bars: readonly Bar[] }).bars = bars;
  const gpu0 = w.device("gpu0", options);
  gpu0.open();
  const { buf, priv } = exportFd(gpu0, 1, [
    [0, 2 * MIB],
    [4 * MIB, MIB],
  ]);
  const { sgt } = lateImporter(w.engine, buf, fn(w.topology, "nic0"), 0);
  const mapEvent = w.trace.events.find((e) => e.layer === "dmabuf" && e.kind === "map") as TraceEvent;
  return enrichedMap(mapEvent, sgt as DmaBufDma, priv);
}
