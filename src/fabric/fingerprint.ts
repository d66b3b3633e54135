/**
 * The run's identity: a rolling 64-bit FNV-1a hash over a canonical encoding of every trace event.
 * Two runs with the same fingerprint produced the same events, with the same fields, at the same
 * times, in the same order.
 *
 * Canonical encoding, so that the hash never depends on how an object was built: the event's
 * `t`, `seq`, `layer` and `kind`, then its other fields sorted by key; numbers as their shortest
 * round-trip decimal (ECMAScript fixes it, so it is the same on every machine), strings JSON-quoted,
 * arrays and nested objects recursively, separators that cannot occur unquoted.
 */
import type { TraceEvent, TraceValue } from "./trace.js";

const FNV_OFFSET_HI = 0xcbf29ce4;
const FNV_OFFSET_LO = 0x84222325;
const TWO_32 = 2 ** 32;

/** Accumulates the FNV-1a 64 hash of a sequence of strings, as two 32-bit halves. */
export class Fingerprint {
  private hi = FNV_OFFSET_HI;
  private lo = FNV_OFFSET_LO;
  private eventsCount = 0;

  /** Events folded in so far. */
  get count(): number {
    return this.eventsCount;
  }

  /** Folds one event into the hash. */
  add(event: TraceEvent): void {
    this.eventsCount++;
    this.feed(`${event.t}|${event.seq}|${event.layer}|${event.kind}`);
    for (const key of Object.keys(event).sort()) {
      if (key === "t" || key === "seq" || key === "layer" || key === "kind") continue;
      this.feed(`|${key}=`);
      this.feedValue(event[key] as TraceValue);
    }
    this.feed("\n");
  }

  /** The hash as 16 lower-case hex digits. */
  hex(): string {
    return this.hi.toString(16).padStart(8, "0") + this.lo.toString(16).padStart(8, "0");
  }

  private feedValue(value: TraceValue): void {
    if (value === null) this.feed("null");
    else if (typeof value === "string") this.feed(JSON.stringify(value));
    else if (typeof value === "number" || typeof value === "boolean") this.feed(String(value));
    else if (Array.isArray(value)) {
      this.feed("[");
      for (const item of value) {
        this.feedValue(item);
        this.feed(",");
      }
      this.feed("]");
    } else {
      const record = value as { readonly [key: string]: TraceValue };
      this.feed("{");
      for (const key of Object.keys(record).sort()) {
        this.feed(`${JSON.stringify(key)}:`);
        this.feedValue(record[key] as TraceValue);
        this.feed(",");
      }
      this.feed("}");
    }
  }

  /** FNV-1a over UTF-16 code units: h ^= c; h *= 0x100000001b3 (mod 2^64). */
  private feed(text: string): void {
    let hi = this.hi;
    let lo = this.lo;
    for (let i = 0; i < text.length; i++) {
      lo = (lo ^ text.charCodeAt(i)) >>> 0;
      // (hi·2^32 + lo) · (2^40 + 0x1b3) mod 2^64, with every partial product exact in a double.
      const loProduct = lo * 0x1b3;
      const carry = Math.floor(loProduct / TWO_32);
      hi = (Math.imul(hi, 0x1b3) + ((lo << 8) >>> 0) + carry) >>> 0;
      lo = loProduct >>> 0;
    }
    this.hi = hi;
    this.lo = lo;
  }
}
