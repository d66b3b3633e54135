/** Topology helpers every layer's tests share. */
import { buildTopology } from "../../src/pci/build-topology.js";
import type { PciFunction, Topology } from "../../src/pci/topology.js";
import type { TopologySpec } from "../../src/pci/topology-spec.js";

/** Builds a spec, throwing on errors (a bug in the test). */
export function machine(spec: TopologySpec): Topology {
  const result = buildTopology(spec);
  if (!result.ok) throw new Error(`bad test topology: ${JSON.stringify(result.errors)}`);
  return result.topology;
}

/** The function named `name`. */
export function fn(topology: Topology, name: string): PciFunction {
  const found = topology.find(name);
  if (found === undefined) throw new Error(`no function ${name}`);
  return found;
}
