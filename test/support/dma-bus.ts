/** A DMA bus on a built machine, and what its `pci/tlp` events say, for the DMA bus and port tests. */
import { expect } from "vitest";
import { Engine } from "../../src/fabric/engine.js";
import { TraceRecorder } from "../../src/fabric/recorder.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { DmaBus, type DmaBusOptions } from "../../src/pci/dma-bus.js";
import type { DmaDone, DmaOutcome } from "../../src/pci/dma-port.js";
import { tlpBandwidthGbps } from "../../src/pci/pcie-model.js";
import { GEN5_SERVER } from "../../src/pci/perf-platform.js";
import type { Bar } from "../../src/pci/topology.js";
import type { TopologySpec } from "../../src/pci/topology-spec.js";
import { fn, machine } from "./build.js";

export const NS = 1000;

/** Serialization of one byte on the one-switch machine's Gen4 x16 links (MPS 256), ps. */
export const P = 8000 / tlpBandwidthGbps({ gen: 4, lanes: 16, mps: 256, mrrs: 512, rcb: 64, rcbChunks: false, addressBits: 64, ecrc: false });

/**
 * A bus on `spec` (default: the one-switch machine) with GEN5_SERVER and `pci/tlp` events on,
 * every event recorded.
 */
export function world(spec: TopologySpec = oneSwitch(), options: Partial<DmaBusOptions> = {}) {
  const topology = machine(spec);
  const engine = new Engine({ seed: 1, verify: true });
  const trace = new TraceRecorder().attach(engine.trace);
  const bus = new DmaBus(engine, topology, { platform: GEN5_SERVER, tlpEvents: true, ...options });
  const f = (name: string) => fn(topology, name);
  const bar = (name: string, index: number) => f(name).bars.find((b) => b.index === index) as Bar;
  const run = () => expect(engine.runUntilQuiet({ eventsMax: 100_000 }).status).toBe("quiet");
  return { topology, engine, trace, bus, f, bar, run };
}

/**
 * One `pci/tlp` event: event time, TLP kind, address, bytes (requested for MRd, carried otherwise),
 * target, status (UR for a request its target refused or a UR completion, else SC), and — only where it differs from the event time — `atPs`, when the
 * TLP is really there (a request into host memory: root-complex latency and IOMMU walk folded in).
 */
export type Landing = [t: number, tlp: string, address: number, bytes: number, target: string, status: string, atPs?: number];

/**
 * The recorded `pci/tlp` events of `requester` (a function id's label, `cpu`; default: all), in
 * trace order. Checks on the way that no event's `atPs` is before its time.
 */
export function landings(trace: TraceRecorder, requester?: string): Landing[] {
  return trace.events
    .filter((e) => e.layer === "pci" && e.kind === "tlp" && (requester === undefined || e.requester === requester))
    .map((e) => {
      const atPs = e.atPs as number;
      expect(atPs).toBeGreaterThanOrEqual(e.t);
      const row: Landing = [e.t, e.tlp as string, e.address as number, e.bytes as number, e.target as string, e.status as string];
      if (atPs !== e.t) row.push(atPs);
      return row;
    });
}

/** A done callback that records `[label, outcome, t]`. */
export const doneInto =
  (out: Array<[string, DmaOutcome, number]>, label: string): DmaDone =>
  (outcome, atPs) =>
    out.push([label, outcome, atPs]);
