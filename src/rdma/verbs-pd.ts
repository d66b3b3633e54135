/**
 * The protection domain: `ib_alloc_pd` / `ib_dealloc_pd_user`.
 *
 * A PD counts its users (`pd->usecnt`): every MR and QP bound to it. Deallocating a PD that is
 * still used fails -EBUSY, as the uverbs destroy path does, and the PD stays usable.
 */
import type { Result } from "../dmabuf/errno.js";
import { assert } from "../fabric/assert.js";
import type { IbDevice } from "./verbs-device.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    "pd.alloc": { pd: string };
    "pd.dealloc": { pd: string };
    /** Dealloc refused: `users` MRs and QPs still use the PD. */
    "pd.dealloc.failed": { pd: string; users: number; errno: "EBUSY" };
  }
}

/** `struct ib_pd`. */
export class IbPd {
  /** `nic0/pd#0`. */
  readonly name: string;
  /** `pd->usecnt`: MRs and QPs bound to this PD. */
  usecnt = 0;
  deallocated = false;

  constructor(readonly device: IbDevice) {
    this.name = `${device.name}/pd#${device.pdCount++}`;
  }

  /** Binds one user (an MR or a QP). @throws AssertionError on a deallocated PD. */
  get(): void {
    assert(!this.deallocated, () => `${this.name} used after dealloc`);
    this.usecnt++;
  }

  /** Unbinds one user. @throws AssertionError when no user is bound. */
  put(): void {
    assert(this.usecnt > 0, () => `${this.name}: usecnt would go negative`);
    this.usecnt--;
  }
}

/**
 * `ib_alloc_pd`: a new protection domain.
 * @param device the verbs device.
 * @returns the PD (no users). The model has no allocation failure here.
 */
export function ibAllocPd(device: IbDevice): IbPd {
  const pd = new IbPd(device);
  device.engine.trace.emit("rdma", "pd.alloc", { pd: pd.name });
  return pd;
}

/**
 * `ib_dealloc_pd_user`: frees the PD if no MR or QP uses it.
 * @param pd a live PD.
 * @returns ok; or -EBUSY while MRs or QPs are bound (the PD stays live).
 * @throws AssertionError on a second dealloc.
 */
export function ibDeallocPd(pd: IbPd): Result<undefined> {
  assert(!pd.deallocated, () => `${pd.name} deallocated twice`);
  if (pd.usecnt > 0) {
    pd.device.engine.trace.emit("rdma", "pd.dealloc.failed", { pd: pd.name, users: pd.usecnt, errno: "EBUSY" });
    return { ok: false, errno: "EBUSY" };
  }
  pd.deallocated = true;
  pd.device.engine.trace.emit("rdma", "pd.dealloc", { pd: pd.name });
  return { ok: true, value: undefined };
}
