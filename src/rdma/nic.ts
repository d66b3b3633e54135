/**
 * The NIC's hardware: the DMA engine of an RDMA device (an mlx5-like ConnectX) running on a
 * {@link DmaBus}, so that every work request becomes real fabric traffic [DESIGN.md "rdma"]:
 *
 * ```
 *  CPU: post ─ MMIO write to the doorbell (BAR0 + 0x800 + 8 × qpn)
 *  NIC: WQE fetch (DMA read of the SQ buffer) ─ data read (local MR, DMA read) ─ wire
 *  peer NIC: data write through the MR's translation (P2P when the MR is a peer BAR's dma-buf) ─ ACK
 *  NIC: CQE write into the CQ buffer (P2P when the CQ buffer is a dma-buf) ─ doorbell-record write
 *  CPU: poll = a read of the CQE memory (MMIO when the CQ buffer is in a BAR)
 * ```
 *
 * This file is the device: the doorbell registers, the per-umem accounting of DMA in flight that
 * the driver's drains wait on ({@link IbDeviceHw}), the hardware contexts of CQs and QPs
 * (nic-cq.ts, nic-qp.ts) and the asynchronous events [kernel.md §d.7].
 *
 * Not modelled: the CPU's stores of WQEs and doorbell records into host memory (free here; only
 * the doorbell MMIO write crosses the bus), BlueFlame, interrupts and EQ traffic, UMR traffic of
 * the zap (the MR's translation changes at once), ATS.
 */
import type { SgEntry } from "../dmabuf/map.js";
import { assert } from "../fabric/assert.js";
import type { DmaBus } from "../pci/dma-bus.js";
import type { DmaOutcome, DmaPort } from "../pci/dma-port.js";
import type { IbAsyncEvent, IbEventType } from "./ib-wr.js";
import { NicCq } from "./nic-cq.js";
import { NicQp } from "./nic-qp.js";
import type { NicQpLayout } from "./nic-queue.js";
import type { IbUmem } from "./umem.js";
import type { IbCq } from "./verbs-cq.js";
import type { IbDevice, IbDeviceHw } from "./verbs-device.js";
import type { IbQp } from "./verbs-qp.js";

declare module "./umem.js" {
  interface RdmaTraceKinds {
    /** An asynchronous event, as uverbs queues it on the async fd [kernel.md §d.7]. */
    "async.event": { type: IbEventType; object: string; syndrome: number };
  }
}

/** A buffer as a hardware context holds it: its umem and the DMA addresses programmed at create time. */
export interface NicBuffer {
  readonly umem: IbUmem;
  readonly entries: readonly SgEntry[] | undefined;
}

/** BAR of the doorbell registers (mlx5: the UAR pages in BAR0). */
export const NIC_DOORBELL_BAR = 0;
/** Offset of QP 0's doorbell in that BAR; QP n rings `+ 8 × n`. */
export const NIC_DOORBELL_OFFSET = 0x800;

/** Timing and limits of the NIC's engine. */
export interface NicConfig {
  /** From a fetched WQE to its first DMA (parsing, translation lookups), ps. Default 50 ns. */
  readonly processingPs: number;
  /** WQEs fetched by one DMA read at most. Default 8 (512 B). */
  readonly wqeFetchMax: number;
  /** WQEs of one QP fetched and not yet completed, at most. Default 64. */
  readonly outstandingMax: number;
  /** RNR retries before RNR_RETRY_EXC_ERR. Default 7 (the IB maximum short of infinite). */
  readonly rnrRetry: number;
  /** Wait before an RNR retry, ps. Default 10 µs (the responder's minimum RNR NAK timer, 0.01 ms). */
  readonly rnrTimerPs: number;
}

/** Defaults of {@link NicConfig}. */
export const NIC_CONFIG_DEFAULT: NicConfig = { processingPs: 50_000, wqeFetchMax: 8, outstandingMax: 64, rnrRetry: 7, rnrTimerPs: 10_000_000 };

/** The NIC. One per {@link IbDevice}; it becomes the device's `hw`. */
export class Nic implements IbDeviceHw {
  readonly port: DmaPort;
  readonly config: NicConfig;
  /** Every asynchronous event raised, in order. */
  readonly asyncEvents: IbAsyncEvent[] = [];
  private readonly inFlightByUmem = new Map<IbUmem, number>();
  private readonly drainWaiters = new Map<IbUmem, Array<() => void>>();
  private readonly cqs = new Map<IbCq, NicCq>();
  private readonly qps = new Map<IbQp, NicQp>();
  private readonly byQpn: NicQp[] = [];

  constructor(
    readonly device: IbDevice,
    readonly bus: DmaBus,
    config: Partial<NicConfig> = {},
  ) {
    assert(device.hw === undefined, () => `${device.name} already has a NIC`);
    this.config = { ...NIC_CONFIG_DEFAULT, ...config };
    this.port = bus.port(device.fn);
    device.hw = this;
    bus.onMmioWrite(device.fn, NIC_DOORBELL_BAR, (offset, _bytes, atPs) => this.doorbellWrite(offset, atPs));
  }

  /** The device's name (`nic0`). */
  get name(): string {
    return this.device.name;
  }

  /** The hardware context of `cq` (created on first use, as the driver's create_cq would). */
  cq(cq: IbCq): NicCq {
    assert(cq.device === this.device, () => `${cq.name} is not a CQ of ${this.name}`);
    let hw = this.cqs.get(cq);
    if (!hw) {
      hw = new NicCq(this, cq);
      this.cqs.set(cq, hw);
    }
    return hw;
  }

