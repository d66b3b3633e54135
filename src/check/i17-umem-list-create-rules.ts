/**
 * I17 [kernel.md §f I17, §d.3, §d.6; bug E21]: a umem_list is built only from well-formed
 * descriptors — at most `count` of them, each with index < count, an index no other descriptor
 * used, reserved == 0 and a known type — and one buffer is never given twice; otherwise the
 * command fails and nothing it pinned stays pinned.
 *
 * Observes the successful creates `rdma/cq.create` and `rdma/qp.create` (their `slots`,
 * `descriptors` and, for a CQ, the `legacy` buffer), the failed creates `rdma/cq.create.failed` /
 * `rdma/qp.create.failed` at step `umem_list` (their `umems`: what the command created), and
 * `rdma/umem.get` / `rdma/umem.release`.
 *
 * Flags a create that succeeded with a descriptor breaking a rule, and a list creation that failed
 * and left one of its umems pinned.
 *
 * The v2 default (the posted design, seed 000) accepts a BUFFERS descriptor for CQ_BUF together
 * with the legacy CQ buffer attributes and silently releases the descriptor's umem (E21); v8 and
 * this invariant say a buffer given twice fails -EINVAL. The monitor follows the invariant: a CQ
 * created with both is an I17 violation, so every v2 run that exercises the double specification
 * is reported — the silent replacement is the behaviour the series later removed.
 */
import type { TraceEvent } from "../fabric/trace.js";
import type { Monitor, Violation } from "./monitor.js";
import { chainOf } from "./rdma-objects.js";

/** `enum ib_uverbs_buffer_type`: DMABUF = 0, VA = 1 [kernel.md §d.3]. */
const KNOWN_TYPES = new Set([0, 1]);
/** `UVERBS_BUF_CQ_BUF`: the slot the legacy CQ attributes fill. */
const CQ_BUF = 0;

interface Desc {
  readonly index: number;
  readonly type: number;
  readonly reserved: number;
}

/**
 * The first rule `descriptors` break for a list of `slots` slots, or undefined.
 * @param legacy the legacy CQ buffer passed ("none" for a QP).
 */
export function umemListRuleBroken(slots: number, descriptors: readonly Desc[], legacy: string): string | undefined {
  if (descriptors.length > slots) return `${descriptors.length} descriptors for ${slots} slots`;
  const seen = new Set<number>();
  for (const [k, d] of descriptors.entries()) {
    if (d.reserved !== 0) return `descriptor ${k} has reserved = ${d.reserved}`;
    if (d.index >= slots) return `descriptor ${k} has index ${d.index} >= count ${slots}`;
    if (seen.has(d.index)) return `descriptor ${k} repeats index ${d.index}`;
    if (!KNOWN_TYPES.has(d.type)) return `descriptor ${k} has unknown type ${d.type}`;
    seen.add(d.index);
  }
  if (legacy !== "none" && seen.has(CQ_BUF)) return `CQ_BUF given twice: by a descriptor and by the legacy ${legacy} attributes`;
  return undefined;
}

/** Creates a fresh I17 monitor. */
export function createI17Monitor(): Monitor {
  const got = new Map<string, TraceEvent>();
  const released = new Set<string>();
  return {
    id: "I17",
    observe(e): Violation | undefined {
      if (e.layer !== "rdma") return undefined;
      switch (e.kind) {
        case "umem.get":
          got.set(String(e.umem), e);
          return undefined;
        case "umem.release":
          released.add(String(e.umem));
          return undefined;
        case "cq.create":
        case "qp.create": {
          const object = String(e.kind === "cq.create" ? e.cq : e.qp);
          const broken = umemListRuleBroken(Number(e.slots), e.descriptors as unknown as readonly Desc[], String(e.legacy ?? "none"));
          if (broken === undefined) return undefined;
          return { invariant: "I17", timePs: e.t, message: `${object} created although ${broken}`, event: e, chain: [e] };
        }
        case "cq.create.failed":
        case "qp.create.failed": {
          if (e.step !== "umem_list") return undefined;
          const pinned = (e.umems as readonly string[]).find((u) => got.has(u) && !released.has(u));
          if (pinned === undefined) return undefined;
          return {
            invariant: "I17",
            timePs: e.t,
            message: `umem_list creation on ${String(e.device)} failed (${String(e.errno)}) and left ${pinned} pinned`,
            event: e,
            chain: chainOf(got.get(pinned), e),
          };
        }
        default:
          return undefined;
      }
    },
  };
}
