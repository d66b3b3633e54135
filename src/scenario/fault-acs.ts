/**
 * The `acs-change` fault: a config write to the ACS Control register of a port (or device), as an
 * administrator's `setpci` or a driver re-enabling ACS would make at run time [kernel.md §a.8].
 * It sets `acsSet`, then clears `acsClear` (bits the function does not implement stay 0).
 *
 * What follows is what the kernel and the hardware do, nothing more:
 * - routing follows the new bits at once: the DMA bus recompiles the routes they change (RR on
 *   the ingress port sends a peer-to-peer request up to the root complex), TLPs in flight finish
 *   on their old path (`pci/acs.ctl`, `pci/route.changed`);
 * - p2pdma is not told: its cached map types stay as they were [§a.6], so a mapping made after
 *   the change may still get BUS_ADDR — unless the model mutant that refreshes the cache runs;
 * - mappings made before keep their addresses: a BUS_ADDR mapping's bus addresses, redirected to
 *   the root complex, are forwarded peer to peer without an IOMMU and are translated as IOVAs
 *   (and blocked) with one [§a.7].
 *
 * The fault's report counts the routes it changed and the stale map types handed out after it
 * (faults.ts), besides refused TLPs and failed work requests.
 */
import { acsBits } from "../pci/acs.js";
import type { P2pdma } from "../pci/p2pdma.js";
import type { Strikes } from "./fault-strike.js";

/** Strikes of the ACS faults. */
export const ACS_STRIKES: Strikes<"acs-change"> = {
  "acs-change": (w, f) => {
    const fn = w.rdma.topology.find(f.target);
    if (fn === undefined) throw new Error(`acs-change: ${f.target} is not a function of the topology`);
    const set = acsBits(f.acsSet ?? []);
    const clear = acsBits(f.acsClear ?? []);
    w.rdma.bus.writeAcsCtl(fn, set, clear);
    const states = new Set<P2pdma>([...w.devices.values()].map((d) => d.config.p2pdma));
    for (const p2pdma of states) p2pdma.acsChanged(fn);
    return undefined;
  },
};
