/**
 * p2psim's entry point for the reference DES benchmark runner of `../shared/bench`:
 *
 *   python3 run_bench.py --engine-cmd "p2psim=node /ABS/PATH/dist/bench/des.js"
 *
 * Takes the runner's options (`--workload=hold|mmc --N= --P= --C= --warmup= --steps= --requests=
 * --seed=`) and prints one JSON line with the fields the runner reads. Wall-clock time is read
 * here, in bench/, and nowhere in the model.
 */
import { holdWorkload, mmcWorkload, PS_PER_UNIT } from "./des-workloads.js";

interface Options {
  workload: string;
  N: number;
  P: number;
  C: number;
  warmup: number;
  steps: number;
  requests: number;
  seed: number;
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { workload: "hold", N: 10000, P: 100, C: 16, warmup: -1, steps: 2000000, requests: 500000, seed: 12345 };
  for (const arg of argv) {
    const match = /^--([^=]+)=(.*)$/.exec(arg);
    if (!match) throw new Error(`bad argument ${arg} (use --key=value)`);
    const key = match[1] as keyof Options;
    if (!(key in options)) throw new Error(`unknown option --${key}`);
    (options as unknown as Record<string, unknown>)[key] = key === "workload" ? match[2] : Number(match[2]);
  }
  return options;
}

function nowSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

function main(): void {
  const o = parseOptions(process.argv.slice(2));
  if (o.workload === "hold") {
    const warmup = o.warmup < 0 ? 200000 : o.warmup;
    const w = holdWorkload(o.N, o.seed);
    w.advance(warmup);
    const t0 = nowSeconds();
    w.advance(o.steps);
    const wall = nowSeconds() - t0;
    const simTimeEnd = w.engine.nowPs / PS_PER_UNIT;
    console.log(
      JSON.stringify({
        engine: "p2psim",
        workload: "hold",
        N: o.N,
        warmup,
        steps: o.steps,
        seed: o.seed,
        wall_s: wall,
        events_per_s: o.steps / wall,
        native_events: o.steps,
        sim_time_end: simTimeEnd,
      }),
    );
  } else if (o.workload === "mmc") {
    const warmup = o.warmup < 0 ? 100000 : o.warmup;
    const w = mmcWorkload(o.P, o.C, o.seed);
    w.advance(warmup);
    const e0 = w.engine.eventsFired;
    const s0 = w.engine.nowPs;
    const t0 = nowSeconds();
    w.advance(o.requests);
    const wall = nowSeconds() - t0;
    const events = w.engine.eventsFired - e0;
    const simSpan = (w.engine.nowPs - s0) / PS_PER_UNIT;
    console.log(
      JSON.stringify({
        engine: "p2psim",
        workload: "mmc",
        P: o.P,
        C: o.C,
        warmup,
        requests: o.requests,
        seed: o.seed,
        wall_s: wall,
        requests_per_s: o.requests / wall,
        native_events: events,
        events_per_s: events / wall,
        events_per_request: events / o.requests,
        sim_time_end: w.engine.nowPs / PS_PER_UNIT,
        throughput_sim: o.requests / simSpan,
      }),
    );
  } else {
    throw new Error(`unknown workload ${o.workload}`);
  }
}

main();
