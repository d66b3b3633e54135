/**
 * One direction of a PCIe link: TLPs serialize one after another at the link's TLP bandwidth,
 * then take the per-hop latency to reach the other end, where they are delivered to the
 * receiver. Flow control (posted, non-posted and completion header/data credits) limits what
 * the sender may put on the wire until the receiver returns credits [pcie-timing.md §3].
 *
 * Serialization is computed, not stepped: the direction keeps the exact time it becomes free
 * (`busyUntilPs`, fractional picoseconds, so that no rounding accumulates over millions of TLPs)
 * and schedules one event per TLP, its arrival. DLLP (Ack, UpdateFC) and SKP overhead are
 * charged as the pcie-bench model charges them: the TLP bandwidth is
 * `T = R × (1 − 8/A − 8/F − 4/1538)` [§3.2], so that a stream of TLPs occupies the link exactly as
 * TLPs interleaved with one 8-byte Ack per A bytes, one 8-byte UpdateFC per F bytes and a 4-byte
 * SKP per 1538 bytes would.
 */
import { assert } from "../fabric/assert.js";
import type { Engine, HandlerId } from "../fabric/engine.js";
import type { Tlp } from "./tlp-packet.js";

/** Flow-control credit class of a TLP. */
export type CreditClass = "posted" | "non-posted" | "completion";

/** Credits a receiver advertises for one class: headers, and data in 16-byte units. */
export interface ClassCredits {
  readonly header: number;
  readonly data: number;
}

/** Advertised credits per class; `"infinite"` where the receiver advertises infinite credits (as endpoints do for completions). */
export interface LinkCredits {
  readonly posted: ClassCredits | "infinite";
  readonly nonPosted: ClassCredits | "infinite";
  readonly completion: ClassCredits | "infinite";
  /** Time from a TLP's arrival to the sender seeing its credits again (UpdateFC latency). */
  readonly returnDelayPs: number;
}

/** What a direction needs to know. */
export interface LinkDirectionConfig {
  /** For traces: `nic0→rp0`. */
  readonly name: string;
  /** TLP bandwidth after encoding and DLLP/SKP overhead, Gb/s (the model's T). */
  readonly tlpGbps: number;
  /** From the last bit leaving the sender to the TLP being usable at the receiver. */
  readonly latencyPs: number;
  /** Flow control; undefined: credits never limit (`--ideal`). */
  readonly credits?: LinkCredits;
  /**
   * When the receiver is a cut-through switch: its port-to-port latency. The TLP is then handed
   * over once its header has arrived plus this latency (`tailPs` says when its last byte will be
   * in); otherwise it is handed over when its last byte has arrived (store and forward).
   */
  readonly cutThroughPs?: number;
}

/** Counters of a direction, for reports and conservation checks. */
export interface LinkCounters {
  tlpsSent: number;
  tlpsDelivered: number;
  wireBytes: number;
  payloadBytes: number;
  /** Time the wire was busy, ps (for utilisation). */
  busyPs: number;
  creditStalls: number;
}

const CREDIT_CLASSES: readonly CreditClass[] = ["posted", "non-posted", "completion"];

/** The direction. */
export class LinkDirection {
  readonly counters: LinkCounters = { tlpsSent: 0, tlpsDelivered: 0, wireBytes: 0, payloadBytes: 0, busyPs: 0, creditStalls: 0 };
  private busyUntilPs = 0;
  /** Serialization time of one byte, ps. */
  readonly psPerByte: number;
  private readonly inFlight: Tlp[] = [];
  private inFlightHead = 0;
  private readonly arrive: HandlerId;
  /** Credits available per class (index in CREDIT_CLASSES); a class not limited is skipped. */
  private readonly limited: boolean[] = [false, false, false];
  private readonly headerCredits = [0, 0, 0];
  private readonly dataCreditsAvailable = [0, 0, 0];
  /**
   * Credits on their way back (UpdateFC), in the order they were freed: (time, class, data).
   * They are collected when the sender next looks, so that returning credits costs no event
   * unless the sender is waiting for them.
   */
  private returnTimes: number[] = [];
  private returnClasses: number[] = [];
  private returnData: number[] = [];
  private returnHead = 0;
  private wakeScheduled = false;
  /** TLPs waiting for credits, FIFO from `waitingHead` (a head index, not `shift()`, which is O(n)). */
  private waiting: Tlp[] = [];
  private waitingHead = 0;
  private readonly wake: HandlerId;
  private readonly returnDelayPs: number;

