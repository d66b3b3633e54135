/**
 * Trace helpers of the NIC engine tests: a world with its QPs connected and the setup events
 * dropped, and filters that turn the recorder's events into short tuples to compare whole.
 */
import type { TraceRecorder } from "../../src/fabric/recorder.js";
import type { IbRecvWr, IbSendWr } from "../../src/rdma/ib-wr.js";
import { type NicWorldOptions, nicWorld } from "./nic-world.js";

/** {@link nicWorld} with the requester `a` (on the send CQ) and responder `b` connected, and the trace emptied. */
export function nicPair(options: NicWorldOptions = {}) {
  const w = nicWorld(options);
  if (!w.sendCqResult.ok) throw new Error(`send CQ: ${w.sendCqResult.errno}`);
  const sendCq = w.sendCqResult.value;
  const { a, b } = w.connect(sendCq);
  w.trace.events.length = 0;
  return { ...w, a, b, cq: w.nic.cq(sendCq), rcq: w.nic.cq(w.recvCq) };
}

/** What {@link nicPair} builds. */
export type NicPair = ReturnType<typeof nicPair>;

/** `[timePs, "layer/kind", fields]` of every recorded event whose kind starts with one of `prefixes`. */
export function eventsOf(trace: TraceRecorder, ...prefixes: string[]): Array<[number, string, Record<string, unknown>]> {
  return trace.tuples().filter(([, kind]) => prefixes.some((p) => kind.startsWith(p)));
}

/** `pci/tlp` events as `[atPs, requester, tlp, bytes, target, status]`, the compact form of a TLP timeline. */
export function tlps(trace: TraceRecorder): Array<[number, string, string, number, string, string]> {
  return eventsOf(trace, "pci/tlp").flatMap(([, kind, f]) =>
    kind === "pci/tlp" ? [[f.atPs as number, f.requester as string, f.tlp as string, f.bytes as number, f.target as string, f.status as string]] : [],
  );
}

/** An RDMA READ of `bytes` from the BAR MR (`dst`) at `remoteOffset` into `src` at `offset`. */
export function readWr(p: NicPair, wrId: number, bytes: number, offset = 0, remoteOffset = 0, lkey = p.src.lkey): IbSendWr {
  return { wrId, opcode: "RDMA_READ", sge: { lkey, offset, length: bytes }, remote: { rkey: p.dst.rkey, offset: remoteOffset } };
}

/** A SEND of `bytes` from `src` at `offset`. */
export function sendWr(p: NicPair, wrId: number, bytes: number, offset = 0): IbSendWr {
  return { wrId, opcode: "SEND", sge: { lkey: p.src.lkey, offset, length: bytes } };
}

/** A receive of up to `bytes` into `src` at `offset`. */
export function recvWr(p: NicPair, wrId: number, bytes: number, offset: number): IbRecvWr {
  return { wrId, sge: { lkey: p.src.lkey, offset, length: bytes } };
}
