/**
 * `npm run bench -- [suite...]`: tinybench suites, each printing throughput with the workload
 * named. Suites: `engine` (the two standard DES workloads on p2psim's engine), `topo` (the
 * topology importers and the p2pdma classification), `transport` (TLP streams through a switch)
 * `rdma` (RDMA WRITEs with CQEs into a GPU BAR) and `explore` (seed sweeps of the flagship scenario). Wall-clock time is read here and nowhere in
 * the model.
 */

import { availableParallelism } from "node:os";
import { Bench } from "tinybench";
import { importLspci } from "../src/io/lspci-import.js";
import { buildTopology } from "../src/pci/build-topology.js";
import { bytesAllocatedDuring } from "./allocation.js";
import { type DesWorkload, holdWorkload, mmcWorkload } from "./des-workloads.js";
import { scenarioFile, timeExploreCli } from "./explore-workloads.js";
import { synthLspciVerbose } from "./lspci-synth.js";
import { type RdmaWriteRun, rdmaWriteStreamRun } from "./rdma-workloads.js";
import { classifyAllPairs, largeTopology } from "./topo-workloads.js";
import { switchWriteStream } from "./transport-workloads.js";

/** Events fired per task iteration: large enough that timer resolution does not matter. */
const EVENTS_PER_ITERATION = 200_000;

interface Case {
  readonly name: string;
  readonly workload: DesWorkload;
  /** What one unit of `advance` is called in the output. */
  readonly unit: "events" | "requests";
  readonly perIteration: number;
}

function engineCases(): Case[] {
  const hold = [1e3, 1e4, 1e5, 1e6].map((n) => ({
    name: `(a) hold model, N=${n.toExponential(0)} pending`,
    workload: holdWorkload(n, 12345),
    unit: "events" as const,
    perIteration: EVENTS_PER_ITERATION,
  }));
  const mmc = [100, 10_000].map((p) => ({
    name: `(b) credit link C=16, P=${p} producers`,
    workload: mmcWorkload(p, 16, 12345),
    unit: "requests" as const,
    perIteration: EVENTS_PER_ITERATION / 2,
  }));
  return [...hold, ...mmc];
}

async function runEngineSuite(): Promise<void> {
  const cases = engineCases();
  const bench = new Bench({ time: 1500, warmupTime: 300 });
  for (const c of cases) bench.add(c.name, () => c.workload.advance(c.perIteration));
  await bench.run();
  console.log("suite engine: p2psim's Engine (typed-array queue, Resource) on the ../shared/bench workloads");
  const rows = bench.tasks.map((task, i) => {
    const c = cases[i] as Case;
    const result = task.result;
    const hz = result && "throughput" in result ? result.throughput.mean : 0;
    const rate = hz * c.perIteration;
    const eventsPerUnit = c.unit === "requests" ? 2 : 1;
    const measured = c.perIteration * 5;
    const bytes = bytesAllocatedDuring(() => c.workload.advance(measured));
    return {
      workload: c.name,
      throughput: `${(rate / 1e6).toFixed(2)}M ${c.unit}/s`,
      "engine events/s": `${((rate * eventsPerUnit) / 1e6).toFixed(2)}M`,
      "heap bytes/event (engine + workload code)": Number((bytes / (measured * eventsPerUnit)).toFixed(3)),
    };
  });
  console.table(rows);
}

/**
 * Topology suite: all-pairs classification of a 1,024-endpoint machine (target < 1 s) and the
 * import of a 10,000-line `lspci -vvv` (target < 300 ms), as `p2psim topo` does them.
 */
async function runTopoSuite(): Promise<void> {
  const topology = largeTopology();
  const lspciText = synthLspciVerbose(10_000);
  let pairs = 0;
  let imported = 0;
  const bench = new Bench({ time: 3000, warmupTime: 500, iterations: 3 });
  bench.add("all-pairs classification, 1,024 endpoints (map type, distance, reason, nvidia-smi level)", () => {
    pairs = classifyAllPairs(topology);
  });
  bench.add(`lspci -vvv import, ${lspciText.split("\n").length.toLocaleString("en")} lines, into a built topology`, () => {
    const result = importLspci({ verbose: { text: lspciText, file: "synth.txt" } });
    if (!result.ok) throw new Error(result.error.message);
    const built = buildTopology(result.spec);
    if (!built.ok) throw new Error(built.errors[0]?.message);
    imported = built.topology.functions.length;
  });
  await bench.run();
  console.log("suite topo: p2psim's topology importers and p2pdma classification");
  console.table(
    bench.tasks.map((task, i) => {
      const result = task.result;
      const meanMs = result && "latency" in result ? result.latency.mean : Number.NaN;
      return {
        workload: task.name,
        "mean ms": Number(meanMs.toFixed(1)),
        target: i === 0 ? "< 1000 ms" : "< 300 ms",
        throughput: i === 0 ? `${(((pairs / meanMs) * 1000) / 1e6).toFixed(2)}M pairs/s` : `${imported} functions`,
      };
    }),
  );
}

