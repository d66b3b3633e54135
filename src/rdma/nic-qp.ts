/**
 * A QP's hardware context, requester side: the send queue from doorbell to completion.
 *
 * ```
 *  post (CPU) ─ doorbell MMIO ─ WQE fetch (DMA read, up to wqeFetchMax WQEs) ─ processing
 *    RDMA WRITE, SEND: local data read (DMA read through the lkey's MR) ─ wire ─ responder ─ ACK
 *    RDMA READ: request on the wire ─ responder reads ─ response ─ local data write (lkey) lands
 *  in WQE order: CQE into the send CQ (signaled WRs and every error)
 * ```
 *
 * Buffer layout (the model's choice, mlx5-like): the receive queue first, `rqDepth` WQEs of 32 B,
 * then the send queue, `sqDepth` WQEs of 64 B, inside the QP buffer (`qp.buf`, from QP_BUF or
 * `ucmd.buf_addr`). The responder side (nic-responder.ts) shares this object.
 *
 * Errors [kernel.md §d.7]: a failed local access completes the WQE with LOC_PROT_ERR, a failed
 * NIC read (UR, IOMMU fault) with LOC_QP_OP_ERR, the responder's refusal with REM_ACCESS_ERR; the
 * QP then goes to ERR and every later WQE (and every posted receive) completes with WR_FLUSH_ERR.
 * A WQE fetch that fails, or a completion the CQ refuses, makes the QP fatal (IB_EVENT_QP_FATAL).
 */

import type { Errno, Result } from "../dmabuf/errno.js";
import { assert } from "../fabric/assert.js";
import type { IbRecvWr, IbSendWr, IbWcStatus, IbWrOpcode } from "./ib-wr.js";
import type { Nic, NicBuffer } from "./nic.js";
import { nicMrAccess } from "./nic-mr-access.js";
import { type NicQpLayout, RQ_WQE_BYTES, SQ_WQE_BYTES, type Wqe } from "./nic-queue.js";
import { type InboundMessage, nicRespond } from "./nic-responder.js";
import type { RdmaWire } from "./rdma-wire.js";
import { IB_ACCESS, type IbUmem } from "./umem.js";
import type { IbQp, IbQpState } from "./verbs-qp.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /** One `ibv_post_send` call: `count` WRs from `firstWrId`, `bytes` of data in all, one doorbell. */
    "post.send": { qp: string; firstWrId: number; count: number; bytes: number };
    "post.failed": { qp: string; errno: Errno };
    "wqe.fetch": { qp: string; first: number; count: number; address: number };
    /** The requester resends a message after an RNR NAK (first sends are not traced: the responder's events show their arrival). */
    "wire.resend": { qp: string; wrId: number; opcode: IbWrOpcode; bytes: number };
    /** A WQE finished with an error or was flushed (success shows as its CQE, or not at all when unsignaled). */
    "wqe.failed": { qp: string; wrId: number; status: IbWcStatus };
    /** The QP went to ERR (`reason`: the failure); `fatal` raised IB_EVENT_QP_FATAL. */
    "qp.error": { qp: string; from: IbQpState; reason: string; fatal: boolean };
  }
}

/** The hardware context. Created by {@link Nic.qp}. */
export class NicQp {
  peer: NicQp | undefined = undefined;
  wire: RdmaWire | undefined = undefined;
  /** The wire direction this QP sends on. */
  direction: 0 | 1 = 0;
  stopped = false;
  readonly sq: Array<Wqe | undefined>;
  /** WQEs posted / known to the NIC (doorbells rung) / fetched / sent / completed. */
  posted = 0;
  known = 0;
  fetched = 0;
  sentNext = 0;
  completed = 0;
  private readonly doorbells: number[] = [];
  private fetching = false;
  private completing = false;
  /** Posted receives not yet consumed, and how many were consumed (the RQ's consumer index). */
  readonly rq: IbRecvWr[] = [];
  rqConsumed = 0;
  /** Messages that reached this QP as a responder, in arrival order. */
  readonly inbound: InboundMessage[] = [];
  inboundBusy = false;
  /** The responder NAKed a message with an error: it executes nothing more from its peer (the peer is flushing). */
  responderHalted = false;
  /** The QP buffer as programmed into the context at create. */
  readonly program: NicBuffer | undefined;

