/**
 * I12 [kernel.md §f I12]: `pci_p2pdma_map_type` returns the cached map type of a (provider, client)
 * pair unchanged until the provider's p2pdma state is torn down, however ACS changed meanwhile
 * (stale by design) [§a.6]. The monitor checks the cache's contract, not that answers are fresh.
 */
import type { TraceEvent } from "../fabric/trace.js";
import { num, str, violationAt } from "./fabric-events.js";
import type { Monitor } from "./monitor.js";

/**
 * Creates the I12 monitor.
 *
 * Observes `p2pdma/map-type`: an answer with `stored: true` becomes the pair's cache entry (keyed by
 * provider and `clientIdx`, the kernel's xarray index); `p2pdma/teardown` (`provider`) clears a
 * provider's entries (the model emits none yet: p2pdma state lives for the whole run). Flags
 * (1) a `source: "cache"` answer that differs from the entry last stored, or that has no entry,
 * (2) a `query: "map_type"` answer computed although an entry exists (the cache was bypassed).
 */
export function createI12Monitor(): Monitor {
  const entries = new Map<string, Map<number, TraceEvent>>();
  return {
    id: "I12",
    observe(event) {
      if (event.layer !== "p2pdma") return undefined;
      const provider = str(event, "provider");
      if (provider === undefined) return undefined;
      if (event.kind === "teardown") {
        entries.delete(provider);
        return undefined;
      }
      if (event.kind !== "map-type") return undefined;
      const idx = num(event, "clientIdx");
      if (idx === undefined) return undefined;
      let cache = entries.get(provider);
      const stored = cache?.get(idx);
      const pair = `${provider} -> ${str(event, "client")}`;
      const mapType = str(event, "mapType");
      if (str(event, "source") === "cache") {
        if (stored === undefined)
          return violationAt("I12", event, `p2pdma answered ${mapType} for ${pair} from its cache, but nothing was stored for that pair`, []);
        if (str(stored, "mapType") !== mapType) {
          return violationAt("I12", event, `p2pdma's cache answered ${mapType} for ${pair}, but it stored ${str(stored, "mapType")} and was never torn down`, [
            stored,
          ]);
        }
      } else if (str(event, "query") === "map_type" && stored !== undefined) {
        return violationAt("I12", event, `pci_p2pdma_map_type recomputed ${pair} (${mapType}) although its cache holds ${str(stored, "mapType")}`, [stored]);
      }
      if (event.stored === true) {
        if (cache === undefined) {
          cache = new Map();
          entries.set(provider, cache);
        }
        cache.set(idx, event);
      }
      return undefined;
    },
  };
}
