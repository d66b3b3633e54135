/**
 * I5 [kernel.md §f I5]: a map of a revoked VFIO export fails -ENODEV, and a revoked pinned umem
 * never maps again (-EINVAL). Rests on the exporter's map op (§c.3: revoked -> -ENODEV) and
 * `ib_umem_dmabuf_map_pages` (§d.1: a revoked umem -> -EINVAL; its revoke is permanent, §b.3).
 */
import type { TraceEvent } from "../fabric/trace.js";
import { firstViolation, strField, violationAt } from "./export-support.js";
import type { Monitor } from "./monitor.js";
import { ExportTable } from "./revoke-exports.js";

/**
 * Creates the I5 monitor.
 *
 * Observes: the exports' revoked state ({@link ExportTable}), `dmabuf/map` and `dmabuf/map.refused`
 * of VFIO exports, and the umems' `rdma/umem.revoke.callback` / `rdma/umem.revoke` (revoked for
 * good), `rdma/umem.map` and `rdma/umem.map.failed`.
 *
 * Flags: a successful map of a revoked export, a refusal of one with another errno than ENODEV, a
 * `umem.map` of a revoked umem, and a `umem.map.failed` of one with another errno than EINVAL.
 * Chain: the export (or the umem's revoke), what revoked it, the map.
 */
export function createI5Monitor(): Monitor {
  const exports = new ExportTable();
  /** Umem → the event that revoked it. */
  const revokedUmems = new Map<string, TraceEvent>();

  return firstViolation("I5", (event) => {
    const found = check(event);
    exports.observe(event);
    return found;
  });

  function check(event: TraceEvent) {
    const kind = `${event.layer}/${event.kind}`;
    switch (kind) {
      case "dmabuf/map":
      case "dmabuf/map.refused":
        return checkMap(event);
      case "rdma/umem.revoke.callback":
      case "rdma/umem.revoke": {
        const umem = strField(event, "umem");
        if (umem !== undefined && !revokedUmems.has(umem)) revokedUmems.set(umem, event);
        return undefined;
      }
      case "rdma/umem.map":
      case "rdma/umem.map.failed":
        return checkUmemMap(event);
      default:
        return undefined;
    }
  }

  function checkMap(event: TraceEvent) {
    const state = exports.get(strField(event, "buf") ?? "");
    if (state === undefined || !state.revoked) return undefined;
    const who = `${state.device} ${state.buf}: ${String(event.importer)} attachment ${String(event.attach)}`;
    const causes = [state.exported, state.lastRevoke, state.stateBy];
    if (event.kind === "map") return violationAt("I5", event, `${who} mapped the export while it is revoked (must be -ENODEV) [kernel.md §c.3]`, causes);
    const errno = strField(event, "errno");
    if (errno === "ENODEV") return undefined;
    return violationAt("I5", event, `${who}: a map of the revoked export failed ${errno ?? "?"} instead of ENODEV [kernel.md §c.3]`, causes);
  }

  function checkUmemMap(event: TraceEvent) {
    const umem = strField(event, "umem");
    const revoked = umem === undefined ? undefined : revokedUmems.get(umem);
    if (revoked === undefined) return undefined;
    if (event.kind === "umem.map") return violationAt("I5", event, `${umem} mapped again after its revoke (must be -EINVAL) [kernel.md §d.1]`, [revoked]);
    const errno = strField(event, "errno");
    if (errno === "EINVAL") return undefined;
    return violationAt("I5", event, `${umem}: a map after its revoke failed ${errno ?? "?"} instead of EINVAL [kernel.md §d.1]`, [revoked]);
  }
}
