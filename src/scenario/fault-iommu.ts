/**
 * IOMMU faults: `iommu-unmap` tears down, in the IOMMU, the IOVA ranges of the target NIC's
 * dma-buf mappings while the NIC may still be streaming through them [kernel.md §a.7, §b.5, §c.6].
 *
 * What it models: the DMA API's unmap of a THRU_HOST_BRIDGE mapping (`dma_buf_free_sgt` →
 * `dma_iova_destroy` → `iommu_unmap` + IOTLB invalidation) run while the importer's hardware is
 * not quiet, and without the importer's bookkeeping knowing: the umem stays "mapped", the MR keeps
 * its keys, the NIC keeps issuing TLPs to the same IOVAs. That is what an importer that unmaps
 * before draining, or any kernel path that unmaps someone else's IOVA, leaves behind. The strike
 * goes through `Iommu.unmap`, the same call the IOVA destroy makes, so a kernel mutant of the IOMMU
 * (`iotlb-not-flushed`) changes what it does.
 *
 * What must follow [§c.6]: every later TLP through those IOVAs faults at the root complex
 * (`pci/iommu.fault`) and never reaches the BAR. A posted write is dropped silently (the device
 * never learns: an RDMA WRITE still completes successfully at the requester, its data lost); a read
 * completes with UR, so an RDMA READ fails with an error completion and its QP moves to error.
 * A TLP that the IOMMU translates after the unmap (a stale IOTLB entry) is a use of the IOVA after
 * its unmap: `iommu/stale-translation`, which I21 flags.
 *
 * Events (layer `iommu`): `unmap` once per torn-down mapping, at the strike; `stale-translation`
 * at each translation through a stale IOTLB entry (only a mutant IOMMU makes one).
 */

import { DmaBufDma, type DmaIommu } from "../dmabuf/map.js";
import type { Engine } from "../fabric/engine.js";
import type { Topology } from "../pci/topology.js";
import type { Strikes } from "./fault-strike.js";
import type { ScenarioWorld } from "./scenario-world.js";

declare module "../fabric/trace.js" {
  interface TraceKinds {
    iommu: {
      /**
       * IOVA pages of `requester`'s mapping of `buf` removed from its domain: `bytes` of the mapping's
       * `size`, `iotlbInvalidated` IOTLB entries dropped and `iotlbStale` left cached; `cause` says who.
       */
      unmap: {
        requester: string;
        domain: string;
        buf: string;
        iova: number;
        size: number;
        bytes: number;
        pages: number;
        iotlbInvalidated: number;
        iotlbStale: number;
        cause: string;
      };
      /** A request of `requester` at `iova` translated through an IOTLB entry of a page no longer mapped (to `phys`). */
      "stale-translation": { requester: string; domain: string; iova: number; access: string; phys: number; page: number; pageSize: number };
    };
  }
}

/**
 * Makes `dmaIommu`'s IOMMU report stale translations as `iommu/stale-translation` events, naming
 * requesters by their topology label as `pci/tlp` does. Idempotent: a second call changes nothing.
 */
export function traceStaleTranslations(engine: Engine, topology: Topology, dmaIommu: DmaIommu): void {
  const iommu = dmaIommu.iommu;
  if (iommu.observer !== undefined) return;
  iommu.observer = {
    staleTranslation(deviceId, domain, iova, access, pte) {
      const requester = topology.functions.find((fn) => fn.id === deviceId)?.label ?? deviceId;
      const phys = pte.phys + (iova - pte.iova);
      engine.trace.emit("iommu", "stale-translation", { requester, domain, iova, access, phys, page: pte.iova, pageSize: pte.pageSize });
    },
  };
}

/** The IOVA mappings (THRU_HOST_BRIDGE with an IOMMU) of every export of the scenario that `nicId` imports, live now, by buffer name. */
function liveIovaMappings(world: ScenarioWorld, nicId: string): Array<{ readonly buf: string; readonly dma: DmaBufDma }> {
  const found: Array<{ readonly buf: string; readonly dma: DmaBufDma }> = [];
  for (const device of world.devices.values()) {
    for (const priv of device.exportList) {
      for (const attach of priv.dmabuf.attachments) {
        if (attach.importer.id !== nicId) continue;
        for (const sgt of attach.sgts) {
          if (sgt instanceof DmaBufDma && sgt.kind === "iova" && !sgt.freed) found.push({ buf: priv.dmabuf.name, dma: sgt });
        }
      }
    }
  }
  return found;
}

/**
 * Tears down every live IOVA mapping `nic` has of the scenario's exports, as the DMA API's unmap
 * does (`iommu_unmap` + IOTLB invalidation), leaving the importer's own state as it was.
 * @returns the number of mappings torn down (0 without an IOMMU, or when none is mapped now).
 * @throws Error when `nic` is not the scenario's NIC (the loader's checks make that a bug).
 */
export function iommuUnmapNic(world: ScenarioWorld, nic: string): number {
  const rdma = world.rdma;
  if (rdma.device.name !== nic) throw new Error(`iommu-unmap: ${nic} is not the scenario's NIC`);
  const dmaIommu = rdma.iommu;
  if (dmaIommu === undefined) return 0;
  traceStaleTranslations(world.engine, rdma.topology, dmaIommu);
  const fn = rdma.topology.find(nic);
  if (fn === undefined) throw new Error(`iommu-unmap: no function ${nic}`);
  const mappings = liveIovaMappings(world, fn.id);
  for (const { buf, dma } of mappings) {
    const range = dma.iova;
    if (range === undefined) continue;
    const result = dmaIommu.iommu.unmap(range.domain, range.start, dma.size);
    // The range is the one the IOVA path mapped in whole pages, so a refusal is a model bug.
    if (!result.ok) throw new Error(`iommu-unmap: the IOMMU refused to unmap ${buf} for ${nic}: ${result.reason}`);
    world.engine.trace.emit("iommu", "unmap", {
      requester: nic,
      domain: range.domain,
      buf,
      iova: range.start,
      size: dma.size,
      bytes: result.bytes,
      pages: result.pages,
      iotlbInvalidated: result.iotlbInvalidated,
      iotlbStale: result.iotlbStale,
      cause: "iommu-unmap fault",
    });
  }
  return mappings.length;
}

/** Strikes of the IOMMU faults. */
export const IOMMU_STRIKES: Strikes<"iommu-unmap"> = {
  "iommu-unmap": (w, f) => {
    iommuUnmapNic(w, f.target);
    return undefined;
  },
};
