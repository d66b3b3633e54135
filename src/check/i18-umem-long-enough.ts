/**
 * I18 [kernel.md §f I18, §d.3, §d.6; bug E22]: a umem the driver loaded is at least as long as the
 * size it asked for (a shorter slot fails -EINVAL and is not marked loaded), and a descriptor's u64
 * `addr` and `length` reach the umem unchanged (no silent narrowing to a 32-bit kernel word).
 *
 * Observes `rdma/umem.get` (each umem's address and length) and the successful creates
 * `rdma/cq.create` / `rdma/qp.create`: their `buf` and `dbr` umems with the sizes the driver asked
 * (`bufSize`, `dbrSize`), and the descriptors of the buffer and doorbell slots (CQ_BUF = 0 and
 * CQ_DBR = 1; QP_BUF = 0 and DBR_BUF = 3), which are the umems `buf` and `dbr` when those slots
 * are loaded. Flags a buffer or doorbell shorter than asked, and a loaded descriptor whose umem's
 * address or length differs from what user space passed. A CQ_BUF descriptor also given through
 * the legacy attributes is not compared (the legacy umem replaced it: E21, which I17 reports).
 */
import type { TraceEvent } from "../fabric/trace.js";
import type { Monitor, Violation } from "./monitor.js";
import { chainOf } from "./rdma-objects.js";

/** The buffer and doorbell slots of each object's list [kernel.md §d.4]. */
const SLOTS = { "cq.create": { buf: 0, dbr: 1 }, "qp.create": { buf: 0, dbr: 3 } } as const;

interface Desc {
  readonly index: number;
  readonly addr: string;
  readonly length: string;
}

/** Creates a fresh I18 monitor. */
export function createI18Monitor(): Monitor {
  const got = new Map<string, TraceEvent>();
  const check = (e: TraceEvent, object: string): Violation | undefined => {
    const slots = SLOTS[e.kind as keyof typeof SLOTS];
    const loaded = new Set(e.loaded as readonly number[]);
    const descs = e.descriptors as unknown as readonly Desc[];
    for (const role of ["buf", "dbr"] as const) {
      const umem = String(e[role]);
      const get = got.get(umem);
      if (get === undefined) continue;
      const asked = Number(role === "buf" ? e.bufSize : e.dbrSize);
      const fail = (what: string): Violation => ({
        invariant: "I18",
        timePs: e.t,
        message: `${object}'s ${role} ${umem} ${what}`,
        event: e,
        chain: chainOf(get, e),
      });
      if (Number(get.length) < asked) return fail(`is ${String(get.length)} bytes, shorter than the ${asked} the driver asked`);
      const slot = slots[role];
      if (!loaded.has(slot) || (slot === 0 && e.legacy !== undefined && e.legacy !== "none")) continue;
      const desc = descs.find((d) => d.index === slot);
      if (desc === undefined) continue;
      if (BigInt(desc.length) !== BigInt(Number(get.length))) return fail(`is ${String(get.length)} bytes but its descriptor asked ${desc.length} (narrowed)`);
      if (BigInt(desc.addr) !== BigInt(Number(get.address))) return fail(`starts at ${String(get.address)} but its descriptor gave ${desc.addr} (narrowed)`);
    }
    return undefined;
  };
  return {
    id: "I18",
    observe(e) {
      if (e.layer !== "rdma") return undefined;
      if (e.kind === "umem.get") got.set(String(e.umem), e);
      else if (e.kind === "cq.create") return check(e, String(e.cq));
      else if (e.kind === "qp.create") return check(e, String(e.qp));
      return undefined;
    },
  };
}
