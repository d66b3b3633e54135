/** IOMMU faults (being built). */
import type { Strikes } from "./fault-strike.js";

/** Strikes of the IOMMU faults. */
export const IOMMU_STRIKES: Strikes<"iommu-unmap"> = {
  "iommu-unmap": () => {
    throw new Error("iommu-unmap: not built yet");
  },
};
