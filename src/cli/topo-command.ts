/**
 * `p2psim topo FILE...`: reads a machine (topology documents, `lspci -tv` / `-vvv`, hwloc XML,
 * NCCL XML, `lscpu`, `numactl --hardware`), then prints its tree, the pair matrix, the reasoning
 * for one pair, or all of it as JSON.
 */
import { MATRIX_LEGEND, renderPairMatrix } from "../io/pair-matrix.js";
import { describeAcs, describeLink, renderTopologyTree } from "../io/topology-tree.js";
import { ACS_FLAGS, type AcsFlag, acsBits } from "../pci/acs.js";
import { iommuGroups } from "../pci/iommu-groups.js";
import { nvidiaSmiLevel } from "../pci/nvidia-level.js";
import { calcMapTypeAndDist, P2pdma, type P2pdmaProfile, type P2pdmaResult } from "../pci/p2pdma.js";
import type { PciFunction, Topology } from "../pci/topology.js";
import { loadMachine } from "./load-machine.js";

/** Options of the topo command, as parsed by the CLI. */
export interface TopoOptions {
  readonly matrix: boolean;
  readonly all: boolean;
  readonly explain?: readonly [string, string];
  readonly json: boolean;
  readonly profile: P2pdmaProfile;
  /** ACS control changes applied after the boot-time pair computations, `BDF=RR,CR` (or `BDF=` for none). */
  readonly setAcs: readonly string[];
  /** Recompute pairs instead of reading the per-provider cache filled before `setAcs`. */
  readonly fresh: boolean;
}

