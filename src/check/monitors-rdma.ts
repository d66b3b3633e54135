/**
 * The rdma group's monitors [kernel.md §f I16–I22, L5, L6]: umem_list ownership and creation rules,
 * loaded sizes, consumption, invalidate vs dereg, use after unmap, the pinned-revocable callback,
 * page faults that must resolve, and CQs whose buffer goes away.
 */
import { createI16Monitor } from "./i16-umem-released-once.js";
import { createI17Monitor } from "./i17-umem-list-create-rules.js";
import { createI18Monitor } from "./i18-umem-long-enough.js";
import { createI19Monitor } from "./i19-no-invalidate-on-revoked-key.js";
import { createI20Monitor } from "./i20-umem-list-consumed.js";
import { createI21Monitor } from "./i21-no-use-after-unmap.js";
import { createI22Monitor } from "./i22-revocable-callback.js";
import { createL5Monitor } from "./l5-fault-resolves.js";
import { createL6Monitor } from "./l6-cq-error-on-inaccessible.js";
import type { InvariantId, MonitorFactory } from "./monitor.js";

/** The rdma monitors by invariant id; the lead merges this into the full registry. */
export const RDMA_MONITORS: Partial<Record<InvariantId, MonitorFactory>> = {
  I16: createI16Monitor,
  I17: createI17Monitor,
  I18: createI18Monitor,
  I19: createI19Monitor,
  I20: createI20Monitor,
  I21: createI21Monitor,
  I22: createI22Monitor,
  L5: createL5Monitor,
  L6: createL6Monitor,
};
