/**
 * `VFIO_DEVICE_PCI_HOT_RESET` of a dev_set (`vfio_pci_dev_set_hot_reset`) [kernel.md §c.4]: a
 * secondary bus reset of every function on the devices' bus, with the exports of every device in
 * the set revoked around it.
 *
 * ```
 *  for each device, in order:  down_write_trylock(memory_lock) ─ contention? unwind (-EBUSY)
 *                              move(revoked)
 *  all to D0 ─ pci_reset_bus (every function below the bridge in reset for the duration)
 *  for each locked device, in reverse:  [opened and memory enabled?] move(restored) ─ up_write
 * ```
 *
 * The restore sits in the reverse unlock loop, so every exit path (success, contention, a failed
 * bus reset) pairs each revoke with a restore when memory is enabled (L4). Devices never opened
 * have no emulated config and are not asked about memory (E9). Mutant E8 restores only after a
 * successful bus reset, outside the loop, so the error paths leave exports revoked.
 *
 * Errno on contention: the kernel's `down_write_trylock` failure returns -EBUSY.
 */
import type { Errno } from "../dmabuf/errno.js";
import { assert } from "../fabric/assert.js";
import type { Suspension } from "../fabric/process.js";
import type { PciFunction } from "../pci/topology.js";
import { vfioPciDmaBufMove } from "./dmabuf-move.js";
import { pciResetFunctions, powerStateRank } from "./revoke-triggers.js";
import "./trace-kinds.js";
import { failed, OK, spawnVfioOp, type VfioOp, type VfioOpBody } from "./vfio-op.js";
import type { VfioPciDevice } from "./vfio-pci-device.js";

/** Options of {@link vfioPciHotReset}. */
export interface HotResetOptions {
  /** `pci_reset_bus` fails with this errno (e.g. EAGAIN when the bus cannot be locked); nothing is reset. */
  readonly busResetFails?: Errno;
}

/** Every function below `bridge`, depth first. */
function functionsBelow(bridge: PciFunction): PciFunction[] {
  return bridge.children.flatMap((child) => [child, ...functionsBelow(child)]);
}

/**
 * Hot-resets the bus of a dev_set.
 * @param devices the dev_set: every vfio-pci device on one bus, in list order; at least one must be open.
 * @returns the request; its result is ok, EBUSY (memory_lock contention, nothing reset) or the bus
 * reset's errno.
 * @throws AssertionError for an empty set, devices of different engines or buses, a root bus, or a set
 * with no open device (the ioctl needs an open device's fd).
 */
export function vfioPciHotReset(devices: readonly VfioPciDevice[], options: HotResetOptions = {}): VfioOp {
  const first = devices[0];
  assert(first !== undefined, "hot reset of an empty dev_set");
  const bridge = first.fn.upstream;
  assert(bridge !== undefined, () => `hot reset of ${first.label}: a root bus has no bridge to reset`);
  for (const device of devices) {
    assert(device.engine === first.engine, "a dev_set lives in one engine");
    assert(device.fn.upstream === bridge, () => `${device.label} is not on the bus of ${first.label}`);
  }
  assert(
    devices.some((d) => d.opened),
    "hot reset needs an open device of the set",
  );
  const labels = devices.map((d) => d.label);
  return spawnVfioOp(first.engine, `${labels.join("+")}:hot-reset`, (op) => hotResetOp(op, first, devices, bridge, options, labels));
}

/**
 * The request's process: the reset, then its trace. A module-level generator, not a `function*`
 * closure per call: V8 gives each generator closure its own initial map in old space, which
 * keeps the closure's captures (the devices, hence the whole run) alive through later scavenges.
 */
function* hotResetOp(
  op: VfioOp,
  first: VfioPciDevice,
  devices: readonly VfioPciDevice[],
  bridge: PciFunction,
  options: HotResetOptions,
  labels: string[],
): VfioOpBody<void> {
  const errno = yield* hotResetBody(devices, bridge, op.name, options);
  first.engine.trace.emit("vfio", "hot-reset.done", { devices: labels, errno: errno ?? null });
  return errno === undefined ? OK : failed<void>(errno);
}

function* hotResetBody(
  devices: readonly VfioPciDevice[],
  bridge: PciFunction,
  holder: string,
  options: HotResetOptions,
): Generator<Suspension, Errno | undefined, unknown> {
  const engine = (devices[0] as VfioPciDevice).engine;
  const e8 = devices.some((d) => d.settings.mutants.has("E8"));
  engine.trace.emit("vfio", "hot-reset.begin", { devices: devices.map((d) => d.label) });
  const locked: VfioPciDevice[] = [];
  let errno: Errno | undefined;
  for (const device of devices) {
    // Locking several devices can deadlock, so contention unwinds instead of waiting.
    if (!device.memoryLock.downWriteTrylock(holder)) {
      errno = "EBUSY";
      break;
    }
    locked.push(device);
    yield* vfioPciDmaBufMove(device, true, holder);
  }
  if (errno === undefined) {
    for (const device of devices) {
      if (powerStateRank(device.fn.powerState) > 0) device.fn.powerState = "D0";
    }
    errno = options.busResetFails;
    if (errno === undefined) {
      const resetDurationPs = Math.max(...devices.map((d) => d.settings.resetDurationPs));
      yield* pciResetFunctions(engine, functionsBelow(bridge), "bus", resetDurationPs);
      if (e8) {
        // E8: the restore placed after the reset, reached only on success.
        for (const device of devices) if (device.opened && device.memoryEnabled()) yield* vfioPciDmaBufMove(device, false, holder);
      }
    }
  }
  for (const device of [...locked].reverse()) {
    if (!e8 && device.opened && device.memoryEnabled()) yield* vfioPciDmaBufMove(device, false, holder);
    device.memoryLock.upWrite(holder);
  }
  return errno;
}
