/**
 * I20 [kernel.md §f I20, §d.3, §d.4]: after a successful CQ or QP create every provided slot was
 * loaded (provided & ~loaded == 0); a create with an unconsumed buffer is destroyed and fails -EINVAL.
 *
 * Observes `rdma/cq.create` and `rdma/qp.create` (their `provided` and `loaded` slot lists) and the
 * failed creates at step `consumed`. Flags a successful create with a provided slot not loaded,
 * and a consumption failure reported with another errno than EINVAL. The write() CQ path builds an
 * always-empty list, so it has nothing provided.
 */
import type { Monitor } from "./monitor.js";

/** Creates a fresh I20 monitor. */
export function createI20Monitor(): Monitor {
  return {
    id: "I20",
    observe(e) {
      if (e.layer !== "rdma") return undefined;
      if (e.kind === "cq.create" || e.kind === "qp.create") {
        const loaded = new Set(e.loaded as readonly number[]);
        const unconsumed = (e.provided as readonly number[]).filter((slot) => !loaded.has(slot));
        if (unconsumed.length === 0) return undefined;
        const object = String(e.kind === "cq.create" ? e.cq : e.qp);
        return {
          invariant: "I20",
          timePs: e.t,
          message: `${object} created with provided slot(s) ${unconsumed.join(", ")} never loaded`,
          event: e,
          chain: [e],
        };
      }
      if ((e.kind === "cq.create.failed" || e.kind === "qp.create.failed") && e.step === "consumed" && e.errno !== "EINVAL") {
        const message = `${e.kind === "cq.create.failed" ? "CQ" : "QP"} create on ${String(e.device)} failed the consumption check with ${String(e.errno)}, not EINVAL`;
        return { invariant: "I20", timePs: e.t, message, event: e, chain: [e] };
      }
      return undefined;
    },
  };
}
