/**
 * A worker thread of `p2psim explore --jobs N`: takes the scenario the pool already loaded, then
 * runs the batches of seeds the pool sends, and answers on its own port. After each answer it
 * bumps the pool's shared counter and wakes it, because the pool waits synchronously (see
 * explore-pool.ts).
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { buildTopology } from "../pci/build-topology.js";
import { exploreSeed, type SweepConfig } from "../scenario/explore.js";
import type { LoadedScenario } from "../scenario/load-scenario.js";

/**
 * A loaded scenario as plain data, which structured-clones: the runtime `topology` (objects with
 * back pointers and methods) stays behind, and the worker builds it again from `topologySpec`.
 * Sending this rather than the file name spares each worker reading, parsing and validating the
 * file (the schema compile alone costs tens of ms).
 */
export type LoadedScenarioData = Omit<LoadedScenario, "topology">;

/** What the pool gives a worker when it starts it. */
export interface ExploreWorkerData {
  readonly loaded: LoadedScenarioData;
  readonly config: SweepConfig;
  readonly port: MessagePort;
  /** One Int32: bumped after every message the worker posts on `port`. */
  readonly signal: SharedArrayBuffer;
}

/** A message from a worker to the pool. */
export type ExploreWorkerMessage =
  | { readonly kind: "ready" }
  | { readonly kind: "outcomes"; readonly outcomes: ReadonlyArray<ReturnType<typeof exploreSeed>> }
  | { readonly kind: "error"; readonly message: string };

const data = workerData as ExploreWorkerData;
const signal = new Int32Array(data.signal);

function post(message: ExploreWorkerMessage): void {
  data.port.postMessage(message);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

const built = buildTopology(data.loaded.topologySpec);
if (!built.ok) post({ kind: "error", message: `${data.loaded.file}: the topology the pool loaded does not build again` });
else {
  const loaded: LoadedScenario = { scenario: data.loaded.scenario, file: data.loaded.file, topologySpec: data.loaded.topologySpec, topology: built.topology };
  post({ kind: "ready" });
  // A batch of seeds per message: a seed of a short scenario costs about as much as a round trip.
  parentPort?.on("message", (seeds: readonly number[]) => {
    let seed: number | undefined;
    try {
      const outcomes = seeds.map((s) => {
        seed = s;
        return exploreSeed(loaded, s, data.config);
      });
      post({ kind: "outcomes", outcomes });
    } catch (error) {
      post({ kind: "error", message: `seed ${seed}: ${(error as Error).stack ?? String(error)}` });
    }
  });
}
