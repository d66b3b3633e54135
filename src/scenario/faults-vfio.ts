/**
 * The faults a user program or a device's own driver causes: config writes through the VFIO
 * emulation, ioctls, a close, a stalled consumer, a slow importer. Each goes through the model's
 * own paths (revoke, wait, restore), never a shortcut [kernel.md §c.4].
 */
import { DmaFence } from "../dmabuf/reservation.js";
import type { Engine } from "../fabric/engine.js";
import type { ProcessBody } from "../fabric/process.js";
import { us } from "../fabric/time.js";
import { vfioPciDmaBufMove } from "../vfio/dmabuf-move.js";
import { vfioPciHotReset } from "../vfio/hot-reset.js";
import type { VfioPciDevice } from "../vfio/vfio-pci-device.js";
import { need, type Strikes } from "./fault-strike.js";
import type { FaultKind } from "./scenario.js";

/**
 * The exporter revokes every export of the device with no hardware change, as every trigger does
 * first [kernel.md §b.3, §c.4]: memory_lock for write, then the move to revoked.
 */
function revokeAll(engine: Engine, device: VfioPciDevice): void {
  const holder = `${device.label}:dmabuf-revoke`;
  engine.spawn(holder, () => revokeAllBody(device, holder));
}

/**
 * The process of {@link revokeAll}. A module-level generator, not a `function*` closure per
 * fault: V8 gives each generator closure its own initial map in old space, which keeps the
 * closure's captures (the device, hence the whole run) alive through every later scavenge.
 */
function* revokeAllBody(device: VfioPciDevice, holder: string): ProcessBody {
  yield device.memoryLock.downWrite(holder);
  yield* vfioPciDmaBufMove(device, true, holder);
  device.memoryLock.upWrite(holder);
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

/** Strikes of the faults a user program, the device or its driver causes. */
export const VFIO_STRIKES: Strikes<Exclude<FaultKind, "iommu-unmap" | "link-down" | "link-retrain" | "completion-timeout" | "acs-change">> = {
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
