/**
 * Work requests, work completions and asynchronous events: what user space hands the NIC and what
 * it gets back (`struct ib_send_wr`, `struct ib_recv_wr`, `struct ib_wc`, `enum ib_wc_status`,
 * `enum ib_event_type`), restricted to what the model executes.
 *
 * Addresses in a scatter/gather element are offsets into the memory region the key names (the
 * MR's iova space starting at 0), so a test or scenario never has to know where a umem landed.
 */

/** The operations the NIC executes (`IB_WR_*`). */
export type IbWrOpcode = "RDMA_WRITE" | "RDMA_READ" | "SEND";

/** `struct ib_sge`: a local buffer, by MR key. */
export interface IbSge {
  readonly lkey: number;
  /** Offset into the MR. */
  readonly offset: number;
  readonly length: number;
}

/** `struct ib_send_wr` (one SGE; `remote` for RDMA operations: `struct ib_rdma_wr`). */
export interface IbSendWr {
  readonly wrId: number;
  readonly opcode: IbWrOpcode;
  readonly sge: IbSge;
  /** The peer's MR: its rkey and an offset into it. */
  readonly remote?: { readonly rkey: number; readonly offset: number };
  /** `IB_SEND_SIGNALED`: write a CQE on success (errors always complete). Default true. */
  readonly signaled?: boolean;
}

/** `struct ib_recv_wr` (one SGE). */
export interface IbRecvWr {
  readonly wrId: number;
  readonly sge: IbSge;
}

/**
 * `enum ib_wc_status`, the values the model produces [kernel.md §d.2, §d.7]. The status an mlx5 QP
 * reports after a failed dma-buf page fault is unverified (§g); the model reports LOC_PROT_ERR
 * locally and REM_ACCESS_ERR for the responder's MR.
 */
export type IbWcStatus =
  | "SUCCESS"
  /** A local key, right or range is wrong, or the local MR could not be faulted in. */
  | "LOC_PROT_ERR"
  /** The NIC's own DMA (a WQE fetch, a local data read) came back UR or blocked by the IOMMU. */
  | "LOC_QP_OP_ERR"
  /** The responder refused the rkey, right or range, or could not fault its MR in. */
  | "REM_ACCESS_ERR"
  /** No receive was posted at the responder and the RNR retries ran out. */
  | "RNR_RETRY_EXC_ERR"
  /** The QP went to ERR before this work request completed. */
  | "WR_FLUSH_ERR";

/** `struct ib_wc`, as the CQE carries it. */
export interface IbWc {
  readonly wrId: number;
  readonly status: IbWcStatus;
  /** `IB_WC_RDMA_WRITE`, …, or `RECV` for a receive completion. */
  readonly opcode: IbWrOpcode | "RECV";
  /** The QP the work request was posted to. */
  readonly qp: string;
  readonly byteLen: number;
}

/** `enum ib_event_type`, the events the model raises [kernel.md §d.7]. */
export type IbEventType =
  /** The CQ overran (syndrome 0x1) or its buffer became inaccessible (syndrome 0x2): the CQ is unusable. */
  | "IB_EVENT_CQ_ERR"
  /** A QP could not go on (its WQE fetch or its completion failed): it is in ERR. */
  | "IB_EVENT_QP_FATAL";

/** An asynchronous event as uverbs queues it on the async fd. */
export interface IbAsyncEvent {
  readonly type: IbEventType;
  /** The CQ or QP. */
  readonly object: string;
  /** For IB_EVENT_CQ_ERR: 1 = overrun, 2 = access violation (the EQE's syndrome). */
  readonly syndrome?: number;
  readonly atPs: number;
}
