/**
 * I10 [kernel.md §f I10]: every range of a VFIO export lies inside its BAR, its offset and length
 * are page aligned and its length non-zero, no sum wraps, and the dma-buf size is the sum of the
 * lengths. Rests on the validation of §c.2 (steps 7 and 10) and on E1, E2, E5.
 */
import type { TraceEvent, TraceValue } from "../fabric/trace.js";
import { firstViolation, numField, strField, violationAt } from "./export-support.js";
import type { Monitor } from "./monitor.js";

const PAGE_SIZE = 4096;

/**
 * Creates the I10 monitor.
 *
 * Observes: `vfio/export` with `ranges` (`[{offset, length}]`, numbers, in the BAR), `barSize` and
 * `size`; an export without `ranges` is not checked, and without `barSize` only the BAR end is not. Keeps the `dmabuf/export` of each
 * buffer for the chain.
 *
 * Flags: a range with a length of 0, an offset or length not a multiple of 4096, an offset or
 * length that is not a non-negative safe integer, an end (offset + length) that is not a safe
 * integer (the wrap E5 guards against) or lies past `barSize`, or a `size` other than the sum of the
 * lengths. Chain: the buffer's `dmabuf/export`, the `vfio/export`.
 */
export function createI10Monitor(): Monitor {
  const dmabufExports = new Map<string, TraceEvent>();
  return firstViolation("I10", (event) => {
    const buf = strField(event, "buf");
    if (buf === undefined) return undefined;
    if (event.layer === "dmabuf" && event.kind === "export") dmabufExports.set(buf, event);
    if (event.layer !== "vfio" || event.kind !== "export") return undefined;
    const problem = rangeProblem(event);
    if (problem === undefined) return undefined;
    const device = strField(event, "device") ?? "?";
    const bar = numField(event, "bar");
    return violationAt("I10", event, `${device} ${buf} (BAR${bar ?? "?"}): ${problem} [kernel.md §c.2]`, [dmabufExports.get(buf)]);
  });
}

/** What is wrong with the ranges of a `vfio/export`, or undefined (also when it carries none). */
export function rangeProblem(event: TraceEvent): string | undefined {
  const ranges: TraceValue | undefined = event.ranges;
  const barSize = numField(event, "barSize");
  if (!Array.isArray(ranges)) return undefined;
  let total = 0;
  for (const [i, range] of (ranges as readonly TraceValue[]).entries()) {
    const offset = fieldOf(range, "offset");
    const length = fieldOf(range, "length");
    if (!isCount(offset) || !isCount(length)) return `range ${i} has offset ${String(offset)} and length ${String(length)}, not byte counts`;
    if (length === 0) return `range ${i} has length 0`;
    if (offset % PAGE_SIZE !== 0) return `range ${i} offset 0x${offset.toString(16)} is not page aligned`;
    if (length % PAGE_SIZE !== 0) return `range ${i} length 0x${length.toString(16)} is not page aligned`;
    const end = offset + length;
    if (!Number.isSafeInteger(end)) return `range ${i} end (offset + length) overflows`;
    if (barSize !== undefined && end > barSize)
      return `range ${i} [0x${offset.toString(16)}, 0x${end.toString(16)}) ends past the BAR size 0x${barSize.toString(16)}`;
    total += length;
    if (!Number.isSafeInteger(total)) return `the sum of the lengths overflows at range ${i}`;
  }
  const size = numField(event, "size");
  if (size !== undefined && size !== total) return `size ${size} is not the sum of the range lengths ${total}`;
  return undefined;
}

function fieldOf(value: TraceValue, key: string): TraceValue | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  return (value as { readonly [key: string]: TraceValue })[key];
}

function isCount(value: TraceValue | undefined): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
