/**
 * The revoke triggers of one device [kernel.md §c.4], as process bodies. Each takes the device's
 * memory_lock for write, revokes every export BEFORE the hardware change (I2), makes the change,
 * and restores the exports AFTER it only when memory is enabled again (L4), then drops the lock:
 *
 * ```
 *  down_write(memory_lock) ─ move(revoked) ─ hardware change ─ [memory enabled?] move(restored) ─ up_write
 * ```
 *
 * | trigger                     | hardware change                                         |
 * |-----------------------------|---------------------------------------------------------|
 * | command write, MEM clear/set | the MEM bit (emulated and physical)                    |
 * | PM write                     | the power state, after the D-state transition time     |
 * | DevCtl FLR write             | `pci_try_reset_function`: FLR for the reset duration   |
 * | VFIO_DEVICE_RESET            | to D0, then the same function reset                    |
 * | low-power entry / exit       | runtime suspend to D3hot / resume to D0                |
 *
 * Simplifications: CPU mmap zapping is not modelled (no CPU mappings exist); runtime PM's D3hot
 * transition happens inside the entry, under the lock, instead of later from the PM core.
 */
import type { Errno } from "../dmabuf/errno.js";
import type { Engine } from "../fabric/engine.js";
import { type Suspension, sleep } from "../fabric/process.js";
import type { PciFunction } from "../pci/topology.js";
import { vfioPciDmaBufMove } from "./dmabuf-move.js";
import "./trace-kinds.js";
import type { VfioPciDevice } from "./vfio-pci-device.js";

/** A trigger's body: it returns the errno the request fails with, or undefined. */
export type TriggerBody = Generator<Suspension, Errno | undefined, unknown>;

type PowerState = PciFunction["powerState"];
const POWER_STATES: readonly PowerState[] = ["D0", "D1", "D2", "D3hot", "D3cold"];

/** A power state's depth: D0 = 0 … D3cold = 4 (the kernel's `pci_power_t` order). */
export function powerStateRank(state: PowerState): number {
  return POWER_STATES.indexOf(state);
}

/** Restores the exports when memory is enabled again after a hardware change [§c.4]. */
function* restoreIfEnabled(device: VfioPciDevice, holder: string): Generator<Suspension, void, unknown> {
  if (device.memoryEnabled()) yield* vfioPciDmaBufMove(device, false, holder);
}

/** `pci_set_power_state`: entering a deeper state changes at once and then waits; leaving waits, then changes. */
function* setPowerState(device: VfioPciDevice, state: PowerState): Generator<Suspension, void, unknown> {
  const fn = device.fn;
  if (fn.powerState === state) return;
  const deeper = powerStateRank(state) > powerStateRank(fn.powerState);
  if (deeper) {
    fn.powerState = state;
    device.engine.trace.emit("vfio", "power.set", { device: device.label, state });
  }
  yield sleep(device.settings.powerTransitionPs);
  if (!deeper) {
    fn.powerState = state;
    device.engine.trace.emit("vfio", "power.set", { device: device.label, state });
  }
}

/**
 * A reset of `fns` (`pci_try_reset_function` for one, `pci_reset_bus` for a bus): each goes to D0,
 * its state is saved, it is held in reset with memory decoding off for `durationPs` (requests get
 * UR meanwhile [§c.6]), then its saved MEM bit is restored.
 */
export function* pciResetFunctions(
  engine: Engine,
  fns: readonly PciFunction[],
  method: "flr" | "bus",
  durationPs: number,
): Generator<Suspension, void, unknown> {
  const saved = fns.map((fn) => fn.memoryEnabled);
  for (const fn of fns) {
    fn.powerState = "D0";
    fn.inReset = true;
    fn.memoryEnabled = false;
    engine.trace.emit("vfio", "reset.begin", { device: fn.label, method });
  }
  yield sleep(durationPs);
  fns.forEach((fn, index) => {
    fn.inReset = false;
    fn.memoryEnabled = saved[index] ?? false;
    engine.trace.emit("vfio", "reset.end", { device: fn.label, method });
  });
}

