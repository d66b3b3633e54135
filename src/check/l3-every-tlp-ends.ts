/**
 * L3 [kernel.md §f L3]: every in-flight DMA ends exactly once: a read request that reached its
 * target is answered by completions covering its bytes, or by one UR completion, or ends when the
 * requester's completion timer fires (`pci/cpl.timeout`, a completer that does not answer or a
 * completion lost on a link that went down); none waits forever and no completion answers a read
 * twice [§c.6, §b.3]. Writes are posted: landing (or being refused or lost) ends them, so they
 * carry no obligation here.
 */
import type { TraceEvent } from "../fabric/trace.js";
import { hex, num, str, violationAt } from "./fabric-events.js";
import type { Monitor, Violation } from "./monitor.js";

interface OpenRead {
  readonly request: TraceEvent;
  /** Address the next completion must carry. */
  next: number;
  remaining: number;
}

/**
 * The key of a read by `requester` at `address`. The address in hex, not decimal: V8 caches the
 * decimal string of every number outside its small-integer range (bus addresses mostly are) in a
 * heap-wide table that scavenges treat as live, so decimal keys would survive into old space,
 * run after run, until a full GC (issue #7). Hex strings are not cached.
 */
function readKey(requester: string | undefined, address: number | undefined): string {
  return `${requester}|${address === undefined ? "" : address.toString(16)}`;
}

/**
 * Creates the L3 monitor.
 *
 * Observes `pci/tlp` (option `tlpEvents`): an MRd that reached its target opens a read keyed by
 * requester and the address its next completion will carry; each CplD of that requester at that
 * address advances it (status SC: by its `bytes`) or ends it (status UR). A read refused before
 * its target (`pci/iommu.fault`, or a `pci/tlp.ur` not preceded by its own MRd, i.e. a peer read the
 * root complex refused) is never traced as an MRd: it is counted per requester and address, and the
 * UR CplD that answers it consumes that count first, so it cannot end an open read of the same
 * address; an unmatched UR CplD is accepted. A `pci/cpl.timeout` ends the open read its address
 * names (the first byte that never came), after first consuming a read request lost before its
 * target (`pci/tlp.lost` of an MRd, never traced as `pci/tlp`); an unmatched one is accepted. Flags a successful CplD that answers no
 * open read (a read ended twice, or bytes nobody asked for), and at `end` the oldest read still open.
 */
export function createL3Monitor(): Monitor {
  /** Open reads by `requester|next address`, oldest first (two reads of one address may be open). */
  const open = new Map<string, OpenRead[]>();
  let count = 0;
  /** Reads refused before their target, by `requester|address`, whose UR completion is still due. */
  const refused = new Map<string, number>();
  /** Read requests lost before their target, by `requester|address`, whose timeout is still due. */
  const lost = new Map<string, number>();
  let previous: TraceEvent | undefined;
  /** Takes one from `map[key]`; whether there was one. */
  const take = (map: Map<string, number>, key: string): boolean => {
    const n = map.get(key) ?? 0;
    if (n === 0) return false;
    if (n === 1) map.delete(key);
    else map.set(key, n - 1);
    return true;
  };
  const add = (key: string, read: OpenRead) => {
    const queue = open.get(key);
    if (queue === undefined) open.set(key, [read]);
    else queue.push(read);
  };
  return {
    id: "L3",
    observe(event): Violation | undefined {
      const before = previous;
      if (event.layer === "pci") previous = event;
      if (event.layer !== "pci") return undefined;
      if (event.kind === "iommu.fault" || event.kind === "tlp.ur") {
        if (str(event, "tlp") !== "MRd") return undefined;
        const address = num(event, event.kind === "iommu.fault" ? "iova" : "address");
        const requester = str(event, "requester");
        // A target's refusal follows its own traced MRd (status UR); only the root complex's is untraced.
        const ownRequest = before?.kind === "tlp" && before.tlp === "MRd" && before.requester === requester && before.address === address;
        if (event.kind === "tlp.ur" && ownRequest) return undefined;
        const key = readKey(requester, address);
        refused.set(key, (refused.get(key) ?? 0) + 1);
        return undefined;
      }
      if (event.kind === "tlp.lost") {
        if (str(event, "tlp") !== "MRd") return undefined;
        const key = readKey(str(event, "requester"), num(event, "address"));
        lost.set(key, (lost.get(key) ?? 0) + 1);
        return undefined;
      }
      if (event.kind === "cpl.timeout") {
        const key = readKey(str(event, "requester"), num(event, "address"));
        if (take(lost, key)) return undefined;
        const queue = open.get(key);
        if (queue?.shift() !== undefined) count--;
        if (queue !== undefined && queue.length === 0) open.delete(key);
        return undefined;
      }
      if (event.kind !== "tlp") return undefined;
      const tlp = str(event, "tlp");
      const requester = str(event, "requester") ?? "?";
      const address = num(event, "address") ?? 0;
      const bytes = num(event, "bytes") ?? 0;
      if (tlp === "MRd") {
        add(readKey(requester, address), { request: event, next: address, remaining: bytes });
        count++;
        return undefined;
      }
      if (tlp !== "CplD") return undefined;
      const key = readKey(requester, address);
      const ur = str(event, "status") === "UR";
      if (ur && take(refused, key)) return undefined;
      const queue = open.get(key);
      const read = queue?.shift();
      if (queue !== undefined && queue.length === 0) open.delete(key);
      if (read === undefined) {
        if (ur) return undefined;
        return violationAt(
          "L3",
          event,
          `${requester} received a completion at ${hex(address)} (${bytes} bytes) that answers no open read: a read ended twice or was never issued`,
          [],
        );
      }
      if (ur || bytes >= read.remaining) {
        count--;
        if (!ur && bytes > read.remaining) {
          return violationAt("L3", event, `${requester} received ${bytes} bytes at ${hex(address)} for a read with ${read.remaining} bytes left`, [
            read.request,
          ]);
        }
        return undefined;
      }
      read.next += bytes;
      read.remaining -= bytes;
      add(readKey(requester, read.next), read);
      return undefined;
    },
    end(nowPs) {
      if (count === 0) return undefined;
      let oldest: OpenRead | undefined;
      for (const queue of open.values()) for (const read of queue) if (oldest === undefined || read.request.seq < oldest.request.seq) oldest = read;
      if (oldest === undefined) return undefined;
      const r = oldest.request;
      const message = `${str(r, "requester")} MRd at ${hex(num(r, "address") ?? 0)} to ${str(r, "target")} (${num(r, "bytes")} bytes, ${oldest.remaining} still expected) never completed; ${count} read(s) open at the end of the run`;
      return { invariant: "L3", timePs: nowPs, message, event: undefined, chain: [r] };
    },
  };
}
