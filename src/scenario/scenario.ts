/**
 * What a scenario is: the object a scenario file (JSON or YAML, checked against
 * {@link SCENARIO_SCHEMA}) or the typed builder produces. It names a machine, the kernel that runs
 * on it, the programs that drive DMA, the faults that strike while they run, the invariants to
 * watch and what to measure, within a time budget [DESIGN.md "Scenarios, checks, exploration"].
 *
 * Times in a scenario are microseconds (a person writes `at: 12.5`); the runner converts them to
 * integer picoseconds once.
 */
import type { InvariantId } from "../check/monitor.js";
import type { AcsFlag } from "../pci/acs.js";
import type { LinkWidth, PcieGen } from "../pci/dllp-limits.js";
import type { TopologySpec } from "../pci/topology-spec.js";

/**
 * Kernel profiles [kernel.md "How p2psim uses this sheet", §e]. `default` is the newest correct
 * behaviour of every layer; each other name changes one layer and keeps the rest at default.
 */
export const KERNEL_PROFILES = ["default", "vfio-dmabuf-wait", "vfio-dmabuf-initial", "p2pdma-v4.20"] as const;
export type KernelProfile = (typeof KERNEL_PROFILES)[number];

/**
 * Bug mutants a scenario may switch on [kernel.md §e], by the bug's row, plus the two driver
 * mutants of the RDMA revoke path (issue #6), plus `map-type-cache-refreshed-on-acs-change`: a p2pdma
 * that forgets its cached map types when ACS changes, unfaithful to the kernel [§a.6] (breaks I12),
 * plus `iotlb-not-flushed`: an IOMMU whose unmap leaves the IOTLB entries of the removed pages cached,
 * so DMA through a torn-down IOVA still reaches its old target [§c.6] (breaks I21).
 */
export const KERNEL_MUTANTS = [
  "E6",
  "E7",
  "E8",
  "E10",
  "E13",
  "E19",
  "E20",
  "E27",
  "callback-returns-before-drain",
  "invalidate-ignored",
  "map-type-cache-refreshed-on-acs-change",
  "iotlb-not-flushed",
] as const;
export type KernelMutant = (typeof KERNEL_MUTANTS)[number];

/** The kernel the scenario runs. */
export interface ScenarioKernel {
  readonly profile?: KernelProfile;
  readonly mutants?: readonly KernelMutant[];
}

/** A BAR range exported through `VFIO_DEVICE_FEATURE_DMA_BUF` when the scenario starts. */
export interface ScenarioExport {
  /** The vfio-pci device (a function label of the topology, e.g. `gpu0`). */
  readonly device: string;
  readonly bar: number;
  /** Bytes from BAR offset 0. Default 2 MiB. */
  readonly bytes?: number;
}

/** Where a CQ's buffer lives and how it is pinned [kernel.md §d.1, §d.4]. */
export interface ScenarioCq {
  /** `host`: user memory. `bar`: the first export, at offset 1 MiB, through a DMABUF buffer descriptor. */
  readonly placement: "host" | "bar";
  /** The umem pin of a BAR CQ: the posted design's non-revocable pin, or the pinned-revocable API. Default `pinned`. */
  readonly pin?: "pinned" | "pinned-revocable";
  /** CQEs. Default 64. */
  readonly entries?: number;
}

/**
 * A program streaming RDMA WRITEs (or READs) between `nic` and the first export through a dma-buf
 * MR, with its send CQ as `cq` says: the NIC fetches WQEs, moves data as P2P TLPs, writes CQEs.
 */
export interface RdmaStreamWorkload {
  readonly kind: "rdma-stream";
  readonly nic: string;
  readonly op?: "write" | "read";
  /** Work requests in all. */
  readonly count: number;
  /** Bytes per work request. */
  readonly bytes: number;
  /** Work requests outstanding at most. Default 16. */
  readonly depth?: number;
  readonly cq?: ScenarioCq;
  /** When the program starts, µs. Default 0. */
  readonly startUs?: number;
}

