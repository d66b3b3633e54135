/**
 * The answer p2pdma gives a DMA mapper, `enum pci_p2pdma_map_type` of include/linux/pci-p2pdma.h
 * [kernel.md §a.2], and the kernel profiles that change how it is computed [§a.3 last bullet].
 *
 * The kernel's UNKNOWN (0, "not computed yet", what an empty cache slot reads as) and NONE ("not a
 * P2P page", only from the struct-page helper) are not members: no exported function returns
 * them. The per-provider cache in `p2pdma.ts` uses an internal "unknown" and asserts it never
 * escapes [STYLE.md 9].
 */

/** How a client must address a provider's BAR. */
export type PciP2pdmaMapType =
  /**
   * PCI_P2PDMA_MAP_BUS_ADDR: program the client with PCI bus addresses (the BAR's CPU physical
   * address plus the provider's `busOffset`); the traffic turns around in the common upstream
   * bridge and never reaches the host bridge or the IOMMU [§a.7].
   */
  | "bus-addr"
  /**
   * PCI_P2PDMA_MAP_THRU_HOST_BRIDGE: map the BAR through the DMA API like any MMIO (an IOVA with
   * an IOMMU, the CPU physical address with dma-direct); the traffic goes up through the root
   * complex of an allowed host bridge [§a.7].
   */
  | "thru-host-bridge"
  /**
   * PCI_P2PDMA_MAP_NOT_SUPPORTED: the client cannot reach the provider; fail the mapping (the
   * dma-buf helper returns -EINVAL) [§a.7, §b.5].
   */
  | "not-supported";

/** The kernel's name of each map type, for messages a kernel developer can grep for. */
export const KERNEL_MAP_TYPE_NAME: Readonly<Record<PciP2pdmaMapType, string>> = {
  "bus-addr": "BUS_ADDR",
  "thru-host-bridge": "THRU_HOST_BRIDGE",
  "not-supported": "NOT_SUPPORTED",
};

/** Which kernel's p2pdma rules decide [§a.3, §e E26]. */
export type P2pdmaProfile =
  /**
   * The newest upstream behaviour [P2P]: an ACS redirect on the path, or no common upstream
   * bridge, falls back to the host-bridge decision (AMD Zen rule, then the allow list of §a.4);
   * answers are cached per provider and never invalidated.
   */
  | "current"
  /**
   * Linux v4.20 [P2P-420]: `upstream_bridge_distance` returned -2 for any ACS redirect on the path
   * and -1 without a common upstream bridge, both a rejection here; there was no allow list, no
   * AMD rule and no map-type cache (its `struct pci_p2pdma` has no `map_types`).
   */
  | "p2pdma-v4.20";

/** Every profile; the first is the default. */
export const P2PDMA_PROFILES: readonly P2pdmaProfile[] = ["current", "p2pdma-v4.20"];

/**
 * Model mutants of p2pdma: kernels that do NOT exist, used to show that a scenario's monitors tell
 * the faithful kernel from a plausible "fix".
 */
export interface P2pdmaMutants {
  /**
   * Forget every cached map type when a run changes ACS Control, so the next lookup recomputes
   * from the new bits. Sounds like a fix; it is unfaithful to the kernel, whose cache lives until
   * the provider's p2pdma state is torn down [kernel.md §a.6], and breaks I12.
   */
  readonly refreshOnAcsChange?: boolean;
}
