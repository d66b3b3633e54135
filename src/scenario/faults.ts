/**
 * The fault catalogue: named events that strike a scenario's world at a time the scenario fixes
 * or the seed draws from a window. Each fault is what a user program or the hardware would do —
 * a config write through the VFIO emulation, an ioctl, a close, a stalled consumer — so the model's
 * own paths (revoke, wait, restore) run, never a shortcut [kernel.md §c.4].
 *
 * A fault reports whether it affected the run: its request's result, and how many exports it
 * revoked, TLPs were refused and work requests failed from its time on (`FaultReport`).
 */
import { DmaFence } from "../dmabuf/reservation.js";
import type { Engine } from "../fabric/engine.js";
import { us } from "../fabric/time.js";
import type { TraceEvent } from "../fabric/trace.js";
import { vfioPciDmaBufMove } from "../vfio/dmabuf-move.js";
import { vfioPciHotReset } from "../vfio/hot-reset.js";
import type { VfioOp } from "../vfio/vfio-op.js";
import type { VfioPciDevice } from "../vfio/vfio-pci-device.js";
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
  /** Whether anything above happened, or the request changed state: the fault mattered to this run. */
  affected: boolean;
}

/** How a fault strikes: it may start a VFIO request (whose result the report shows). */
type Strike = (world: ScenarioWorld, fault: Fault, device: VfioPciDevice | undefined, programs: readonly WorkloadRun[]) => VfioOp | undefined;

function need(device: VfioPciDevice | undefined, fault: Fault): VfioPciDevice {
  if (device === undefined) throw new Error(`${fault.fault}: ${fault.target} is not a device the scenario opened`);
  return device;
}

/**
 * The exporter revokes every export of the device with no hardware change, as every trigger does
 * first [kernel.md §b.3, §c.4]: memory_lock for write, then the move to revoked.
 */
function revokeAll(engine: Engine, device: VfioPciDevice): void {
  const holder = `${device.label}:dmabuf-revoke`;
  engine.spawn(holder, function* () {
    yield device.memoryLock.downWrite(holder);
    yield* vfioPciDmaBufMove(device, true, holder);
    device.memoryLock.upWrite(holder);
  });
}

/** An importer's fence that never signals, added to every export's reservation: a revoke that waits for fences never ends (L1). */
function stuckFence(engine: Engine, device: VfioPciDevice): void {
  for (const priv of device.exportList) {
    const resv = priv.dmabuf.resv;
    resv.lock("fault:fence");
    resv.addFence(new DmaFence(engine, `${priv.name}/stuck`), "bookkeep");
    resv.unlock("fault:fence");
  }
}

const STRIKES: Record<FaultKind, Strike> = {
  flr: (_w, f, d) => need(d, f).writeDevCtlFlr(),
  "device-reset": (_w, f, d) => need(d, f).deviceReset(),
  "hot-reset": (w, f, d) =>
    vfioPciHotReset([need(d, f), ...(f.with ?? []).map((label) => need(w.devices.get(label), f))], f.fails ? { busResetFails: "EAGAIN" } : {}),
  "mem-clear": (_w, f, d) => need(d, f).writeCommandMemory(false),
  "mem-set": (_w, f, d) => need(d, f).writeCommandMemory(true),
  d3: (_w, f, d) => need(d, f).writePowerState("D3hot"),
  d0: (_w, f, d) => need(d, f).writePowerState("D0"),
  "vfio-close": (_w, f, d) => need(d, f).close(),
  "low-power-entry": (_w, f, d) => need(d, f).lowPowerEntry(),
  "low-power-exit": (_w, f, d) => need(d, f).lowPowerExit(),
  "dmabuf-revoke": (w, f, d) => {
    revokeAll(w.engine, need(d, f));
    return undefined;
  },
  "slow-importer": (w, f) => {
    // The NIC's driver (the importer) unmaps late from now on; the target names the NIC.
    if (w.rdma.device.name !== f.target) throw new Error(`slow-importer: ${f.target} is not the scenario's NIC`);
    w.rdma.device.slowUnmapPs = us(f.delayUs ?? 0);
    return undefined;
  },
  "fence-never-signals": (w, f, d) => {
    stuckFence(w.engine, need(d, f));
    return undefined;
  },
  "cq-overflow": (_w, _f, _d, programs) => {
    for (const p of programs) p.stopPolling();
    return undefined;
  },
};

/** Whether `event` (at or after the fault) is an effect the report counts. */
function tally(report: FaultReport, event: TraceEvent): void {
  if (event.layer === "vfio" && event.kind === "revoke") report.revoked++;
  else if (event.layer === "pci" && (event.kind === "tlp.ur" || event.kind === "iommu.fault")) report.refused++;
  else if (event.layer === "rdma" && event.kind === "wqe.failed") report.failedWrs++;
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
    report: { fault: fault.fault, target: fault.target, atPs: times[i] as number, result: "not struck", revoked: 0, refused: 0, failedWrs: 0, affected: false },
    op: undefined,
    done: false,
  }));
  struck.forEach((s, i) => {
    const fault = faults[i] as Fault;
    world.engine.scheduleAt(s.report.atPs, () => {
      s.op = STRIKES[fault.fault](world, fault, world.devices.get(fault.target), programs);
      s.done = true;
      world.engine.trace.subscribe((event) => tally(s.report, event));
    });
  });
  return {
    reports: struck.map((s) => s.report),
    settle() {
      for (const s of struck) {
        const r = s.report;
        r.result = !s.done ? "not struck" : s.op === undefined ? "done" : s.op.result === undefined ? "pending" : s.op.result.ok ? "ok" : s.op.result.errno;
        r.affected = s.done && (r.revoked > 0 || r.refused > 0 || r.failedWrs > 0 || (r.result !== "done" && r.result !== "ok"));
      }
    },
  };
}
