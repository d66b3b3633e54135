/**
 * How a fault of the catalogue strikes, shared by the files that implement groups of faults
 * (faults-vfio.ts, fault-iommu.ts, fault-link.ts, fault-acs.ts); faults.ts schedules them.
 */
import type { VfioOp } from "../vfio/vfio-op.js";
import type { VfioPciDevice } from "../vfio/vfio-pci-device.js";
import type { Fault, FaultKind } from "./scenario.js";
import type { ScenarioWorld } from "./scenario-world.js";
import type { WorkloadRun } from "./workloads.js";

/**
 * Strikes one fault at the current simulated time. It may start a VFIO request, whose result the
 * fault's report shows; it returns undefined for faults that are not requests.
 * @param device the vfio-pci device the target names, when the scenario opened one.
 * @throws Error when the target is not something this kind can hit (the loader's checks make that a bug).
 */
export type Strike = (world: ScenarioWorld, fault: Fault, device: VfioPciDevice | undefined, programs: readonly WorkloadRun[]) => VfioOp | undefined;

/** Strikes of one group of faults, by kind. */
export type Strikes<K extends FaultKind> = { readonly [kind in K]: Strike };

/**
 * The device a fault needs.
 * @throws Error when the scenario did not open it (a bug: the loader checks targets).
 */
export function need(device: VfioPciDevice | undefined, fault: Fault): VfioPciDevice {
  if (device === undefined) throw new Error(`${fault.fault}: ${fault.target} is not a device the scenario opened`);
  return device;
}
