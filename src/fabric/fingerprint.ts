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

/**
 * The encoding of one event shape (same layer, kind and field order): its fields in event order,
 * and per sorted field its index in that order and its `|key=` prefix. `head` is the constant text
 * between the event's `seq` and its first value: `|layer|kind|key=`.
 */
interface Shape {
  readonly layer: string;
  readonly fields: readonly string[];
  readonly order: readonly number[];
  readonly prefixes: readonly string[];
  readonly head: string;
}

/**
 * Event shapes seen by any fingerprint of this thread, by kind. Sharing them across runs spares
 * each run of a seed sweep rebuilding (and sorting) every shape again; a shape never changes.
 */
const SHAPES = new Map<string, Shape[]>();

const ZERO = 48;
const MAX_DIGITS = 16;
const QUOTE = 0x22;
/** Below this, a safe integer's digits are cut with int32 arithmetic; above, with floor division (never `%`: on a double it is a call of C's fmod). */
const INT32_LIMIT = 2 ** 31;

/**
 * Accumulates the FNV-1a 64 hash of a sequence of strings, as four 16-bit limbs.
 *
 * The hot path (every trace event goes through {@link add}) feeds the canonical encoding without
 * building it: field lists are sorted once per event shape and their constant text is joined,
 * field values are read in one `for…in` pass (which also checks the shape), non-negative safe
 * integers are fed digit by digit, and strings that JSON would not escape are fed between quotes.
 * Everything else goes through `String` and `JSON.stringify`, so the bytes hashed are exactly the
 * canonical text. The limbs live in plain fields and in locals while a string is fed: a typed
 * array read and written per code unit cost about twice as much.
 */
export class Fingerprint {
  /** The 64-bit state (FNV offset basis 0xcbf29ce484222325) as four 16-bit limbs, least significant first. */
  private h0 = 0x2325;
  private h1 = 0x8422;
  private h2 = 0x9ce4;
  private h3 = 0xcbf2;
  private readonly digits = new Uint8Array(MAX_DIGITS);
  /** The current event's field values, in event order (filled by {@link shapeOf}). */
  private readonly values: TraceValue[] = [];
  private eventsCount = 0;
  /** Shapes are pure functions of an event's layer, kind and field order, so every fingerprint of this thread shares them. */
  private readonly shapes = SHAPES;

  /** Events folded in so far. */
  get count(): number {
    return this.eventsCount;
  }

  /** Folds one event into the hash. */
  add(event: TraceEvent): void {
    this.eventsCount++;
    const shape = this.shapeOf(event);
    const { order, prefixes } = shape;
    const values = this.values;
    this.feedNumber(event.t);
    this.feed("|");
    this.feedNumber(event.seq);
    if (order.length === 0) {
      this.feed(shape.head);
    } else {
      this.feed(shape.head);
      this.feedValue(values[order[0] as number] as TraceValue);
      for (let i = 1; i < order.length; i++) {
        this.feed(prefixes[i] as string);
        this.feedValue(values[order[i] as number] as TraceValue);
      }
    }
    this.feed("\n");
  }

  /** The event's shape (cached per layer, kind and field order); leaves its field values in `values`. */
  private shapeOf(event: TraceEvent): Shape {
    const id = event.kind;
    let shapes = this.shapes.get(id);
    if (shapes !== undefined) {
      for (let i = 0; i < shapes.length; i++) {
        const shape = shapes[i] as Shape;
        if (shape.layer === event.layer && this.collect(event, shape.fields)) return shape;
      }
    } else {
      shapes = [];
      this.shapes.set(id, shapes);
    }
    const fields = Object.keys(event).filter((key) => key !== "t" && key !== "seq" && key !== "layer" && key !== "kind");
    const order = fields.map((_, i) => i).sort((a, b) => compareKeys(fields[a] as string, fields[b] as string));
    const prefixes = order.map((i) => `|${fields[i]}=`);
    const shape: Shape = { layer: event.layer, fields, order, prefixes, head: `|${event.layer}|${event.kind}${prefixes[0] ?? ""}` };
    shapes.push(shape);
    this.collect(event, fields);
    return shape;
  }

  /**
   * Whether `event` has exactly `fields` (besides t, seq, layer, kind), in that order; copies their
   * values into `values` on the way (a `for…in` read uses V8's enum cache, a keyed read by a
   * field name from an array would not).
   */
  private collect(event: TraceEvent, fields: readonly string[]): boolean {
    const values = this.values;
    let i = 0;
    for (const key in event) {
      if (key === "t" || key === "seq" || key === "layer" || key === "kind") continue;
      if (fields[i] !== key) return false;
      values[i++] = event[key] as TraceValue;
    }
    return i === fields.length;
  }

