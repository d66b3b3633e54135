/**
 * I14 [kernel.md §f I14]: for each mapping of a dma-buf, the scatter list's lengths sum to the
 * dma-buf's size and its addresses follow the exported ranges exactly: range after range at one
 * fixed offset from their CPU addresses (BUS_ADDR, dma-direct), or one contiguous IOVA run [§b.5]
 * (E4: 32-bit lengths truncated; E14: 32-bit address arithmetic; E15: 32-bit IOVA length).
 */
import { hex, readSgMap, violationAt } from "./fabric-events.js";
import { sgMismatch, shiftedSegments, totalLength } from "./fabric-sg.js";
import type { Monitor } from "./monitor.js";

/**
 * Creates the I14 monitor.
 *
 * Observes `dmabuf/map` events that carry the list (`sg`), the size (`bytes`) and, when the exporter
 * maps phys_vec ranges, `ranges` and `mapKind`. Flags (1) a total sg length other than `bytes`,
 * (2) for `mapKind` `iova`, a list that is not one contiguous run, (3) otherwise, when `ranges` is
 * given, a list that does not visit the ranges in order at the offset its first entry sets.
 */
export function createI14Monitor(): Monitor {
  return {
    id: "I14",
    observe(event) {
      const map = readSgMap(event);
      if (map === undefined) return undefined;
      const where = `map of ${map.buf} for ${map.importer}`;
      const total = totalLength(map.sg);
      if (total !== map.bytes) return violationAt("I14", event, `${where}: sg lengths sum to ${hex(total)}, the dma-buf size is ${hex(map.bytes)}`, []);
      const first = map.sg[0];
      if (first === undefined) return undefined;
      let mismatch: string | undefined;
      if (map.kind === "iova") mismatch = sgMismatch(map.sg, [{ start: first[0], length: map.bytes }]);
      else if (map.ranges !== undefined && map.ranges[0] !== undefined) mismatch = sgMismatch(map.sg, shiftedSegments(map.ranges, first[0] - map.ranges[0][0]));
      if (mismatch === undefined) return undefined;
      return violationAt("I14", event, `${where}: ${mismatch}`, []);
    },
  };
}
