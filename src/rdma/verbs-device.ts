/**
 * The verbs device: `struct ib_device` as the verbs objects need it — its umem pinner, the
 * driver's capabilities and the deterministic counters that name objects and hand out keys.
 */
import { assert } from "../fabric/assert.js";
import type { Engine } from "../fabric/engine.js";
import type { PciFunction } from "../pci/topology.js";
import type { IbUmemContext } from "./umem.js";
import { type IbUmemPinner, ibUmemPinner, type UmemPinnerOptions } from "./umem-pinner.js";

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

/** Options of {@link ibDevice}. */
export interface IbDeviceOptions {
  readonly caps?: Partial<IbDeviceCaps>;
  /** How descriptor dma-bufs are pinned (default: the non-revocable pinned API). */
  readonly pinner?: UmemPinnerOptions;
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

  constructor(
    /** The umem context (user memory, IOMMU, `dma_buf_get`). */
    readonly ctx: IbUmemContext,
    /** The NIC function. */
    readonly fn: PciFunction,
    options: IbDeviceOptions = {},
  ) {
    this.name = fn.label;
    this.engine = ctx.engine;
    this.pinner = ibUmemPinner(ctx, fn, options.pinner);
    this.caps = { odp: true, createCqUmem: true, createQp: true, cqDbrSlot: true, cqeSize: 64, cqEntriesMax: 2 ** 22, ...options.caps };
    assert(Number.isSafeInteger(this.caps.cqeSize) && this.caps.cqeSize > 0, "cqeSize is a positive integer");
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