  constructor(
    readonly nic: Nic,
    readonly qp: IbQp,
    /** The QP number (its doorbell's index). */
    readonly qpn: number,
    readonly layout: NicQpLayout,
  ) {
    const need = layout.rqDepth * RQ_WQE_BYTES + layout.sqDepth * SQ_WQE_BYTES;
    assert(layout.sqDepth >= 1 && layout.rqDepth >= 0, "queue depths: sq ≥ 1, rq ≥ 0");
    assert(qp.buf !== undefined && qp.buf.length >= need, () => `${qp.name}: the buffer must hold ${need} bytes for this layout`);
    this.sq = new Array(layout.sqDepth).fill(undefined);
    this.program = nic.program(qp.buf as IbUmem);
    // The CQs' contexts exist before any QP completes into them (the driver created them first).
    nic.cq(qp.sendCq);
    nic.cq(qp.recvCq);
  }

  get name(): string {
    return this.qp.name;
  }

  /** The QP buffer as the NIC reaches it. */
  get buf(): IbUmem {
    return this.qp.buf as IbUmem;
  }

  /** Whether `umem` is this QP's buffer or doorbell record. */
  uses(umem: IbUmem): boolean {
    return this.buf === umem || (this.qp.dbr as IbUmem | undefined) === umem;
  }

  /** The driver stops the QP (pinned-revocable revoke of its buffer): its next WQE fetch fails. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * `ibv_post_send`: queues the WRs and rings the doorbell once (an 8-byte MMIO write of the CPU).
   * @returns ok; EINVAL when the QP is not in RTS or ERR (a QP in ERR takes WRs and flushes them);
   *   ENOMEM when the send queue has no room for all of them (nothing posted).
   */
  postSend(wrs: readonly IbSendWr[]): Result<undefined> {
    const state = this.qp.state;
    if (state !== "RTS" && state !== "ERR") return this.postFailed("EINVAL");
    if (this.posted - this.completed + wrs.length > this.layout.sqDepth) return this.postFailed("ENOMEM");
    let bytes = 0;
    for (const wr of wrs) {
      assert(wr.opcode === "SEND" || wr.remote !== undefined, () => `${this.name}: ${wr.opcode} needs a remote key`);
      const index = this.posted++;
      this.sq[index % this.layout.sqDepth] = { wr, index, state: "posted", status: "SUCCESS", rnrLeft: this.nic.config.rnrRetry };
      bytes += wr.sge.length;
    }
    const fields = { qp: this.name, firstWrId: wrs[0]?.wrId ?? -1, count: wrs.length, bytes };
    this.nic.bus.engine.trace.emit("rdma", "post.send", fields);
    this.doorbells.push(this.posted);
    this.nic.bus.cpu.write(this.nic.doorbellAddress(this.qpn), 8);
    return { ok: true, value: undefined };
  }

  /**
   * `ibv_post_recv`: queues receives (the CPU's stores only; the NIC fetches a receive WQE when a
   * SEND arrives). In ERR they complete at once with WR_FLUSH_ERR.
   * @returns ok; EINVAL in RESET; ENOMEM when the receive queue is full.
   */
  postRecv(wrs: readonly IbRecvWr[]): Result<undefined> {
    if (this.qp.state === "RESET") return this.postFailed("EINVAL");
    if (this.rq.length + wrs.length > this.layout.rqDepth) return this.postFailed("ENOMEM");
    this.rq.push(...wrs);
    if (this.qp.state === "ERR") this.flushReceives();
    return { ok: true, value: undefined };
  }

  private postFailed(errno: Errno): Result<undefined> {
    this.nic.bus.engine.trace.emit("rdma", "post.failed", { qp: this.name, errno });
    return { ok: false, errno };
  }

  /** The doorbell write landed: the NIC learns the new producer index. */
  doorbell(): void {
    const value = this.doorbells.shift();
    assert(value !== undefined, () => `${this.name}: a doorbell nobody rang`);
    this.known = Math.max(this.known, value);
    if (this.qp.state === "ERR") this.flushUnfetched();
    else this.fetch();
  }

