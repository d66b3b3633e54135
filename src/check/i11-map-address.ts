/**
 * I11 [kernel.md §f I11]: a BUS_ADDR mapping is the ranges' CPU physical addresses plus the bus
 * offset of the BAR they lie in; a THRU_HOST_BRIDGE mapping is an IOVA (IOMMU) or the CPU physical
 * address (dma-direct); DMA through a BUS_ADDR mapping never reaches the IOMMU [§a.7, §b.5]
 * (E27: one provider per device, BAR 0's bus offset for every BAR).
 */
import type { TraceEvent } from "../fabric/trace.js";
import { hex, num, readSgMap, str, violationAt } from "./fabric-events.js";
import { sgMismatch, shiftedSegments } from "./fabric-sg.js";
import type { Monitor } from "./monitor.js";

interface LiveBusAddr {
  readonly key: string;
  readonly map: TraceEvent;
  readonly sg: ReadonlyArray<readonly [number, number]>;
}

/**
 * Creates the I11 monitor.
 *
 * Observes `dmabuf/map` events carrying `sg`, `ranges`, `mapKind` and the BAR's true
 * `barCpuAddress` / `barBusAddress`: for `bus-addr` the list must follow the ranges shifted by
 * `barBusAddress − barCpuAddress`, for `direct` the ranges unshifted. Live BUS_ADDR lists are kept
 * per importer until the attachment's `dmabuf/unmap` (oldest first); a `pci/iommu.fault` of that
 * importer at an address inside one is flagged too (the IOMMU was consulted for a bus address).
 */
export function createI11Monitor(): Monitor {
  const live = new Map<string, LiveBusAddr[]>();
  return {
    id: "I11",
    observe(event) {
      if (event.layer === "dmabuf" && event.kind === "unmap") {
        const key = `${str(event, "buf")}#${num(event, "attach")}`;
        const list = live.get(str(event, "importer") ?? "");
        const index = list?.findIndex((l) => l.key === key) ?? -1;
        if (list !== undefined && index >= 0) list.splice(index, 1);
        return undefined;
      }
      if (event.layer === "pci" && event.kind === "iommu.fault") {
        const requester = str(event, "requester") ?? "";
        const iova = num(event, "iova");
        if (iova === undefined) return undefined;
        for (const mapping of live.get(requester) ?? []) {
          if (!mapping.sg.some(([a, l]) => iova >= a && iova < a + l)) continue;
          const message = `${requester} ${str(event, "tlp")} at bus address ${hex(iova)} of its BUS_ADDR mapping of ${str(mapping.map, "buf")} went through the IOMMU (${str(event, "fault")})`;
          return violationAt("I11", event, message, [mapping.map]);
        }
        return undefined;
      }
      const map = readSgMap(event);
      if (map === undefined || map.ranges === undefined) return undefined;
      if (map.kind === "bus-addr") {
        let list = live.get(map.importer);
        if (list === undefined) {
          list = [];
          live.set(map.importer, list);
        }
        list.push({ key: `${map.buf}#${num(event, "attach")}`, map: event, sg: map.sg });
      }
      if (map.kind !== "bus-addr" && map.kind !== "direct") return undefined;
      if (map.kind === "bus-addr" && map.barBusOffset === undefined) return undefined;
      const delta = map.kind === "bus-addr" ? (map.barBusOffset as number) : 0;
      const mismatch = sgMismatch(map.sg, shiftedSegments(map.ranges, delta));
      if (mismatch === undefined) return undefined;
      const rule =
        map.kind === "bus-addr" ? `BUS_ADDR must be CPU physical + the BAR's bus offset ${hex(delta)}` : "dma-direct must be the CPU physical address";
      return violationAt("I11", event, `map of ${map.buf} for ${map.importer}: ${mismatch} (${rule})`, []);
    },
  };
}
