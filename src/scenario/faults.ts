/**
 * The fault catalogue: named events that strike a scenario's world at a time the scenario fixes
 * or the seed draws from a window. Each fault is what a user program or the hardware would do —
 * a config write through the VFIO emulation, an ioctl, a close, a stalled consumer — so the model's
 * own paths (revoke, wait, restore) run, never a shortcut [kernel.md §c.4].
 *
 * A fault reports whether it affected the run: its request's result, and how many exports it
 * revoked, TLPs were refused and work requests failed from its time on (`FaultReport`).
 */
import type { TraceEvent } from "../fabric/trace.js";
import type { VfioOp } from "../vfio/vfio-op.js";
import { ACS_STRIKES } from "./fault-acs.js";
import { IOMMU_STRIKES } from "./fault-iommu.js";
import { LINK_STRIKES } from "./fault-link.js";
import type { Strike } from "./fault-strike.js";
import { VFIO_STRIKES } from "./faults-vfio.js";
import type { Fault, FaultKind } from "./scenario.js";
import type { ScenarioWorld } from "./scenario-world.js";
import type { WorkloadRun } from "./workloads.js";

/** What a fault did, as the run reports it. */
export interface FaultReport {
  readonly fault: FaultKind;
  readonly target: string;
  /** When it struck (ps). */
  readonly atPs: number;
  /** The request's return (`ok`, an errno, `pending` when it never returned), or `done` for faults that are not requests. */
  result: string;
  /** Exports revoked by the exporter from the fault's time on. */
  revoked: number;
  /** Requests refused with UR or blocked by the IOMMU from the fault's time on. */
  refused: number;
  /** Work requests that completed in error from the fault's time on. */
  failedWrs: number;
  /** Translations through IOTLB entries an unmap left behind, from the fault's time on (`iommu/stale-translation`). */
  staleTranslations: number;
  /** Compiled routes that ACS Control writes sent another way from the fault's time on (`pci/acs.ctl`). */
  rerouted: number;
  /** Map types p2pdma answered from its cache from the fault's time on that a walk over the current ACS bits contradicts (stale, kernel.md §a.6). */
  staleMapTypes: number;
  /** Non-posted requests that ended by completion timeout from the fault's time on (`pci/cpl.timeout`). */
  timedOut: number;
  /** TLPs lost on a link that was down from the fault's time on (`pci/tlp.lost`). */
  lost: number;
  /** TLPs that waited for a retraining link's Recovery from the fault's time on (`pci/link.trained`). */
  delayed: number;
  /** Whether anything above happened, or the request changed state: the fault mattered to this run. */
  affected: boolean;
}

/** Every fault of the catalogue, by kind; the types make a missing one a compile error. */
const STRIKES: Record<FaultKind, Strike> = { ...VFIO_STRIKES, ...IOMMU_STRIKES, ...LINK_STRIKES, ...ACS_STRIKES };

/** Whether `event` (at or after the fault) is an effect the report counts. */
function tally(report: FaultReport, event: TraceEvent): void {
  if (event.layer === "vfio" && event.kind === "revoke") report.revoked++;
  else if (event.layer === "pci" && (event.kind === "tlp.ur" || event.kind === "iommu.fault")) report.refused++;
  else if (event.layer === "iommu" && event.kind === "stale-translation") report.staleTranslations++;
  else if (event.layer === "rdma" && event.kind === "wqe.failed") report.failedWrs++;
  else if (event.layer === "pci" && event.kind === "acs.ctl" && typeof event.rerouted === "number") report.rerouted += event.rerouted;
  else if (event.layer === "p2pdma" && event.kind === "map-type" && typeof event.staleAgainst === "string") report.staleMapTypes++;
  else if (event.layer === "pci" && event.kind === "cpl.timeout") report.timedOut++;
  else if (event.layer === "pci" && event.kind === "tlp.lost") report.lost++;
  else if (event.layer === "pci" && event.kind === "link.trained" && typeof event.waited === "number") report.delayed += event.waited;
}

/** The faults of a run: their reports, and `settle()` to fill in results once the run is over. */
export interface ScheduledFaults {
  readonly reports: readonly FaultReport[];
  settle(): void;
}

/**
 * Schedules each fault at its time (already drawn for windows).
 * @param times one time per fault, ps, in the scenario's order.
 */
export function scheduleFaults(world: ScenarioWorld, faults: readonly Fault[], times: readonly number[], programs: readonly WorkloadRun[]): ScheduledFaults {
  const struck: Array<{ readonly report: FaultReport; op: VfioOp | undefined; done: boolean }> = faults.map((fault, i) => ({
    report: {
      fault: fault.fault,
      target: fault.target,
      atPs: times[i] as number,
      result: "not struck",
      revoked: 0,
      refused: 0,
      failedWrs: 0,
      staleTranslations: 0,
      rerouted: 0,
      staleMapTypes: 0,
      timedOut: 0,
      lost: 0,
      delayed: 0,
      affected: false,
    },
    op: undefined,
    done: false,
  }));
  struck.forEach((s, i) => {
    const fault = faults[i] as Fault;
    world.engine.scheduleAt(s.report.atPs, () => {
      // Counting starts before the strike: what it causes at once (a revoke, TLPs lost as a link
      // goes down, routes changed) is its effect too.
      world.engine.trace.subscribe((event) => tally(s.report, event));
      s.op = STRIKES[fault.fault](world, fault, world.devices.get(fault.target), programs);
      s.done = true;
    });
  });
  return {
    reports: struck.map((s) => s.report),
    settle() {
      for (const s of struck) {
        const r = s.report;
        r.result = !s.done ? "not struck" : s.op === undefined ? "done" : s.op.result === undefined ? "pending" : s.op.result.ok ? "ok" : s.op.result.errno;
        const effects = r.revoked + r.refused + r.failedWrs + r.staleTranslations + r.rerouted + r.staleMapTypes + r.timedOut + r.lost + r.delayed;
        r.affected = s.done && (effects > 0 || (r.result !== "done" && r.result !== "ok"));
      }
    },
  };
}