/**
 * A `UVERBS_METHOD_QP_CREATE` with buffer descriptors [kernel.md §d.3, §d.4]; `unconsumed` adds a
 * descriptor for a slot the driver does not load, which the consumption check must refuse (E19).
 */
export interface QpCreateWorkload {
  readonly kind: "qp-create";
  readonly nic: string;
  readonly unconsumed?: boolean;
  readonly atUs?: number;
}

/** A program of the scenario. */
export type Workload = RdmaStreamWorkload | QpCreateWorkload;

/** The fault catalogue's names. */
export const FAULT_KINDS = [
  "flr",
  "device-reset",
  "hot-reset",
  "mem-clear",
  "mem-set",
  "d3",
  "d0",
  "vfio-close",
  "low-power-entry",
  "low-power-exit",
  "dmabuf-revoke",
  "slow-importer",
  "fence-never-signals",
  "cq-overflow",
  "iommu-unmap",
  "link-down",
  "link-retrain",
  "completion-timeout",
  "acs-change",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** When a fault strikes: at a fixed time, or at a time the seed draws uniformly from a window. */
export type FaultTime = { readonly atUs: number } | { readonly windowUs: readonly [number, number] };

/** One fault. `target` names what it hits (a device, a NIC, a port), as its kind needs. */
export type Fault = FaultTime & {
  readonly fault: FaultKind;
  readonly target: string;
  /** `hot-reset`: the other devices of the reset set. */
  readonly with?: readonly string[];
  /** `hot-reset`: the bus reset itself fails (EAGAIN), so the undo path runs (E8). */
  readonly fails?: boolean;
  /** `slow-importer`: how late the NIC's driver unmaps after draining, µs. */
  readonly delayUs?: number;
  /** `link-down`: when the link is back up; `completion-timeout`: how long the target stays mute, µs. Omitted: for the rest of the run. */
  readonly durationUs?: number;
  /** `link-retrain`: the width the link trains to (and, optionally, its generation). */
  readonly width?: LinkWidth;
  readonly gen?: PcieGen;
  /** `acs-change`: ACS Control bits the write sets, and those it clears. */
  readonly acsSet?: readonly AcsFlag[];
  readonly acsClear?: readonly AcsFlag[];
};

/** A measurement the run reports. */
export const MEASUREMENTS = ["completions", "goodput", "revoke-latency", "tlps-after-revoke", "events"] as const;
export type Measurement = (typeof MEASUREMENTS)[number];

/** An expected outcome of the scenario under one kernel (profile and mutants). */
export interface Expectation {
  readonly profile?: KernelProfile;
  readonly mutants?: readonly KernelMutant[];
  readonly verdict: "pass" | "violation";
  /** With `violation`: the invariant that must be among those broken. */
  readonly invariant?: InvariantId;
}

/** A scenario. */
export interface Scenario {
  /** A short kebab-case id. */
  readonly name: string;
  /** What the scenario proves, in a sentence or two. */
  readonly goal: string;
  /** How: the machine, the programs, the faults. */
  readonly method: string;
  /** A topology document inline, or a path relative to the scenario file. */
  readonly topology: string | TopologySpec;
  readonly kernel?: ScenarioKernel;
  /** The IOMMU translates the NIC's DMA (THRU_HOST_BRIDGE mappings become IOVAs). Default false. */
  readonly iommu?: boolean;
  readonly exports: readonly ScenarioExport[];
  readonly workloads: readonly Workload[];
  readonly faults?: readonly Fault[];
  /** The invariants to monitor. Default every one of kernel.md §f. */
  readonly invariants?: readonly InvariantId[];
  readonly measurements?: readonly Measurement[];
  /** Simulated time: the safety phase (faults strike) and then the liveness phase (faults off). */
  readonly budget: { readonly safetyUs: number; readonly livenessUs: number };
  /** The seed when the command line gives none. Default 1. */
  readonly seed?: number;
  readonly expect?: readonly Expectation[];
}
