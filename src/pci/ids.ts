/**
 * PCI identities: bus/device/function addresses (BDF) and what a class code says a device is.
 */
import { assert } from "../fabric/assert.js";

/** A PCI function address. */
export interface Bdf {
  readonly domain: number;
  readonly bus: number;
  readonly device: number;
  readonly fn: number;
}

const BDF_PATTERN = /^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/;

/**
 * Parses `DDDD:BB:DD.F` or `BB:DD.F` (domain 0). Returns undefined when `text` is not a BDF.
 */
export function parseBdf(text: string): Bdf | undefined {
  const match = BDF_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const device = Number.parseInt(match[3] as string, 16);
  if (device > 31) return undefined;
  return { domain: match[1] === undefined ? 0 : Number.parseInt(match[1], 16), bus: Number.parseInt(match[2] as string, 16), device, fn: Number(match[4]) };
}

/** Formats a BDF the way the kernel names devices: `0000:41:00.0`. */
export function formatBdf(bdf: Bdf): string {
  assert(bdf.bus >= 0 && bdf.bus <= 255 && bdf.device >= 0 && bdf.device <= 31 && bdf.fn >= 0 && bdf.fn <= 7, () => `invalid BDF ${JSON.stringify(bdf)}`);
  const hex = (value: number, width: number) => value.toString(16).padStart(width, "0");
  return `${hex(bdf.domain, 4)}:${hex(bdf.bus, 2)}:${hex(bdf.device, 2)}.${bdf.fn}`;
}

/** What a device is, for the topology matrix and the nvidia-smi vocabulary. */
export type DeviceKind = "gpu" | "nic" | "nvme" | "storage" | "bridge" | "other";

/**
 * Classifies a 24-bit class code (base class, subclass, programming interface): display and 3D
 * controllers (and processing accelerators) are GPUs, network and InfiniBand controllers NICs,
 * mass storage with subclass 08 NVMe, bridges bridges.
 */
export function deviceKindOfClass(classCode: number): DeviceKind {
  const base = (classCode >> 16) & 0xff;
  const sub = (classCode >> 8) & 0xff;
  if (base === 0x03 || base === 0x12) return "gpu";
  if (base === 0x02 || (base === 0x0c && sub === 0x06)) return "nic";
  if (base === 0x01 && sub === 0x08) return "nvme";
  if (base === 0x01) return "storage";
  if (base === 0x06) return "bridge";
  return "other";
}

/** PCI vendor ids the kernel's rules and our reports name. */
export const VENDOR = {
  intel: 0x8086,
  amd: 0x1022,
  nvidia: 0x10de,
  mellanox: 0x15b3,
  broadcom: 0x1000,
  plx: 0x10b5,
  google: 0x1ae0,
  zhaoxin: 0x1d17,
} as const;

/** Parses a hex id written as `0x10de`, `10de` or a number. Returns undefined when malformed. */
export function parseHexId(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const match = /^(?:0x)?([0-9a-fA-F]+)$/.exec(value.trim());
  return match ? Number.parseInt(match[1] as string, 16) : undefined;
}
