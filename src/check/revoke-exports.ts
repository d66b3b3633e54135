/**
 * What the revoke monitors (I1, I2, I5, L4) know about each VFIO export, read from the trace
 * [kernel.md §c.3, §c.4]: its device, BAR and ranges (BAR offsets, from `vfio/export`), whether it
 * is revoked now and which event made it so, whether it is still on its device's list.
 *
 * | event                      | effect                                                              |
 * |----------------------------|---------------------------------------------------------------------|
 * | `vfio/export`              | a new export, linked, `revoked` as the event says (I7's initial state) |
 * | `vfio/revoke`              | remembered as the export's latest revoke (for causal chains)        |
 * | `dmabuf/revoke.marked`     | revoked (the flag is written under resv inside the revoke, §b.3)    |
 * | `vfio/restore`             | usable again                                                        |
 * | `vfio/cleanup`             | unlinked; revoked for good once the closer takes the resv (below)   |
 * | `vfio/release.unlink`      | unlinked                                                            |
 * | `dmabuf/release`           | forgotten (the name may come back only as a new export)             |
 *
 * Close's cleanup sets `revoked` inside its resv section, which may start later than the
 * `vfio/cleanup` event when an importer holds the resv: the closer is the writer of the device's
 * memory_lock, and its next `dmabuf/resv.lock` of that buffer is the moment.
 *
 * Every lookup is by name, so each event costs O(1) plus the exports of one device or BAR.
 */
import type { TraceEvent } from "../fabric/trace.js";
import { boolField, numField, strField } from "./export-support.js";

/** One exported range: an offset in the BAR and a length, in bytes. */
export interface BarRange {
  readonly offset: number;
  readonly length: number;
}

/** One VFIO export as the trace shows it. */
export interface ExportState {
  readonly buf: string;
  readonly device: string;
  readonly bar: number;
  /** The BAR as `pci/tlp` names its target: `gpu0 BAR1`. */
  readonly target: string;
  /** The exported ranges; empty when the `vfio/export` event carries none (an older trace). */
  readonly ranges: readonly BarRange[];
  readonly exported: TraceEvent;
  revoked: boolean;
  /** The event that last set `revoked` either way: the export, a `revoke.marked`, a restore, a cleanup. */
  stateBy: TraceEvent;
  /** The latest `vfio/revoke` of this export, if any. */
  lastRevoke: TraceEvent | undefined;
  /** On the device's list (`dmabufs_elm` linked). */
  linked: boolean;
  /** Revoked for good by close [§c.4 last row]. */
  permanent: boolean;
}

/** Whether `[offset, offset + bytes)` meets one of `ranges`. */
export function overlapsRanges(ranges: readonly BarRange[], offset: number, bytes: number): boolean {
  const end = offset + Math.max(bytes, 1);
  return ranges.some((r) => offset < r.offset + r.length && r.offset < end);
}

/** The `ranges` field of a `vfio/export` event, tolerating its absence. */
function rangesOf(event: TraceEvent): BarRange[] {
  const value = event.ranges;
  if (!Array.isArray(value)) return [];
  const out: BarRange[] = [];
  for (const item of value as readonly unknown[]) {
    const range = item as { offset?: unknown; length?: unknown } | null;
    if (typeof range?.offset === "number" && typeof range.length === "number") out.push({ offset: range.offset, length: range.length });
  }
  return out;
}

/** The VFIO exports of one run. Feed it every event with {@link ExportTable.observe}, after the monitor's own checks. */
export class ExportTable {
  private readonly byBuf = new Map<string, ExportState>();
  private readonly byDevice = new Map<string, Set<ExportState>>();
  private readonly byTarget = new Map<string, Set<ExportState>>();
  private readonly memWriter = new Map<string, string>();
  /** Buffer → the closer whose next resv section of it revokes it for good. */
  private readonly closing = new Map<string, { holder: string; event: TraceEvent }>();

  /** The export named `buf`, or undefined for another exporter's dma-buf. */
  get(buf: string): ExportState | undefined {
    return this.byBuf.get(buf);
  }

  /** The live exports of `device` (linked or not). */
  ofDevice(device: string): Iterable<ExportState> {
    return this.byDevice.get(device) ?? NONE;
  }

  /** The live exports of the BAR `target` (`gpu0 BAR1`). */
  ofTarget(target: string): Iterable<ExportState> {
    return this.byTarget.get(target) ?? NONE;
  }

  /** Applies one event. */
  observe(event: TraceEvent): void {
    if (event.layer === "vfio") this.observeVfio(event);
    else if (event.layer === "dmabuf") this.observeDmabuf(event);
  }

  private observeVfio(event: TraceEvent): void {
    const device = strField(event, "device");
    if (device === undefined) return;
    const buf = strField(event, "buf");
    const state = buf === undefined ? undefined : this.byBuf.get(buf);
    switch (event.kind) {
      case "export":
        if (buf !== undefined) this.add(event, device, buf);
        return;
      case "memory_lock.down_write": {
        const holder = strField(event, "holder");
        if (holder !== undefined) this.memWriter.set(device, holder);
        return;
      }
      case "memory_lock.up_write":
        this.memWriter.delete(device);
        return;
      case "revoke":
        if (state !== undefined) state.lastRevoke = event;
        return;
      case "restore":
        if (state !== undefined && !state.permanent) {
          state.revoked = false;
          state.stateBy = event;
        }
        return;
      case "cleanup": {
        if (state === undefined) return;
        state.linked = false;
        const holder = this.memWriter.get(device);
        if (holder !== undefined && buf !== undefined) this.closing.set(buf, { holder, event });
        return;
      }
      case "release.unlink":
        if (state !== undefined) state.linked = false;
        return;
      default:
        return;
    }
  }

  private observeDmabuf(event: TraceEvent): void {
    const buf = strField(event, "buf");
    const state = buf === undefined ? undefined : this.byBuf.get(buf);
    if (buf === undefined || state === undefined) return;
    switch (event.kind) {
      case "revoke.marked":
        state.revoked = true;
        state.stateBy = event;
        return;
      case "resv.lock": {
        const closing = this.closing.get(buf);
        if (closing === undefined || closing.holder !== strField(event, "holder")) return;
        this.closing.delete(buf);
        state.revoked = true;
        state.permanent = true;
        state.stateBy = closing.event;
        return;
      }
      case "release":
        this.remove(state);
        return;
      default:
        return;
    }
  }

  private add(event: TraceEvent, device: string, buf: string): void {
    const bar = numField(event, "bar") ?? -1;
    const state: ExportState = {
      buf,
      device,
      bar,
      target: `${device} BAR${bar}`,
      ranges: rangesOf(event),
      exported: event,
      revoked: boolField(event, "revoked") === true,
      stateBy: event,
      lastRevoke: undefined,
      linked: true,
      permanent: false,
    };
    const old = this.byBuf.get(buf);
    if (old !== undefined) this.remove(old);
    this.byBuf.set(buf, state);
    setOf(this.byDevice, device).add(state);
    setOf(this.byTarget, state.target).add(state);
  }

  private remove(state: ExportState): void {
    this.byBuf.delete(state.buf);
    this.byDevice.get(state.device)?.delete(state);
    this.byTarget.get(state.target)?.delete(state);
    this.closing.delete(state.buf);
  }
}

const NONE: ReadonlySet<ExportState> = new Set();

function setOf(map: Map<string, Set<ExportState>>, key: string): Set<ExportState> {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}
