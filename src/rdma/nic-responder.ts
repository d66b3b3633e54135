/**
 * A QP's hardware context, responder side: what the NIC does with a message from its peer, in
 * arrival order (one message at a time while its MR may fault, so that an RC QP's writes land in
 * order).
 *
 * - RDMA WRITE: rkey → MR (REMOTE_WRITE, range, fault if zapped) → DMA writes through the MR's
 *   translation — peer-to-peer TLPs when the MR is a peer BAR's dma-buf — then the ACK. The ACK
 *   leaves once the writes are issued: they are posted. PCIe orders posted writes only along one
 *   path, so when the data goes peer to peer through the root complex and the requester's CQE to
 *   host memory, the CQE can be visible before the data has landed; the model shows that hazard
 *   (real GPU-direct setups close it with a flushing read) rather than hiding it.
 * - RDMA READ: rkey (REMOTE_READ) → DMA reads → the response carries the data back.
 * - SEND: the head receive (none posted: RNR NAK) → its WQE is fetched (DMA read of 32 B from
 *   the receive queue) → lkey (LOCAL_WRITE) → DMA writes; the ACK leaves when they are issued and
 *   the receive's CQE is written when they have landed.
 *
 * A responder not in RTR or RTS answers nothing useful; the model NAKs with REM_ACCESS_ERR at once
 * instead of modelling the requester's transport retries. After an error NAK the responder
 * discards every later message of its peer, as packet sequence numbers would make it.
 */
import type { SgEntry } from "../dmabuf/map.js";
import type { DmaOutcome } from "../pci/dma-port.js";
import type { IbSendWr, IbWcStatus } from "./ib-wr.js";
import { nicMrAccess } from "./nic-mr-access.js";
import type { NicQp } from "./nic-qp.js";
import { RQ_WQE_BYTES } from "./nic-queue.js";
import { IB_ACCESS } from "./umem.js";
import type { IbMr } from "./verbs-mr.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /**
     * The responder's data writes of a WRITE or SEND are done: issued at `issuedPs` (the first DMA
     * address and the total), every one landed now (`outcome` ok) or one was refused on the way.
     * One event per message, at its end; the issue time is in the event.
     */
    "data.write": { qp: string; wrId: number; mr: string; address: number; bytes: number; issuedPs: number; outcome: DmaOutcome };
    /** The responder refused a message (`status` as the requester will complete it). */
    "responder.nak": { qp: string; wrId: number; status: IbWcStatus | "RNR" };
    /** A message that arrived after the responder NAKed an earlier one with an error: not executed, not answered. */
    "responder.discard": { qp: string; wrId: number };
  }
}

/** A message from the requester `from`: its WQE index and work request. */
export interface InboundMessage {
  readonly from: NicQp;
  readonly index: number;
  readonly wr: IbSendWr;
}

/** Delivers a message to the responder QP `qp` (called by the wire at the arrival time). */
export function nicRespond(qp: NicQp, message: InboundMessage): void {
  qp.inbound.push(message);
  pump(qp);
}

function pump(qp: NicQp): void {
  while (!qp.inboundBusy && qp.inbound.length > 0) {
    const message = qp.inbound.shift() as InboundMessage;
    if (qp.responderHalted) {
      qp.nic.bus.engine.trace.emit("rdma", "responder.discard", { qp: qp.name, wrId: message.wr.wrId });
      continue;
    }
    if (qp.qp.state !== "RTR" && qp.qp.state !== "RTS") {
      answer(qp, message, "REM_ACCESS_ERR");
      continue;
    }
    qp.inboundBusy = true;
    const release = () => {
      qp.inboundBusy = false;
      pump(qp);
    };
    if (message.wr.opcode === "RDMA_WRITE") rdmaWrite(qp, message, release);
    else if (message.wr.opcode === "RDMA_READ") rdmaRead(qp, message, release);
    else send(qp, message, release);
  }
}

/** The ACK or NAK, back over the wire. */
function answer(qp: NicQp, message: InboundMessage, status: IbWcStatus | "RNR"): void {
  const engine = qp.nic.bus.engine;
  if (status !== "SUCCESS") engine.trace.emit("rdma", "responder.nak", { qp: qp.name, wrId: message.wr.wrId, status });
  // An error NAK moves the requester to ERR: as with IB's packet sequence numbers, nothing it sent
  // after that message is executed. (After an RNR NAK the model resends only the NAKed message
  // and lets later ones through: no go-back-N.)
  if (status !== "SUCCESS" && status !== "RNR") qp.responderHalted = true;
  qp.wire?.send(qp.direction, 0, () => message.from.acked(message.index, status));
}

