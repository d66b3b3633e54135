/**
 * I9 [kernel.md §f I9]: BUS_ADDR only when client and provider share an upstream bridge (or are one
 * function) and no counted node has ACS RR/CR/EC; THRU_HOST_BRIDGE only when the host-bridge rule
 * allows (AMD Zen, else the allow list); otherwise NOT_SUPPORTED, and a mapping that got
 * NOT_SUPPORTED fails with -EINVAL [§a.3, §a.4, §b.5].
 */
import type { TraceEvent } from "../fabric/trace.js";
import { str, violationAt } from "./fabric-events.js";
import type { Monitor } from "./monitor.js";

const KERNEL_NAME: Readonly<Record<string, string>> = { "bus-addr": "BUS_ADDR", "thru-host-bridge": "THRU_HOST_BRIDGE", "not-supported": "NOT_SUPPORTED" };

/** The map type the current kernel's rules give for the walk's facts [§a.3 steps 4-5]. */
export function expectedMapType(commonUpstream: string | null, acsRedirect: readonly string[], hostBridgeAllowed: boolean): string {
  if (commonUpstream !== null && acsRedirect.length === 0) return "bus-addr";
  return hostBridgeAllowed ? "thru-host-bridge" : "not-supported";
}

function facts(event: TraceEvent): { common: string | null; redirect: readonly string[]; allowed: boolean } | undefined {
  const common = event.commonUpstream;
  const redirect = event.acsRedirect;
  const allowed = event.hostBridgeAllowed;
  if ((common !== null && typeof common !== "string") || !Array.isArray(redirect) || typeof allowed !== "boolean") return undefined;
  return { common, redirect: redirect.filter((r): r is string => typeof r === "string"), allowed };
}

/**
 * Creates the I9 monitor.
 *
 * Observes `p2pdma/map-type` (emitted by a `P2pdma` with a trace attached). A computed answer
 * (`source: "computed"`) must equal what the current rules give for the facts the walk reports
 * (`commonUpstream`, `acsRedirect`, `hostBridgeAllowed`); a cached answer is not re-judged (it may
 * be stale by design, I12). After a `query: "map_type"` answer NOT_SUPPORTED, the next
 * `dmabuf/map` / `dmabuf/map.refused` (the map that asked, since `dma_buf_phys_vec_to_sgt` runs
 * inside it) must be a refusal with EINVAL. Flags a wrong answer (profile p2pdma-v4.20 rejects an
 * ACS redirect or a missing common bridge the host bridge would forward, E26) and a NOT_SUPPORTED
 * mapping that succeeded or failed otherwise.
 */
export function createI9Monitor(): Monitor {
  let notSupported: TraceEvent | undefined;
  return {
    id: "I9",
    observe(event) {
      if (event.layer === "p2pdma" && event.kind === "map-type") {
        notSupported = str(event, "query") === "map_type" && str(event, "mapType") === "not-supported" ? event : undefined;
        if (str(event, "source") !== "computed") return undefined;
        const f = facts(event);
        if (f === undefined) return undefined;
        const expected = expectedMapType(f.common, f.redirect, f.allowed);
        const got = str(event, "mapType") ?? "?";
        if (got === expected) return undefined;
        const path =
          f.common === null
            ? "no common upstream bridge"
            : `common upstream ${f.common}, ${f.redirect.length === 0 ? "no ACS redirect" : `ACS redirect on ${f.redirect.join(", ")}`}`;
        const hb = f.allowed ? "the host bridge forwards P2P" : "the host bridge is not allowed";
        const message = `p2pdma (${str(event, "profile")}) answered ${KERNEL_NAME[got] ?? got} for ${str(event, "provider")} -> ${str(event, "client")}, but with ${path} and ${hb} the answer is ${KERNEL_NAME[expected]}`;
        return violationAt("I9", event, message, []);
      }
      if (event.layer !== "dmabuf" || notSupported === undefined) return undefined;
      if (event.kind !== "map" && event.kind !== "map.refused") return undefined;
      const cause = notSupported;
      notSupported = undefined;
      if (event.kind === "map.refused" && event.errno === "EINVAL") return undefined;
      const outcome = event.kind === "map" ? "succeeded" : `failed with ${String(event.errno)}`;
      const message = `map of ${str(event, "buf")} for ${str(event, "importer")} ${outcome} although p2pdma answered NOT_SUPPORTED for ${str(cause, "provider")} -> ${str(cause, "client")}: it must fail with EINVAL`;
      return violationAt("I9", event, message, [cause]);
    },
  };
}
