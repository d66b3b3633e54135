/**
 * Shared reading of trace events for the fabric monitors (I3, I9, I11, I12, I14, I15, L3): typed
 * field access that tolerates absent fields (a monitor must not throw on an event from another
 * model version), the device a `pci/tlp` target names, and the mapping facts a `dmabuf/map` event
 * carries when its exporter built the list with `dma_buf_phys_vec_to_sgt` [kernel.md §b.5].
 */
import type { TraceEvent, TraceValue } from "../fabric/trace.js";
import type { InvariantId, Violation } from "./monitor.js";

/** `layer/kind` of an event. */
export function kindOf(event: TraceEvent): string {
  return `${event.layer}/${event.kind}`;
}

/** A string field, or undefined when absent or of another type. */
export function str(event: TraceEvent, field: string): string | undefined {
  const value = event[field];
  return typeof value === "string" ? value : undefined;
}

/** A number field, or undefined when absent or of another type. */
export function num(event: TraceEvent, field: string): number | undefined {
  const value = event[field];
  return typeof value === "number" ? value : undefined;
}

/**
 * The device a `pci/tlp` / `pci/tlp.ur` target names: `gpu0` for `gpu0 BAR1`; undefined for host
 * memory (which is never in reset).
 */
export function targetDevice(target: string | undefined): string | undefined {
  if (target === undefined || target === "host memory") return undefined;
  const space = target.indexOf(" BAR");
  return space < 0 ? target : target.slice(0, space);
}

/** `[address, length]` pairs of a field holding `[[a, l], …]`; undefined when absent or malformed. */
export function pairs(event: TraceEvent, field: string): Array<readonly [number, number]> | undefined {
  const value: TraceValue | undefined = event[field];
  if (!Array.isArray(value)) return undefined;
  const out: Array<readonly [number, number]> = [];
  for (const item of value as readonly TraceValue[]) {
    if (!Array.isArray(item) || item.length !== 2) return undefined;
    const [a, l] = item as readonly TraceValue[];
    if (typeof a !== "number" || typeof l !== "number") return undefined;
    out.push([a, l]);
  }
  return out;
}

/** How a phys_vec mapping was made (`DmaBufDmaKind` of src/dmabuf/map.ts). */
export type SgMapKind = "bus-addr" | "iova" | "direct";

/**
 * What a `dmabuf/map` event says about a phys_vec mapping, read from the fields the monitors of
 * I11/I14/I15 need (see {@link readSgMap}).
 */
export interface SgMap {
  readonly buf: string;
  readonly importer: string;
  /** The scatter list: `[dmaAddress, length]` per entry. */
  readonly sg: ReadonlyArray<readonly [number, number]>;
  /** The exporter's CPU physical ranges, in order; undefined when the event does not carry them. */
  readonly ranges: ReadonlyArray<readonly [number, number]> | undefined;
  /** The dma-buf size (`bytes`). */
  readonly bytes: number;
  readonly kind: SgMapKind | undefined;
  /** The true bus offset of the BAR the ranges lie in (bus address − CPU address, from the topology), when given. */
  readonly barBusOffset: number | undefined;
}

/**
 * Reads a `dmabuf/map` event's mapping: fields `sg` ([[dmaAddress, length], …], required),
 * `ranges` ([[paddr, len], …]), `bytes`, `mapKind` (`bus-addr` | `iova` | `direct`), and
 * `barCpuAddress` / `barBusAddress` of the provider's BAR as the topology has it.
 * @returns undefined for another event, or a map event without `sg` (nothing to check).
 */
export function readSgMap(event: TraceEvent): SgMap | undefined {
  if (event.layer !== "dmabuf" || event.kind !== "map") return undefined;
  const sg = pairs(event, "sg");
  const bytes = num(event, "bytes");
  if (sg === undefined || bytes === undefined) return undefined;
  const kind = str(event, "mapKind");
  const cpu = num(event, "barCpuAddress");
  const bus = num(event, "barBusAddress");
  return {
    buf: str(event, "buf") ?? "?",
    importer: str(event, "importer") ?? "?",
    sg,
    ranges: pairs(event, "ranges"),
    bytes,
    kind: kind === "bus-addr" || kind === "iova" || kind === "direct" ? kind : undefined,
    barBusOffset: cpu !== undefined && bus !== undefined ? bus - cpu : undefined,
  };
}

/** `0x…` for messages. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** A violation at `event`, whose chain is `causes` (oldest first) followed by `event`. */
export function violationAt(invariant: InvariantId, event: TraceEvent, message: string, causes: readonly (TraceEvent | undefined)[]): Violation {
  const chain = causes.filter((c): c is TraceEvent => c !== undefined && c !== event);
  chain.push(event);
  return { invariant, timePs: event.t, message, event, chain };
}
