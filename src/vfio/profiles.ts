/**
 * Kernel profiles and mutants of the vfio-pci exporter [kernel.md "How p2psim uses this sheet", §e].
 * Both are named options of the model, never code edits: a scenario asks "would this have broken
 * on that kernel?" by naming a profile, and a bundled scenario proves a monitor catches a known bug
 * by naming a mutant.
 */
import { assert } from "../fabric/assert.js";
import { ms } from "../fabric/time.js";

/** Which merged vfio-pci dma-buf exporter runs. */
export type VfioProfile =
  /**
   * Default, newest [VDB]: revoke waits for every fence and every unmap (kref + completion);
   * attach refuses importers that are not revocable.
   */
  | "vfio-dmabuf-wait"
  /**
   * First merged form [VDB-T]: revoke is flag + invalidate under resv with no wait at all (E12),
   * and attach has no revocable check.
   */
  | "vfio-dmabuf-initial";

/** Every profile; the first is the default. */
export const VFIO_PROFILES: readonly VfioProfile[] = ["vfio-dmabuf-wait", "vfio-dmabuf-initial"];

/** A known bug of the series, reproduced on request [kernel.md §e]. */
export type VfioMutant =
  /** After a config-space FLR the code revokes again instead of restoring: exports stay dead (L4). */
  | "E6"
  /** The initial `revoked` state is computed before memory_lock is taken: an export racing a MEM clear stays usable (I7). */
  | "E7"
  /** Hot reset restores only after a successful bus reset, not in the undo loop: the error path leaves exports revoked (L4). */
  | "E8"
  /** A `dma_buf_fd` failure falls through the whole unwind: registration put twice, private object freed twice (I8). */
  | "E10"
  /** Close drains an export that a MEM clear already drained: kref underflow, then a wait that never ends (L1, L2). */
  | "E13"
  /** One p2pdma provider per device: BAR 0's bus offset for every BAR (I11). */
  | "E27";

/** Every mutant this layer knows. */
export const VFIO_MUTANTS: readonly VfioMutant[] = ["E6", "E7", "E8", "E10", "E13", "E27"];

/** Options of a vfio-pci device. */
export interface VfioOptions {
  /** Default `"vfio-dmabuf-wait"`. */
  readonly profile?: VfioProfile;
  /** Bugs to reproduce; default none. */
  readonly mutants?: Iterable<VfioMutant>;
  /** How long an FLR or a bus reset holds functions in reset; default 100 ms (the PCIe wait after reset). */
  readonly resetDurationPs?: number;
  /** How long a D-state transition takes; default 10 ms (the PCIe D3hot recovery time). */
  readonly powerTransitionPs?: number;
  /** The driver has `get_dmabuf_phys` (plain vfio-pci yes; variant drivers no) [§c.2 step 1]. Default true. */
  readonly hasGetDmabufPhys?: boolean;
  /** Largest sg entry handed to `dmaBufPhysVecToSgt`; default its own. */
  readonly chunkBytes?: number;
}

/** {@link VfioOptions} with every default applied. */
export interface VfioSettings {
  readonly profile: VfioProfile;
  readonly mutants: ReadonlySet<VfioMutant>;
  readonly resetDurationPs: number;
  readonly powerTransitionPs: number;
  readonly hasGetDmabufPhys: boolean;
  readonly chunkBytes: number | undefined;
}

/**
 * Applies defaults and checks the options once.
 * @throws AssertionError on an unknown profile or mutant, or a negative or non-integer duration.
 */
export function vfioSettings(options: VfioOptions = {}): VfioSettings {
  const profile = options.profile ?? "vfio-dmabuf-wait";
  assert(VFIO_PROFILES.includes(profile), () => `unknown vfio profile ${profile}`);
  const mutants = new Set(options.mutants ?? []);
  for (const mutant of mutants) assert(VFIO_MUTANTS.includes(mutant), () => `unknown vfio mutant ${mutant}`);
  const resetDurationPs = options.resetDurationPs ?? ms(100);
  const powerTransitionPs = options.powerTransitionPs ?? ms(10);
  for (const [name, value] of [
    ["resetDurationPs", resetDurationPs],
    ["powerTransitionPs", powerTransitionPs],
  ] as const) {
    assert(Number.isSafeInteger(value) && value >= 0, () => `${name} must be a non-negative integer, got ${value}`);
  }
  return { profile, mutants, resetDurationPs, powerTransitionPs, hasGetDmabufPhys: options.hasGetDmabufPhys ?? true, chunkBytes: options.chunkBytes };
}
