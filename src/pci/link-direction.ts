/**
 * One direction of a PCIe link: TLPs serialize one after another at the link's TLP bandwidth,
 * then take the per-hop latency to reach the other end, where they are delivered to the
 * receiver. Flow control (posted, non-posted and completion header/data credits) limits what
 * the sender may put on the wire until the receiver returns credits [pcie-timing.md §3].
 *
 * Serialization is computed, not stepped: the direction keeps the exact time it becomes free
 * (`busyUntilPs`, fractional picoseconds, so that no rounding accumulates over millions of TLPs)
 * and schedules one event per TLP, its arrival — or none, when the fabric forwards the TLP onwards
 * itself (`express`, for a switch whose egress only this link feeds). Flow control is computed the
 * same way: a receiver takes every TLP the moment its last byte arrives, so the time each credit
 * comes back (arrival + UpdateFC delay) is known when the TLP is sent, and a TLP short of credits
 * simply starts when enough have come back — FIFO, with no waiting queue and no wake-up events.
 *
 * DLLP (Ack, UpdateFC) and SKP overhead are charged as the pcie-bench model charges them: the TLP
 * bandwidth is
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

/**
 * Watches a direction's transmissions, for timelines (the Perfetto writer): not part of the run's
 * trace, so watching never changes a fingerprint.
 */
export interface LinkObserver {
  /**
   * A TLP was booked on the wire: it starts serializing at `startPs` and its last byte is in at
   * `tailPs` (both fractional ps); `stalled` when it waited for flow-control credits.
   */
  sent(link: LinkDirection, tlp: Tlp, startPs: number, tailPs: number, stalled: boolean): void;
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
  /** TLPs that were on the wire (booked, not yet delivered) when the link went down: never delivered. */
  tlpsLost: number;
}

const CREDIT_CLASSES: readonly CreditClass[] = ["posted", "non-posted", "completion"];

/** The direction. */
export class LinkDirection {
  readonly counters: LinkCounters = { tlpsSent: 0, tlpsDelivered: 0, wireBytes: 0, payloadBytes: 0, busyPs: 0, creditStalls: 0, tlpsLost: 0 };
  private busyUntilPs = 0;
  /** Serialization time of one byte, ps (changed only by {@link retrain}). */
  psPerByte: number;
  /** The TLP bandwidth now, Gb/s: `config.tlpGbps` until a {@link retrain}. */
  tlpGbps: number;
  /** Whether the link is down (DL_Down): {@link send} hands every TLP to {@link refuse} instead. */
  private isDown = false;
  /** Arrival events still due for TLPs lost when the link went down (the oldest in the ring): dropped, not delivered. */
  private lostArrivals = 0;
  /** TLPs waiting for their arrival event, in sending order: a ring (power-of-two size) so that arrivals never copy it. */
  private inFlight: Array<Tlp | undefined> = new Array(64).fill(undefined);
  private inFlightHead = 0;
  private inFlightCount = 0;
  private readonly arrive: HandlerId;
  /** Credits available per class (index in CREDIT_CLASSES); a class not limited is skipped. */
  private readonly limited: boolean[] = [false, false, false];
  private readonly headerCredits = [0, 0, 0];
  private readonly dataCreditsAvailable = [0, 0, 0];
  /**
   * Credits on their way back (UpdateFC), in time order: a ring of (time, class, data). Typed
   * arrays, so that the per-TLP push neither boxes the time nor reallocates.
   */
  private returnTimes = new Float64Array(64);
  private returnClasses = new Int32Array(64);
  private returnData = new Int32Array(64);
  private returnHead = 0;
  private returnCount = 0;
  private readonly returnDelayPs: number;
  /**
   * `config.latencyPs` and `config.cutThroughPs`, copied: configs are built with optional fields,
   * so they come in several hidden classes, and reading them per TLP was a polymorphic load.
   */
  private readonly latencyPs: number;
  private readonly cutThroughPs: number | undefined;
  /**
   * Set by the fabric: offered each TLP at transmission with the time its receiver can hand it on;
   * returns true when the fabric forwarded it itself (then no arrival event is scheduled here).
   */
  express: ((tlp: Tlp, handOverPs: number) => boolean) | undefined = undefined;
  /** Set by the fabric when someone watches its links (see {@link Fabric.observeLinks}). */
  observer: LinkObserver | undefined = undefined;
  /** Set by the fabric: takes a TLP sent while the link is down (it never reaches the wire). */
  refuse: ((tlp: Tlp) => void) | undefined = undefined;

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
    this.tlpGbps = config.tlpGbps;
    // Arrivals are scheduled in sending order, and a link's arrival times never decrease: a FIFO lane.
    this.arrive = engine.fifoHandler(() => this.onArrival(), `${config.name}.arrive`);
    this.returnDelayPs = config.credits?.returnDelayPs ?? 0;
    this.latencyPs = config.latencyPs;
    this.cutThroughPs = config.cutThroughPs;
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