/** `vfio_basic_config_write` of PCI_COMMAND changing MEM. */
export function* vfioCommandWrite(device: VfioPciDevice, enable: boolean, holder: string): TriggerBody {
  yield device.memoryLock.downWrite(holder);
  if (!enable) yield* vfioPciDmaBufMove(device, true, holder);
  device.vconfigMemory = enable;
  device.fn.memoryEnabled = enable;
  device.engine.trace.emit("vfio", "command.write", { device: device.label, memory: enable });
  yield* restoreIfEnabled(device, holder);
  device.memoryLock.upWrite(holder);
  return undefined;
}

/** `vfio_pm_config_write` → `vfio_pci_set_power_state`: D3hot or deeper revokes first. */
export function* vfioPowerWrite(device: VfioPciDevice, state: PowerState, holder: string): TriggerBody {
  yield device.memoryLock.downWrite(holder);
  if (powerStateRank(state) >= powerStateRank("D3hot")) yield* vfioPciDmaBufMove(device, true, holder);
  yield* setPowerState(device, state);
  yield* restoreIfEnabled(device, holder);
  device.memoryLock.upWrite(holder);
  return undefined;
}

/**
 * `vfio_exp_config_write` with DevCtl "initiate FLR": only when the function has FLR capability
 * (else the write is dropped). Mutant E6 revokes again after the reset instead of restoring.
 */
export function* vfioFlrWrite(device: VfioPciDevice, holder: string): TriggerBody {
  if (!device.fn.flr) {
    device.engine.trace.emit("vfio", "trigger.refused", { device: device.label, trigger: "flr.write", errno: null });
    return undefined;
  }
  yield device.memoryLock.downWrite(holder);
  yield* vfioPciDmaBufMove(device, true, holder);
  yield* pciResetFunctions(device.engine, [device.fn], "flr", device.settings.resetDurationPs);
  // E6: the first versions called the revoke again here, so exports stayed revoked after the FLR.
  if (device.memoryEnabled()) yield* vfioPciDmaBufMove(device, device.settings.mutants.has("E6"), holder);
  device.memoryLock.upWrite(holder);
  return undefined;
}

/** `VFIO_DEVICE_RESET`: -EINVAL unless the function can be reset; else D0, revoke, reset, restore. */
export function* vfioDeviceReset(device: VfioPciDevice, holder: string): TriggerBody {
  if (!device.fn.flr) {
    device.engine.trace.emit("vfio", "trigger.refused", { device: device.label, trigger: "reset", errno: "EINVAL" });
    return "EINVAL";
  }
  yield device.memoryLock.downWrite(holder);
  yield* setPowerState(device, "D0");
  yield* vfioPciDmaBufMove(device, true, holder);
  yield* pciResetFunctions(device.engine, [device.fn], "flr", device.settings.resetDurationPs);
  yield* restoreIfEnabled(device, holder);
  device.memoryLock.upWrite(holder);
  return undefined;
}

/** `vfio_pci_runtime_pm_entry`: revoke, then -EINVAL if already engaged, else suspend to D3hot. */
export function* vfioLowPowerEntry(device: VfioPciDevice, holder: string): TriggerBody {
  yield device.memoryLock.downWrite(holder);
  yield* vfioPciDmaBufMove(device, true, holder);
  if (device.lowPowerEngaged) {
    device.memoryLock.upWrite(holder);
    device.engine.trace.emit("vfio", "trigger.refused", { device: device.label, trigger: "low-power.entry", errno: "EINVAL" });
    return "EINVAL";
  }
  device.lowPowerEngaged = true;
  device.engine.trace.emit("vfio", "low-power.entry", { device: device.label });
  yield* setPowerState(device, "D3hot");
  device.memoryLock.upWrite(holder);
  return undefined;
}

/** `vfio_pci_runtime_pm_exit`: resume to D0 if engaged, then restore if memory is enabled. */
export function* vfioLowPowerExit(device: VfioPciDevice, holder: string): TriggerBody {
  yield device.memoryLock.downWrite(holder);
  if (device.lowPowerEngaged) {
    device.lowPowerEngaged = false;
    yield* setPowerState(device, "D0");
    device.engine.trace.emit("vfio", "low-power.exit", { device: device.label });
  }
  yield* restoreIfEnabled(device, holder);
  device.memoryLock.upWrite(holder);
  return undefined;
}
