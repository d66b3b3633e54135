/**
 * BAR addresses: taken from the document when given, otherwise assigned the way firmware and
 * Linux do it in spirit: naturally aligned (a BAR of size S sits at a multiple of S), allocated
 * depth-first so that every bridge's subtree occupies one contiguous window. 64-bit memory BARs
 * go above 4 GiB in a window per host bridge, 32-bit ones below 4 GiB, I/O BARs in I/O space.
 * The bus address is the CPU address plus the host bridge's `busOffset` [kernel.md §a.1].
 */

import { parseHexId } from "./ids.js";
import type { Bar, HostBridge } from "./topology.js";
import type { BarSpec } from "./topology-spec.js";

/** Bump allocators for the three address spaces. */
export interface BarAllocator {
  /** Next free 64-bit address per host bridge id. */
  readonly next64: Map<string, number>;
  next32: number;
  nextIo: number;
}

/** First 64-bit window: 0x3800_0000_0000, 16 TiB per host bridge (room for 256 GPUs with 64 GiB BARs). */
const WINDOW64_BASE = 0x3800_0000_0000;
const WINDOW64_SIZE = 2 ** 44;
const WINDOW32_BASE = 0xc000_0000;
const WINDOW32_END = 0xfc00_0000;
const IO_BASE = 0x1000;
const IO_END = 0x10000;

/** A fresh allocator for one topology. */
export function createBarAllocator(): BarAllocator {
  return { next64: new Map(), next32: WINDOW32_BASE, nextIo: IO_BASE };
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/**
 * Resolves the BARs of one function. Problems (bad index or size, duplicate index, exhausted
 * window) are appended to `errors` with their JSON path and the BAR is skipped.
 */
export function assignBars(
  specs: readonly BarSpec[],
  hb: HostBridge,
  path: string,
  allocator: BarAllocator,
  errors: Array<{ path: string; message: string }>,
): Bar[] {
  const bars: Bar[] = [];
  const indices = new Set<number>();
  specs.forEach((spec, i) => {
    const at = `${path}[${i}]`;
    if (!Number.isInteger(spec.index) || spec.index < 0 || spec.index > 5) {
      errors.push({ path: `${at}.index`, message: `expected a BAR index 0-5, got ${spec.index}` });
      return;
    }
    if (indices.has(spec.index)) {
      errors.push({ path: `${at}.index`, message: `BAR ${spec.index} is listed twice` });
      return;
    }
    indices.add(spec.index);
    if (!(Number.isSafeInteger(spec.size) && spec.size > 0 && Number.isInteger(Math.log2(spec.size)))) {
      errors.push({ path: `${at}.size`, message: `expected a BAR size that is a power of two, got ${spec.size}` });
      return;
    }
    const type = spec.type ?? "mem64";
    let cpuAddress: number | undefined;
    if (spec.address !== undefined) {
      cpuAddress = parseHexId(spec.address);
      if (cpuAddress === undefined) {
        errors.push({ path: `${at}.address`, message: `expected an address such as "0x3bf000000000", got ${JSON.stringify(spec.address)}` });
        return;
      }
    } else {
      cpuAddress = allocate(type, spec.size, hb, allocator);
      if (cpuAddress === undefined) {
        errors.push({ path: at, message: `no room left for a ${spec.size}-byte ${type} BAR in host bridge ${hb.id}'s window` });
        return;
      }
    }
    bars.push({
      index: spec.index,
      sizeBytes: spec.size,
      type,
      prefetchable: spec.prefetchable ?? type === "mem64",
      cpuAddress,
      busAddress: type === "io" ? cpuAddress : cpuAddress + hb.busOffset,
    });
  });
  return bars.sort((a, b) => a.index - b.index);
}

function allocate(type: "mem32" | "mem64" | "io", size: number, hb: HostBridge, allocator: BarAllocator): number | undefined {
  if (type === "io") {
    const address = alignUp(allocator.nextIo, size);
    if (address + size > IO_END) return undefined;
    allocator.nextIo = address + size;
    return address;
  }
  if (type === "mem32") {
    const address = alignUp(allocator.next32, size);
    if (address + size > WINDOW32_END) return undefined;
    allocator.next32 = address + size;
    return address;
  }
  let next = allocator.next64.get(hb.id);
  if (next === undefined) {
    next = WINDOW64_BASE + allocator.next64.size * WINDOW64_SIZE;
  }
  const windowEnd = WINDOW64_BASE + (Math.floor((next - WINDOW64_BASE) / WINDOW64_SIZE) + 1) * WINDOW64_SIZE;
  const address = alignUp(next, size);
  if (address + size > windowEnd) return undefined;
  allocator.next64.set(hb.id, address + size);
  return address;
}
