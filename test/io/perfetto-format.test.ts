import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FlowTable } from "../../src/io/perfetto-flows.js";
import { type ChromeTraceEvent, durUs, psToUs, validateChromeTrace } from "../../src/io/perfetto-format.js";
import { TrackTable } from "../../src/io/perfetto-tracks.js";

const x = (ts: number, dur: number, tid = 1): ChromeTraceEvent => ({ name: "x", ph: "X", ts, dur, pid: 1, tid });
const doc = (...traceEvents: unknown[]) => ({ traceEvents });

describe("validateChromeTrace: the format's rules", () => {
  it("accepts a document that keeps every rule", () => {
    expect(
      validateChromeTrace(
        doc(
          { name: "process_name", ph: "M", ts: 0, pid: 1, tid: 0, args: { name: "links" } },
          { name: "thread_sort_index", ph: "M", ts: 0, pid: 1, tid: 1, args: { sort_index: 0 } },
          x(0, 10),
          x(2, 3),
          x(10, 0),
          { name: "b", ph: "B", ts: 1, pid: 1, tid: 2 },
          { name: "b", ph: "E", ts: 4, pid: 1, tid: 2 },
          { name: "a", ph: "s", id: 7, ts: 2, pid: 1, tid: 1 },
          { name: "a", ph: "f", bp: "e", id: 7, ts: 2, pid: 1, tid: 2 },
          { name: "c", ph: "C", ts: 0, pid: 1, tid: 0, args: { percent: 12.5, data: 3 } },
          { name: "v", ph: "i", s: "g", ts: 5, pid: 1, tid: 3, args: { message: "m" } },
        ),
      ),
    ).toEqual([]);
  });

  it("names each broken rule with the event that breaks it", () => {
    const cases: Array<[string, unknown, string[]]> = [
      ["no array", { events: [] }, ["the document has no traceEvents array"]],
      ["missing ts", doc({ name: "x", ph: "X", dur: 1, pid: 1, tid: 1 }), ["event 0 (x): ts is not a number"]],
      ["unknown phase", doc({ name: "x", ph: "Q", ts: 0, pid: 1, tid: 1 }), ["event 0 (x): unknown phase Q"]],
      ["X without dur", doc({ name: "x", ph: "X", ts: 0, pid: 1, tid: 1 }), ["event 0 (x): X without a non-negative dur"]],
      [
        "M without args",
        doc({ name: "thread_name", ph: "M", ts: 0, pid: 1, tid: 1 }),
        ["event 0 (thread_name): metadata without args.name or args.sort_index"],
      ],
      ["E without B", doc({ name: "e", ph: "E", ts: 0, pid: 1, tid: 1 }), ["event 0 (e): E without a B on 1/1"]],
      ["B without E", doc({ name: "b", ph: "B", ts: 0, pid: 1, tid: 1 }), ["1 B without E on 1/1"]],
      ["E before B", doc({ name: "b", ph: "B", ts: 5, pid: 1, tid: 1 }, { name: "e", ph: "E", ts: 4, pid: 1, tid: 1 }), ["event 1 (e): E before its B on 1/1"]],
      ["flow without finish", doc({ name: "a", ph: "s", id: 1, ts: 0, pid: 1, tid: 1 }), ["flow 1: 1 starts and 0 finishes (want one each)"]],
      [
        "flow with two finishes",
        doc(
          { name: "a", ph: "s", id: 1, ts: 0, pid: 1, tid: 1 },
          { name: "a", ph: "f", id: 1, ts: 1, pid: 1, tid: 1 },
          { name: "a", ph: "f", id: 1, ts: 2, pid: 1, tid: 1 },
        ),
        ["flow 1: 1 starts and 2 finishes (want one each)"],
      ],
      [
        "flow backwards",
        doc({ name: "a", ph: "s", id: 2, ts: 5, pid: 1, tid: 1 }, { name: "a", ph: "f", id: 2, ts: 4, pid: 1, tid: 1 }),
        ["flow 2: finishes before it starts"],
      ],
      ["flow without id", doc({ name: "a", ph: "s", ts: 0, pid: 1, tid: 1 }), ["event 0 (a): flow event without a numeric id"]],
      ["counter not numeric", doc({ name: "c", ph: "C", ts: 0, pid: 1, tid: 0, args: { v: "1" } }), ["event 0 (c): counter args are not all numbers"]],
      ["overlap without nesting", doc(x(0, 10), x(5, 10)), ["event 1 overlaps event 0 on 1/1 without nesting"]],
    ];
    for (const [what, document, problems] of cases) expect(validateChromeTrace(document), what).toEqual(problems);
  });

  it("lets slices of different threads overlap, and touching slices (µs from ps) follow each other", () => {
    expect(validateChromeTrace(doc(x(0, 10, 1), x(5, 10, 2)))).toEqual([]);
    // 0.1 + 0.2 µs is not 0.3 in binary: the validator allows that much.
    expect(validateChromeTrace(doc(x(psToUs(100_000), psToUs(200_000)), x(psToUs(300_000), psToUs(1))))).toEqual([]);
  });
});

