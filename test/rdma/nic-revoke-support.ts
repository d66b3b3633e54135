/**
 * Test support of the NIC revoke and mutant tests: the RDMA-write world streaming 16 KiB WRITEs
 * into gpu0's BAR1 with a revoke triggered at a chosen moment of the stream, the story of a run
 * as short "kind detail" lines, and the I1/I22 check (what reached the BAR after the revoke
 * returned) [kernel.md §f].
 */
import type { TraceEvent } from "../../src/fabric/trace.js";
import { startRdmaWriteStream } from "../../src/scenario/rdma-write-stream.js";
import { type NicWorldOptions, nicWorld } from "./nic-world.js";

/** The route name of the export's BAR, as `pci/tlp` names its target. */
export const BAR = "gpu0 BAR1";
/** What {@link nicWorld} builds. */
export type World = ReturnType<typeof nicWorld>;

/** The stream: `count` WRITEs of 16 KiB; `depth` WRs outstanding at most (undefined: the stream's default, the SQ depth). */
export interface StreamShape {
  readonly count?: number;
  readonly depth?: number;
}

/**
 * When the revoke starts: 1 ps after WRITE `wrId`'s data writes (`data.write`) or its CQE write
 * (`cqe.write`) were issued, so that they are in flight. The trace events of both are emitted at
 * landing with the issue time in `issuedPs`, so the time is learned from a first run of the same
 * deterministic world without the revoke.
 */
export interface Moment {
  readonly kind: "data.write" | "cqe.write";
  readonly wrId: number;
}

/** The world with its stream started (the send CQ must exist). */
function streaming(options: NicWorldOptions, shape: StreamShape) {
  const w = nicWorld({ tlpEvents: true, ...options });
  if (!w.sendCqResult.ok) throw new Error(`send CQ: ${w.sendCqResult.errno}`);
  const cq = w.sendCqResult.value;
  const { a } = w.connect(cq);
  const depth = shape.depth === undefined ? {} : { depth: shape.depth };
  const stream = startRdmaWriteStream(w, a, w.nic.cq(cq), { count: shape.count ?? 8, bytes: 16384, batch: shape.depth === 1 ? 1 : 16, ...depth });
  return { w, cq, a, stream };
}

/** The issue time of `moment` in the world without a revoke. */
function issuedPs(options: NicWorldOptions, shape: StreamShape, moment: Moment): number {
  const probe = streaming(options, shape);
  probe.w.run();
  const event = probe.w.trace.events.find((e) => e.layer === "rdma" && e.kind === moment.kind && e.wrId === moment.wrId);
  if (event === undefined) throw new Error(`no ${moment.kind} of WRITE ${moment.wrId}`);
  return event.issuedPs as number;
}

/**
 * The world with its stream, and `revoke(w)` run at `moment` (1 ps after the issue).
 * `since()`: the trace from the revoke's time on.
 */
export function scenario(options: NicWorldOptions, moment: Moment, revoke: (w: World) => void, shape: StreamShape = { depth: 1 }) {
  const at = issuedPs(options, shape, moment) + 1;
  const s = streaming(options, shape);
  s.w.engine.scheduleAt(at, () => revoke(s.w));
  return { ...s, at, since: () => s.w.trace.events.filter((e) => e.t >= at) };
}

/** A revoke trigger: Memory Space Enable cleared (the exporter revokes, then the BAR refuses UR). */
export const memOff = (w: World) => void w.gpu0.writeCommandMemory(false);
/** The moment WRITE `wrId`'s data writes are in flight. */
export const dataIssued = (wrId: number): Moment => ({ kind: "data.write", wrId });
/** The moment WRITE `wrId`'s CQE write is in flight. */
export const cqeIssued = (wrId: number): Moment => ({ kind: "cqe.write", wrId });

const STORY = new Set([
  "revoke.begin",
  "revoke.marked",
  "revoke.fences-signaled",
  "revoke.done",
  "mr.zap",
  "mr.fault",
  "mr.fault.failed",
  "mr.invalidate.ignored",
  "driver.drain",
  "driver.drained",
  "driver.drain.skipped",
  "driver.revoke.ignored",
  "umem.revoke.callback",
  "umem.map",
  "umem.unmap",
  "umem.revoke",
  "fence.add",
  "data.write",
  "cqe.write",
  "wqe.failed",
  "qp.error",
  "async.event",
  "command.write",
  "restore",
  "cleanup",
]);

/**
 * The events that tell the story, in order, as "kind detail" (no times: the order is the claim).
 * `data.write` and `cqe.write` are emitted when the write is done, with its outcome last.
 */
export function story(events: readonly TraceEvent[]): string[] {
  return events
    .filter((e) => STORY.has(e.kind))
    .map((e) => {
      const detail = [e.mr, e.umem, e.fence, e.usage, e.wrId, e.status, e.outcome, e.type, e.syndrome || undefined, e.memory, e.inFlight, e.fatal]
        .filter((v) => v !== undefined)
        .join(" ");
      const kind = `${e.layer}/${e.kind}`;
      return detail === "" ? kind : `${kind} ${detail}`;
    });
}

/**
 * I1's and I22's check: what nic0 got into the BAR after the revoke returned and before a restore.
 * `from` ("layer/kind"): the event the revoke returned at — the exporter's revoke.done; for a close
 * the vfio cleanup; for one pinned-revocable umem its `rdma/umem.revoke` (the callback returned and
 * the umem is unmapped). `tlps`: nic0's TLPs that reached the BAR (at their `atPs`), `ur` of them
 * refused; `data` and `cqes`: the data and CQE writes into the BAR that ended in that window, as
 * "wrId outcome".
 */
export function afterRevokeDone(w: World, from = "dmabuf/revoke.done") {
  const done = w.trace.events.find((e) => `${e.layer}/${e.kind}` === from);
  const t = done?.t ?? Number.POSITIVE_INFINITY;
  const end = w.trace.events.find((e) => e.layer === "vfio" && e.kind === "restore")?.t ?? Number.POSITIVE_INFINITY;
  const inWindow = (at: number) => at > t && at < end;
  const inBar = (address: number) => w.bus.routeOf(w.device.fn, address).targetName === BAR;
  const late = w.trace.events.filter((e) => e.layer === "pci" && e.kind === "tlp" && e.requester === "nic0" && e.target === BAR && inWindow(e.atPs as number));
  const writes = (kind: string) =>
    w.trace.events.filter((e) => e.layer === "rdma" && e.kind === kind && inBar(e.address as number) && inWindow(e.t)).map((e) => `${e.wrId} ${e.outcome}`);
  return {
    done: done !== undefined,
    tlps: late.length,
    ur: late.filter((e) => e.status === "UR").length,
    data: writes("data.write"),
    cqes: writes("cqe.write"),
  };
}

/** `line(i)` for every i of [from, to]: the expected lines of a run of WRs. */
export function each(from: number, to: number, line: (i: number) => string): string[] {
  return Array.from({ length: to - from + 1 }, (_, k) => line(from + k));
}

/** The completions the stream reaped, as "wrId status". */
export function reaped(stream: { reaped: () => readonly { wrId: number; status: string }[] }): string[] {
  return stream.reaped().map((wc) => `${wc.wrId} ${wc.status}`);
}
