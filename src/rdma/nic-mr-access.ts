/**
 * How the NIC's engine reaches memory through an MR key: look the key up, check rights and range
 * (`mrCheckAccess`), fault a zapped dma-buf MR back in [kernel.md §d.2], then hand the DMA
 * addresses to the caller. The fault runs as a process because it may have to wait: for a drain
 * the driver's invalidate is still waiting on (the kernel's callback holds the resv until then),
 * and for the resv itself, which a revoking exporter holds while it waits for fences. A fault that
 * cannot re-map (the exporter revoked) fails the access, which the caller turns into an error
 * completion (L5: never a stall).
 */
import type { SgEntry } from "../dmabuf/map.js";
import type { ProcessBody, Suspension } from "../fabric/process.js";
import type { IbWcStatus } from "./ib-wr.js";
import type { Nic } from "./nic.js";
import { type IbMr, mlx5PageFaultBody, mrCheckAccess, mrEntries } from "./verbs-mr.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /** A work request named a key that no registered MR has. */
    "nic.key.invalid": { device: string; key: number; remote: boolean };
  }
}

/**
 * Resolves `[offset, offset + length)` of the MR behind `key` for an access needing `access`.
 * @param remote whether the access is the responder's (failures are REM_ACCESS_ERR, else LOC_PROT_ERR).
 * @param go called with the MR and its DMA addresses, synchronously when no fault is needed.
 * @param fail called with the completion status of the failure.
 */
export function nicMrAccess(
  nic: Nic,
  key: number,
  offset: number,
  length: number,
  access: number,
  remote: boolean,
  go: (mr: IbMr, entries: readonly SgEntry[]) => void,
  fail: (status: IbWcStatus) => void,
): void {
  const failure: IbWcStatus = remote ? "REM_ACCESS_ERR" : "LOC_PROT_ERR";
  const mr = nic.device.mrs.get(key);
  if (mr === undefined) {
    nic.bus.engine.trace.emit("rdma", "nic.key.invalid", { device: nic.name, key, remote });
    fail(failure);
    return;
  }
  if (mrCheckAccess(mr, offset, length, access) !== undefined) {
    fail(failure);
    return;
  }
  if (mr.mapped) {
    go(mr, length === 0 ? [] : mrEntries(mr, offset, length));
    return;
  }
  nic.bus.engine.spawn(`${mr.name}/fault`, () => faultIn(nic, mr, offset, length, go, () => fail(failure)));
}

/**
 * The fault process: waits for a pending drain, re-maps, then resumes the access. A module-level
 * generator, not a `function*` closure per fault: V8 gives each generator closure its own initial
 * map in old space, which keeps the closure's captures (the NIC, hence the whole run) alive
 * through every later scavenge.
 */
function* faultIn(nic: Nic, mr: IbMr, offset: number, length: number, go: (mr: IbMr, entries: readonly SgEntry[]) => void, fail: () => void): ProcessBody {
  yield drained(nic, mr);
  const result = yield* mlx5PageFaultBody(mr);
  // The MR may have been deregistered or zapped again while the fault waited.
  if (!result.ok || mr.deregistered || !mr.mapped) fail();
  else go(mr, length === 0 ? [] : mrEntries(mr, offset, length));
}

/** Resumes once the NIC has nothing in flight through the MR's umem while a drain is pending. */
function drained(nic: Nic, mr: IbMr): Suspension {
  return {
    suspend: (process) => {
      if (!nic.draining(mr.umem)) process.wake();
      else nic.whenDrained(mr.umem, () => process.wake());
    },
  };
}
