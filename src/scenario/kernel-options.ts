/**
 * A scenario's kernel (profile and mutants) as the options of each layer of the model: the VFIO
 * exporter's profile and mutants, the p2pdma rules, the RDMA driver's mutants and the verbs calls'
 * mutant flags. One place maps names to options, so `--profile` and `--mutant` mean the same thing
 * in every command.
 */
import type { IommuMutants } from "../pci/iommu.js";
import type { P2pdmaMutants, P2pdmaProfile } from "../pci/p2pdma-map-type.js";
import type { IbDriverMutants } from "../rdma/verbs-device.js";
import type { VfioMutant, VfioOptions } from "../vfio/profiles.js";
import type { KernelMutant, KernelProfile } from "./scenario.js";

/** What each layer is given. */
export interface KernelOptions {
  readonly vfio: VfioOptions;
  readonly p2pdma: P2pdmaProfile;
  /** p2pdma's model mutants (a cache refreshed on ACS change). */
  readonly p2pdmaMutants: P2pdmaMutants;
  /** The RDMA driver's mutants. */
  readonly driver: IbDriverMutants;
  /** The IOMMU's mutants (`iotlbNotFlushed`: an unmap leaves IOTLB entries cached). */
  readonly iommu: IommuMutants;
  /** `ib_create_qp` mutants E19 (double free on the consumption-check failure) and E20 (leak on early failure). */
  readonly qp: { readonly e19: boolean; readonly e20: boolean };
}

const VFIO_MUTANT_NAMES: readonly KernelMutant[] = ["E6", "E7", "E8", "E10", "E13", "E27"];

/**
 * Maps a profile and mutants to layer options.
 * @param profile `default` is the newest correct kernel; other names change one layer.
 */
export function kernelOptions(profile: KernelProfile, mutants: readonly KernelMutant[]): KernelOptions {
  const has = (m: KernelMutant) => mutants.includes(m);
  return {
    vfio: {
      profile: profile === "vfio-dmabuf-initial" ? "vfio-dmabuf-initial" : "vfio-dmabuf-wait",
      mutants: mutants.filter((m) => VFIO_MUTANT_NAMES.includes(m)) as VfioMutant[],
    },
    p2pdma: profile === "p2pdma-v4.20" ? "p2pdma-v4.20" : "current",
    p2pdmaMutants: has("map-type-cache-refreshed-on-acs-change") ? { refreshOnAcsChange: true } : {},
    driver: {
      ...(has("callback-returns-before-drain") ? { callbackReturnsBeforeDrain: true } : {}),
      ...(has("invalidate-ignored") ? { invalidateIgnored: true } : {}),
    },
    iommu: has("iotlb-not-flushed") ? { iotlbNotFlushed: true } : {},
    qp: { e19: has("E19"), e20: has("E20") },
  };
}