  /**
   * The hardware context of `qp`: created by the first call, which gives the layout of its buffer.
   * @throws AssertionError when the layout does not fit the QP's buffer, or is missing the first time.
   */
  qp(qp: IbQp, layout?: NicQpLayout): NicQp {
    let hw = this.qps.get(qp);
    if (!hw) {
      assert(qp.pd.device === this.device, () => `${qp.name} is not a QP of ${this.name}`);
      assert(layout !== undefined, () => `${qp.name}: the first use gives the queue layout`);
      hw = new NicQp(this, qp, this.byQpn.length, layout);
      this.qps.set(qp, hw);
      this.byQpn.push(hw);
    }
    return hw;
  }

  /** The CPU physical address of QP `qpn`'s doorbell. */
  doorbellAddress(qpn: number): number {
    const bar = this.device.fn.bars.find((b) => b.index === NIC_DOORBELL_BAR) as { cpuAddress: number };
    return bar.cpuAddress + NIC_DOORBELL_OFFSET + 8 * qpn;
  }

  private doorbellWrite(offset: number, atPs: number): void {
    const qpn = (offset - NIC_DOORBELL_OFFSET) / 8;
    const qp = this.byQpn[qpn];
    assert(qp !== undefined && Number.isInteger(qpn), () => `${this.name}: write to BAR0 offset ${offset} is no doorbell`);
    const now = this.bus.engine.nowPs;
    if (atPs <= now) qp.doorbell();
    else this.bus.engine.scheduleAt(Math.ceil(atPs), () => qp.doorbell());
  }

  /**
   * Programs a buffer into a hardware context (a CQ's or QP's create): the context keeps these DMA
   * addresses and uses them until the driver stops it; the hardware never looks at the umem again,
   * so a driver that does not stop it goes on writing where the buffer was.
   * @returns undefined for no buffer; `entries` undefined when the umem was not mapped.
   */
  program(umem: IbUmem | undefined): NicBuffer | undefined {
    if (umem === undefined) return undefined;
    return { umem, entries: umem.released || !umem.mapped ? undefined : [...umem.sg()] };
  }

  /** The DMA address of byte `offset` of a programmed buffer, or undefined when it has none there. */
  address(buffer: NicBuffer | undefined, offset: number): number | undefined {
    if (buffer?.entries === undefined) return undefined;
    let at = buffer.umem.offset + offset;
    for (const entry of buffer.entries) {
      if (at < entry.length) return entry.dmaAddress + at;
      at -= entry.length;
    }
    return undefined;
  }

  /**
   * Issues one DMA operation through `umem` (counted in flight until done, for the drains).
   * @param done called once when the operation is done, with its outcome.
   */
  dma(kind: "read" | "write", umem: IbUmem, address: number, bytes: number, done?: (outcome: DmaOutcome, atPs: number) => void): void {
    this.inFlightByUmem.set(umem, (this.inFlightByUmem.get(umem) ?? 0) + 1);
    const finished = (outcome: DmaOutcome, atPs: number) => {
      const left = (this.inFlightByUmem.get(umem) as number) - 1;
      if (left > 0) this.inFlightByUmem.set(umem, left);
      else this.inFlightByUmem.delete(umem);
      done?.(outcome, atPs);
      if (left === 0) this.drained(umem);
    };
    if (kind === "read") this.port.read(address, bytes, finished);
    else this.port.write(address, bytes, finished);
  }

  /**
   * Issues one DMA operation per entry through `umem` (a message's data through an MR) and calls
   * `done` once, when every one is done, with the worst outcome; at once for no entries.
   */
  dmaAll(kind: "read" | "write", umem: IbUmem, entries: readonly SgEntry[], done: (outcome: DmaOutcome) => void): void {
    let left = entries.length;
    let worst: DmaOutcome = "ok";
    if (left === 0) done(worst);
    for (const entry of entries) {
      this.dma(kind, umem, entry.dmaAddress, entry.length, (outcome) => {
        if (outcome !== "ok") worst = outcome;
        if (--left === 0) done(worst);
      });
    }
  }

  /** {@link IbDeviceHw.inFlight}. */
  inFlight(umem: IbUmem): number {
    return this.inFlightByUmem.get(umem) ?? 0;
  }

  /** {@link IbDeviceHw.whenDrained}. */
  whenDrained(umem: IbUmem, then: () => void): void {
    if (this.inFlight(umem) === 0) {
      then();
      return;
    }
    const waiters = this.drainWaiters.get(umem);
    if (waiters) waiters.push(then);
    else this.drainWaiters.set(umem, [then]);
  }

  private drained(umem: IbUmem): void {
    const waiters = this.drainWaiters.get(umem);
    if (waiters === undefined) return;
    this.drainWaiters.delete(umem);
    for (const then of waiters) then();
  }

  /** Whether a drain is pending on `umem` (an invalidate or revoke waits for it; the page fault must too). */
  draining(umem: IbUmem): boolean {
    return this.drainWaiters.has(umem);
  }

  /** {@link IbDeviceHw.stopUsing}: CQs and QPs on `umem` stop; their next access raises the error events. */
  stopUsing(umem: IbUmem): void {
    for (const cq of this.cqs.values()) if (cq.uses(umem)) cq.stop();
    for (const qp of this.qps.values()) if (qp.uses(umem)) qp.stop();
  }

  /** Raises an asynchronous event (traced, and kept in {@link asyncEvents}). */
  asyncEvent(type: IbEventType, object: string, syndrome = 0): void {
    const atPs = this.bus.engine.nowPs;
    this.asyncEvents.push({ type, object, ...(syndrome ? { syndrome } : {}), atPs });
    this.bus.engine.trace.emit("rdma", "async.event", { type, object, syndrome });
  }
}