/** Where output goes: standard output and standard error. */
export interface Output {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const EXIT_OK = 0;
const EXIT_BAD_INPUT = 2;

/** Devices the matrix shows: GPUs, NICs and NVMe drives, or every endpoint with `--all`. */
function matrixDevices(topology: Topology, all: boolean): PciFunction[] {
  return topology.functions.filter((fn) => fn.kind === "endpoint" && (all || ["gpu", "nic", "nvme"].includes(fn.identity.deviceKind)));
}

function parseAcsChange(text: string, topology: Topology): { fn: PciFunction; ctl: number } | string {
  const eq = text.indexOf("=");
  if (eq < 0) return `--set-acs ${text}: expected DEVICE=FLAGS, e.g. 0000:02:00.0=RR,CR`;
  const fn = topology.find(text.slice(0, eq));
  if (!fn) return `--set-acs ${text}: no function ${text.slice(0, eq)}`;
  const flags = text
    .slice(eq + 1)
    .split(",")
    .filter((f) => f.length > 0);
  const unknown = flags.filter((f) => !(ACS_FLAGS as readonly string[]).includes(f));
  if (unknown.length > 0) return `--set-acs ${text}: unknown ACS flag ${unknown.join(", ")}; expected ${ACS_FLAGS.join(", ")}`;
  if (!fn.hasAcs) return `--set-acs ${text}: ${fn.id} has no ACS capability`;
  return { fn, ctl: acsBits(flags as AcsFlag[]) & fn.acsCap };
}

/**
 * Runs the command. Returns the exit code: 0 on success, 2 when the input cannot be read.
 * @param files paths of the input files, read here (the only file access of the command).
 */
export function topoCommand(files: readonly string[], options: TopoOptions, output: Output): number {
  const machine = loadMachine(files, "topo", output.err);
  if (!machine) return EXIT_BAD_INPUT;
  const { topology, warnings } = machine;
  const p2pdma = new P2pdma(topology, options.profile);
  const devices = matrixDevices(topology, options.all);
  // Boot: drivers bind and the kernel computes (and caches) every pair it is asked about.
  const boot = new Map<string, P2pdmaResult>();
  for (const a of devices) for (const b of devices) if (a !== b) boot.set(`${a.id}>${b.id}`, p2pdma.calc(a, b));
  for (const change of options.setAcs) {
    const parsed = parseAcsChange(change, topology);
    if (typeof parsed === "string") {
      output.err(`p2psim topo: ${parsed}`);
      return EXIT_BAD_INPUT;
    }
    parsed.fn.acsCtl = parsed.ctl;
  }
  const pair = (a: PciFunction, b: PciFunction): P2pdmaResult => {
    const cachedAtBoot = boot.get(`${a.id}>${b.id}`);
    // --fresh: the pure computation, which neither reads nor writes the kernel's cache.
    if (options.fresh) return calcMapTypeAndDist(a, b, topology, options.profile);
    return cachedAtBoot ?? p2pdma.calc(a, b);
  };
  if (options.explain) return explain(topology, options, pair, output, warnings);
  if (options.json) {
    output.out(JSON.stringify(jsonReport(topology, devices, pair, warnings), null, 2));
    return EXIT_OK;
  }
  printWarnings(warnings, output);
  output.out(`${topology.name} · ${describePlatform(topology)} · IOMMU ${topology.iommuEnabled ? "on" : "off"} · p2pdma profile ${options.profile}`);
  output.out(renderTopologyTree(topology, topology.iommuEnabled ? { iommuGroups: iommuGroups(topology) } : {}));
  if (options.matrix) {
    output.out("");
    if (devices.length < 2) output.out(`(fewer than two ${options.all ? "endpoints" : "GPUs, NICs or NVMe devices"}: no pairs; --all includes every endpoint)`);
    else {
      output.out(
        renderPairMatrix(
          devices.map((d) => d.label),
          (i, j) => cell(pair(devices[i] as PciFunction, devices[j] as PciFunction), devices[i] as PciFunction, devices[j] as PciFunction),
        ),
      );
      output.out(MATRIX_LEGEND);
      if (options.setAcs.length > 0 && !options.fresh)
        output.out("ACS changed after boot: cells are the kernel's cached answers, never invalidated; --fresh recomputes them");
    }
  }
  return EXIT_OK;
}

/** How many warnings the human output shows; `--json` lists them all. */
const WARNINGS_SHOWN = 8;

function printWarnings(warnings: readonly string[], output: Output): void {
  for (const warning of warnings.slice(0, WARNINGS_SHOWN)) output.err(`warning: ${warning}`);
  if (warnings.length > WARNINGS_SHOWN)
    output.err(`warning: … and ${warnings.length - WARNINGS_SHOWN} more about facts the files lack (--json lists every warning)`);
}

function cell(result: P2pdmaResult, a: PciFunction, b: PciFunction) {
  return { mapType: result.mapType, distance: result.distance, nvidiaLevel: nvidiaSmiLevel(a, b) };
}

function describePlatform(topology: Topology): string {
  const p = topology.platform;
  return `${p.cpuVendor} CPU family ${p.cpuFamily} (0x${p.cpuFamily.toString(16)})${p.cpuModel === undefined ? "" : ` model ${p.cpuModel}`} on ${p.arch}`;
}

function jsonReport(topology: Topology, devices: readonly PciFunction[], pair: (a: PciFunction, b: PciFunction) => P2pdmaResult, warnings: readonly string[]) {
  return {
    devices: devices.map((d) => ({ id: d.id, bdf: d.id, kind: d.identity.deviceKind, name: d.identity.name ?? null, numaNode: d.identity.numaNode })),
    pairs: devices.flatMap((a) =>
      devices
        .filter((b) => b !== a)
        .map((b) => {
          const result = pair(a, b);
          return { a: a.id, b: b.id, mapType: result.mapType, distance: result.distance, nvidiaLevel: nvidiaSmiLevel(a, b), reason: result.reason };
        }),
    ),
    warnings,
    topology: { name: topology.name, iommu: topology.iommuEnabled, hostBridges: topology.hostBridges.length, functions: topology.functions.length },
  };
}

function explain(
  topology: Topology,
  options: TopoOptions,
  pair: (a: PciFunction, b: PciFunction) => P2pdmaResult,
  output: Output,
  warnings: readonly string[],
): number {
  const [keyA, keyB] = options.explain as readonly [string, string];
  const a = topology.find(keyA);
  const b = topology.find(keyB);
  for (const [key, fn] of [
    [keyA, a],
    [keyB, b],
  ] as const) {
    if (!fn) {
      output.err(`p2psim topo: --explain: no function "${key}" (give a BDF such as 0000:41:00.0 or a name)`);
      return EXIT_BAD_INPUT;
    }
  }
  const provider = a as PciFunction;
  const client = b as PciFunction;
  const result = pair(provider, client);
  if (options.json) {
    output.out(
      JSON.stringify(
        {
          a: provider.id,
          b: client.id,
          mapType: result.mapType,
          distance: result.distance,
          nvidiaLevel: nvidiaSmiLevel(provider, client),
          reason: result.reason,
          warnings,
        },
        null,
        2,
      ),
    );
    return EXIT_OK;
  }
  const line = (fn: PciFunction) => [fn.id, fn.identity.name, fn.kind, describeLink(fn), describeAcs(fn)].filter((x) => x !== undefined).join("  ");
  const r = result.reason;
  output.out(`provider ${provider.label} (${provider.id}) → client ${client.label} (${client.id})`);
  output.out(`map type ${result.mapType}, distance ${result.distance}, nvidia-smi ${nvidiaSmiLevel(provider, client)}`);
  output.out(`why: ${r.summary}`);
  output.out("provider side (counted, common upstream bridge included):");
  for (const id of r.providerChain) output.out(`  ${line(topology.find(id) as PciFunction)}`);
  output.out("client side (counted, common upstream bridge excluded):");
  for (const id of r.clientChain) output.out(`  ${line(topology.find(id) as PciFunction)}`);
  output.out(`common upstream bridge: ${r.commonUpstream ?? "none (the paths meet only at the host bridge(s))"}`);
  output.out(`ACS redirect (RR/CR/EC) on counted nodes: ${r.acsRedirect.length > 0 ? r.acsRedirect.join(", ") : "none"}`);
  if (r.hostBridgeRule) output.out(`host-bridge decision: ${r.hostBridgeRule}`);
  return EXIT_OK;
}
