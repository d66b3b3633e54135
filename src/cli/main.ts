#!/usr/bin/env node
/**
 * The `p2psim` command. The only module that touches the process, files and the terminal.
 * Exit codes: 0 clean, 1 a violation was found, 2 bad input or usage.
 */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { INVARIANT_IDS, type InvariantId } from "../check/monitor.js";
import { TOPOLOGY_SCHEMA } from "../io/topology-schema.js";
import { P2PDMA_PROFILES, type P2pdmaProfile } from "../pci/p2pdma-map-type.js";
import { KERNEL_MUTANTS, KERNEL_PROFILES, type KernelMutant, type KernelProfile } from "../scenario/scenario.js";
import { SCENARIO_SCHEMA } from "../scenario/scenario-schema.js";
import { demoCommand } from "./demo-command.js";
import { exploreCommand } from "./explore-command.js";
import { perfCommand } from "./perf-command.js";
import { replayCommand } from "./replay-command.js";
import { reportCommand } from "./report-command.js";
import { runCommand } from "./run-command.js";
import { shrinkCommand } from "./shrink-command.js";
import { topoCommand } from "./topo-command.js";
import { packageVersion } from "./version.js";

const EXIT_BAD_INPUT = 2;

function parseSeed(value: string): number {
  const seed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(seed)) throw new InvalidArgumentError("expected a non-negative integer");
  return seed;
}