  /** The hash as 16 lower-case hex digits. */
  hex(): string {
    return [this.h3, this.h2, this.h1, this.h0].map((limb) => limb.toString(16).padStart(4, "0")).join("");
  }

  private feedValue(value: TraceValue): void {
    if (typeof value === "string") this.feedString(value);
    else if (typeof value === "number") this.feedNumber(value);
    else if (value === null) this.feed("null");
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

  /**
   * `JSON.stringify(text)`, fed: in one pass between quotes while no code unit needs an escape
   * (quote, backslash, controls, surrogates); at the first that does, the state is rolled back
   * and the JSON text fed instead.
   */
  private feedString(text: string): void {
    let h0 = this.h0;
    let h1 = this.h1;
    let h2 = this.h2;
    let h3 = this.h3;
    for (let i = -1; i <= text.length; i++) {
      const c = i < 0 || i === text.length ? QUOTE : text.charCodeAt(i);
      if (i >= 0 && i < text.length && (c < 0x20 || c === QUOTE || c === 0x5c || (c >= 0xd800 && c <= 0xdfff))) {
        this.feed(JSON.stringify(text));
        return;
      }
      // One FNV-1a step, as in feed().
      const a = h0 ^ c;
      const t0 = a * 0x1b3;
      const t1 = h1 * 0x1b3 + (t0 >>> 16);
      const t2 = h2 * 0x1b3 + (a << 8) + (t1 >>> 16);
      h3 = (h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16)) & 0xffff;
      h0 = t0 & 0xffff;
      h1 = t1 & 0xffff;
      h2 = t2 & 0xffff;
    }
    this.h0 = h0;
    this.h1 = h1;
    this.h2 = h2;
    this.h3 = h3;
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
    while (n >= INT32_LIMIT) {
      const q = Math.floor(n / 10);
      digits[count++] = ZERO + (n - q * 10);
      n = q;
    }
    let small = n | 0;
    do {
      const q = (small / 10) | 0;
      digits[count++] = ZERO + (small - q * 10);
      small = q;
    } while (small > 0);
    let h0 = this.h0;
    let h1 = this.h1;
    let h2 = this.h2;
    let h3 = this.h3;
    while (count > 0) {
      // One FNV-1a step, as in feed().
      const a = h0 ^ (digits[--count] as number);
      const t0 = a * 0x1b3;
      const t1 = h1 * 0x1b3 + (t0 >>> 16);
      const t2 = h2 * 0x1b3 + (a << 8) + (t1 >>> 16);
      h3 = (h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16)) & 0xffff;
      h0 = t0 & 0xffff;
      h1 = t1 & 0xffff;
      h2 = t2 & 0xffff;
    }
    this.h0 = h0;
    this.h1 = h1;
    this.h2 = h2;
    this.h3 = h3;
  }

  /**
   * FNV-1a over the UTF-16 code units of `text`. One step on the four 16-bit limbs:
   * h ^= unit; h *= 0x100000001b3 (mod 2^64). The prime is 2^40 + 0x1b3: 0x1b3 times every limb
   * plus the limbs moved up by 40 bits (limb i into limb i + 2, times 2^8), carries propagated,
   * the top limb truncated. Every intermediate is a small integer (below 2^31). The step is
   * written out in the three feeders rather than called, so that the limbs stay in registers.
   */
  private feed(text: string): void {
    let h0 = this.h0;
    let h1 = this.h1;
    let h2 = this.h2;
    let h3 = this.h3;
    for (let i = 0; i < text.length; i++) {
      const a = h0 ^ text.charCodeAt(i);
      const t0 = a * 0x1b3;
      const t1 = h1 * 0x1b3 + (t0 >>> 16);
      const t2 = h2 * 0x1b3 + (a << 8) + (t1 >>> 16);
      h3 = (h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16)) & 0xffff;
      h0 = t0 & 0xffff;
      h1 = t1 & 0xffff;
      h2 = t2 & 0xffff;
    }
    this.h0 = h0;
    this.h1 = h1;
    this.h2 = h2;
    this.h3 = h3;
  }
}

/** `Array.prototype.sort`'s default order on strings (UTF-16 code units), as a comparator. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
