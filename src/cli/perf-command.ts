/**
 * `p2psim perf --link gen4x16 …`: a saturating DMA stream of each size over one simulated link,
 * TLP by TLP, with goodput, transactions per second and latency per size, beside the pcie-bench
 * model's ceiling for the same settings.
 */

import type { LinkWidth, PayloadSize, PcieGen } from "../pci/dllp-limits.js";
import type { DmaOp } from "../pci/link-perf.js";
import { runLinkPerf } from "../pci/link-perf.js";
import { type LinkConfig, modelRead, modelReadWrite, modelWrite, type ReadCompletionBoundary } from "../pci/pcie-model.js";
import { PERF_PLATFORMS, type PerfPlatform } from "../pci/perf-platform.js";
import { AtomicFile } from "./atomic-file.js";
import { renderTable } from "./table.js";

/** Options of the command, as parsed by the CLI. */
export interface PerfOptions {
  readonly link: string;
  readonly mps: number;
  readonly mrrs: number;
  readonly rcb: number;
  readonly rcbChunks: boolean;
  readonly addr: number;
  readonly ecrc: boolean;
  readonly op: string;
  readonly sizes: string;
  readonly ideal: boolean;
  readonly json: boolean;
  readonly profile: string;
  readonly tags?: number;
  readonly csv?: string;
}

/** One row of the output (the JSON contract). */
export interface PerfRow {
  readonly size: number;
  readonly op: DmaOp;
  readonly goodputGbps: number;
  readonly goodputGBps: number;
  readonly transactionsPerSec: number;
  readonly latencyNsMedian: number;
  readonly latencyNsP99: number;
  /** The pcie-bench model's ceiling for the same link settings. */
  readonly modelGbps: number;
}

const EXIT_BAD_INPUT = 2;

/** Parses `gen4x16` into generation and width; a message when it is not one. */
export function parseLinkName(text: string): { gen: PcieGen; lanes: LinkWidth } | string {
  const match = /^gen([1-7])x(1|2|4|8|16|32)$/i.exec(text.trim());
  if (!match) return `--link ${text}: expected gen<1-7>x<1|2|4|8|16|32>, e.g. gen4x16`;
  return { gen: Number(match[1]) as PcieGen, lanes: Number(match[2]) as LinkWidth };
}

/** Parses a size list: `64,256,4K,64KiB,1M`. */
export function parseSizes(text: string): number[] | string {
  const sizes: number[] = [];
  for (const part of text.split(",").map((p) => p.trim())) {
    const match = /^(\d+)\s*(k|kib|m|mib|g|gib)?b?$/i.exec(part);
    if (!match) return `--sizes: "${part}" is not a size (bytes, or with K, M, G suffixes)`;
    const unit = (match[2] ?? "").toLowerCase()[0];
    const size = Number(match[1]) * (unit === "k" ? 1024 : unit === "m" ? 1024 ** 2 : unit === "g" ? 1024 ** 3 : 1);
    if (!Number.isSafeInteger(size) || size < 1) return `--sizes: "${part}" must be at least 1 byte`;
    sizes.push(size);
  }
  return sizes;
}

/** Operations per size: enough for a steady state (startup effects well under 1 %), bounded in time. */
export function opsForSize(size: number): number {
  return Math.max(200, Math.min(20_000, Math.ceil((8 * 1024 ** 2) / size)));
}