  /**
   * @param deliver called with each TLP when it arrives at the other end (in sending order).
   */
  constructor(
    private readonly engine: Engine,
    readonly config: LinkDirectionConfig,
    private readonly deliver: (tlp: Tlp) => void,
  ) {
    assert(config.tlpGbps > 0, () => `link ${config.name}: bandwidth must be positive`);
    this.psPerByte = 8000 / config.tlpGbps;
    this.arrive = engine.handler(() => this.onArrival(), `${config.name}.arrive`);
    this.wake = engine.handler(() => this.onWake(), `${config.name}.credits-back`);
    this.returnDelayPs = config.credits?.returnDelayPs ?? 0;
    if (config.credits) {
      CREDIT_CLASSES.forEach((cls, i) => {
        const advertised = advertisedFor(config.credits as LinkCredits, cls);
        if (advertised === "infinite") return;
        this.limited[i] = true;
        this.headerCredits[i] = advertised.header;
        this.dataCreditsAvailable[i] = advertised.data;
      });
    }
  }

  /** When the wire is next free (fractional ps). */
  get freeAtPs(): number {
    return Math.max(this.busyUntilPs, this.engine.nowPs);
  }

  private get waitingCount(): number {
    return this.waiting.length - this.waitingHead;
  }

  /** TLPs on the wire or waiting for credits. */
  get queuedCount(): number {
    return this.inFlight.length - this.inFlightHead + this.waitingCount;
  }

  /**
   * Sends a TLP: it waits for credits of its class if flow control says so, then serializes after
   * whatever is on the wire, and is delivered after the hop latency.
   * @param notBeforePs the TLP may not start before this time (the sender is not ready earlier);
   *   TLPs behind it wait too, as on a real link (FIFO).
   */
  send(tlp: Tlp, notBeforePs = 0): void {
    if (notBeforePs > this.busyUntilPs) this.busyUntilPs = notBeforePs;
    if (this.waitingCount > 0 || !this.takeCredits(tlp)) {
      if (this.waitingCount === 0) this.counters.creditStalls++;
      this.waiting.push(tlp);
      return;
    }
    this.transmit(tlp);
  }

  private transmit(tlp: Tlp): void {
    const start = Math.max(this.busyUntilPs, this.engine.nowPs);
    const serializationPs = tlp.wireBytes * this.psPerByte;
    this.busyUntilPs = start + serializationPs;
    this.counters.tlpsSent++;
    this.counters.wireBytes += tlp.wireBytes;
    this.counters.payloadBytes += tlp.payloadBytes;
    this.counters.busyPs += serializationPs;
    this.inFlight.push(tlp);
    tlp.tailPs = this.busyUntilPs + this.config.latencyPs;
    const cutThrough = this.config.cutThroughPs;
    this.engine.at(Math.ceil(cutThrough === undefined ? tlp.tailPs : start + this.config.latencyPs + cutThrough), this.arrive, 0);
  }

  private onArrival(): void {
    const tlp = this.inFlight[this.inFlightHead] as Tlp;
    this.inFlight[this.inFlightHead] = undefined as unknown as Tlp;
    this.inFlightHead++;
    if (this.inFlightHead > 1024 && this.inFlightHead * 2 > this.inFlight.length) {
      this.inFlight.splice(0, this.inFlightHead);
      this.inFlightHead = 0;
    }
    this.counters.tlpsDelivered++;
    const cls = creditClassIndex(tlp);
    if (this.limited[cls]) {
      // The receiver frees the buffer as it takes the TLP; the sender learns it one UpdateFC later.
      this.returnTimes.push(this.engine.nowPs + this.returnDelayPs);
      this.returnClasses.push(cls);
      this.returnData.push(dataCredits(tlp.payloadBytes));
      if (this.waitingCount > 0) this.scheduleWake();
    }
    this.deliver(tlp);
  }

