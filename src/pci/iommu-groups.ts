/**
 * ACS isolation as the IOMMU core reads it, and the IOMMU groups that follow from it (Linux
 * drivers/pci/pci.c `pci_acs_enabled`, `pci_acs_path_enabled`; drivers/iommu/iommu.c
 * `pci_device_group`) [kernel.md §a.8 last bullet]. A group is the smallest set of functions the
 * IOMMU can isolate from each other; VFIO hands a whole group to a user.
 *
 * Not modelled: device-specific ACS quirks (`pci_dev_specific_acs_enabled`) and DMA alias quirks.
 * Topology aliasing behind a PCIe-to-PCI bridge needs no separate step here: a `pci-bridge` never
 * has ACS enabled, so the upstream walk below already folds everything behind it into its group.
 */
import { ACS_CR, ACS_EC, ACS_RR, ACS_SV, ACS_UF, type AcsBits } from "./acs.js";
import type { PciFunction, Topology } from "./topology.js";

/** `REQ_ACS_FLAGS` of drivers/iommu/iommu.c: what a path needs for its devices to get their own groups. */
export const REQ_ACS_FLAGS: AcsBits = ACS_SV | ACS_RR | ACS_CR | ACS_UF;

/**
 * `pci_acs_flags_enabled`: whether `fn` has every flag of `flags` enabled. Flags the capability
 * does not implement count as enabled (hard-wired), except Egress Control.
 * @returns false without an ACS capability.
 */
export function pciAcsFlagsEnabled(fn: PciFunction, flags: AcsBits): boolean {
  if (!fn.hasAcs) return false;
  const required = flags & (fn.acsCap | ACS_EC);
  return (fn.acsCtl & required) === required;
}

/** Whether another function with the same domain, bus and device number exists (`pdev->multifunction`). */
export function isMultifunction(fn: PciFunction): boolean {
  const onBus = fn.upstream?.children ?? fn.hostBridge.rootFunctions;
  return onBus.some((other) => other !== fn && other.bdf.device === fn.bdf.device);
}

/**
 * `pci_acs_enabled`: whether `fn` isolates peer-to-peer traffic with `flags`, by PCIe type:
 * a PCI bridge never does; root and downstream ports do if their ACS control says so; endpoints
 * (root-complex integrated ones too) and upstream ports only need ACS when they are one function
 * of a multi-function device, and are isolated otherwise.
 */
export function pciAcsEnabled(fn: PciFunction, flags: AcsBits): boolean {
  switch (fn.kind) {
    case "pci-bridge":
      return false;
    case "root-port":
    case "downstream-port":
      return pciAcsFlagsEnabled(fn, flags);
    case "endpoint":
    case "upstream-port":
      return isMultifunction(fn) ? pciAcsFlagsEnabled(fn, flags) : true;
  }
}

/**
 * `pci_acs_path_enabled(start, end, flags)`: walks from `start` up through the bridges; every
 * node must have `flags` enabled ({@link pciAcsEnabled}). As in Linux, reaching a node on a root
 * bus ends the walk with `end === undefined`, so an `end` that sits on a root bus (a root port)
 * yields false even when every node is enabled.
 * @param start the lowest node.
 * @param end the highest node to test, or undefined to test up to the root bus.
 * @returns true when every node from `start` to `end` (or the root bus) isolates with `flags`.
 */
export function pciAcsPathEnabled(start: PciFunction, end: PciFunction | undefined, flags: AcsBits): boolean {
  let node = start;
  for (;;) {
    if (!pciAcsEnabled(node, flags)) return false;
    if (node.upstream === undefined) return end === undefined;
    if (node === end) return true;
    node = node.upstream;
  }
}

/**
 * The IOMMU groups the kernel forms, as `pci_device_group` does when each function is probed in
 * enumeration order (parents before children):
 * 1. climb from the function while the bridge above is not ACS-isolated all the way to the root
 *    (`pci_acs_path_enabled(bridge, NULL, REQ_ACS_FLAGS)` false): the function joins that bridge's group;
 * 2. otherwise, a function of a multi-function device that is not isolated joins the group of a
 *    sibling function (same slot) that is not isolated either;
 * 3. otherwise it gets a new group.
 * Bridges get groups too. The groups exist only with an IOMMU; this computes them regardless.
 * @returns function id → group number; groups are numbered 0, 1, 2 … in the order of
 * `topology.functions` (depth-first).
 */
export function iommuGroups(topology: Topology): Map<string, number> {
  const groups = new Map<string, number>();
  let next = 0;
  for (const fn of topology.functions) {
    const group = existingGroup(fn, groups);
    if (group !== undefined) {
      groups.set(fn.id, group);
    } else {
      groups.set(fn.id, next);
      next++;
    }
  }
  return groups;
}

/** Steps 1-2 of {@link iommuGroups}: the group `fn` shares, if any. */
function existingGroup(fn: PciFunction, groups: ReadonlyMap<string, number>): number | undefined {
  let pdev = fn;
  for (let bridge = fn.upstream; bridge !== undefined; bridge = bridge.upstream) {
    if (pciAcsPathEnabled(bridge, undefined, REQ_ACS_FLAGS)) break;
    pdev = bridge;
    const group = groups.get(bridge.id);
    if (group !== undefined) return group;
  }
  // get_pci_function_alias_group: only for a multi-function device that does not isolate.
  if (!isMultifunction(pdev) || pciAcsEnabled(pdev, REQ_ACS_FLAGS)) return undefined;
  const onBus = pdev.upstream?.children ?? pdev.hostBridge.rootFunctions;
  for (const other of onBus) {
    if (other === pdev || other.bdf.device !== pdev.bdf.device || pciAcsEnabled(other, REQ_ACS_FLAGS)) continue;
    const group = groups.get(other.id);
    if (group !== undefined) return group;
  }
  return undefined;
}