/** Runs the command; returns the exit code. */
export function perfCommand(options: PerfOptions, out: (text: string) => void, err: (text: string) => void): number {
  const link = parseLinkName(options.link);
  const sizes = parseSizes(options.sizes);
  const platform: PerfPlatform | undefined = PERF_PLATFORMS[options.profile];
  const problems = [
    typeof link === "string" ? link : undefined,
    typeof sizes === "string" ? sizes : undefined,
    [128, 256, 512, 1024, 2048, 4096].includes(options.mps) ? undefined : `--mps ${options.mps}: expected 128, 256, 512, 1024, 2048 or 4096`,
    [128, 256, 512, 1024, 2048, 4096].includes(options.mrrs) ? undefined : `--mrrs ${options.mrrs}: expected 128, 256, 512, 1024, 2048 or 4096`,
    [64, 128, 256, 512].includes(options.rcb) ? undefined : `--rcb ${options.rcb}: expected 64, 128, 256 or 512`,
    options.addr === 32 || options.addr === 64 ? undefined : `--addr ${options.addr}: expected 32 or 64`,
    ["write", "read", "rw"].includes(options.op) ? undefined : `--op ${options.op}: expected write, read or rw`,
    platform ? undefined : `--profile ${options.profile}: expected one of ${Object.keys(PERF_PLATFORMS).join(", ")}`,
  ].filter((p) => p !== undefined);
  if (problems.length > 0 || typeof link === "string" || typeof sizes === "string" || !platform) {
    for (const problem of problems) err(`p2psim perf: ${problem}`);
    return EXIT_BAD_INPUT;
  }
  const config: LinkConfig = {
    gen: link.gen,
    lanes: link.lanes,
    mps: options.mps as PayloadSize,
    mrrs: options.mrrs as PayloadSize,
    rcb: options.rcb as ReadCompletionBoundary,
    rcbChunks: options.rcbChunks,
    addressBits: options.addr as 32 | 64,
    ecrc: options.ecrc,
  };
  const op = options.op as DmaOp;
  const model = op === "write" ? modelWrite : op === "read" ? modelRead : modelReadWrite;
  const tuned = options.tags === undefined ? platform : { ...platform, tags: options.tags };
  const rows: PerfRow[] = sizes.map((size) => {
    const result = runLinkPerf({ link: config, op, sizeBytes: size, ops: opsForSize(size), ideal: options.ideal, platform: tuned });
    return {
      size,
      op,
      goodputGbps: round(result.goodputGbps, 3),
      goodputGBps: round(result.goodputGbps / 8, 3),
      transactionsPerSec: Math.round(result.transactionsPerSec),
      latencyNsMedian: round(result.latencyNsMedian, 1),
      latencyNsP99: round(result.latencyNsP99, 1),
      modelGbps: round(model(config, size).goodputGbps, 3),
    };
  });
  if (options.csv !== undefined) {
    const file = new AtomicFile(options.csv);
    try {
      file.write("size_bytes,op,goodput_gbps,goodput_gbytes_per_s,transactions_per_s,latency_ns_median,latency_ns_p99,model_gbps\n");
      for (const r of rows)
        file.write(`${r.size},${r.op},${r.goodputGbps},${r.goodputGBps},${r.transactionsPerSec},${r.latencyNsMedian},${r.latencyNsP99},${r.modelGbps}\n`);
      file.commit();
    } finally {
      file.abort();
    }
  }
  if (options.json) {
    out(JSON.stringify({ link: { ...config, name: options.link }, ideal: options.ideal, profile: options.ideal ? null : platform.name, rows }, null, 2));
    return 0;
  }
  out(
    `${options.link} · MPS ${config.mps} · MRRS ${config.mrrs} · RCB ${config.rcb}${config.rcbChunks ? " (chunks)" : ""} · ${config.addressBits}-bit · ECRC ${config.ecrc ? "on" : "off"} · ${op} · ${options.ideal ? "ideal (credits, tags and latency non-limiting)" : `profile ${platform.name}`}`,
  );
  out(
    renderTable(
      [
        { header: "size", alignRight: true },
        { header: "goodput Gb/s", alignRight: true },
        { header: "GB/s", alignRight: true },
        { header: "transactions/s", alignRight: true },
        { header: "latency median ns", alignRight: true },
        { header: "p99 ns", alignRight: true },
        { header: "model Gb/s", alignRight: true },
      ],
      rows.map((r) => [
        String(r.size),
        r.goodputGbps.toFixed(2),
        r.goodputGBps.toFixed(2),
        r.transactionsPerSec.toLocaleString("en"),
        r.latencyNsMedian.toFixed(1),
        r.latencyNsP99.toFixed(1),
        r.modelGbps.toFixed(2),
      ]),
    ),
  );
  return 0;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
