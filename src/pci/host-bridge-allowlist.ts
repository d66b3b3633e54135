/**
 * The host-bridge decision of p2pdma [kernel.md §a.3 step 5, §a.4]: when two functions share no
 * upstream bridge, or an ACS redirect sits on the path between them, P2P traffic has to go up
 * through the root complex, and the kernel allows that only on CPUs it knows forward P2P between
 * root ports: AMD Zen or newer (`cpu_supports_p2pdma`), or a host bridge whose first root-bus
 * device is on `pci_p2pdma_whitelist` (`host_bridge_whitelist`).
 *
 * Source: drivers/pci/p2pdma.c of the leon mirror [P2P] @04673b7105e6, plus the Intel QAT, DSA
 * and IAA rows of upstream 0ba76b19fd4c [WL]. The Zhaoxin rows of the work-in-progress file
 * [P2P-WIP] have no upstream source and are deliberately absent.
 */
import { VENDOR } from "./ids.js";
import type { HostBridge, PciFunction, Platform } from "./topology.js";

/** One row of `pci_p2pdma_whitelist`. */
export interface P2pdmaAllowListEntry {
  readonly vendor: number;
  /** The device id, or `"any"` where the kernel writes PCI_ANY_ID (the whole vendor matches). */
  readonly device: number | "any";
  /** REQ_SAME_HOST_BRIDGE: the root forwards P2P only between its own root ports, not to another host bridge. */
  readonly reqSameHostBridge: boolean;
  /** What the device is, as the kernel's comment says. */
  readonly name: string;
}

const intel = (device: number, name: string, reqSameHostBridge = false): P2pdmaAllowListEntry => ({ vendor: VENDOR.intel, device, reqSameHostBridge, name });

/** `pci_p2pdma_whitelist`, in source order [§a.4]. No (vendor, device) appears twice, so the first-match rule never hides a row. */
export const P2PDMA_ALLOW_LIST: readonly P2pdmaAllowListEntry[] = [
  intel(0x3c00, "Intel Xeon E5/Core i7", true),
  intel(0x3c01, "Intel Xeon E5/Core i7", true),
  intel(0x2f00, "Intel Xeon E7 v3/Xeon E5 v3/Core i7", true),
  intel(0x2f01, "Intel Xeon E7 v3/Xeon E5 v3/Core i7", true),
  intel(0x2030, "Intel Skylake-E root port"),
  intel(0x2031, "Intel Skylake-E root port"),
  intel(0x2032, "Intel Skylake-E root port"),
  intel(0x2033, "Intel Skylake-E root port"),
  intel(0x2020, "Intel Skylake-E"),
  intel(0x09a2, "Intel Ice Lake and later Xeon (SPR, EMR, GNR, DMR, SRF, CWF)"),
  // [WL]: accelerators that are the first device on a root bus of their own.
  intel(0x0b25, "Intel DSA (SPR0)"),
  intel(0x0cfe, "Intel IAX (SPR0)"),
  intel(0x11fb, "Intel DSA (GNRD)"),
  intel(0x1212, "Intel DSA (DMR)"),
  intel(0x1216, "Intel IAA (DMR)"),
  intel(0x4940, "Intel QAT 4xxx"),
  intel(0x4942, "Intel QAT 401xx"),
  intel(0x4944, "Intel QAT 402xx"),
  intel(0x4946, "Intel QAT 420xx"),
  intel(0x4948, "Intel QAT 6xxx"),
  { vendor: VENDOR.google, device: "any", reqSameHostBridge: false, name: "Google SoCs" },
  // [differs]: in the leon mirror, not in the 7.1-stable context of [WL].
  { vendor: VENDOR.nvidia, device: 0x2f95, reqSameHostBridge: false, name: "NVIDIA CPU root device" },
  { vendor: VENDOR.nvidia, device: 0x2f96, reqSameHostBridge: false, name: "NVIDIA CPU root device" },
  { vendor: VENDOR.nvidia, device: 0x2f97, reqSameHostBridge: false, name: "NVIDIA CPU root device" },
  { vendor: VENDOR.nvidia, device: 0x2f98, reqSameHostBridge: false, name: "NVIDIA CPU root device" },
];

/**
 * `cpu_supports_p2pdma`: an x86 AMD CPU of family 0x17 (Zen) or newer forwards P2P between all
 * its root ports, so the kernel allows it without a table lookup [§a.3 step 5].
 * @param platform the machine's CPU.
 * @returns true for x86 AMD family >= 0x17, false otherwise (other vendors, older families, non-x86).
 */
export function cpuSupportsP2pdma(platform: Platform): boolean {
  return platform.arch === "x86" && platform.cpuVendor === "amd" && platform.cpuFamily >= 0x17;
}

/** Why one host bridge passed or failed the allow list. */
export type HostBridgeCheckOutcome =
  /** Its root device matches an entry. */
  | "listed"
  /** Its root device matches an entry flagged REQ_SAME_HOST_BRIDGE, and the other side is on another host bridge. */
  | "listed-same-host-bridge-only"
  /** Its root device matches no entry. */
  | "not-listed"
  /** The root bus has no device at all. */
  | "no-root-device"
  /** The first root-bus device is neither at devfn 00.0 nor a root port, so `pci_host_bridge_dev` gives up. */
  | "root-not-00.0-nor-root-port";