describe("TrackTable: lanes and metadata", () => {
  it("puts overlapping slices on lanes, nested ones on the same lane, and names lanes under their track", () => {
    const tracks = new TrackTable();
    const add = (startPs: number, endPs: number) =>
      tracks.slice({ group: "NIC", track: "nic0/cq#0", name: `${startPs}`, cat: "dma", startPs, endPs, args: {} });
    add(0, 100);
    add(10, 20); // nested in the first
    add(50, 150); // overlaps the first: a second lane
    add(100, 120); // after the first ended: the first lane again
    const events = tracks.layout();
    const laneOf = Object.fromEntries(events.map((e) => [e.name, tracks.tracks().find((t) => t.tid === e.tid)?.name]));
    expect(laneOf).toEqual({ "0": "nic0/cq#0", "10": "nic0/cq#0", "50": "nic0/cq#0 [2]", "100": "nic0/cq#0" });
    expect(validateChromeTrace({ traceEvents: [...tracks.metadata(), ...events] })).toEqual([]);
    expect(events[0]?.args).toEqual({ ps: 0, durPs: 100 });
  });

  it("keeps the first N slices of a track and counts the rest", () => {
    const tracks = new TrackTable(2);
    const kept = [0, 1, 2, 3].map((i) => tracks.slice({ group: "links", track: "a→b", name: "t", cat: "tlp", startPs: i * 10, endPs: i * 10 + 5, args: {} }));
    expect(kept.map((k) => k !== undefined)).toEqual([true, true, false, false]);
    expect(Object.fromEntries(tracks.dropped)).toEqual({ "links/a→b": 2 });
  });

  it("flows: one s and one f per arrow, and none when an end was capped away", () => {
    const tracks = new TrackTable(1);
    const a = tracks.slice({ group: "NIC", track: "q", name: "a", cat: "c", startPs: 0, endPs: 5, args: {} });
    const b = tracks.slice({ group: "NIC", track: "r", name: "b", cat: "c", startPs: 3, endPs: 9, args: {} });
    const capped = tracks.slice({ group: "NIC", track: "r", name: "c", cat: "c", startPs: 10, endPs: 11, args: {} });
    const flows = new FlowTable();
    flows.link("a → b", "c", a, b);
    flows.link("a → c", "c", a, capped);
    const slices = tracks.layout();
    const events = flows.events();
    expect(events.map((e) => [e.ph, e.id, e.ts])).toEqual([
      ["s", 1, psToUs(0)],
      ["f", 1, psToUs(3)],
    ]);
    expect(flows.dropped).toBe(1);
    expect(validateChromeTrace({ traceEvents: [...tracks.metadata(), ...slices, ...events] })).toEqual([]);
  });
});

describe("the time grid", () => {
  // What a viewer does: Perfetto truncates ts * 1000 and dur * 1000 to integer ns; speedscope and
  // chrome://tracing add the doubles.
  const ns = (us: number) => Math.trunc(us * 1000);

  it("keeps back-to-back slices (a busy wire, fractional ps) disjoint in both readings, for runs up to a second", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e12, noNaN: true }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        (a, len1, len2) => {
          const b = a + len1;
          const c = b + len2;
          const [ts1, dur1, ts2] = [psToUs(a), durUs(a, b), psToUs(b)];
          expect(ts1 + dur1).toBeLessThanOrEqual(ts2);
          expect(ns(ts1) + ns(dur1)).toBeLessThanOrEqual(ns(ts2));
          // The ns a viewer reads is the whole ns of the time to the nearest ps, and a slice never ends before it starts.
          expect(ns(ts1)).toBe(Math.floor(Math.round(a) / 1000));
          expect(durUs(b, c)).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });

  it("keeps a slice inside its parent when read either way (a zero-length mark may touch the parent's end)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e12 }),
        fc.integer({ min: 0, max: 1e7 }),
        fc.integer({ min: 0, max: 1e7 }),
        fc.integer({ min: 0, max: 1e7 }),
        (p0, pre, len, post) => {
          const [c0, c1, p1] = [p0 + pre, p0 + pre + len, p0 + pre + len + post];
          fc.pre(c1 > c0);
          expect(psToUs(c0)).toBeGreaterThanOrEqual(psToUs(p0));
          // Two sums of doubles may leave a shared end an ulp apart: allow a hundredth of a ps.
          expect(psToUs(c0) + durUs(c0, c1)).toBeLessThanOrEqual(psToUs(p0) + durUs(p0, p1) + 1e-8);
          expect(ns(psToUs(c0)) + ns(durUs(c0, c1))).toBeLessThanOrEqual(ns(psToUs(p0)) + ns(durUs(p0, p1)) + 1);
        },
      ),
    );
  });
});
