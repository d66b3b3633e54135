/**
 * Workload of the `rdma` benchmark suite: a stream of 4 KiB RDMA WRITEs with CQEs from nic0 into
 * gpu0's BAR through one Gen5 x16 switch (loopback QPs; the CQ buffer in the BAR too, through a
 * pinned-revocable buffer descriptor), reaped by polling the CQ over MMIO.
 */
import { buildTopology } from "../src/pci/build-topology.js";
import { oneSwitch } from "../src/pci/builders.js";
import type { TopologySpec } from "../src/pci/topology-spec.js";
import { startRdmaWriteStream } from "../src/scenario/rdma-write-stream.js";
import { rdmaWriteWorld } from "../src/scenario/rdma-write-world.js";

const GEN5X16 = { capGen: 5, capWidth: 16, gen: 5, width: 16 };

/** The spec with every link trained at Gen5 x16. */
function gen5(spec: unknown): unknown {
  if (Array.isArray(spec)) return spec.map(gen5);
  if (spec === null || typeof spec !== "object") return spec;
  return Object.fromEntries(Object.entries(spec).map(([key, value]) => [key, key === "link" ? GEN5X16 : gen5(value)]));
}

/** What one run measured. */
export interface RdmaWriteRun {
  readonly wrs: number;
  readonly failed: number;
  readonly events: number;
  readonly tlps: number;
  readonly simulatedPs: number;
  readonly goodputGbps: number;
}

/** Runs `count` WRITEs of `bytes`; returns the completions and the engine's event count. */
export function rdmaWriteStreamRun(count: number, bytes = 4096): RdmaWriteRun {
  const built = buildTopology(gen5(oneSwitch(["gpu", "nic"])) as TopologySpec);
  if (!built.ok) throw new Error("bench topology");
  const world = rdmaWriteWorld({ topology: built.topology, cqInBar: true, cqPin: "pinned-revocable", sqDepth: 128, cqEntries: 256 });
  if (!world.sendCqResult.ok) throw new Error(`CQ: ${world.sendCqResult.errno}`);
  const cq = world.sendCqResult.value;
  const { a } = world.connect(cq);
  const stream = startRdmaWriteStream(world, a, world.nic.cq(cq), { count, bytes, slots: 128 });
  world.engine.runUntilQuiet({ eventsMax: Number.MAX_SAFE_INTEGER });
  const wcs = stream.reaped();
  const good = wcs.filter((wc) => wc.status === "SUCCESS").length;
  const simulatedPs = world.engine.nowPs;
  return {
    wrs: wcs.length,
    failed: wcs.length - good,
    events: world.engine.eventsFired,
    tlps: world.bus.tlps,
    simulatedPs,
    goodputGbps: (good * bytes * 8) / (simulatedPs / 1000),
  };
}
