/**
 * The verbs device: `struct ib_device` as the verbs objects need it — its umem pinner, the
 * driver's capabilities and the deterministic counters that name objects and hand out keys.
 */

import type { DmaFence } from "../dmabuf/reservation.js";
import { assert } from "../fabric/assert.js";
import type { Engine } from "../fabric/engine.js";
import type { PciFunction } from "../pci/topology.js";
import { driverDrainFence } from "./driver-drain.js";
import type { IbUmem, IbUmemContext } from "./umem.js";
import type { IbUmemDmabuf } from "./umem-dmabuf.js";
import { type IbUmemPinner, ibUmemPinner, type UmemPinnerOptions } from "./umem-pinner.js";
import type { IbMr } from "./verbs-mr.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /** Mutant `invalidateIgnored`: the driver's revoke callback did nothing. */
    "driver.revoke.ignored": { umem: string };
  }
}

/** What the modelled driver (an mlx5-like NIC) can do. */
export interface IbDeviceCaps {
  /** `IBK_ON_DEMAND_PAGING`: a dma-buf MR needs it (else -EOPNOTSUPP) [kernel.md §d.2]. Default true. */
  readonly odp: boolean;
  /** `ops.create_cq_umem`: the driver takes a CQ buffer from the legacy BUFFER_VA/FD attributes [§d.4]. Default true. */
  readonly createCqUmem: boolean;
  /** `ops.create_qp`: without it QP creation fails before the QP exists (-EOPNOTSUPP; E20's trigger). Default true. */
  readonly createQp: boolean;
  /**
   * The driver loads the CQ doorbell from the CQ_DBR slot (mlx5 patch 13). Without it (mlx5 at
   * patch 05) the doorbell always comes from `ucmd.db_addr`, so a CQ_DBR buffer is never consumed.
   * Default true.
   */
  readonly cqDbrSlot: boolean;
  /** Bytes per CQE (mlx5: 64 or 128). Default 64. */
  readonly cqeSize: number;
  /** `attrs.max_cqe`. Default 2^22. */
  readonly cqEntriesMax: number;
}

/**
 * Driver bugs to reproduce (opt-in; the default driver is correct). Each breaks the rule that an
 * invalidate or revoke callback returns only once the device no longer touches the region.
 */
export interface IbDriverMutants {
  /** The callback stops new DMA but returns (and unmaps) without waiting for what is in flight (I1, I22). */
  readonly callbackReturnsBeforeDrain?: boolean;
  /** The callback does nothing: the MR stays mapped in the device and DMA goes on (I1, L1). */
  readonly invalidateIgnored?: boolean;
}

/**
 * What the driver needs from its device's hardware model (the NIC, nic.ts) to stop it: how much
 * DMA is in flight through a umem, a call once that has drained, and a way to stop using a umem.
 */
export interface IbDeviceHw {
  /** DMA operations issued through `umem` that have not landed or come back. */
  inFlight(umem: IbUmem): number;
  /** Calls `then` once nothing is in flight through `umem` (at once when nothing is). */
  whenDrained(umem: IbUmem, then: () => void): void;
  /** Stops every CQ and QP whose buffer or doorbell record is `umem` (a pinned-revocable revoke). */
  stopUsing(umem: IbUmem): void;
}

/** Options of {@link ibDevice}. */
export interface IbDeviceOptions {
  readonly caps?: Partial<IbDeviceCaps>;
  /** How descriptor dma-bufs are pinned (default: the non-revocable pinned API). */
  readonly pinner?: UmemPinnerOptions;
  readonly mutants?: IbDriverMutants;
}

/** `struct ib_device` for one NIC function. */
export class IbDevice {
  /** The NIC's label (`nic0`), prefix of every object name. */
  readonly name: string;
  readonly engine: Engine;
  /** The pinner `umem_list` and the drivers pin through. */
  readonly pinner: IbUmemPinner;
  readonly caps: IbDeviceCaps;
  /** mkey indexes handed out so far: lkey/rkey are deterministic per device. */
  mkeyCount = 0;
  pdCount = 0;
  cqCount = 0;
  qpCount = 0;
  /** Drain fences created so far (names them). */
  drainCount = 0;
  /**
   * A slow importer: how long after its device drained the driver signals its drain fence (and
   * unmaps). 0 by default; the `slow-importer` fault sets it. The exporter's revoke waits that much longer (L1).
   */
  slowUnmapPs = 0;
  /** Registered MRs by key (lkey = rkey), as the NIC looks them up. */
  readonly mrs = new Map<number, IbMr>();
  /** The hardware model, once a NIC drives this device; the driver stops it through this. */
  hw: IbDeviceHw | undefined = undefined;
  readonly mutants: IbDriverMutants;

  constructor(
    /** The umem context (user memory, IOMMU, `dma_buf_get`). */
    readonly ctx: IbUmemContext,
    /** The NIC function. */
    readonly fn: PciFunction,
    options: IbDeviceOptions = {},
  ) {
    this.name = fn.label;
    this.engine = ctx.engine;
    this.mutants = options.mutants ?? {};
    const userOnRevoke = options.pinner?.onRevoke;
    // Not `{ ...options.pinner, onRevoke }`: V8 gives every spread-then-extend literal a fresh map in
    // old space, which keeps the run's young objects alive through scavenges.
    const onRevoke = (umem: IbUmemDmabuf) => this.revokeCallback(umem, userOnRevoke);
    this.pinner = ibUmemPinner(ctx, fn, { dmabuf: options.pinner?.dmabuf ?? "pinned", onRevoke });
    this.caps = { odp: true, createCqUmem: true, createQp: true, cqDbrSlot: true, cqeSize: 64, cqEntriesMax: 2 ** 22, ...options.caps };
    assert(Number.isSafeInteger(this.caps.cqeSize) && this.caps.cqeSize > 0, "cqeSize is a positive integer");
  }

  /**
   * The driver's revoke callback of its pinned-revocable umems (CQ and QP buffers from
   * descriptors) [kernel.md §d.1]: stop the CQs and QPs that use the umem, then drain.
   */
  private revokeCallback(umem: IbUmemDmabuf, userOnRevoke: UmemPinnerOptions["onRevoke"]): DmaFence | undefined {
    const userFence = userOnRevoke?.(umem);
    if (this.mutants.invalidateIgnored === true) {
      this.engine.trace.emit("rdma", "driver.revoke.ignored", { umem: umem.name });
      return userFence;
    }
    this.hw?.stopUsing(umem);
    return driverDrainFence(this, umem) ?? userFence;
  }
}

/**
 * Builds the verbs device of a NIC function.
 * @param ctx the umem context.
 * @param fn the NIC function.
 * @param options driver capabilities and the pinner mode.
 */
export function ibDevice(ctx: IbUmemContext, fn: PciFunction, options: IbDeviceOptions = {}): IbDevice {
  return new IbDevice(ctx, fn, options);
}
