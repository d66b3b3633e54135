/**
 * Workloads of the `transport` benchmark suite: DMA write streams from a Gen5 x16 device behind
 * one switch to host memory, TLP by TLP.
 */
import { Engine } from "../src/fabric/engine.js";
import { buildTopology } from "../src/pci/build-topology.js";
import { type DmaStreamResult, runDmaStream } from "../src/pci/dma-stream.js";
import { Fabric } from "../src/pci/fabric.js";
import { GEN5_SERVER } from "../src/pci/perf-platform.js";
import { routeRequest } from "../src/pci/route.js";
import type { PciFunction } from "../src/pci/topology.js";

const GEN5X16 = { capGen: 5, capWidth: 16, gen: 5, width: 16 };

/** Runs `ops` writes of `sizeBytes` from a Gen5 x16 device behind one switch; returns the stream's result and the engine's event count. */
export function switchWriteStream(sizeBytes: number, ops: number): DmaStreamResult & { readonly events: number } {
  const built = buildTopology({
    hostBridges: [
      {
        devices: [
          {
            kind: "root-port",
            link: GEN5X16,
            children: [
              {
                kind: "upstream-port",
                link: GEN5X16,
                children: [{ kind: "downstream-port", link: GEN5X16, children: [{ kind: "endpoint", name: "dev", link: GEN5X16 }] }],
              },
            ],
          },
        ],
      },
    ],
  });
  if (!built.ok) throw new Error("switch topology");
  const device = built.topology.find("dev") as PciFunction;
  const engine = new Engine({ seed: 0 });
  const fabric = new Fabric(engine, {
    platform: GEN5_SERVER,
    ideal: false,
    tlp: { mps: 256, mrrs: 512, rcb: 64, rcbChunks: false, addressBits: 64, ecrc: false },
  });
  const target = { kind: "host-memory" as const, numaNode: 0 };
  const result = runDmaStream(engine, fabric, {
    requester: device,
    target,
    route: routeRequest(device, target),
    baseAddress: 0x1_0000_0000,
    op: "write",
    sizeBytes,
    ops,
    workingSetBytes: Math.max(sizeBytes, 1 << 26),
    tags: 256,
    inflightBytes: Math.max(sizeBytes, 1 << 20),
    issueLatencyPs: 0,
    completerLatencyPs: 0,
  });
  return { ...result, events: engine.eventsFired };
}
