/**
 * The export group's monitors (VFIO dma-buf export: attach rules, revoked-flag locking, initial
 * state, registration balance, ranges, lock order), by invariant id, for the lead's registry.
 */
import { createI4Monitor } from "./i4-attach-revocable.js";
import { createI6Monitor } from "./i6-revoked-under-locks.js";
import { createI7Monitor } from "./i7-initial-revoked-state.js";
import { createI8Monitor } from "./i8-registration-balance.js";
import { createI10Monitor } from "./i10-export-ranges.js";
import { createI13Monitor } from "./i13-lock-order.js";
import type { InvariantId, MonitorFactory } from "./monitor.js";

/** I4, I6, I7, I8, I10, I13 [kernel.md §f]. */
export const EXPORT_MONITORS: Partial<Record<InvariantId, MonitorFactory>> = {
  I4: createI4Monitor,
  I6: createI6Monitor,
  I7: createI7Monitor,
  I8: createI8Monitor,
  I10: createI10Monitor,
  I13: createI13Monitor,
};
