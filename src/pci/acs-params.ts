/**
 * ACS control as the kernel leaves it after boot, per function (`pci_enable_acs`) [kernel.md
 * §a.3, §a.8]:
 * 1. with an IOMMU, `pci_std_enable_acs` sets SV, RR, CR and UF wherever the capability has them;
 * 2. always, `pci=disable_acs_redir=` clears RR, CR and EC on the listed devices;
 * 3. always, `pci=config_acs=` forces bits on or off per listed device.
 * Devices are named as in the kernel's `pci_dev_str_match`: `[domain:]bus:dev.fn` or
 * `pci:vendor:device[:subvendor:subdevice]`.
 */
import { ACS_CR, ACS_EC, ACS_FLAGS, ACS_RR, ACS_SV, ACS_UF, type AcsBits } from "./acs.js";
import { parseBdf } from "./ids.js";
import type { PciFunction, Topology } from "./topology.js";
import type { KernelParamsSpec } from "./topology-spec.js";

/** The bits `pci_std_enable_acs` turns on when an IOMMU is active (TB only for external-facing ports, not modelled). */
export const STD_ENABLE_ACS = ACS_SV | ACS_RR | ACS_CR | ACS_UF;

/** A warning about a kernel parameter, located in the document. */
export interface ParamIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * Whether `fn` matches a kernel device specifier. Returns undefined when the specifier is malformed.
 */
export function matchesDeviceSpecifier(fn: PciFunction, specifier: string): boolean | undefined {
  const text = specifier.trim();
  if (text.startsWith("pci:")) {
    const parts = text
      .slice(4)
      .split(":")
      .map((p) => Number.parseInt(p, 16));
    if (parts.length < 2 || parts.some((p) => Number.isNaN(p))) return undefined;
    const [vendor, device] = parts as [number, number];
    return (vendor === 0xffff || vendor === fn.identity.vendorId) && (device === 0xffff || device === fn.identity.deviceId);
  }
  const bdf = parseBdf(text);
  if (!bdf) return undefined;
  return bdf.domain === fn.bdf.domain && bdf.bus === fn.bdf.bus && bdf.device === fn.bdf.device && bdf.fn === fn.bdf.fn;
}

/** Whether `text` is a device specifier the kernel would accept. */
export function isDeviceSpecifier(text: string): boolean {
  const trimmed = text.trim();
  if (trimmed.startsWith("pci:")) {
    const parts = trimmed.slice(4).split(":");
    return parts.length >= 2 && parts.length <= 4 && parts.every((p) => /^[0-9a-fA-F]{1,4}$/.test(p));
  }
  return parseBdf(trimmed) !== undefined;
}

/** Parses `pci=config_acs=` into (mask, flags, device) triples; flags are written MSB first. */
export function parseConfigAcs(value: string): Array<{ mask: AcsBits; flags: AcsBits; device: string }> | string {
  const entries: Array<{ mask: AcsBits; flags: AcsBits; device: string }> = [];
  for (const part of value
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p.length > 0)) {
    const at = part.indexOf("@");
    if (at < 0) return `"${part}": expected <flags>@<device>`;
    const bits = part.slice(0, at);
    if (bits.length === 0 || bits.length > ACS_FLAGS.length || /[^01x]/.test(bits))
      return `"${bits}": expected up to ${ACS_FLAGS.length} characters of 0, 1 or x`;
    let mask = 0;
    let flags = 0;
    [...bits].reverse().forEach((char, bit) => {
      if (char !== "x") mask |= 1 << bit;
      if (char === "1") flags |= 1 << bit;
    });
    entries.push({ mask, flags, device: part.slice(at + 1) });
  }
  return entries;
}

/** Applies the boot-time ACS setup to every function of `topology`. Returns warnings. */
export function applyBootAcs(topology: Topology, params: KernelParamsSpec): ParamIssue[] {
  const issues: ParamIssue[] = [];
  const redirectTargets = params.disableAcsRedir ?? [];
  const config = params.configAcs === undefined ? [] : parseConfigAcs(params.configAcs);
  if (typeof config === "string") {
    issues.push({ path: "$.kernel.configAcs", message: `ignored: ${config}` });
  }
  const matched = new Set<string>();
  for (const fn of topology.functions) {
    if (!fn.hasAcs) continue;
    if (topology.iommuEnabled) fn.acsCtl |= fn.acsCap & STD_ENABLE_ACS;
    redirectTargets.forEach((specifier, i) => {
      const match = matchesDeviceSpecifier(fn, specifier);
      if (match === undefined) return;
      if (match) {
        matched.add(`r${i}`);
        fn.acsCtl &= ~(ACS_RR | ACS_CR | ACS_EC);
      }
    });
    if (typeof config !== "string") {
      config.forEach((entry, i) => {
        if (!matchesDeviceSpecifier(fn, entry.device)) return;
        matched.add(`c${i}`);
        if ((entry.flags & ~fn.acsCap) !== 0) {
          issues.push({ path: "$.kernel.configAcs", message: `${fn.id}: cannot enable ACS bits its capability lacks; entry ignored, as the kernel does` });
          return;
        }
        fn.acsCtl = (fn.acsCtl & ~entry.mask) | (entry.flags & entry.mask);
      });
    }
  }
  redirectTargets.forEach((specifier, i) => {
    if (!isDeviceSpecifier(specifier)) issues.push({ path: `$.kernel.disableAcsRedir[${i}]`, message: `"${specifier}" is not a device specifier` });
    else if (!matched.has(`r${i}`))
      issues.push({ path: `$.kernel.disableAcsRedir[${i}]`, message: `"${specifier}" matches no function with an ACS capability` });
  });
  return issues;
}