  /** How far ahead of now the wire is booked, ps. */
  get backlogPs(): number {
    return Math.max(0, this.busyUntilPs - this.engine.nowPs);
  }

  /**
   * Sends a TLP: it serializes after whatever is on the wire, once it is ready and its credits
   * are back, and is delivered after the hop latency.
   * @param notBeforePs the TLP may not start before this time (the sender is not ready earlier);
   *   TLPs behind it wait too, as on a real link (FIFO).
   */
  send(tlp: Tlp, notBeforePs = 0): void {
    if (this.isDown) {
      (this.refuse as (tlp: Tlp) => void)(tlp);
      return;
    }
    let start = Math.max(this.busyUntilPs, this.engine.nowPs, notBeforePs);
    const cls = creditClassIndex(tlp);
    const limited = this.limited[cls] === true;
    const data = limited ? dataCredits(tlp.payloadBytes) : 0;
    let stalled = false;
    if (limited) {
      const creditsAt = this.takeCredits(cls, data, start);
      if (creditsAt > start) {
        this.counters.creditStalls++;
        start = creditsAt;
        stalled = true;
      }
    }
    const serializationPs = tlp.wireBytes * this.psPerByte;
    this.busyUntilPs = start + serializationPs;
    this.counters.tlpsSent++;
    this.counters.wireBytes += tlp.wireBytes;
    this.counters.payloadBytes += tlp.payloadBytes;
    this.counters.busyPs += serializationPs;
    const tailPs = this.busyUntilPs + this.latencyPs;
    tlp.tailPs = tailPs;
    this.observer?.sent(this, tlp, start, tailPs, stalled);
    if (limited) {
      // The receiver frees the buffer as the last byte arrives; the sender learns it one UpdateFC later.
      this.pushReturn(tailPs + this.returnDelayPs, cls, data);
    }
    const cutThrough = this.cutThroughPs;
    const handOverPs = cutThrough === undefined ? tailPs : start + this.latencyPs + cutThrough;
    if (this.express?.(tlp, handOverPs)) {
      this.counters.tlpsDelivered++;
      return;
    }
    if (this.inFlightCount === this.inFlight.length) this.growInFlight();
    this.inFlight[(this.inFlightHead + this.inFlightCount++) & (this.inFlight.length - 1)] = tlp;
    this.engine.atInOrder(Math.ceil(handOverPs), this.arrive, 0);
  }

  private onArrival(): void {
    const tlp = this.inFlight[this.inFlightHead] as Tlp;
    this.inFlight[this.inFlightHead] = undefined;
    this.inFlightHead = (this.inFlightHead + 1) & (this.inFlight.length - 1);
    this.inFlightCount--;
    if (this.lostArrivals > 0) {
      this.lostArrivals--;
      return;
    }
    this.counters.tlpsDelivered++;
    this.deliver(tlp);
  }

  /** Whether the link is down. */
  get down(): boolean {
    return this.isDown;
  }

  /**
   * The link retrains to `tlpGbps` (another width or generation) through Recovery: TLPs already
   * booked keep their times (serialization is booked when a TLP is sent, as if it were in the
   * replay buffer already); the wire is then unavailable for `recoveryPs`, during which later TLPs
   * queue, and every TLP after that serializes at the new bandwidth.
   * @throws AssertionError for a non-positive bandwidth or a negative interval.
   */
  retrain(tlpGbps: number, recoveryPs: number): void {
    assert(tlpGbps > 0, () => `link ${this.config.name}: bandwidth must be positive`);
    assert(recoveryPs >= 0, () => `link ${this.config.name}: a recovery interval cannot be negative`);
    this.tlpGbps = tlpGbps;
    this.psPerByte = 8000 / tlpGbps;
    this.busyUntilPs = Math.max(this.busyUntilPs, this.engine.nowPs) + recoveryPs;
  }

