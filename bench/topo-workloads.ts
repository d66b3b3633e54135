/**
 * Workloads of the `topo` benchmark suite: a 1,024-endpoint topology classified pair by pair,
 * as `p2psim topo --matrix --all` does.
 */
import { buildTopology } from "../src/pci/build-topology.js";
import { hostBridge, leaf, pcieSwitch, rootPort } from "../src/pci/builders.js";
import { nvidiaSmiLevel } from "../src/pci/nvidia-level.js";
import { P2pdma } from "../src/pci/p2pdma.js";
import type { PciFunction, Topology } from "../src/pci/topology.js";
import type { FunctionSpec } from "../src/pci/topology-spec.js";

/**
 * 8 host bridges, each in its own PCI segment (a domain has only 256 buses), 4 per NUMA node ×
 * 2 root ports × a two-level switch tree of 8 × 8 GPUs and NICs: 1,024 endpoints, with ACS
 * redirect on the switch ports of every other host bridge so that every kind of answer occurs.
 */
export function largeTopology(): Topology {
  let n = 0;
  // Only the 64-bit BARs: 512 GPUs' 16 MiB 32-bit BARs would not fit below 4 GiB.
  const endpoint = (): FunctionSpec => {
    const spec = leaf(n % 2 === 0 ? "gpu" : "nic", `ep${n++}`);
    return { ...spec, bars: (spec.bars ?? []).filter((bar) => bar.type !== "mem32") };
  };
  const tree = (acsRedirect: boolean) =>
    rootPort(
      pcieSwitch(
        Array.from({ length: 8 }, () => pcieSwitch(Array.from({ length: 8 }, endpoint), { acsRedirect })),
        { acsRedirect },
      ),
    );
  const bridges = Array.from({ length: 8 }, (_, i) => hostBridge(`hb${i}`, i >> 2, [tree(i % 2 === 1), tree(i % 2 === 1)], 0, i));
  const built = buildTopology({ name: "1024 endpoints", hostBridges: bridges });
  if (!built.ok) throw new Error(`largeTopology: ${JSON.stringify(built.errors.slice(0, 3))}`);
  return built.topology;
}

/** Classifies every ordered pair of endpoints (map type, distance, reason, nvidia-smi level). Returns the pair count. */
export function classifyAllPairs(topology: Topology): number {
  const endpoints = topology.functions.filter((f) => f.kind === "endpoint" && f.identity.deviceKind !== "other");
  const p2pdma = new P2pdma(topology);
  let pairs = 0;
  for (const a of endpoints) {
    for (const b of endpoints) {
      if (a === b) continue;
      const result = p2pdma.calc(a, b as PciFunction);
      if (result.distance < 0 || nvidiaSmiLevel(a, b).length === 0) throw new Error("impossible");
      pairs++;
    }
  }
  return pairs;
}
