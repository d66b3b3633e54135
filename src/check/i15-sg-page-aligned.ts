/**
 * I15 [kernel.md §f I15]: every DMA address and length of a dma-buf mapping's scatter list is page
 * aligned (`dma_buf_map_attachment` kdoc; E16: UINT_MAX chunks gave unaligned entries) [§b.4, §b.5].
 */
import { hex, readSgMap, violationAt } from "./fabric-events.js";
import type { Monitor } from "./monitor.js";

/** PAGE_SIZE of the modelled kernel. */
const PAGE_SIZE = 4096;

/**
 * Creates the I15 monitor.
 *
 * Observes `dmabuf/map` events that carry the list (`sg`: [[dmaAddress, length], …]). Flags the
 * first entry whose address or length is not a multiple of 4 KiB.
 */
export function createI15Monitor(): Monitor {
  return {
    id: "I15",
    observe(event) {
      const map = readSgMap(event);
      if (map === undefined) return undefined;
      for (const [n, [address, length]] of map.sg.entries()) {
        if (address % PAGE_SIZE === 0 && length % PAGE_SIZE === 0) continue;
        const what = address % PAGE_SIZE !== 0 ? `address ${hex(address)}` : `length ${hex(length)}`;
        return violationAt("I15", event, `map of ${map.buf} for ${map.importer}: sg entry ${n} ${what} is not page aligned`, []);
      }
      return undefined;
    },
  };
}