  /**
   * The link goes down (DL_Down): every TLP booked on it and not yet delivered is lost (returned,
   * oldest first; their arrival events will find nothing to deliver), and later TLPs go to
   * {@link refuse} until {@link up}. The credits of lost TLPs still come back: flow control is
   * initialised afresh when the link comes up, to the advertised values.
   * @throws AssertionError when the link is already down.
   */
  goDown(): Tlp[] {
    assert(!this.isDown, () => `link ${this.config.name} is already down`);
    this.isDown = true;
    const ring = this.inFlight;
    const mask = ring.length - 1;
    const lost: Tlp[] = [];
    for (let i = this.lostArrivals; i < this.inFlightCount; i++) lost.push(ring[(this.inFlightHead + i) & mask] as Tlp);
    this.lostArrivals = this.inFlightCount;
    this.counters.tlpsLost += lost.length;
    return lost;
  }

  /**
   * The link is up again (DL_Up), trained at its bandwidth of before. TLPs lost while it was down
   * may still hold the wire's booking; new ones start after it.
   * @throws AssertionError when the link is not down.
   */
  up(): void {
    assert(this.isDown, () => `link ${this.config.name} is not down`);
    this.isDown = false;
  }

  /** Doubles the in-flight ring, unwrapping it so that the head is at 0. */
  private growInFlight(): void {
    const ring = this.inFlight;
    const head = this.inFlightHead;
    this.inFlight = [...ring.slice(head), ...ring.slice(0, head), ...new Array<undefined>(ring.length).fill(undefined)];
    this.inFlightHead = 0;
  }

  /** Queues the return of one header and `data` data credits of class `cls` at `atPs`. */
  private pushReturn(atPs: number, cls: number, data: number): void {
    if (this.returnCount === this.returnTimes.length) this.growReturns();
    const at = (this.returnHead + this.returnCount) & (this.returnTimes.length - 1);
    this.returnTimes[at] = atPs;
    this.returnClasses[at] = cls;
    this.returnData[at] = data;
    this.returnCount++;
  }

  /** Doubles the return ring, unwrapping it so that the head is at 0. */
  private growReturns(): void {
    const size = this.returnTimes.length;
    const head = this.returnHead;
    const unwrap = <T extends Float64Array | Int32Array>(from: T, to: T): T => {
      to.set(from.subarray(head));
      to.set(from.subarray(0, head), size - head);
      return to;
    };
    this.returnTimes = unwrap(this.returnTimes, new Float64Array(size * 2));
    this.returnClasses = unwrap(this.returnClasses, new Int32Array(size * 2));
    this.returnData = unwrap(this.returnData, new Int32Array(size * 2));
    this.returnHead = 0;
  }

  /** Takes back every credit whose UpdateFC has arrived by `nowPs`. */
  private collectReturns(nowPs: number): void {
    const times = this.returnTimes;
    const mask = times.length - 1;
    let head = this.returnHead;
    let count = this.returnCount;
    while (count > 0 && (times[head] as number) <= nowPs) {
      const cls = this.returnClasses[head] as number;
      this.headerCredits[cls] = (this.headerCredits[cls] as number) + 1;
      this.dataCreditsAvailable[cls] = (this.dataCreditsAvailable[cls] as number) + (this.returnData[head] as number);
      head = (head + 1) & mask;
      count--;
    }
    this.returnHead = head;
    this.returnCount = count;
  }

  /**
   * Takes one header and `data` data credits of class `cls` for a TLP that would start at
   * `startPs`. Returns when they are there: `startPs`, or the later time the credit returns
   * already on their way make enough (start times on a link never decrease, so collecting up to
   * the start is exact).
   * @throws AssertionError when the TLP needs more data credits than the receiver advertises.
   */
  private takeCredits(cls: number, data: number, startPs: number): number {
    let at = startPs;
    this.collectReturns(at);
    while ((this.headerCredits[cls] as number) < 1 || (this.dataCreditsAvailable[cls] as number) < data) {
      const next = this.returnCount > 0 ? this.returnTimes[this.returnHead] : undefined;
      assert(next !== undefined, () => `link ${this.config.name}: a TLP needs ${data} data credits, more than are advertised`);
      at = next;
      this.collectReturns(at);
    }
    this.headerCredits[cls] = (this.headerCredits[cls] as number) - 1;
    this.dataCreditsAvailable[cls] = (this.dataCreditsAvailable[cls] as number) - data;
    return at;
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