function parseProfile(value: string): P2pdmaProfile {
  if (!(P2PDMA_PROFILES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${P2PDMA_PROFILES.join(", ")}`);
  return value as P2pdmaProfile;
}

function parseKernelProfile(value: string): KernelProfile {
  if (!(KERNEL_PROFILES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${KERNEL_PROFILES.join(", ")}`);
  return value as KernelProfile;
}

function collectMutant(value: string, previous: readonly KernelMutant[]): KernelMutant[] {
  if (!(KERNEL_MUTANTS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${KERNEL_MUTANTS.join(", ")}`);
  return [...previous, value as KernelMutant];
}

/** The bundled flagship scenario, shown relative to the working directory when it is inside it. */
function flagshipPath(): string {
  const path = fileURLToPath(new URL("../../../scenarios/revoke-during-cq-writes.yaml", import.meta.url));
  const shown = relative(process.cwd(), path);
  return shown.startsWith("..") ? path : shown;
}

function parseInvariant(value: string): InvariantId {
  if (!(INVARIANT_IDS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${INVARIANT_IDS.join(" ")}`);
  return value as InvariantId;
}

function toInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a whole number");
  return Number(value);
}

function collect(value: string, previous: readonly string[]): string[] {
  return [...previous, value];
}

/** Builds the command tree; `exit` receives the exit code of the command that ran. */
export function buildProgram(print: (text: string) => void, exit: (code: number) => void, printError: (text: string) => void = print): Command {
  const version = packageVersion();
  const program = new Command("p2psim")
    .description("Deterministic simulator of a PCI Express fabric and of peer-to-peer DMA on Linux")
    .version(version)
    .exitOverride()
    .configureOutput({ writeOut: (text) => print(text.trimEnd()) });
  program
    .command("run", { isDefault: true })
    .description("run a scenario once and print its verdict (no scenario: the flagship, scenarios/revoke-during-cq-writes.yaml)")
    .argument("[scenario]", "a scenario file (JSON or YAML)")
    .option("--seed <n>", "the run's seed (default: the scenario's)", parseSeed)
    .option("--profile <name>", `kernel profile: ${KERNEL_PROFILES.join(", ")}`, parseKernelProfile)
    .option("--mutant <name>", `a bug mutant (repeatable): ${KERNEL_MUTANTS.join(", ")}`, collectMutant, [] as KernelMutant[])
    .option("--json", "print the report as JSON", false)
    .option(
      "--trace <file>",
      "write a trace to FILE: a Chrome JSON trace for ui.perfetto.dev or chrome://tracing, or every trace event as JSON lines when FILE ends in .jsonl",
    )
    .option("--report <file>", "also write a self-contained HTML report to FILE")
    .option("--check-determinism", "run the seed twice and report the first diverging event", false)
    .action(
      (
        file: string | undefined,
        opts: { seed?: number; profile?: KernelProfile; mutant: KernelMutant[]; json: boolean; trace?: string; report?: string; checkDeterminism: boolean },
      ) => {
        const scenario = file ?? flagshipPath();
        const options = {
          file: scenario,
          json: opts.json,
          checkDeterminism: opts.checkDeterminism,
          mutants: opts.mutant,
          ...(opts.seed === undefined ? {} : { seed: opts.seed }),
          ...(opts.profile === undefined ? {} : { profile: opts.profile }),
          ...(opts.trace === undefined ? {} : { trace: opts.trace }),
          ...(opts.report === undefined ? {} : { report: opts.report }),
        };
        exit(runCommand(options, version, print, printError));
      },
    );
  program
    .command("demo")
    .description("run the built-in engine demonstration: six DMA engines sharing a link, replayed to show determinism")
    .option("--seed <n>", "the run's seed", parseSeed, 1)
    .option("--json", "print the result as JSON", false)
    .option("--trace <file>", "write every trace event as JSON lines to FILE")
    .action((opts: { seed: number; json: boolean; trace?: string }) => {
      exit(demoCommand({ seed: opts.seed, json: opts.json, ...(opts.trace === undefined ? {} : { trace: opts.trace }) }, version, print));
    });
  program
    .command("topo")
    .description(
      "read a machine (topology JSON/YAML, lspci -tv/-vvv, hwloc XML, NCCL XML, lscpu, numactl) and show its PCI tree, P2P map types and nvidia-smi levels",
    )
    .argument("<files...>", "files describing one machine; the format of each is detected from its content")
    .option("--matrix", "print the pair matrix of GPUs, NICs and NVMe devices", false)
    .option("--all", "with --matrix and --json: every endpoint, not only GPUs, NICs and NVMe", false)
    .option("--explain <devices...>", "explain the map type of one pair: provider and client (BDF or name)")
    .option("--json", "print devices, pairs and warnings as JSON", false)
    .option("--profile <name>", `p2pdma rules: ${P2PDMA_PROFILES.join(" or ")}`, parseProfile, "current" as P2pdmaProfile)
    .option("--set-acs <device=flags>", "after boot, set a function's ACS control (e.g. 0000:02:00.0=RR,CR); repeatable", collect, [] as string[])
    .option("--fresh", "recompute pairs instead of reading the kernel's per-provider cache (which --set-acs leaves stale)", false)
    .action(
      (
        files: string[],
        opts: { matrix: boolean; all: boolean; explain?: string[]; json: boolean; profile: P2pdmaProfile; setAcs: string[]; fresh: boolean },
      ) => {
        if (opts.explain !== undefined && opts.explain.length !== 2) {
          printError("p2psim topo: --explain takes two devices: the provider and the client");
          exit(2);
          return;
        }
        const explain = opts.explain as [string, string] | undefined;
        exit(
          topoCommand(
            files,
            {
              matrix: opts.matrix,
              all: opts.all,
              json: opts.json,
              profile: opts.profile,
              setAcs: opts.setAcs,
              fresh: opts.fresh,
              ...(explain ? { explain } : {}),
            },
            { out: print, err: printError },
          ),
        );
      },
    );
  program
    .command("perf")
    .description(
      "simulate a saturating DMA stream, TLP by TLP, over one link (--link) or between two places of a topology (FILES --from --to); report goodput, transactions/s and latency per size",
    )
    .argument("[files...]", "topology files of one machine (as for topo)")
    .option("--link <genXwidth>", "the single-link form: a device on a root port with host memory, e.g. gen4x16")
    .option("--from <device>", "the DMA requester (BDF or name)")
    .option("--to <target>", "host (the requester's NUMA node), host:N, or a device (BDF or name) with an optional :barN (default: its largest BAR)")
    .option("--iommu <mode>", "off, 4k or 2m pages (default: 4k when the topology has its IOMMU on)")
    .option("--window <bytes>", "the working window the operations cycle through (default 64M, or the BAR)")
    .option("--svg <file>", "also write goodput against size as an SVG plot")
    .option("--mps <bytes>", "Max Payload Size", toInt, 256)
    .option("--mrrs <bytes>", "Max Read Request Size", toInt, 512)
    .option("--rcb <bytes>", "Read Completion Boundary", toInt, 64)
    .option("--rcb-chunks", "completions cut at every RCB boundary (not at MPS)", false)
    .option("--addr <bits>", "address width of requests: 32 (3DW headers) or 64 (4DW)", toInt, 64)
    .option("--ecrc", "add the 4-byte ECRC digest to every TLP", false)
    .option("--op <op>", "write (device to host), read (device from host) or rw (one of each per step)", "write")
    .option("--sizes <list>", "transfer sizes, e.g. 64,256,4K,64K", "64,128,256,512,1024,4096")
    .option("--ideal", "credits, tags and latency non-limiting: the link ceiling", false)
    .option("--profile <name>", "platform profile for realistic runs", "xeon-e5-v3-gen3x8")
    .option("--tags <n>", "outstanding read requests (overrides the profile)", toInt)
    .option("--json", "print { link, ideal, profile, rows: [...] } as JSON", false)
    .option("--csv <file>", "also write the rows as CSV (units in column names)")
    .option("--report <file>", "also write a self-contained HTML report (goodput and latency plots) to FILE")
    .option("--trace <file>", "write a Chrome JSON trace (ui.perfetto.dev, chrome://tracing) of the runs, one size after another, to FILE")
    .action((files: string[], opts: Omit<Parameters<typeof perfCommand>[0], "files">) => {
      exit(perfCommand({ ...opts, files }, print, printError));
    });
  program
    .command("explore")
    .description("sweep seeds of a scenario (on worker threads with --jobs); write a replay capsule per failing seed and a summary")
    .argument("<scenario>", "a scenario file (JSON or YAML)")
    .requiredOption("--seeds <A..B>", "the seeds to run, both ends included")
    .option("--swarm", "each seed also draws a non-empty subset of the scenario's faults", false)
    .option("--jobs <n>", "threads: this one and n − 1 worker threads (1: this thread only)", toInt, 1)
    .option("--shard <i/n>", "run only shard i of n: the seeds s with (s - A) mod n = i - 1")
    .option("--stop-on-first", "stop at the first (lowest) failing seed", false)
    .option("--out <dir>", "write capsule-<seed>.json per failing seed and summary.json into DIR")
    .option("--profile <name>", `kernel profile: ${KERNEL_PROFILES.join(", ")}`, parseKernelProfile)
    .option("--mutant <name>", `a bug mutant (repeatable): ${KERNEL_MUTANTS.join(", ")}`, collectMutant, [] as KernelMutant[])
    .option("--check-determinism", "run each seed twice and report the first diverging event", false)
    .option("--json", "print the summary as JSON", false)
    .option("--csv <file>", "also write one row per seed as CSV (header row, units in column names)")
    .option("--report <file>", "also write a self-contained HTML report to FILE (shrinks the first failure to show it)")
    .action(
      (
        file: string,
        opts: {
          csv?: string;
          report?: string;
          seeds: string;
          swarm: boolean;
          jobs: number;
          shard?: string;
          stopOnFirst: boolean;
          out?: string;
          profile?: KernelProfile;
          mutant: KernelMutant[];
          checkDeterminism: boolean;
          json: boolean;
        },
      ) => {
        const { mutant, shard, out, profile, csv, report, ...rest } = opts;
        const options = {
          ...rest,
          ...(csv === undefined ? {} : { csv }),
          ...(report === undefined ? {} : { report }),
          file,
          mutants: mutant,
          ...(shard === undefined ? {} : { shard }),
          ...(out === undefined ? {} : { out }),
          ...(profile === undefined ? {} : { profile }),
        };
        const progress = { isTTY: process.stderr.isTTY === true, write: (text: string) => void process.stderr.write(text) };
        exit(exploreCommand(options, version, { print, printError, progress }));
      },
    );
  program
    .command("replay")
    .description("rerun a replay capsule: reproduced bit for bit, or exactly how it differs")
    .argument("<capsule>", "a capsule written by explore or shrink")
    .option("--json", "print the comparison as JSON", false)
    .option(
      "--trace <file>",
      "write a trace to FILE: a Chrome JSON trace for ui.perfetto.dev or chrome://tracing, or every trace event as JSON lines when FILE ends in .jsonl",
    )
    .action((file: string, opts: { json: boolean; trace?: string }) =>
      exit(replayCommand({ file, json: opts.json, ...(opts.trace === undefined ? {} : { trace: opts.trace }) }, version, print, printError)),
    );
  program
    .command("report")
    .description("write the self-contained HTML report of a result: the JSON of run, explore (or its summary.json) or perf --json")
    .argument("<result>", "a JSON result file")
    .option("-o, --output <file>", "the HTML file to write (default: the result's name with .html)")
    .action((file: string, opts: { output?: string }) =>
      exit(reportCommand({ file, ...(opts.output === undefined ? {} : { output: opts.output }) }, print, printError)),
    );
  program
    .command("shrink")
    .description("reduce a failing capsule's faults and workload to a minimal run that still breaks the same invariant; write it as a YAML scenario")
    .argument("<capsule>", "a failing capsule")
    .option("-o, --output <file>", "the scenario to write (default: <capsule>-shrunk.yaml); its capsule goes beside it")
    .option("--invariant <id>", "the invariant to keep broken (default: the capsule's first)", parseInvariant)
    .action((file: string, opts: { output?: string; invariant?: InvariantId }) =>
      exit(
        shrinkCommand(
          { file, ...(opts.output === undefined ? {} : { output: opts.output }), ...(opts.invariant === undefined ? {} : { invariant: opts.invariant }) },
          version,
          print,
          printError,
        ),
      ),
    );
  program
    .command("schema")
    .description("print the JSON Schema of an input file, for editors and validators")
    .argument("[kind]", "what to print the schema of: scenario or topology", "scenario")
    .action((kind: string) => {
      if (kind !== "topology" && kind !== "scenario") {
        printError(`p2psim schema: unknown kind "${kind}"; expected scenario or topology`);
        exit(2);
        return;
      }
      print(JSON.stringify(kind === "scenario" ? SCENARIO_SCHEMA : TOPOLOGY_SCHEMA, null, 2));
      exit(0);
    });
  return program;
}

function main(argv: readonly string[]): void {
  // `p2psim topo … | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
  let code = 0;
  const program = buildProgram(
    (text) => process.stdout.write(`${text}\n`),
    (exitCode) => {
      code = exitCode;
    },
    (text) => process.stderr.write(`${text}\n`),
  );
  try {
    program.parse(argv as string[]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
      return;
    }
    throw error;
  }
  process.exitCode = code;
}

main(process.argv);
