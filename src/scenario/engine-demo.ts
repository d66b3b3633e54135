/**
 * The engine demonstration that `npm start` runs until the scenario runner lands (issue #7).
 *
 * Goal: show the engine's pieces working together and its determinism.
 * Method: `engines` DMA engines, each a generator process, loop forever: think for an
 * exponentially distributed time, take one credit of a shared link (a {@link Resource} with
 * `credits` units), hold it while their transfer serializes, give it back. Every step is a trace
 * event; the run's fingerprint names the whole trace.
 */
import { Engine } from "../fabric/engine.js";
import { sleep } from "../fabric/process.js";
import { Resource } from "../fabric/resource.js";
import { ns, type TimePs, us } from "../fabric/time.js";

declare module "../fabric/trace.js" {
  interface TraceKinds {
    scenario: {
      "dma.request": { engine: string; bytes: number };
      "dma.grant": { engine: string; waitPs: number };
      "dma.done": { engine: string; bytes: number };
    };
  }
}

/** What to simulate. Every field is explicit: no hidden defaults for seed or clock. */
export interface EngineDemoOptions {
  readonly seed: number;
  /** DMA engines sharing the link. */
  readonly engines: number;
  /** Link credits (transfers in flight at once). */
  readonly credits: number;
  /** Bytes per transfer. */
  readonly transferBytes: number;
  /** Link rate in bytes per nanosecond (32 ≈ PCIe Gen4 x16 after encoding). */
  readonly bytesPerNs: number;
  /** Mean think time between transfers of one engine. */
  readonly thinkPsMean: TimePs;
  /** Simulated time to run. */
  readonly durationPs: TimePs;
  /** Run the engine's costly self-checks after every event. */
  readonly verify: boolean;
}

/** The options `npm start` uses. */
export const ENGINE_DEMO_DEFAULTS: EngineDemoOptions = {
  seed: 1,
  engines: 6,
  credits: 2,
  transferBytes: 4096,
  bytesPerNs: 32,
  thinkPsMean: ns(150),
  durationPs: us(20),
  verify: false,
};

/** Per DMA engine results. */
export interface EngineDemoRow {
  readonly engine: string;
  readonly transfers: number;
  readonly waitPsMean: number;
  readonly waitPsMax: number;
}

/** The outcome of one demonstration run. */
export interface EngineDemoResult {
  readonly options: EngineDemoOptions;
  readonly rows: readonly EngineDemoRow[];
  /** Fraction of credit-time in use over the run, in [0, 1]. */
  readonly linkUtilisation: number;
  readonly eventsFired: number;
  readonly traceEvents: number;
  readonly fingerprint: string;
  readonly nowPs: TimePs;
}

/**
 * Runs the demonstration.
 * @param options what to simulate; see {@link ENGINE_DEMO_DEFAULTS}.
 * @param configure called with the engine before the run, to subscribe trace sinks.
 */
export function runEngineDemo(options: EngineDemoOptions, configure?: (engine: Engine) => void): EngineDemoResult {
  const engine = new Engine({ seed: options.seed, verify: options.verify });
  configure?.(engine);
  const link = new Resource(engine, "link", options.credits);
  const serializationPs = Math.round((options.transferBytes / options.bytesPerNs) * 1000);
  let busyCreditPs = 0;
  const rows: Array<{ engine: string; transfers: number; waitPsTotal: number; waitPsMax: number }> = [];
  for (let i = 0; i < options.engines; i++) {
    const name = `dma${i}`;
    const row = { engine: name, transfers: 0, waitPsTotal: 0, waitPsMax: 0 };
    rows.push(row);
    const think = engine.rng.stream(`${name}/think`);
    engine.spawn(name, function* () {
      for (;;) {
        yield sleep(think.exponentialPs(options.thinkPsMean));
        engine.trace.emit("scenario", "dma.request", { engine: name, bytes: options.transferBytes });
        const askedPs = engine.nowPs;
        yield link.request(1);
        const waitPs = engine.nowPs - askedPs;
        engine.trace.emit("scenario", "dma.grant", { engine: name, waitPs });
        yield sleep(serializationPs);
        link.release(1);
        busyCreditPs += serializationPs;
        row.transfers++;
        row.waitPsTotal += waitPs;
        row.waitPsMax = Math.max(row.waitPsMax, waitPs);
        engine.trace.emit("scenario", "dma.done", { engine: name, bytes: options.transferBytes });
      }
    });
  }
  engine.runUntil(options.durationPs);
  return {
    options,
    rows: rows.map((r) => ({
      engine: r.engine,
      transfers: r.transfers,
      waitPsMean: r.transfers === 0 ? 0 : Math.round(r.waitPsTotal / r.transfers),
      waitPsMax: r.waitPsMax,
    })),
    linkUtilisation: busyCreditPs / (options.credits * options.durationPs),
    eventsFired: engine.eventsFired,
    traceEvents: engine.trace.count,
    fingerprint: engine.trace.fingerprint.hex(),
    nowPs: engine.nowPs,
  };
}
