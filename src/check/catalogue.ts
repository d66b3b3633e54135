/**
 * Every invariant monitor, by id [kernel.md §f]: the registries of each group merged. A run asks
 * for monitors by id; an id without a monitor here is reported as unmonitored, never silently
 * skipped.
 */
import type { InvariantId, MonitorFactory } from "./monitor.js";

/** The monitors p2psim has. */
export const MONITORS: Partial<Record<InvariantId, MonitorFactory>> = {};
