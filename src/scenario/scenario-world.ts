/**
 * The machine a scenario runs on, assembled from its topology, kernel and exports: the first
 * export and the first NIC of the workloads make the RDMA world (rdma-write-world.ts: VFIO
 * export, DMA bus, NIC, MRs, the send CQ); every further export opens its device through
 * vfio-pci on the same engine and fd table. Devices are found by label for the faults.
 */
import type { Engine } from "../fabric/engine.js";
import { buildTopology } from "../pci/build-topology.js";
import { P2pdma } from "../pci/p2pdma.js";
import { encodeDmaBufFeature } from "../vfio/uapi.js";
import { VfioPciDevice } from "../vfio/vfio-pci-device.js";
import type { KernelOptions } from "./kernel-options.js";
import type { LoadedScenario } from "./load-scenario.js";
import { type RdmaWriteWorld, rdmaWriteWorld } from "./rdma-write-world.js";
import type { RdmaStreamWorkload } from "./scenario.js";

/** What a scenario's programs and faults act on. */
export interface ScenarioWorld {
  readonly engine: Engine;
  readonly rdma: RdmaWriteWorld;
  /** Every vfio-pci device the scenario opened, by label. */
  readonly devices: ReadonlyMap<string, VfioPciDevice>;
}

/**
 * Builds the world at time 0; `observe` gets the engine first, to subscribe the run's sinks.
 * @throws Error when a setup step fails (the loader's checks make this a bug, not bad input).
 */
export function scenarioWorld(loaded: LoadedScenario, kernel: KernelOptions, seed: number, observe: (engine: Engine) => void = () => {}): ScenarioWorld {
  const { scenario } = loaded;
  // A fresh topology per run: a run changes its functions' state (MEM enable, power, reset).
  const built = buildTopology(loaded.topologySpec);
  if (!built.ok) throw new Error(`the scenario's topology no longer builds: ${built.errors[0]?.message}`);
  const topology = built.topology;
  const [first, ...more] = scenario.exports;
  if (first === undefined) throw new Error("a scenario exports at least one BAR");
  const stream = scenario.workloads.find((w): w is RdmaStreamWorkload => w.kind === "rdma-stream");
  const nicLabel = stream?.nic ?? scenario.workloads[0]?.nic ?? "nic0";
  const cq = stream?.cq;
  const rdma = rdmaWriteWorld({
    topology,
    seed,
    gpuLabel: first.device,
    nicLabel,
    bar: first.bar,
    ...(first.bytes === undefined ? {} : { exportBytes: first.bytes }),
    p2pdmaProfile: kernel.p2pdma,
    p2pdmaMutants: kernel.p2pdmaMutants,
    // Every map-type answer is on the trace, so I9 and I12 judge the first export's decisions too.
    p2pdmaTrace: true,
    vfio: kernel.vfio,
    iommu: scenario.iommu ?? false,
    cqInBar: cq?.placement === "bar",
    cqPin: cq?.pin ?? "pinned",
    ...(cq?.entries === undefined ? {} : { cqEntries: cq.entries }),
    mutants: kernel.driver,
    iommuMutants: kernel.iommu,
    tlpEvents: true,
    observe,
  });
  const devices = new Map<string, VfioPciDevice>([[first.device, rdma.gpu0]]);
  for (const extra of more) {
    let device = devices.get(extra.device);
    if (device === undefined) {
      const fn = topology.find(extra.device);
      if (fn === undefined) throw new Error(`no device ${extra.device}`);
      const p2pdma = new P2pdma(topology, kernel.p2pdma, kernel.p2pdmaMutants);
      p2pdma.trace = rdma.engine.trace;
      device = new VfioPciDevice(rdma.engine, fn, { p2pdma, fdTable: rdma.fdTable, options: kernel.vfio });
      device.open();
      devices.set(extra.device, device);
    }
    const ranges = [{ offset: 0n, length: BigInt(extra.bytes ?? 2 ** 21) }];
    const exported = device.deviceFeature(encodeDmaBufFeature({ regionIndex: extra.bar, openFlags: 0, dmaBufFlags: 0, ranges }));
    if (!exported.ok) throw new Error(`export of ${extra.device} BAR${extra.bar} failed with ${exported.errno}`);
  }
  return { engine: rdma.engine, rdma, devices };
}
