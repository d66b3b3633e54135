/**
 * Every invariant monitor, by id [kernel.md §f]: the registries of each group merged. A run asks
 * for monitors by id; an id without a monitor here is reported as unmonitored, never silently
 * skipped.
 */
import type { InvariantId, MonitorFactory } from "./monitor.js";
import { EXPORT_MONITORS } from "./monitors-export.js";
import { FABRIC_MONITORS } from "./monitors-fabric.js";
import { RDMA_MONITORS } from "./monitors-rdma.js";
import { REVOKE_MONITORS } from "./monitors-revoke.js";

/** The monitors p2psim has. */
export const MONITORS: Partial<Record<InvariantId, MonitorFactory>> = { ...REVOKE_MONITORS, ...EXPORT_MONITORS, ...FABRIC_MONITORS, ...RDMA_MONITORS };
