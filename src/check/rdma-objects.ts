/**
 * What the rdma monitors (I16–I22, L5, L6) need to know about umems and the objects built on them,
 * learned from the trace alone [kernel.md §d.1–§d.4]: each umem's kind, length and mapping state
 * (with the events that changed it, for causal chains), and which umem each MR, CQ and QP reaches
 * memory through. One instance per monitor: a monitor is a fresh, self-contained state machine.
 *
 * Mapping state per kind: a VA umem is mapped from its get until its release; a pinned dma-buf umem
 * maps before its get is traced (`umem.map` comes first); a dynamic one maps on a device page fault.
 */
import type { TraceEvent } from "../fabric/trace.js";

/** One umem as the trace showed it. */
export interface UmemFacts {
  readonly name: string;
  /** `rdma/umem.get`, or undefined when only its mapping was seen so far (pinned kinds map first). */
  get: TraceEvent | undefined;
  /** `va`, `dmabuf-dynamic`, `dmabuf-pinned`, `dmabuf-pinned-revocable` (from the get). */
  kind: string;
  length: number;
  mapped: boolean;
  /** The latest `umem.map` (a pinned umem's comes before its get). */
  lastMap: TraceEvent | undefined;
  /** The latest `umem.unmap`. */
  lastUnmap: TraceEvent | undefined;
  /** `umem.release`, once released. */
  released: TraceEvent | undefined;
  /** `umem.revoke`: revoked for good (the revoke callback, if any, has returned). */
  revoked: TraceEvent | undefined;
}

/** The umem a device access went through, and how the trace names the access. */
export interface UmemAccess {
  readonly umem: UmemFacts;
  /** When the access was issued: `issuedPs` of data/CQE writes, the event time of a WQE fetch. */
  readonly issuedPs: number;
  /** `nic0/mr#1 wr 2`, `nic0/cq#0 wr 2`, `nic0/qp#0 WQE fetch`. */
  readonly what: string;
  /** The event that made the object use this umem (`mr.reg`, `cq.create`, `cq.resize`, `qp.create`). */
  readonly binding: TraceEvent;
}

/** Tracks umems, MRs, CQs and QPs from `rdma` events. */
export class RdmaObjects {
  readonly umems = new Map<string, UmemFacts>();
  /** MR, CQ or QP name → its buffer umem and the event that bound it. */
  private readonly buffers = new Map<string, { umem: string; binding: TraceEvent }>();

  /** Updates the state with one event (any layer; only `rdma` events matter). */
  observe(e: TraceEvent): void {
    if (e.layer !== "rdma") return;
    switch (e.kind) {
      case "umem.get": {
        const u = this.facts(String(e.umem));
        u.get = e;
        u.kind = String(e.type);
        u.length = Number(e.length);
        if (u.kind === "va") u.mapped = true;
        return;
      }
      case "umem.map": {
        const u = this.facts(String(e.umem));
        u.mapped = true;
        u.lastMap = e;
        return;
      }
      case "umem.unmap": {
        const u = this.facts(String(e.umem));
        u.mapped = false;
        u.lastUnmap = e;
        return;
      }
      case "umem.revoke":
        this.facts(String(e.umem)).revoked = e;
        return;
      case "umem.release": {
        const u = this.facts(String(e.umem));
        u.mapped = false;
        u.released ??= e;
        return;
      }
      case "mr.reg":
        this.buffers.set(String(e.mr), { umem: String(e.umem), binding: e });
        return;
      case "cq.create":
      case "cq.resize":
        if (e.buf !== "") this.buffers.set(String(e.cq), { umem: String(e.buf), binding: e });
        return;
      case "qp.create":
        if (e.buf !== "") this.buffers.set(String(e.qp), { umem: String(e.buf), binding: e });
        return;
    }
  }

  /** The facts of `name` (created empty when first named). */
  facts(name: string): UmemFacts {
    let u = this.umems.get(name);
    if (u === undefined) {
      u = { name, get: undefined, kind: "", length: 0, mapped: false, lastMap: undefined, lastUnmap: undefined, released: undefined, revoked: undefined };
      this.umems.set(name, u);
    }
    return u;
  }

  /** The buffer umem of an MR, CQ or QP, if its binding was seen. */
  bufferOf(object: string): { umem: UmemFacts; binding: TraceEvent } | undefined {
    const b = this.buffers.get(object);
    return b === undefined ? undefined : { umem: this.facts(b.umem), binding: b.binding };
  }

  /**
   * The device access `e` describes, if it is one whose buffer is known: `data.write` (through its
   * MR), `cqe.write` (the CQ buffer), `wqe.fetch` (the QP buffer).
   */
  access(e: TraceEvent): UmemAccess | undefined {
    if (e.layer !== "rdma") return undefined;
    let object: string;
    let issuedPs: number;
    let what: string;
    if (e.kind === "data.write") [object, issuedPs, what] = [String(e.mr), Number(e.issuedPs), `${String(e.mr)} wr ${String(e.wrId)}`];
    else if (e.kind === "cqe.write")
      [object, issuedPs, what] = [String(e.cq), Number(e.issuedPs), `${String(e.cq)} CQE of ${String(e.qp)} wr ${String(e.wrId)}`];
    else if (e.kind === "wqe.fetch") [object, issuedPs, what] = [String(e.qp), e.t, `${String(e.qp)} WQE fetch`];
    else return undefined;
    const b = this.bufferOf(object);
    return b === undefined ? undefined : { umem: b.umem, issuedPs, what, binding: b.binding };
  }
}

/**
 * The release or unmap an access issued at `issuedPs` and seen now overlaps, if any: the umem was
 * released (the access was issued after, or was still in flight at, the release), or it is
 * unmapped now, or its current mapping is newer than the access (so the access was issued under
 * an older mapping that was unmapped while it was in flight) [kernel.md §b.4, §d.1].
 */
export function staleMapping(u: UmemFacts, issuedPs: number): TraceEvent | undefined {
  if (u.released !== undefined) return u.released;
  if (u.lastUnmap === undefined) return undefined;
  if (!u.mapped) return u.lastUnmap;
  return u.lastMap !== undefined && u.lastMap.t > issuedPs && u.lastMap.seq > u.lastUnmap.seq ? u.lastUnmap : undefined;
}

/** The events in `events` that are defined, in trace order (for causal chains). */
export function chainOf(...events: ReadonlyArray<TraceEvent | undefined>): TraceEvent[] {
  const seen = new Set<number>();
  const out: TraceEvent[] = [];
  for (const e of events) {
    if (e === undefined || seen.has(e.seq)) continue;
    seen.add(e.seq);
    out.push(e);
  }
  return out.sort((a, b) => a.seq - b.seq);
}
