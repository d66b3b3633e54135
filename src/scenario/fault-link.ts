/**
 * Link faults: the link above a device retrains to another width (or generation), or goes down
 * and perhaps comes back; a completer stops answering non-posted requests. Each acts on the
 * scenario's DMA bus through the fabric (fabric.ts), so the transport's own paths run: Recovery
 * delays and the new bandwidth, TLPs lost on a link that is down, UR from the port above it, and
 * requesters' completion timeouts [kernel.md §c.6; pcie-timing.md §2].
 */
import { us } from "../fabric/time.js";
import type { PciFunction } from "../pci/topology.js";
import type { Strikes } from "./fault-strike.js";
import type { Fault } from "./scenario.js";
import type { ScenarioWorld } from "./scenario-world.js";

/**
 * The function a fault names.
 * @throws Error when the topology has no such function (the loader checks targets: a bug).
 */
function targetOf(world: ScenarioWorld, fault: Fault): PciFunction {
  const fn = world.rdma.topology.find(fault.target);
  if (fn === undefined) throw new Error(`${fault.fault}: no function ${fault.target} in the topology`);
  return fn;
}

/**
 * The port above the link a fault on `fault.target` hits: the target's upstream bridge.
 * @throws Error when the target sits on a root bus (no link above it).
 */
function portAbove(world: ScenarioWorld, fault: Fault): PciFunction {
  const fn = targetOf(world, fault);
  if (fn.upstream === undefined) throw new Error(`${fault.fault}: ${fault.target} is on a root bus, with no link above it`);
  return fn.upstream;
}

/** Strikes of the link faults. */
export const LINK_STRIKES: Strikes<"link-down" | "link-retrain" | "completion-timeout"> = {
  "link-retrain": (w, f) => {
    if (f.width === undefined) throw new Error(`link-retrain: ${f.target} has no width (the loader checks it)`);
    const { width, gen } = f;
    const port = portAbove(w, f);
    w.rdma.bus.fabric.retrain(port, width, gen);
    return undefined;
  },
  "link-down": (w, f) => {
    const port = portAbove(w, f);
    const fabric = w.rdma.bus.fabric;
    // A link already down stays down (a second fault on it changes nothing until one brings it up).
    if (!fabric.linkIsDown(port)) fabric.linkDown(port);
    // With a duration the link trains again, at the width and generation it had.
    if (f.durationUs !== undefined) {
      w.engine.scheduleAt(w.engine.nowPs + us(f.durationUs), () => {
        if (fabric.linkIsDown(port)) fabric.linkUp(port);
      });
    }
    return undefined;
  },
  "completion-timeout": (w, f) => {
    const fn = targetOf(w, f);
    const { engine } = w;
    const fabric = w.rdma.bus.fabric;
    const untilPs = f.durationUs === undefined ? null : engine.nowPs + us(f.durationUs);
    fabric.mutedCompleters.add(fn);
    engine.trace.emit("pci", "completer.mute", { function: fn.label, untilPs });
    if (untilPs !== null) {
      engine.scheduleAt(untilPs, () => {
        fabric.mutedCompleters.delete(fn);
        engine.trace.emit("pci", "completer.unmute", { function: fn.label });
      });
    }
    return undefined;
  },
};