/** The allow-list verdict on one host bridge. */
export interface HostBridgeCheck {
  readonly hostBridge: string;
  /** Id of the first function on the root bus, whether or not it was accepted as the root device. */
  readonly root: string | undefined;
  readonly vendorId: number | undefined;
  readonly deviceId: number | undefined;
  /** The matching row, if any. */
  readonly entry: P2pdmaAllowListEntry | undefined;
  readonly outcome: HostBridgeCheckOutcome;
}

/** The verdict of {@link hostBridgeWhitelist}: allowed or not, and the checks that said so. */
export interface HostBridgeVerdict {
  readonly allowed: boolean;
  /** One check per host bridge consulted, provider's first; the second is absent when the first already failed (the kernel's `&&`). */
  readonly checks: readonly HostBridgeCheck[];
}

/**
 * `pci_host_bridge_dev`: the device the allow list reads is the first device on the host bridge's
 * root bus, accepted only if it sits at devfn 00.0 or is a PCIe root port [§a.4].
 * @returns the accepted root function, or why there is none.
 */
export function pciHostBridgeDev(hb: HostBridge): { readonly root: PciFunction } | { readonly root: undefined; readonly outcome: HostBridgeCheckOutcome } {
  const first = hb.firstRootFunction;
  if (first === undefined) return { root: undefined, outcome: "no-root-device" };
  if (first.bdf.device === 0 && first.bdf.fn === 0) return { root: first };
  if (first.kind === "root-port") return { root: first };
  return { root: undefined, outcome: "root-not-00.0-nor-root-port" };
}

/**
 * The row of {@link P2PDMA_ALLOW_LIST} matching a root device, if any: same vendor, and the same
 * device id or a PCI_ANY_ID row.
 */
export function findAllowListEntry(vendorId: number, deviceId: number): P2pdmaAllowListEntry | undefined {
  return P2PDMA_ALLOW_LIST.find((entry) => entry.vendor === vendorId && (entry.device === "any" || entry.device === deviceId));
}

/** `__host_bridge_whitelist`: one host bridge against the table. */
function checkHostBridge(hb: HostBridge, sameHostBridge: boolean): HostBridgeCheck {
  const first = hb.firstRootFunction;
  const found = pciHostBridgeDev(hb);
  if (found.root === undefined) {
    return {
      hostBridge: hb.id,
      root: first?.id,
      vendorId: first?.identity.vendorId,
      deviceId: first?.identity.deviceId,
      entry: undefined,
      outcome: found.outcome,
    };
  }
  const { vendorId, deviceId } = found.root.identity;
  const entry = findAllowListEntry(vendorId, deviceId);
  let outcome: HostBridgeCheckOutcome = "listed";
  if (entry === undefined) outcome = "not-listed";
  else if (entry.reqSameHostBridge && !sameHostBridge) outcome = "listed-same-host-bridge-only";
  return { hostBridge: hb.id, root: found.root.id, vendorId, deviceId, entry, outcome };
}

/**
 * `host_bridge_whitelist(provider, client)`: whether P2P may go through the host bridge(s) of the
 * two functions [§a.4]. One host bridge: any matching row allows it. Two host bridges: both
 * roots must match, and a row flagged REQ_SAME_HOST_BRIDGE then counts as not allowed.
 * @param providerHb the provider's host bridge (`pci_find_host_bridge(provider->bus)`).
 * @param clientHb the client's host bridge.
 * @returns the verdict with the checks that made it.
 */
export function hostBridgeWhitelist(providerHb: HostBridge, clientHb: HostBridge): HostBridgeVerdict {
  if (providerHb === clientHb) {
    const check = checkHostBridge(providerHb, true);
    return { allowed: check.outcome === "listed", checks: [check] };
  }
  const first = checkHostBridge(providerHb, false);
  if (first.outcome !== "listed") return { allowed: false, checks: [first] };
  const second = checkHostBridge(clientHb, false);
  return { allowed: second.outcome === "listed", checks: [first, second] };
}

/** One line for a check: `hb0 root 0000:00:00.0 (8086:2020) is on the allow list`. */
export function describeHostBridgeCheck(check: HostBridgeCheck): string {
  const hex = (id: number | undefined) => (id ?? 0xffff).toString(16).padStart(4, "0");
  const root = `${check.hostBridge} root ${check.root} (${hex(check.vendorId)}:${hex(check.deviceId)})`;
  switch (check.outcome) {
    case "listed":
      return `${root} is on the allow list`;
    case "listed-same-host-bridge-only":
      return `${root} is on the allow list only for P2P within one host bridge`;
    case "not-listed":
      return `${root} is not on the allow list`;
    case "no-root-device":
      return `${check.hostBridge} has no device on its root bus`;
    case "root-not-00.0-nor-root-port":
      return `${check.hostBridge}'s first root-bus device ${check.root} is neither 00.0 nor a root port`;
  }
}
