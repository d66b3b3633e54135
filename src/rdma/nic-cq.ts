/**
 * A CQ's hardware context: the NIC writes each completion as a CQE (DMA write of `cqeSize` bytes)
 * into slot `pi mod entries` of the CQ buffer, then updates the CQ's doorbell record (an 8-byte DMA
 * write), and software polls by reading the CQE memory — an MMIO read through the fabric when the
 * buffer is a BAR's dma-buf, a memory load otherwise.
 *
 * The CQE becomes visible to a poll when its write has landed. A write refused by its target (UR:
 * the BAR's memory is disabled) is lost; a poll of such a BAR reads all-ones and fails.
 *
 * Errors [kernel.md §d.7]: a CQE that would overwrite an unpolled one (overrun, syndrome 0x1) or a
 * CQ buffer the device may no longer reach (revoked, unmapped, stopped by the driver: access
 * violation, syndrome 0x2) raises `IB_EVENT_CQ_ERR` once; the CQ is then unusable and every later
 * completion into it fails, which sends the completing QP to ERR with `IB_EVENT_QP_FATAL`
 * (§d.7 marks that post-error QP behaviour unverified; the model takes the IB semantics).
 *
 * The doorbell-record write follows the description of the NIC; on mlx5 the CQ doorbell
 * record is written by software (the consumer index) and read by the NIC. Either way it is one
 * small write to the CQ_DBR buffer, which a descriptor may also have placed in a BAR.
 */
import { assert } from "../fabric/assert.js";
import type { DmaOutcome } from "../pci/dma-port.js";
import type { IbWc } from "./ib-wr.js";
import type { Nic, NicBuffer } from "./nic.js";
import type { IbUmem } from "./umem.js";
import type { IbCq } from "./verbs-cq.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /**
     * A CQE write of the NIC is done: issued at `issuedPs`, landed now (`outcome` ok) or refused on
     * the way (ur, iommu-fault: the CQE is lost). One event per write, at its end, so that a
     * stream costs one trace event per CQE; the issue time is in the event.
     */
    "cqe.write": { cq: string; qp: string; wrId: number; status: string; slot: number; address: number; issuedPs: number; outcome: DmaOutcome };
    /** A poll read the CQE memory: `count` CQEs returned, or the read failed (`outcome` not ok). */
    "cq.poll": { cq: string; count: number; outcome: DmaOutcome };
  }
}

/** One CQE slot as the NIC last wrote it. */
interface CqeSlot {
  readonly wc: IbWc;
  landed: boolean;
}

/** What a poll returns: the CQEs read, or the failure of the read. */
export type CqPollResult = { readonly ok: true; readonly wcs: readonly IbWc[] } | { readonly ok: false; readonly outcome: DmaOutcome };

/** The hardware context. Created by {@link Nic.cq}. */
export class NicCq {
  /** CQEs the NIC has issued (producer index). */
  pi = 0;
  /** CQEs software has consumed (consumer index). */
  ci = 0;
  /** Set once the CQ is unusable: why. */
  error: "overrun" | "access" | undefined = undefined;
  /** The driver's revoke callback stopped the CQ: the next CQE is an access violation. */
  stopped = false;
  /** Called when a CQE lands (the completion channel, without its interrupt traffic). */
  onCompletion: ((cq: NicCq) => void) | undefined = undefined;
  private readonly slots: Array<CqeSlot | undefined>;
  /** The CQ buffer and doorbell record as programmed into the context (again after a resize). */
  private buf: NicBuffer | undefined;
  private dbr: NicBuffer | undefined;

  constructor(
    private readonly nic: Nic,
    readonly cq: IbCq,
  ) {
    this.slots = new Array(cq.entries).fill(undefined);
    this.buf = nic.program(cq.buf as IbUmem | undefined);
    this.dbr = nic.program(cq.dbr as IbUmem | undefined);
  }

  /** The programmed buffer; a resize (a new umem in `cq.buf`) programs the new one. */
  private buffer(): NicBuffer | undefined {
    const umem = this.cq.buf as IbUmem | undefined;
    if (umem !== this.buf?.umem) this.buf = this.nic.program(umem);
    return this.buf;
  }

  /** `nic0/cq#0`. */
  get name(): string {
    return this.cq.name;
  }