  /** Fetches the next WQEs the NIC knows of, within the fetch size and the outstanding limit. */
  private fetch(): void {
    if (this.fetching || this.qp.state !== "RTS") return;
    const depth = this.layout.sqDepth;
    const { wqeFetchMax, outstandingMax, processingPs } = this.nic.config;
    const count = Math.min(this.known - this.fetched, wqeFetchMax, outstandingMax - (this.fetched - this.completed), depth - (this.fetched % depth));
    if (count <= 0) return;
    const first = this.fetched;
    const offset = this.layout.rqDepth * RQ_WQE_BYTES + (first % depth) * SQ_WQE_BYTES;
    const address = this.stopped ? undefined : this.nic.address(this.program, offset);
    if (address === undefined) {
      this.toError("WQE fetch: the QP buffer is not reachable", true);
      return;
    }
    this.fetching = true;
    const engine = this.nic.bus.engine;
    engine.trace.emit("rdma", "wqe.fetch", { qp: this.name, first, count, address });
    this.nic.dma("read", this.buf, address, count * SQ_WQE_BYTES, (outcome) => {
      this.fetching = false;
      if (outcome !== "ok") {
        this.toError(`WQE fetch: ${outcome}`, true);
        return;
      }
      this.fetched = Math.max(this.fetched, first + count);
      engine.scheduleAt(engine.nowPs + processingPs, () => {
        for (let i = first; i < first + count; i++) {
          const wqe = this.wqe(i);
          if (wqe !== undefined) this.execute(wqe);
        }
        this.trySend();
      });
      this.fetch();
    });
  }

  /** The WQE of index `i`, or undefined once it has completed (its CQE written, its slot free). */
  wqe(i: number): Wqe | undefined {
    if (i < this.completed) return undefined;
    const wqe = this.sq[i % this.layout.sqDepth];
    assert(wqe !== undefined && wqe.index === i, () => `${this.name}: WQE ${i} is not in the ring`);
    return wqe;
  }

  private execute(wqe: Wqe): void {
    if (wqe.state !== "posted") return; // flushed meanwhile
    wqe.state = "fetched";
    const { wr } = wqe;
    if (wr.opcode === "RDMA_READ" || wr.sge.length === 0) {
      wqe.state = "ready";
      return;
    }
    nicMrAccess(
      this.nic,
      wr.sge.lkey,
      wr.sge.offset,
      wr.sge.length,
      0,
      false,
      (mr, entries) =>
        this.nic.dmaAll("read", mr.umem, entries, (outcome) => {
          if (wqe.state === "done") return; // flushed meanwhile
          if (outcome !== "ok") this.fail(wqe, "LOC_QP_OP_ERR", "local data read failed");
          else {
            wqe.state = "ready";
            this.trySend();
          }
        }),
      (status) => this.fail(wqe, status, "local key refused"),
    );
  }

  /** Puts ready WQEs on the wire, in order. */
  trySend(): void {
    this.sentNext = Math.max(this.sentNext, this.completed);
    while (this.sentNext < this.fetched) {
      const wqe = this.wqe(this.sentNext) as Wqe;
      if (wqe.state === "done") {
        this.sentNext++;
        continue;
      }
      if (wqe.state !== "ready") return;
      this.send(wqe);
      this.sentNext++;
    }
  }

  /** Sends a WQE's message to the peer (again, after an RNR NAK). */
  send(wqe: Wqe, resend = false): void {
    const peer = this.peer;
    const wire = this.wire;
    assert(peer !== undefined && wire !== undefined, () => `${this.name} is not connected`);
    wqe.state = "sent";
    const { wr } = wqe;
    const bytes = wr.opcode === "RDMA_READ" ? 0 : wr.sge.length;
    if (resend) this.nic.bus.engine.trace.emit("rdma", "wire.resend", { qp: this.name, wrId: wr.wrId, opcode: wr.opcode, bytes });
    wire.send(this.direction, bytes, () => nicRespond(peer, { from: this, index: wqe.index, wr }));
  }

  /** The responder's answer to a WRITE or SEND: an ACK, a NAK with the requester's status, or an RNR NAK. */
  acked(index: number, status: IbWcStatus | "RNR"): void {
    const wqe = this.wqe(index);
    if (wqe === undefined || wqe.state === "done") return; // flushed meanwhile
    if (status === "SUCCESS") this.finish(wqe, "SUCCESS");
    else if (status !== "RNR") this.fail(wqe, status, "the responder refused");
    else if (wqe.rnrLeft-- > 0) {
      const engine = this.nic.bus.engine;
      engine.scheduleAt(engine.nowPs + this.nic.config.rnrTimerPs, () => {
        if (wqe.state !== "done") this.send(wqe, true);
      });
    } else this.fail(wqe, "RNR_RETRY_EXC_ERR", "receiver not ready");
  }

