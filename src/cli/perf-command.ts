/**
 * `p2psim perf --link gen4x16 …`: a saturating DMA stream of each size over one simulated link,
 * TLP by TLP, with goodput, transactions per second and latency per size, beside the pcie-bench
 * model's ceiling for the same settings.
 */

import { renderPerfSvg } from "../io/perf-svg.js";
import { isJsonLinesPath, perfettoPerfObserver } from "../io/perfetto-run.js";
import { PerfettoWriter } from "../io/perfetto-writer.js";
import type { PerfReportInput, PerfReportRow } from "../io/report-input.js";
import { renderPerfReport } from "../io/report-perf.js";
import type { LinkWidth, PayloadSize, PcieGen } from "../pci/dllp-limits.js";
import type { FabricTlpSettings } from "../pci/fabric.js";
import type { DmaOp } from "../pci/link-perf.js";
import { type PerfRunView, runLinkPerf } from "../pci/link-perf.js";
import { type PathPerfOutcome, type PathTarget, runPathPerf } from "../pci/path-perf.js";
import { type LinkConfig, modelRead, modelReadWrite, modelWrite, type ReadCompletionBoundary } from "../pci/pcie-model.js";
import { PERF_PLATFORMS, type PerfPlatform } from "../pci/perf-platform.js";
import type { PciFunction, Topology } from "../pci/topology.js";
import { writeFileAtomic } from "./atomic-file.js";
import { loadMachine } from "./load-machine.js";
import { renderTable } from "./table.js";

/** Options of the command, as parsed by the CLI. */
export interface PerfOptions {
  /** `--link gen4x16`: the single-link form. */
  readonly link?: string;
  /** The topology form: files of one machine, the requester and the target. */
  readonly files?: readonly string[];
  readonly from?: string;
  readonly to?: string;
  readonly iommu?: string;
  readonly window?: string;
  readonly svg?: string;
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
  /** Also write the HTML report (goodput and latency plots, the rows) to this file. */
  readonly report?: string;
  /** Write a Chrome JSON trace (Perfetto) of the runs, one after another, here. */
  readonly trace?: string;
}

