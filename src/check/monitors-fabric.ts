/**
 * The fabric group's monitors: device access while disabled (I3), p2pdma map types and their cache
 * (I9, I12), mapping addresses and scatter lists (I11, I14, I15), and the end of every read (L3)
 * [kernel.md §f].
 */
import { createI3Monitor } from "./i3-no-access-to-disabled-device.js";
import { createI9Monitor } from "./i9-map-type-decision.js";
import { createI11Monitor } from "./i11-map-address.js";
import { createI12Monitor } from "./i12-map-type-cache.js";
import { createI14Monitor } from "./i14-sg-follows-ranges.js";
import { createI15Monitor } from "./i15-sg-page-aligned.js";
import { createL3Monitor } from "./l3-every-tlp-ends.js";
import type { InvariantId, MonitorFactory } from "./monitor.js";

/** Factories of this group's monitors, by invariant. */
export const FABRIC_MONITORS: Partial<Record<InvariantId, MonitorFactory>> = {
  I3: createI3Monitor,
  I9: createI9Monitor,
  I11: createI11Monitor,
  I12: createI12Monitor,
  I14: createI14Monitor,
  I15: createI15Monitor,
  L3: createL3Monitor,
};
