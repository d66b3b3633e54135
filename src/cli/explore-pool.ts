/**
 * Runs a sweep's seeds: in this thread for one job; for N jobs, in this thread and on N − 1
 * `worker_threads` (this thread runs seeds one at a time between looking after the workers, so
 * a sweep pays one worker start-up less). Outcomes are handed on in seed order whatever order the
 * threads finish in, so the output of a sweep is the same for any number of jobs. With
 * stop-on-first the sweep ends at the lowest failing seed: seeds above it that a thread had
 * already run are dropped.
 *
 * The pool waits synchronously (`Atomics.wait` on a counter the workers bump, then
 * `receiveMessageOnPort`), so `explore` stays a synchronous command like the others and its exit
 * code reaches the process the same way.
 */
import { setFlagsFromString } from "node:v8";
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { exploreSeed, type SeedOutcome, type SweepConfig } from "../scenario/explore.js";
import type { LoadedScenario } from "../scenario/load-scenario.js";
import type { ExploreWorkerData, ExploreWorkerMessage, LoadedScenarioData } from "./explore-worker.js";

/** What to run. */
export interface SweepJob {
  readonly loaded: LoadedScenario;
  readonly seeds: readonly number[];
  readonly config: SweepConfig;
  readonly jobs: number;
  readonly stopOnFirst: boolean;
  /** Called once per kept outcome, in seed order (the progress display). */
  readonly onOutcome?: (outcome: SeedOutcome, done: number) => void;
}

/** The kept outcomes, in seed order, and the failing seed the sweep stopped at. */
export interface SweepRun {
  readonly outcomes: readonly SeedOutcome[];
  readonly stoppedAt?: number;
}

/** Slices of one second a pool waits for a worker's first word, and then for any word at all. */
const READY_SLICES = 60;
const IDLE_SLICES = 600;
/** Seeds per message at most: enough to hide the round trip, few enough to share the tail of a sweep. */
const BATCH_MAX = 16;
/** Batches a worker holds at once: the one it runs and the next. */
const BATCHES_IN_FLIGHT = 2;

/** Orders outcomes by seed position and applies stop-on-first. */
class InOrder {
  private readonly byIndex = new Map<number, SeedOutcome>();
  readonly kept: SeedOutcome[] = [];
  /** Positions below this are run; lowered to just past the first failure with stop-on-first. */
  limit: number;
  stoppedAt: number | undefined;

  constructor(private readonly job: SweepJob) {
    this.limit = job.seeds.length;
  }

  add(index: number, outcome: SeedOutcome): void {
    if (this.job.stopOnFirst && outcome.verdict === "violation" && index < this.limit) this.limit = index + 1;
    this.byIndex.set(index, outcome);
    for (let next = this.byIndex.get(this.kept.length); next !== undefined && this.kept.length < this.limit; next = this.byIndex.get(this.kept.length)) {
      this.byIndex.delete(this.kept.length);
      this.kept.push(next);
      this.job.onOutcome?.(next, this.kept.length);
      if (this.job.stopOnFirst && next.verdict === "violation") this.stoppedAt = next.seed;
    }
  }
}

function runInProcess(job: SweepJob): SweepRun {
  const order = new InOrder(job);
  for (let i = 0; i < order.limit; i++) order.add(i, exploreSeed(job.loaded, job.seeds[i] as number, job.config));
  return { outcomes: order.kept, ...(order.stoppedAt === undefined ? {} : { stoppedAt: order.stoppedAt }) };
}

interface Member {
  readonly worker: Worker;
  readonly port: MessagePort;
  ready: boolean;
  /**
   * The first seed position of each batch sent and not yet answered, oldest first. Two are kept
   * in flight, so a worker that ends a batch starts the next at once instead of waiting for this
   * thread to finish its own seed and send one (with one in flight, two jobs took 12.1–13.1 s for
   * 60,000 flagship seeds; with two, 11.4–11.9 s).
   */
  readonly batches: number[];
}

