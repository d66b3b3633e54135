/**
 * The revoke group's monitors: no DMA after a revoke returned (I1), revoke before the hardware
 * change (I2), no map of a revoked export or umem (I5), every revoke and every close completes
 * (L1, L2), and every revoke of a trigger is restored iff memory is enabled afterwards (L4)
 * [kernel.md §f].
 */
import { createI1Monitor } from "./i1-no-dma-after-revoke.js";
import { createI2Monitor } from "./i2-revoke-before-hardware-change.js";
import { createI5Monitor } from "./i5-no-map-after-revoke.js";
import { createL1Monitor } from "./l1-revoke-completes.js";
import { createL2Monitor } from "./l2-close-completes.js";
import { createL4Monitor } from "./l4-restore-after-trigger.js";
import type { InvariantId, MonitorFactory } from "./monitor.js";

/** Factories of this group's monitors, by invariant (L1 and L2 with their default bounds). */
export const REVOKE_MONITORS: Partial<Record<InvariantId, MonitorFactory>> = {
  I1: createI1Monitor,
  I2: createI2Monitor,
  I5: createI5Monitor,
  L1: () => createL1Monitor(),
  L2: () => createL2Monitor(),
  L4: createL4Monitor,
};
