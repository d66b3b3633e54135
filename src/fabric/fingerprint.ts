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

/** The encoding of one event shape (same layer, kind and field order): its fields, sorted. */
interface Shape {
  readonly fields: readonly string[];
  readonly sorted: readonly string[];
}

/** Characters of a JSON string that `JSON.stringify` escapes: quote, backslash, controls, surrogates. */
function needsEscape(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

const ZERO = 48;
const MAX_DIGITS = 16;

/**
 * Accumulates the FNV-1a 64 hash of a sequence of strings, as two 32-bit halves.
 *
 * The hot path (every trace event goes through {@link add}) feeds the canonical encoding without
 * building it: field lists are sorted once per event shape, non-negative safe integers are fed
 * digit by digit, and strings that JSON would not escape are fed between quotes. Everything else
 * goes through `String` and `JSON.stringify`, so the bytes hashed are exactly the canonical text.
 */
export class Fingerprint {
  private hi = FNV_OFFSET_HI;
  private lo = FNV_OFFSET_LO;
  private eventsCount = 0;
  private readonly shapes = new Map<string, Shape[]>();
  private readonly digits = new Uint8Array(MAX_DIGITS);

  /** Events folded in so far. */
  get count(): number {
    return this.eventsCount;
  }

  /** Folds one event into the hash. */
  add(event: TraceEvent): void {
    this.eventsCount++;
    this.feedNumber(event.t);
    this.feedChar(0x7c);
    this.feedNumber(event.seq);
    this.feedChar(0x7c);
    this.feed(event.layer);
    this.feedChar(0x7c);
    this.feed(event.kind);
    for (const key of this.sortedFields(event)) {
      this.feedChar(0x7c);
      this.feed(key);
      this.feedChar(0x3d);
      this.feedValue(event[key] as TraceValue);
    }
    this.feedChar(0x0a);
  }

  /** The event's fields other than t, seq, layer and kind, sorted; cached per shape. */
  private sortedFields(event: TraceEvent): readonly string[] {
    const id = event.kind;
    let shapes = this.shapes.get(id);
    if (shapes !== undefined) {
      for (const shape of shapes) if (sameFields(event, shape.fields)) return shape.sorted;
    } else {
      shapes = [];
      this.shapes.set(id, shapes);
    }
    const fields = Object.keys(event).filter((key) => key !== "t" && key !== "seq" && key !== "layer" && key !== "kind");
    const shape = { fields, sorted: [...fields].sort() };
    shapes.push(shape);
    return shape.sorted;
  }

  /** The hash as 16 lower-case hex digits. */
  hex(): string {
    return this.hi.toString(16).padStart(8, "0") + this.lo.toString(16).padStart(8, "0");
  }

  private feedValue(value: TraceValue): void {
    if (value === null) this.feed("null");
    else if (typeof value === "string") this.feedString(value);
    else if (typeof value === "number") this.feedNumber(value);
    else if (typeof value === "boolean") this.feed(value ? "true" : "false");
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
        this.feedString(key);
        this.feed(":");
        this.feedValue(record[key] as TraceValue);
        this.feed(",");
      }
      this.feed("}");
    }
  }

  /** `JSON.stringify(text)`, fed. */
  private feedString(text: string): void {
    if (needsEscape(text)) {
      this.feed(JSON.stringify(text));
      return;
    }
    this.feedChar(0x22);
    this.feed(text);
    this.feedChar(0x22);
  }

  /** `String(value)`, fed: digit by digit for non-negative safe integers. */
  private feedNumber(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0 || (value === 0 && 1 / value < 0)) {
      this.feed(String(value));
      return;
    }
    let n = value;
    let count = 0;
    do {
      this.digits[count++] = ZERO + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
    while (count > 0) this.feedChar(this.digits[--count] as number);
  }

  /** FNV-1a over UTF-16 code units: h ^= c; h *= 0x100000001b3 (mod 2^64). */
  private feed(text: string): void {
    for (let i = 0; i < text.length; i++) this.feedChar(text.charCodeAt(i));
  }

  private feedChar(code: number): void {
    const lo = (this.lo ^ code) >>> 0;
    // (hi·2^32 + lo) · (2^40 + 0x1b3) mod 2^64, with every partial product exact in a double.
    const loProduct = lo * 0x1b3;
    const carry = Math.floor(loProduct / TWO_32);
    this.hi = (Math.imul(this.hi, 0x1b3) + ((lo << 8) >>> 0) + carry) >>> 0;
    this.lo = loProduct >>> 0;
  }
}

/** Whether `event` has exactly `fields` (besides t, seq, layer, kind), in that order. */
function sameFields(event: TraceEvent, fields: readonly string[]): boolean {
  let i = 0;
  for (const key in event) {
    if (key === "t" || key === "seq" || key === "layer" || key === "kind") continue;
    if (fields[i++] !== key) return false;
  }
  return i === fields.length;
}