function startMember(loaded: LoadedScenarioData, config: SweepConfig, signal: SharedArrayBuffer): Member {
  const { port1, port2 } = new MessageChannel();
  const workerData: ExploreWorkerData = { loaded, config, port: port2, signal };
  const worker = new Worker(new URL("./explore-worker.js", import.meta.url), { workerData, transferList: [port2] });
  return { worker, port: port1, ready: false, batches: [] };
}

/** Takes every message the members have posted; whether there was any. */
function receive(members: readonly Member[], order: InOrder): boolean {
  let got = false;
  for (const m of members) {
    for (let received = receiveMessageOnPort(m.port); received !== undefined; received = receiveMessageOnPort(m.port)) {
      got = true;
      const message = received.message as ExploreWorkerMessage;
      if (message.kind === "error") throw new Error(`explore worker: ${message.message}`);
      if (message.kind === "ready") m.ready = true;
      else {
        const first = m.batches.shift() as number;
        for (const [i, outcome] of message.outcomes.entries()) order.add(first + i, outcome);
      }
    }
  }
  return got;
}

function runShared(job: SweepJob): SweepRun {
  const signal = new SharedArrayBuffer(4);
  const counter = new Int32Array(signal);
  const { scenario, file, topologySpec } = job.loaded;
  const data: LoadedScenarioData = { scenario, file, topologySpec };
  const members = Array.from({ length: Math.max(0, Math.min(job.jobs, job.seeds.length) - 1) }, () => startMember(data, job.config, signal));
  const threads = members.length + 1;
  const order = new InOrder(job);
  let next = 0;
  let idleSlices = 0;
  try {
    for (;;) {
      for (const m of members) {
        while (m.batches.length < BATCHES_IN_FLIGHT && next < order.limit) {
          const size = Math.max(1, Math.min(BATCH_MAX, Math.floor((order.limit - next) / (threads * 4))));
          m.batches.push(next);
          m.worker.postMessage(job.seeds.slice(next, next + size));
          next += size;
        }
      }
      if (next < order.limit) {
        // One seed here, then back to the workers, so none waits long for its next batch.
        const i = next++;
        order.add(i, exploreSeed(job.loaded, job.seeds[i] as number, job.config));
        receive(members, order);
        idleSlices = 0;
        continue;
      }
      if (members.every((m) => m.batches.length === 0)) break;
      const seen = Atomics.load(counter, 0);
      if (receive(members, order)) {
        idleSlices = 0;
        continue;
      }
      idleSlices++;
      const allowed = members.every((m) => m.ready) ? IDLE_SLICES : READY_SLICES;
      if (idleSlices > allowed) throw new Error(`explore worker: no answer for ${allowed} s`);
      Atomics.wait(counter, 0, seen, 1000);
    }
  } finally {
    for (const m of members) {
      m.port.close();
      void m.worker.terminate();
    }
  }
  return { outcomes: order.kept, ...(order.stoppedAt === undefined ? {} : { stoppedAt: order.stoppedAt }) };
}

/**
 * Runs the sweep: in this thread when `jobs` is 1, else in this thread and `jobs` − 1 worker
 * threads (the compiled `explore-worker.js` beside this module).
 *
 * Turns off V8's allocation-site pretenuring for the whole process first (worker threads share
 * the flag). V8 samples which object literals survive scavenges and allocates those straight in
 * old space; a run's topology and buffers qualify, since a run in progress at a scavenge keeps
 * them, but a run's objects all die with the run. Pretenured, they point at the run's young
 * objects, which scavenges must then keep and promote until a full GC: on
 * rdma-write-during-flr.yaml 11 % of each scavenge survived with pretenuring, 1.4 % without, and
 * two threads promoting that much stop scaling (issue #7).
 * @throws Error when a worker fails (a model bug, or the worker module missing).
 */
export function runSweep(job: SweepJob): SweepRun {
  setFlagsFromString("--no-allocation-site-pretenuring");
  return job.jobs <= 1 ? runInProcess(job) : runShared(job);
}