/** Writes `entries` through `mr`; `landed` runs once every write is done, with the worst outcome. */
function writeAll(qp: NicQp, message: InboundMessage, mr: IbMr, entries: readonly SgEntry[], landed: (outcome: DmaOutcome) => void): void {
  const engine = qp.nic.bus.engine;
  const bytes = entries.reduce((sum, e) => sum + e.length, 0);
  const issuedPs = engine.nowPs;
  qp.nic.dmaAll("write", mr.umem, entries, (outcome) => {
    const fields = { qp: qp.name, wrId: message.wr.wrId, mr: mr.name, address: entries[0]?.dmaAddress ?? 0, bytes, issuedPs, outcome };
    engine.trace.emit("rdma", "data.write", fields);
    landed(outcome);
  });
}

/** The MR the peer named (rkey, offset, the message's length) for `access`: `go` with it, or the NAK. */
function remoteMr(qp: NicQp, message: InboundMessage, access: number, release: () => void, go: (mr: IbMr, entries: readonly SgEntry[]) => void): void {
  const { wr } = message;
  const remote = wr.remote as NonNullable<IbSendWr["remote"]>;
  nicMrAccess(qp.nic, remote.rkey, remote.offset, wr.sge.length, access, true, go, (status) => {
    answer(qp, message, status);
    release();
  });
}

function rdmaWrite(qp: NicQp, message: InboundMessage, release: () => void): void {
  remoteMr(qp, message, IB_ACCESS.REMOTE_WRITE, release, (mr, entries) => {
    writeAll(qp, message, mr, entries, () => {});
    answer(qp, message, "SUCCESS");
    release();
  });
}

function rdmaRead(qp: NicQp, message: InboundMessage, release: () => void): void {
  remoteMr(qp, message, IB_ACCESS.REMOTE_READ, release, (mr, entries) => {
    qp.nic.dmaAll("read", mr.umem, entries, (outcome) => {
      if (outcome !== "ok") answer(qp, message, "REM_ACCESS_ERR");
      else qp.wire?.send(qp.direction, message.wr.sge.length, () => message.from.readResponse(message.index));
    });
    release();
  });
}

function send(qp: NicQp, message: InboundMessage, release: () => void): void {
  const recv = qp.rq.shift();
  if (recv === undefined) {
    answer(qp, message, "RNR");
    release();
    return;
  }
  const nic = qp.nic;
  const recvCq = nic.cq(qp.qp.recvCq);
  const length = message.wr.sge.length;
  const slot = qp.rqConsumed++ % qp.layout.rqDepth;
  const address = qp.stopped ? undefined : nic.address(qp.program, slot * RQ_WQE_BYTES);
  const refuse = (status: IbWcStatus, reason: string) => {
    recvCq.push({ wrId: recv.wrId, status, opcode: "RECV", qp: qp.name, byteLen: 0 });
    answer(qp, message, "REM_ACCESS_ERR");
    qp.toError(reason, status === "LOC_QP_OP_ERR");
    release();
  };
  if (address === undefined) {
    refuse("LOC_QP_OP_ERR", "receive WQE fetch: the QP buffer is not reachable");
    return;
  }
  nic.dma("read", qp.buf, address, RQ_WQE_BYTES, (outcome) => {
    if (outcome !== "ok") {
      refuse("LOC_QP_OP_ERR", `receive WQE fetch: ${outcome}`);
      return;
    }
    if (length > recv.sge.length) {
      refuse("LOC_PROT_ERR", "message longer than the receive buffer");
      return;
    }
    const { lkey, offset } = recv.sge;
    nicMrAccess(
      nic,
      lkey,
      offset,
      length,
      IB_ACCESS.LOCAL_WRITE,
      false,
      (mr, entries) => {
        writeAll(qp, message, mr, entries, (landed) => {
          const status: IbWcStatus = landed === "ok" ? "SUCCESS" : "LOC_QP_OP_ERR";
          recvCq.push({ wrId: recv.wrId, status, opcode: "RECV", qp: qp.name, byteLen: landed === "ok" ? length : 0 });
        });
        answer(qp, message, "SUCCESS");
        release();
      },
      (status) => refuse(status, "receive key refused"),
    );
  });
}