  /** Takes back every credit whose UpdateFC has arrived by `nowPs`. */
  private collectReturns(nowPs: number = this.engine.nowPs): void {
    const now = nowPs;
    let head = this.returnHead;
    const times = this.returnTimes;
    while (head < times.length && (times[head] as number) <= now) {
      const cls = this.returnClasses[head] as number;
      this.headerCredits[cls] = (this.headerCredits[cls] as number) + 1;
      this.dataCreditsAvailable[cls] = (this.dataCreditsAvailable[cls] as number) + (this.returnData[head] as number);
      head++;
    }
    this.returnHead = head;
    if (head > 1024 && head * 2 > times.length) {
      this.returnTimes = times.slice(head);
      this.returnClasses = this.returnClasses.slice(head);
      this.returnData = this.returnData.slice(head);
      this.returnHead = 0;
    }
  }

  private takeCredits(tlp: Tlp): boolean {
    const cls = creditClassIndex(tlp);
    if (!this.limited[cls]) return true;
    const data = dataCredits(tlp.payloadBytes);
    if ((this.headerCredits[cls] as number) < 1 || (this.dataCreditsAvailable[cls] as number) < data) {
      this.collectReturns();
      if ((this.headerCredits[cls] as number) < 1 || (this.dataCreditsAvailable[cls] as number) < data) {
        this.scheduleWake();
        return false;
      }
    }
    this.headerCredits[cls] = (this.headerCredits[cls] as number) - 1;
    this.dataCreditsAvailable[cls] = (this.dataCreditsAvailable[cls] as number) - data;
    return true;
  }

  /** Waits for the next credit return, if any is on its way. */
  private scheduleWake(): void {
    if (this.wakeScheduled || this.returnHead >= this.returnTimes.length) return;
    this.wakeScheduled = true;
    this.engine.at(Math.max(this.engine.nowPs, Math.ceil(this.returnTimes[this.returnHead] as number)), this.wake, 0);
  }

  private onWake(): void {
    this.wakeScheduled = false;
    this.collectReturns();
    while (this.waitingCount > 0 && this.takeCredits(this.waiting[this.waitingHead] as Tlp)) {
      const tlp = this.waiting[this.waitingHead] as Tlp;
      this.waiting[this.waitingHead++] = undefined as unknown as Tlp;
      this.transmit(tlp);
    }
    if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitingHead);
      this.waitingHead = 0;
    }
  }

  /** Whether no pool holds more than was advertised (a credit returned twice would break it). */
  creditsWithinAdvertised(): boolean {
    const credits = this.config.credits;
    if (!credits) return true;
    return CREDIT_CLASSES.every((cls, i) => {
      const advertised = advertisedFor(credits, cls);
      if (advertised === "infinite") return true;
      return (this.headerCredits[i] as number) <= advertised.header && (this.dataCreditsAvailable[i] as number) <= advertised.data;
    });
  }

  /** Whether every advertised credit is back (after a run has drained): the conservation check. */
  creditsBalanced(): boolean {
    const credits = this.config.credits;
    if (!credits) return true;
    // After the run, every UpdateFC still on its way will arrive: count them in.
    this.collectReturns(Number.POSITIVE_INFINITY);
    return CREDIT_CLASSES.every((cls, i) => {
      const advertised = advertisedFor(credits, cls);
      if (advertised === "infinite") return true;
      return this.headerCredits[i] === advertised.header && this.dataCreditsAvailable[i] === advertised.data;
    });
  }
}

function advertisedFor(credits: LinkCredits, cls: CreditClass): ClassCredits | "infinite" {
  return cls === "posted" ? credits.posted : cls === "non-posted" ? credits.nonPosted : credits.completion;
}

function creditClassIndex(tlp: Tlp): number {
  return tlp.kind === "MWr" ? 0 : tlp.kind === "MRd" ? 1 : 2;
}

/** Data credits of a payload: one per 16 bytes (DW-granular payloads round up). */
export function dataCredits(payloadBytes: number): number {
  return Math.ceil(payloadBytes / 16);
}