/**
 * Transport suite: a saturated Gen5 x16 write stream through one switch (target ≥ 5 M simulated
 * TLPs per second of wall time), and one 1 GiB write at MPS 256 (target < 2 s, memory flat).
 */
async function runTransportSuite(): Promise<void> {
  let tlps = 0;
  const bench = new Bench({ time: 3000, warmupTime: 500 });
  bench.add("saturated Gen5 x16 4 KiB writes through one switch to host memory (MPS 256)", () => {
    tlps = switchWriteStream(4096, 2000).tlps;
  });
  await bench.run();
  const task = bench.tasks[0];
  const meanMs = task?.result && "latency" in task.result ? task.result.latency.mean : Number.NaN;
  const heapBefore = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  let bytesAllocated = 0;
  let big: ReturnType<typeof switchWriteStream> | undefined;
  bytesAllocated = bytesAllocatedDuring(() => {
    big = switchWriteStream(2 ** 30, 1);
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const heapAfter = process.memoryUsage().heapUsed;
  console.log("suite transport: TLP-by-TLP DMA through the simulated fabric");
  console.table([
    {
      workload: task?.name,
      "simulated TLPs/s": `${(((tlps / meanMs) * 1000) / 1e6).toFixed(2)}M`,
      target: "≥ 5M TLPs/s",
      "wall ms per run": Number(meanMs.toFixed(1)),
    },
    {
      workload: "one 1 GiB write at MPS 256 (4,194,304 TLPs) through one switch",
      "simulated TLPs/s": `${((big?.tlps ?? 0) / seconds / 1e6).toFixed(2)}M`,
      target: "< 2 s wall, memory flat",
      "wall ms per run": Number((seconds * 1000).toFixed(0)),
      "heap growth MB": Number(((heapAfter - heapBefore) / 1e6).toFixed(1)),
      "bytes allocated per TLP": Number((bytesAllocated / (big?.tlps ?? 1)).toFixed(1)),
    },
  ]);
}

/**
 * RDMA suite: 100,000 4 KiB RDMA WRITEs with CQEs, nic0 → gpu0's BAR through one Gen5 x16 switch,
 * the CQ in the BAR too, reaped by MMIO polls (target < 2 s of wall time).
 */
async function runRdmaSuite(): Promise<void> {
  const count = 100_000;
  let run: RdmaWriteRun | undefined;
  const bench = new Bench({ time: 0, warmupTime: 0, iterations: 3, warmupIterations: 1 });
  bench.add(`${count.toLocaleString("en")} × 4 KiB RDMA WRITE + CQE, nic0 → gpu0 BAR1 through one Gen5 x16 switch (CQ in the BAR, MMIO polls)`, () => {
    run = rdmaWriteStreamRun(count);
  });
  await bench.run();
  const task = bench.tasks[0];
  const meanMs = task?.result && "latency" in task.result ? task.result.latency.mean : Number.NaN;
  const seconds = meanMs / 1000;
  console.log("suite rdma: the NIC's DMA engine as fabric traffic");
  console.table([
    {
      workload: task?.name,
      "wall ms per run (mean of 3)": Number(meanMs.toFixed(0)),
      target: "< 2000 ms",
      "simulated goodput": `${run?.goodputGbps.toFixed(1)} Gb/s`,
      "simulated time": `${((run?.simulatedPs ?? 0) / 1e6).toFixed(0)} µs`,
      "engine events/s": `${((run?.events ?? 0) / seconds / 1e6).toFixed(2)}M`,
      "simulated TLPs/s": `${((run?.tlps ?? 0) / seconds / 1e6).toFixed(2)}M`,
      "failed WRs": run?.failed,
    },
  ]);
}

/** Sweep sizes of the explore suite: a sweep as people run one, and one long enough for the steady rate. */
const EXPLORE_SHORT = 10_000;
const EXPLORE_LONG = 40_000;
/** rdma-write-during-flr runs about 12 times the events of the flagship per seed. */
const EXPLORE_FLR = 2_000;

/**
 * Explore suite: `p2psim explore --jobs 1` against `--jobs 2` (issue #7: two jobs on two cores at
 * least 1.7× one), each timed as the command a user runs (a fresh process, start-up included;
 * best of two rounds, the job counts alternating). Sweeps of the flagship (51 events per seed)
 * at 10,000 seeds, a common sweep, and 40,000; the difference between the two gives the steady
 * rate, once the fixed cost (start-up, loading, a worker start, JIT warm-up) is paid. And
 * rdma-write-during-flr.yaml (617 events per seed), whose runs keep more objects alive.
 * About a minute in all.
 */
async function runExploreSuite(): Promise<void> {
  const flagship = scenarioFile("revoke-during-cq-writes.yaml");
  const flr = scenarioFile("rdma-write-during-flr.yaml");
  const sweeps = [
    { name: "flagship revoke-during-cq-writes", file: flagship, seeds: EXPLORE_SHORT },
    { name: "flagship revoke-during-cq-writes", file: flagship, seeds: EXPLORE_LONG },
    { name: "rdma-write-during-flr", file: flr, seeds: EXPLORE_FLR },
  ];
  const best = sweeps.map(() => [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY]);
  const eventsPerSeed = sweeps.map(() => 0);
  for (const order of [
    [1, 2],
    [2, 1],
  ]) {
    for (const [k, sweep] of sweeps.entries()) {
      for (const jobs of order) {
        const t = timeExploreCli(sweep.file, sweep.seeds, jobs);
        const cell = best[k] as number[];
        cell[jobs - 1] = Math.min(cell[jobs - 1] as number, t.seconds);
        eventsPerSeed[k] = t.eventsPerSeed;
      }
    }
  }
  const seconds = (k: number, jobs: number) => (best[k] as number[])[jobs - 1] as number;
  console.log(`suite explore: p2psim explore --jobs 1 and 2, compiled CLI, fresh process per sweep, best of 2 (${availableParallelism()} cores)`);
  console.table(
    sweeps.flatMap((sweep, k) =>
      [1, 2].map((jobs) => ({
        workload: `${sweep.name}, seeds 1..${sweep.seeds}, --jobs ${jobs}`,
        "wall s": Number(seconds(k, jobs).toFixed(2)),
        "seeds/s": Number((sweep.seeds / seconds(k, jobs)).toFixed(0)),
        "events per seed": eventsPerSeed[k],
        "speed-up": jobs === 1 ? "" : `${(seconds(k, 1) / seconds(k, 2)).toFixed(2)}×`,
        target: jobs === 1 ? (sweep.file === flagship ? "≥ 200 seeds/s" : "") : "≥ 1.7×",
      })),
    ),
  );
  // The steady rate: seeds per second between the short and the long sweep's ends.
  const steady = (jobs: number) => (EXPLORE_LONG - EXPLORE_SHORT) / (seconds(1, jobs) - seconds(0, jobs));
  const fixed = (jobs: number) => seconds(0, jobs) - EXPLORE_SHORT / steady(jobs);
  console.log(
    `flagship steady rate: --jobs 1 ${steady(1).toFixed(0)} seeds/s, --jobs 2 ${steady(2).toFixed(0)} seeds/s (${(steady(2) / steady(1)).toFixed(2)}×); ` +
      `fixed cost: --jobs 1 ${fixed(1).toFixed(2)} s, --jobs 2 ${fixed(2).toFixed(2)} s`,
  );
}

const SUITES: Record<string, () => Promise<void>> = {
  engine: runEngineSuite,
  topo: runTopoSuite,
  transport: runTransportSuite,
  rdma: runRdmaSuite,
  explore: runExploreSuite,
};

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const chosen = names.length === 0 ? Object.keys(SUITES) : names;
  for (const name of chosen) {
    const suite = SUITES[name];
    if (!suite) {
      console.error(`unknown suite ${name}; suites: ${Object.keys(SUITES).join(", ")}`);
      process.exitCode = 2;
      return;
    }
    await suite();
  }
}

await main();
