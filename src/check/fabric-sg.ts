/**
 * Comparing a scatter list with the ranges it maps [kernel.md §b.5]: the list, read as a stream of
 * bytes, must visit the ranges' bytes in order, each range at its CPU physical address plus one
 * offset (bus offset for BUS_ADDR, 0 for dma-direct), or as one contiguous IOVA run.
 */
import { hex } from "./fabric-events.js";

/** One expected run of DMA addresses: `length` bytes from `start`. */
interface Segment {
  readonly start: number;
  readonly length: number;
}

/** The segments `ranges` become at `delta` (DMA address − CPU physical address). */
export function shiftedSegments(ranges: ReadonlyArray<readonly [number, number]>, delta: number): Segment[] {
  return ranges.map(([paddr, len]) => ({ start: paddr + delta, length: len }));
}

/**
 * The first place where `sg` leaves `segments`: an entry at the wrong address, one that runs past
 * its segment, or a total that differs.
 * @returns a phrase for a message, or undefined when the list follows the segments exactly.
 */
export function sgMismatch(sg: ReadonlyArray<readonly [number, number]>, segments: readonly Segment[]): string | undefined {
  let index = 0;
  let offset = 0;
  for (const [n, [address, length]] of sg.entries()) {
    const segment = segments[index];
    if (segment === undefined) return `sg entry ${n} (${hex(address)}, ${hex(length)}) lies beyond the last range`;
    const want = segment.start + offset;
    if (address !== want) return `sg entry ${n} is at ${hex(address)} where ${hex(want)} was expected`;
    if (offset + length > segment.length)
      return `sg entry ${n} (${hex(address)}, ${hex(length)}) runs past the end of its range at ${hex(segment.start + segment.length)}`;
    offset += length;
    if (offset === segment.length) {
      index++;
      offset = 0;
    }
  }
  if (index < segments.length) return `the sg list ends before range ${index} is covered`;
  return undefined;
}

/** The sum of the lengths of `[address, length]` pairs. */
export function totalLength(list: ReadonlyArray<readonly [number, number]>): number {
  let total = 0;
  for (const [, length] of list) total += length;
  return total;
}
