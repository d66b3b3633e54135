import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Fingerprint } from "../../src/fabric/fingerprint.js";
import type { TimePs } from "../../src/fabric/time.js";
import type { TraceEvent } from "../../src/fabric/trace.js";

/** FNV-1a 64 over UTF-16 code units, with BigInt: the reference the two-halves code must match. */
function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

const event = (fields: Record<string, unknown>): TraceEvent => ({ t: 5 as TimePs, seq: 0, layer: "pci", kind: "tlp", ...fields }) as TraceEvent;

function hash(...events: TraceEvent[]): string {
  const f = new Fingerprint();
  for (const e of events) f.add(e);
  return f.hex();
}

describe("Fingerprint", () => {
  it("is FNV-1a 64 of the canonical encoding", () => {
    expect(hash(event({ b: 1, a: "x" }))).toBe(fnv1a64('5|0|pci|tlp|a="x"|b=1\n'));
    expect(new Fingerprint().hex()).toBe("cbf29ce484222325");
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        expect(hash(event({ s: text }))).toBe(fnv1a64(`5|0|pci|tlp|s=${JSON.stringify(text)}\n`));
      }),
    );
  });

  it("feeds numbers, booleans, null and nested values exactly as their canonical text (the digit and shape fast paths)", () => {
    const canonical = (value: unknown): string => {
      if (value === null || typeof value === "number" || typeof value === "boolean") return String(value);
      if (typeof value === "string") return JSON.stringify(value);
      if (Array.isArray(value)) return `[${value.map((v) => `${canonical(v)},`).join("")}]`;
      const record = value as Record<string, unknown>;
      return `{${Object.keys(record)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonical(record[k])},`)
        .join("")}}`;
    };
    const scalar = fc.oneof(fc.double(), fc.integer(), fc.maxSafeNat(), fc.constant(-0), fc.boolean(), fc.constant(null), fc.string({ unit: "binary" }));
    const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.string({ unit: "binary" }), scalar, { maxKeys: 3 }));
    fc.assert(
      fc.property(fc.maxSafeNat(), value, value, (t, a, b) => {
        const e = { ...event({ z: a, a: b }), t: t as TimePs };
        expect(hash(e, e)).toBe(fnv1a64(`${t}|0|pci|tlp|a=${canonical(b)}|z=${canonical(a)}\n`.repeat(2)));
      }),
    );
  });

  it("hashes events of one kind whose fields differ in name or order as their own canonical text (the per-shape cache)", () => {
    const events = [event({ a: 1, b: 2 }), event({ b: 2, a: 1 }), event({ a: 1 }), event({ a: 1, c: 3 }), event({ c: 3, a: 1 }), event({ a: 1, b: 2 })];
    const text = ["a=1|b=2", "a=1|b=2", "a=1", "a=1|c=3", "a=1|c=3", "a=1|b=2"].map((fields) => `5|0|pci|tlp|${fields}\n`).join("");
    expect(hash(...events)).toBe(fnv1a64(text));
  });

  it("does not depend on key order, at any depth", () => {
    expect(hash(event({ a: 1, b: { x: [1, "2"], y: null } }))).toBe(hash(event({ b: { y: null, x: [1, "2"] }, a: 1 })));
  });

  it("changes with any field, value type, time, order or count", () => {
    const base = hash(event({ a: 1 }), event({ a: 2 }));
    const variants = [
      hash(event({ a: 2 }), event({ a: 1 })),
      hash(event({ a: 1 })),
      hash(event({ a: "1" }), event({ a: 2 })),
      hash(event({ a: 1, b: true }), event({ a: 2 })),
      hash({ ...event({ a: 1 }), t: 6 as TimePs }, event({ a: 2 })),
      hash(event({ a: [1] }), event({ a: 2 })),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });
});