/** One row of the output: the JSON contract the HTML report reads ({@link PerfReportRow}), with its operation typed. */
export interface PerfRow extends PerfReportRow {
  readonly op: DmaOp;
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

/** A run's rows and its title, from either form of the command. */
interface PerfRun {
  readonly title: string;
  readonly rows: readonly PerfRow[];
  readonly json: Record<string, unknown>;
}

/** Runs the command; returns the exit code. */
export function perfCommand(options: PerfOptions, out: (text: string) => void, err: (text: string) => void): number {
  const sizes = parseSizes(options.sizes);
  const platform: PerfPlatform | undefined = PERF_PLATFORMS[options.profile];
  const link = options.link === undefined ? undefined : parseLinkName(options.link);
  const window = options.window === undefined ? undefined : parseSizes(options.window);
  const problems = [
    typeof link === "string" ? link : undefined,
    options.link === undefined && (options.files === undefined || options.files.length === 0)
      ? "give --link gen<N>x<W>, or topology files with --from and --to"
      : undefined,
    options.link === undefined && options.files?.length && (options.from === undefined || options.to === undefined)
      ? "the topology form needs --from DEV and --to DEV[:barN]|host"
      : undefined,
    typeof sizes === "string" ? sizes : undefined,
    typeof window === "string" || (Array.isArray(window) && window.length !== 1) ? `--window ${options.window}: expected one size` : undefined,
    options.iommu === undefined || ["off", "4k", "2m"].includes(options.iommu) ? undefined : `--iommu ${options.iommu}: expected off, 4k or 2m`,
    [128, 256, 512, 1024, 2048, 4096].includes(options.mps) ? undefined : `--mps ${options.mps}: expected 128, 256, 512, 1024, 2048 or 4096`,
    [128, 256, 512, 1024, 2048, 4096].includes(options.mrrs) ? undefined : `--mrrs ${options.mrrs}: expected 128, 256, 512, 1024, 2048 or 4096`,
    [64, 128, 256, 512].includes(options.rcb) ? undefined : `--rcb ${options.rcb}: expected 64, 128, 256 or 512`,
    options.addr === 32 || options.addr === 64 ? undefined : `--addr ${options.addr}: expected 32 or 64`,
    ["write", "read", "rw"].includes(options.op) ? undefined : `--op ${options.op}: expected write, read or rw`,
    options.trace !== undefined && isJsonLinesPath(options.trace)
      ? `--trace ${options.trace}: perf writes a Chrome JSON trace; give a name not ending in .jsonl`
      : undefined,
    platform ? undefined : `--profile ${options.profile}: expected one of ${Object.keys(PERF_PLATFORMS).join(", ")}`,
  ].filter((p) => p !== undefined);
  if (problems.length > 0 || typeof sizes === "string" || !platform || typeof link === "string") {
    for (const problem of problems) err(`p2psim perf: ${problem}`);
    return EXIT_BAD_INPUT;
  }
  const settings = {
    mps: options.mps as PayloadSize,
    mrrs: options.mrrs as PayloadSize,
    rcb: options.rcb as ReadCompletionBoundary,
    rcbChunks: options.rcbChunks,
    addressBits: options.addr as 32 | 64,
    ecrc: options.ecrc,
  };
  const op = options.op as DmaOp;
  const tuned = options.tags === undefined ? platform : { ...platform, tags: options.tags };
  const writer = options.trace === undefined ? undefined : new PerfettoWriter();
  const watch = writer && ((label: string) => perfettoPerfObserver(writer, label));
  const run =
    link !== undefined
      ? linkRun({ gen: link.gen, lanes: link.lanes, ...settings }, options, op, sizes, tuned, watch)
      : pathRun(options, settings, op, sizes, tuned, Array.isArray(window) ? window[0] : undefined, err, watch);
  if (typeof run === "number") return run;
  if (writer && options.trace !== undefined) writeFileAtomic(options.trace, writer.json());
  return emit(run, options, out);
}

/** Makes the `observe` hook of one run (`--trace`), given its label. */
type Watch = ((label: string) => (run: PerfRunView) => void) | undefined;

function linkRun(config: LinkConfig, options: PerfOptions, op: DmaOp, sizes: readonly number[], platform: PerfPlatform, watch: Watch): PerfRun {
  const model = op === "write" ? modelWrite : op === "read" ? modelRead : modelReadWrite;
  const rows = sizes.map((size) => {
    const observe = watch?.(`${size} B ${op}`);
    const result = runLinkPerf({ link: config, op, sizeBytes: size, ops: opsForSize(size), ideal: options.ideal, platform, ...(observe ? { observe } : {}) });
    return row(size, op, result, model(config, size).goodputGbps);
  });
  const title = `${options.link} · MPS ${config.mps} · MRRS ${config.mrrs} · RCB ${config.rcb}${config.rcbChunks ? " (chunks)" : ""} · ${config.addressBits}-bit · ECRC ${config.ecrc ? "on" : "off"} · ${op} · ${options.ideal ? "ideal (credits, tags and latency non-limiting)" : `profile ${platform.name}`}`;
  return { title, rows, json: { link: { ...config, name: options.link }, ideal: options.ideal, profile: options.ideal ? null : platform.name, rows } };
}

function pathRun(
  options: PerfOptions,
  settings: FabricTlpSettings,
  op: DmaOp,
  sizes: readonly number[],
  platform: PerfPlatform,
  window: number | undefined,
  err: (text: string) => void,
  watch: Watch,
): PerfRun | number {
  const machine = loadMachine(options.files ?? [], "perf", err);
  if (!machine) return EXIT_BAD_INPUT;
  const { topology } = machine;
  const from = topology.find(options.from ?? "");
  if (!from) {
    err(`p2psim perf: --from ${options.from}: no such function (give a BDF such as 0000:41:00.0 or a name)`);
    return EXIT_BAD_INPUT;
  }
  const target = parseTarget(options.to ?? "", topology);
  if (typeof target === "string") {
    err(`p2psim perf: ${target}`);
    return EXIT_BAD_INPUT;
  }
  const rows: PerfRow[] = [];
  let last: Extract<PathPerfOutcome, { ok: true }> | undefined;
  for (const size of sizes) {
    const workingSetBytes = Math.max(size, window ?? (target.kind === "host" ? 64 * 2 ** 20 : Math.min(64 * 2 ** 20, barSize(target))));
    const outcome = runPathPerf(topology, from, target, {
      op,
      sizeBytes: size,
      ops: opsForSize(size),
      ideal: options.ideal,
      platform,
      tlp: settings,
      workingSetBytes,
      ...(watch ? { observe: watch(`${size} B ${op}`) } : {}),
      ...(options.iommu === undefined ? {} : { iommu: options.iommu as "off" | "4k" | "2m" }),
    });
    if (!outcome.ok) {
      err(`p2psim perf: ${outcome.message}`);
      return EXIT_BAD_INPUT;
    }
    last = outcome;
    rows.push(row(size, op, outcome.result, undefined));
  }
  const route = last as Extract<PathPerfOutcome, { ok: true }>;
  const title = `${from.label} → ${options.to} · ${route.mapType} · IOMMU ${route.iommu} · ${op} · ${options.ideal ? "ideal" : `profile ${platform.name}`} · route: ${route.route}`;
  return {
    title,
    rows,
    json: {
      from: from.id,
      to: options.to,
      mapType: route.mapType,
      iommu: route.iommu,
      route: route.route,
      ideal: options.ideal,
      profile: options.ideal ? null : platform.name,
      rows,
    },
  };
}

function parseTarget(text: string, topology: Topology): PathTarget | string {
  if (text === "host") return { kind: "host" };
  const host = /^host:(\d+)$/.exec(text);
  if (host) return { kind: "host", numaNode: Number(host[1]) };
  const match = /^(.+?)(?::bar(\d))?$/.exec(text);
  const fn = match ? topology.find(match[1] as string) : undefined;
  if (!match || !fn) return `--to ${text}: expected host, host:NUMA-NODE, or a function (BDF or name) with an optional :barN`;
  const barIndex = match[2] === undefined ? (largestBar(fn) ?? -1) : Number(match[2]);
  if (barIndex < 0) return `--to ${text}: ${fn.id} has no memory BAR`;
  return { kind: "bar", fn, barIndex };
}

function largestBar(fn: PciFunction): number | undefined {
  return [...fn.bars].filter((b) => b.type !== "io").sort((a, b) => b.sizeBytes - a.sizeBytes)[0]?.index;
}

function barSize(target: PathTarget): number {
  return target.kind === "bar" ? (target.fn.bars.find((b) => b.index === target.barIndex)?.sizeBytes ?? 0) : 0;
}

function row(
  size: number,
  op: DmaOp,
  result: { goodputGbps: number; transactionsPerSec: number; latencyNsMedian: number; latencyNsP99: number },
  modelGbps: number | undefined,
): PerfRow {
  return {
    size,
    op,
    goodputGbps: round(result.goodputGbps, 3),
    goodputGBps: round(result.goodputGbps / 8, 3),
    transactionsPerSec: Math.round(result.transactionsPerSec),
    latencyNsMedian: round(result.latencyNsMedian, 1),
    latencyNsP99: round(result.latencyNsP99, 1),
    ...(modelGbps === undefined ? {} : { modelGbps: round(modelGbps, 3) }),
  };
}

function emit(run: PerfRun, options: PerfOptions, out: (text: string) => void): number {
  const { rows } = run;
  if (options.csv !== undefined) {
    const header = "size_bytes,op,goodput_gbps,goodput_gbytes_per_s,transactions_per_s,latency_ns_median,latency_ns_p99,model_gbps\n";
    const lines = rows.map(
      (r) => `${r.size},${r.op},${r.goodputGbps},${r.goodputGBps},${r.transactionsPerSec},${r.latencyNsMedian},${r.latencyNsP99},${r.modelGbps ?? ""}\n`,
    );
    writeFileAtomic(options.csv, header + lines.join(""));
  }
  if (options.svg !== undefined) {
    const points = rows.map((r) => ({ size: r.size, goodputGbps: r.goodputGbps, modelGbps: r.modelGbps }));
    writeFileAtomic(options.svg, renderPerfSvg(points, run.title));
  }

  // The report reads the same object `--json` prints.
  if (options.report !== undefined) writeFileAtomic(options.report, renderPerfReport(run.json as unknown as PerfReportInput));
  if (options.json) {
    out(JSON.stringify(run.json, null, 2));
    return 0;
  }
  out(run.title);
  const hasModel = rows.some((r) => r.modelGbps !== undefined);
  out(
    renderTable(
      [
        { header: "size", alignRight: true },
        { header: "goodput Gb/s", alignRight: true },
        { header: "GB/s", alignRight: true },
        { header: "transactions/s", alignRight: true },
        { header: "latency median ns", alignRight: true },
        { header: "p99 ns", alignRight: true },
        ...(hasModel ? [{ header: "model Gb/s", alignRight: true }] : []),
      ],
      rows.map((r) => [
        String(r.size),
        r.goodputGbps.toFixed(2),
        r.goodputGBps.toFixed(2),
        r.transactionsPerSec.toLocaleString("en"),
        r.latencyNsMedian.toFixed(1),
        r.latencyNsP99.toFixed(1),
        ...(hasModel ? [r.modelGbps?.toFixed(2) ?? ""] : []),
      ]),
    ),
  );
  return 0;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