  /** Whether `umem` is this CQ's buffer or doorbell record. */
  uses(umem: IbUmem): boolean {
    return (this.cq.buf as IbUmem | undefined) === umem || (this.cq.dbr as IbUmem | undefined) === umem;
  }

  /** The driver stops the CQ (pinned-revocable revoke): no CQE is written to it again. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * The NIC completes a work request into this CQ.
   * @returns true when the CQE write was issued; false when the CQ cannot take it (the QP goes fatal).
   */
  push(wc: IbWc): boolean {
    if (this.error !== undefined || this.cq.destroyed) return false;
    const entries = this.cq.entries;
    if (this.pi - this.ci >= entries) return this.fail("overrun");
    const buf = this.buffer();
    const cqeSize = this.nic.device.caps.cqeSize;
    const slot = this.pi % entries;
    const address = this.stopped ? undefined : this.nic.address(buf, slot * cqeSize);
    if (buf === undefined || address === undefined) return this.fail("access");
    const entry: CqeSlot = { wc, landed: false };
    this.slots[slot] = entry;
    this.pi++;
    const engine = this.nic.bus.engine;
    const issuedPs = engine.nowPs;
    this.nic.dma("write", buf.umem, address, cqeSize, (outcome) => {
      entry.landed = outcome === "ok";
      engine.trace.emit("rdma", "cqe.write", { cq: this.name, qp: wc.qp, wrId: wc.wrId, status: wc.status, slot, address, issuedPs, outcome });
      this.writeDoorbellRecord();
      if (entry.landed) this.onCompletion?.(this);
    });
    return true;
  }

  private writeDoorbellRecord(): void {
    const address = this.stopped ? undefined : this.nic.address(this.dbr, 0);
    if (this.dbr !== undefined && address !== undefined) this.nic.dma("write", this.dbr.umem, address, 8);
  }

  private fail(why: "overrun" | "access"): false {
    this.error = why;
    this.nic.asyncEvent("IB_EVENT_CQ_ERR", this.name, why === "overrun" ? 1 : 2);
    return false;
  }

  /**
   * `ibv_poll_cq`: reads up to `max` CQEs from the consumer index (one read, not past the ring's
   * end) and returns those that had landed, in order, advancing the consumer index.
   * @param done called once with the result, when the read is back.
   * @throws AssertionError for max < 1 or a destroyed CQ.
   */
  poll(max: number, done: (result: CqPollResult) => void): void {
    assert(Number.isSafeInteger(max) && max >= 1, "poll at least one CQE");
    assert(!this.cq.destroyed, () => `${this.name} polled after destroy`);
    const entries = this.cq.entries;
    const first = this.ci % entries;
    const count = Math.min(max, entries - first);
    const cqeSize = this.nic.device.caps.cqeSize;
    const dmaAddress = this.nic.address(this.buffer(), first * cqeSize);
    const engine = this.nic.bus.engine;
    const collect = (outcome: DmaOutcome) => {
      if (outcome !== "ok") {
        engine.trace.emit("rdma", "cq.poll", { cq: this.name, count: 0, outcome });
        done({ ok: false, outcome });
        return;
      }
      const wcs: IbWc[] = [];
      while (wcs.length < count && this.ci < this.pi) {
        const slot = this.slots[this.ci % entries];
        if (slot === undefined || !slot.landed) break;
        wcs.push(slot.wc);
        this.slots[this.ci % entries] = undefined;
        this.ci++;
      }
      engine.trace.emit("rdma", "cq.poll", { cq: this.name, count: wcs.length, outcome });
      done({ ok: true, wcs });
    };
    const cpuAddress = dmaAddress === undefined ? undefined : this.cpuAddressInBar(dmaAddress);
    if (cpuAddress !== undefined) this.nic.bus.cpu.read(cpuAddress, count * cqeSize, (outcome) => collect(outcome));
    else engine.scheduleAt(engine.nowPs + this.nic.bus.platform.memoryLatencyPs, () => collect("ok"));
  }

  /** The CPU address of a CQ buffer byte the NIC reaches at `dmaAddress`, when it is in a BAR (the user mmapped the BAR). */
  private cpuAddressInBar(dmaAddress: number): number | undefined {
    const bus = this.nic.bus;
    const fn = this.nic.device.fn;
    const target = bus.decode(fn, dmaAddress);
    if (target.kind !== "bar") return undefined;
    return target.bar.cpuAddress + bus.offsetInBar(fn, dmaAddress, target.bar);
  }
}
