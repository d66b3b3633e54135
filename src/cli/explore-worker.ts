/**
 * The worker thread of `p2psim explore --jobs N`: loads the scenario once, then runs the batches of
 * seeds the pool sends, and answers on its own port. After each answer it bumps the pool's
 * shared counter and wakes it, because the pool waits synchronously (see explore-pool.ts).
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { exploreSeed, type SweepConfig } from "../scenario/explore.js";
import { loadScenarioFile } from "./load-scenario-file.js";

/** What the pool gives a worker when it starts it. */
export interface ExploreWorkerData {
  readonly file: string;
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

const loaded = loadScenarioFile(data.file);
if (!loaded.ok) post({ kind: "error", message: loaded.lines.join("\n") });
else {
  post({ kind: "ready" });
  // A batch of seeds per message: a seed of a short scenario costs about as much as a round trip.
  parentPort?.on("message", (seeds: readonly number[]) => {
    let seed: number | undefined;
    try {
      const outcomes = seeds.map((s) => {
        seed = s;
        return exploreSeed(loaded.loaded, s, data.config);
      });
      post({ kind: "outcomes", outcomes });
    } catch (error) {
      post({ kind: "error", message: `seed ${seed}: ${(error as Error).stack ?? String(error)}` });
    }
  });
}
