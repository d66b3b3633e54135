/**
 * The shape of a QP's queues as the NIC sees them: WQE sizes, the layout of the QP buffer, the
 * per-WQE state of the send queue, and the connection of two QPs over a wire.
 */
import { assert } from "../fabric/assert.js";
import type { IbSendWr, IbWcStatus } from "./ib-wr.js";
import type { NicQp } from "./nic-qp.js";
import type { RdmaWire } from "./rdma-wire.js";

/** Send WQE size (mlx5: one 64-byte basic block). */
export const SQ_WQE_BYTES = 64;
/** Receive WQE size (one data segment plus its control word, the model's choice). */
export const RQ_WQE_BYTES = 32;

/** The queue depths, which place the queues in the QP buffer. */
export interface NicQpLayout {
  readonly sqDepth: number;
  readonly rqDepth: number;
}

/** A send WQE as the NIC tracks it. */
export interface Wqe {
  readonly wr: IbSendWr;
  readonly index: number;
  state: "posted" | "fetched" | "ready" | "sent" | "done";
  status: IbWcStatus;
  rnrLeft: number;
}

/**
 * Connects two QPs (reliable connection) over a wire: `a` sends on direction 0, `b` on 1. Two QPs
 * of one NIC over a loopback wire is loopback.
 * @throws AssertionError when a QP is connected already or `a` is `b`.
 */
export function nicConnect(a: NicQp, b: NicQp, wire: RdmaWire): void {
  assert(a !== b, "a QP cannot be connected to itself");
  assert(a.peer === undefined && b.peer === undefined, "QP already connected");
  a.peer = b;
  b.peer = a;
  a.wire = wire;
  b.wire = wire;
  a.direction = 0;
  b.direction = 1;
}
