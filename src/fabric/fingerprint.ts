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

/** FNV-1a 64's offset basis 0xcbf29ce484222325, as four 16-bit limbs, least significant first. */
const FNV_OFFSET = [0x2325, 0x8422, 0x9ce4, 0xcbf2] as const;

/** The encoding of one event shape (same kind and field order): its fields, sorted, and their `|key=` prefixes. */
interface Shape {
  readonly fields: readonly string[];
  readonly sorted: readonly string[];
  readonly prefixes: readonly string[];
}

const ZERO = 48;
const MAX_DIGITS = 16;

/** Characters of a JSON string that `JSON.stringify` escapes: quote, backslash, controls, surrogates. */
function needsEscape(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

/**
 * Accumulates the FNV-1a 64 hash of a sequence of strings, as four 16-bit limbs.
 *
 * The hot path (every trace event goes through {@link add}) feeds the canonical encoding without
 * building it: field lists are sorted once per event shape, non-negative safe integers are fed
 * digit by digit, and strings that JSON would not escape are fed between quotes. Everything else
 * goes through `String` and `JSON.stringify`, so the bytes hashed are exactly the canonical text.
 */
export class Fingerprint {
  /** The 64-bit state as four 16-bit limbs, least significant first. */
  private readonly limbs = Uint32Array.from(FNV_OFFSET);
  private readonly digits = new Uint8Array(MAX_DIGITS);
  private eventsCount = 0;
  private readonly shapes = new Map<string, Shape[]>();

  /** Events folded in so far. */
  get count(): number {
    return this.eventsCount;
  }

  /** Folds one event into the hash. */
  add(event: TraceEvent): void {
    this.eventsCount++;
    this.feedNumber(event.t);
    this.feed("|");
    this.feedNumber(event.seq);
    this.feed("|");
    this.feed(event.layer);
    this.feed("|");
    this.feed(event.kind);
    const shape = this.shapeOf(event);
    const { sorted, prefixes } = shape;
    for (let i = 0; i < sorted.length; i++) {
      this.feed(prefixes[i] as string);
      this.feedValue(event[sorted[i] as string] as TraceValue);
    }
    this.feed("\n");
  }

  /** The event's fields other than t, seq, layer and kind, sorted; cached per shape. */
  private shapeOf(event: TraceEvent): Shape {
    const id = event.kind;
    let shapes = this.shapes.get(id);
    if (shapes !== undefined) {
      for (const shape of shapes) if (sameFields(event, shape.fields)) return shape;
    } else {
      shapes = [];
      this.shapes.set(id, shapes);
    }
    const fields = Object.keys(event).filter((key) => key !== "t" && key !== "seq" && key !== "layer" && key !== "kind");
    const sorted = [...fields].sort();
    const shape = { fields, sorted, prefixes: sorted.map((key) => `|${key}=`) };
    shapes.push(shape);
    return shape;
  }

  /** The hash as 16 lower-case hex digits. */
  hex(): string {
    return [...this.limbs]
      .reverse()
      .map((limb) => limb.toString(16).padStart(4, "0"))
      .join("");
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
    this.feed('"');
    this.feed(text);
    this.feed('"');
  }

  /** `String(value)`, fed: digit by digit for non-negative safe integers (most fields), else as text. */
  private feedNumber(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0 || (value === 0 && 1 / value < 0)) {
      this.feed(String(value));
      return;
    }
    const digits = this.digits;
    let n = value;
    let count = 0;
    do {
      digits[count++] = ZERO + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
    const limbs = this.limbs;
    while (count > 0) fnvStep(limbs, digits[--count] as number);
  }

  /** FNV-1a over the UTF-16 code units of `text`. */
  private feed(text: string): void {
    const limbs = this.limbs;
    for (let i = 0; i < text.length; i++) fnvStep(limbs, text.charCodeAt(i));
  }
}

/**
 * One FNV-1a step on the state's four 16-bit limbs: h ^= unit; h *= 0x100000001b3 (mod 2^64).
 * The prime is 2^40 + 0x1b3: 0x1b3 times every limb plus the limbs moved up by 40 bits (limb i into
 * limb i + 2, times 2^8), carries propagated, the top limb truncated. Every intermediate is a
 * small integer.
 */
function fnvStep(limbs: Uint32Array, unit: number): void {
  const a = (limbs[0] as number) ^ unit;
  const b = limbs[1] as number;
  const t0 = a * 0x1b3;
  const t1 = b * 0x1b3 + (t0 >>> 16);
  const t2 = (limbs[2] as number) * 0x1b3 + (a << 8) + (t1 >>> 16);
  limbs[3] = ((limbs[3] as number) * 0x1b3 + (b << 8) + (t2 >>> 16)) & 0xffff;
  limbs[0] = t0 & 0xffff;
  limbs[1] = t1 & 0xffff;
  limbs[2] = t2 & 0xffff;
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
