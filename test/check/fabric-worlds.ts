/**
 * Worlds for the fabric monitors' tests: a vfio machine whose p2pdma publishes its answers and
 * whose monitors are subscribed, and a builder of hand-written events.
 */

import type { Monitor, Violation } from "../../src/check/monitor.js";
import { Engine } from "../../src/fabric/engine.js";
import { TraceRecorder } from "../../src/fabric/recorder.js";
import type { TraceEvent, TraceValue } from "../../src/fabric/trace.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { DmaBus } from "../../src/pci/dma-bus.js";
import { P2pdma, type P2pdmaProfile } from "../../src/pci/p2pdma.js";
import { GEN5_SERVER } from "../../src/pci/perf-platform.js";
import type { TopologySpec } from "../../src/pci/topology-spec.js";
import { FdTable } from "../../src/vfio/fd-table.js";
import type { VfioOptions } from "../../src/vfio/profiles.js";
import { VfioPciDevice } from "../../src/vfio/vfio-pci-device.js";
import { fn, machine } from "../support/build.js";

/** AMD Zen 3: the host bridge forwards P2P without an allow-list lookup. */
export const ZEN3 = { cpuVendor: "amd", cpuFamily: 0x19, cpuModel: 1 } as const;

/** A monitor subscribed to an engine: every violation it reports, in order (its `observe` keeps going). */
export function watch(engine: Engine, monitor: Monitor) {
  const violations: Violation[] = [];
  engine.trace.subscribe((event) => {
    const v = monitor.observe(event);
    if (v !== undefined) violations.push(v);
  });
  return violations;
}

/** vfio devices over `spec` with a traced p2pdma of `profile`, and a DMA bus with `pci/tlp` events. */
export function fabricWorld(spec: TopologySpec = oneSwitch(), profile: P2pdmaProfile = "current") {
  const topology = machine(spec);
  const engine = new Engine({ seed: 1, verify: true });
  const trace = new TraceRecorder().attach(engine.trace);
  const p2pdma = new P2pdma(topology, profile);
  p2pdma.trace = engine.trace;
  const fdTable = new FdTable(1024);
  const device = (name: string, options: VfioOptions = {}) => new VfioPciDevice(engine, fn(topology, name), { p2pdma, fdTable, options });
  const bus = () => new DmaBus(engine, topology, { platform: GEN5_SERVER, tlpEvents: true });
  return { topology, engine, trace, p2pdma, device, bus, f: (name: string) => fn(topology, name) };
}

/** Hand-written events: `ev(layer, kind, fields, t)` with sequence numbers in call order. */
export function eventWriter() {
  let seq = 0;
  return (layer: string, kind: string, fields: Record<string, TraceValue>, t = 0): TraceEvent => ({ t, seq: seq++, layer, kind, ...fields }) as TraceEvent;
}

/** Feeds events to a monitor; returns the violations in order. */
export function feed(monitor: Monitor, events: readonly TraceEvent[]): Violation[] {
  const out: Violation[] = [];
  for (const event of events) {
    const v = monitor.observe(event);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** `layer/kind` of each event of a chain. */
export const kinds = (chain: readonly TraceEvent[]) => chain.map((e) => `${e.layer}/${e.kind}`);
