/**
 * Test support for the NIC engine: {@link rdmaWriteWorld} on the one-switch machine (gpu0, gpu1,
 * nic0) with engine self-checks on and a trace recorder.
 */
import { TraceRecorder } from "../../src/fabric/recorder.js";
import { oneSwitch } from "../../src/pci/builders.js";
import { type RdmaWriteWorldOptions, rdmaWriteWorld } from "../../src/scenario/rdma-write-world.js";
import { machine } from "../support/build.js";

/** Options: those of the world, without the topology. */
export type NicWorldOptions = Omit<RdmaWriteWorldOptions, "topology">;

/** The world with `trace` (every event) and `run()` (until quiet, bounded). */
export function nicWorld(options: NicWorldOptions = {}) {
  const topology = machine(oneSwitch(undefined, { iommu: options.iommu ? "on" : "off" }));
  const world = rdmaWriteWorld({ verify: true, ...options, topology });
  const trace = new TraceRecorder().attach(world.engine.trace);
  const run = (eventsMax = 1_000_000) => world.engine.runUntilQuiet({ eventsMax }).status;
  return { ...world, trace, run };
}