  /** The responder's data for an RDMA READ: write it into the local MR; the WQE completes when it has landed. */
  readResponse(index: number): void {
    const wqe = this.wqe(index);
    if (wqe === undefined || wqe.state === "done") return; // flushed meanwhile
    const { sge } = wqe.wr;
    nicMrAccess(
      this.nic,
      sge.lkey,
      sge.offset,
      sge.length,
      IB_ACCESS.LOCAL_WRITE,
      false,
      (mr, entries) =>
        this.nic.dmaAll("write", mr.umem, entries, (outcome) => {
          if (wqe.state === "done") return; // flushed meanwhile
          if (outcome !== "ok") this.fail(wqe, "LOC_QP_OP_ERR", "local data write failed");
          else this.finish(wqe, "SUCCESS");
        }),
      (status) => this.fail(wqe, status, "local key refused"),
    );
  }

  private finish(wqe: Wqe, status: IbWcStatus): void {
    wqe.state = "done";
    wqe.status = status;
    if (status !== "SUCCESS") this.nic.bus.engine.trace.emit("rdma", "wqe.failed", { qp: this.name, wrId: wqe.wr.wrId, status });
    this.tryComplete();
  }

  private fail(wqe: Wqe, status: IbWcStatus, reason: string): void {
    this.finish(wqe, status);
    this.toError(reason, false);
  }

  /** Writes the CQEs of finished WQEs, in order, then fetches more. */
  private tryComplete(): void {
    if (this.completing) return;
    this.completing = true;
    const cq = this.nic.cq(this.qp.sendCq);
    while (this.completed < this.fetched) {
      const wqe = this.wqe(this.completed) as Wqe;
      if (wqe.state !== "done") break;
      const { wr } = wqe;
      if (wr.signaled !== false || wqe.status !== "SUCCESS") {
        const pushed = cq.push({ wrId: wr.wrId, status: wqe.status, opcode: wr.opcode, qp: this.name, byteLen: wqe.status === "SUCCESS" ? wr.sge.length : 0 });
        if (!pushed) this.toError(`completion refused by ${cq.name}`, true);
      }
      this.sq[this.completed % this.layout.sqDepth] = undefined;
      this.completed++;
    }
    this.completing = false;
    this.fetch();
  }

  /** The QP goes to ERR: every unfinished WQE and posted receive is flushed. */
  toError(reason: string, fatal: boolean): void {
    const from = this.qp.state;
    if (from === "ERR") return;
    this.qp.state = "ERR";
    this.nic.bus.engine.trace.emit("rdma", "qp.error", { qp: this.name, from, reason, fatal });
    if (fatal) this.nic.asyncEvent("IB_EVENT_QP_FATAL", this.name);
    for (let i = this.completed; i < this.fetched; i++) {
      const wqe = this.wqe(i);
      if (wqe !== undefined && wqe.state !== "done") this.finish(wqe, "WR_FLUSH_ERR");
    }
    this.flushUnfetched();
    this.flushReceives();
  }

  /** In ERR, WQEs the NIC knows of but has not fetched complete with WR_FLUSH_ERR. */
  private flushUnfetched(): void {
    const trace = this.nic.bus.engine.trace;
    for (let i = Math.max(this.fetched, this.completed); i < this.known; i++) {
      const wqe = this.wqe(i) as Wqe;
      wqe.state = "done";
      wqe.status = "WR_FLUSH_ERR";
      trace.emit("rdma", "wqe.failed", { qp: this.name, wrId: wqe.wr.wrId, status: wqe.status });
    }
    this.fetched = Math.max(this.fetched, this.known);
    this.tryComplete();
  }

  private flushReceives(): void {
    const cq = this.nic.cq(this.qp.recvCq);
    for (const wr of this.rq.splice(0)) cq.push({ wrId: wr.wrId, status: "WR_FLUSH_ERR", opcode: "RECV", qp: this.name, byteLen: 0 });
  }
}
