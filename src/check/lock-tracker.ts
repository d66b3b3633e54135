/**
 * Who holds which lock, read from the trace, for the export monitors (I4, I6, I7, I8, I13): each
 * device's `memory_lock` (writer and readers, from `vfio/memory_lock.*`), each dma-buf's resv
 * (holder, from `dmabuf/resv.lock` / `resv.unlock`), the resv locks each holder has, and which
 * dma-bufs are VFIO exports of which device [kernel.md §c.3, §c.5].
 *
 * A VFIO export is recognised without any field of its own: `VfioPciDevice` takes the registration
 * reference (`vfio/registration.get`) and then calls `dma_buf_export` (`dmabuf/export`) in the same
 * synchronous step, so the next `dmabuf/export` after a `registration.get` is that device's export.
 *
 * Every map lookup is keyed by a name, so each event costs O(1) (a holder's resv set is small).
 */
import type { TraceEvent } from "../fabric/trace.js";
import { strField as str } from "./export-support.js";

/** A lock held, with the event that took it (for causal chains). */
export interface Held {
  readonly holder: string;
  readonly event: TraceEvent;
}

/** Lock and export state of one run, as far as the trace shows it. */
export class LockTracker {
  private readonly memWriter = new Map<string, Held>();
  private readonly memReaders = new Map<string, Map<string, TraceEvent>>();
  private readonly resv = new Map<string, Held>();
  private readonly resvByHolder = new Map<string, Map<string, TraceEvent>>();
  private readonly vfioDevice = new Map<string, string>();
  private exporting: string | undefined;

  /** The writer of `device`'s memory_lock, or undefined. */
  memoryWriter(device: string): Held | undefined {
    return this.memWriter.get(device);
  }

  /** Whether `device`'s memory_lock is held for read or write. */
  memoryHeld(device: string): boolean {
    return this.memWriter.has(device) || (this.memReaders.get(device)?.size ?? 0) > 0;
  }

  /** The holder of `buf`'s resv, or undefined. */
  resvHolder(buf: string): Held | undefined {
    return this.resv.get(buf);
  }

  /** The resv locks `holder` has now: dma-buf name → the `resv.lock` event. */
  resvHeldBy(holder: string): ReadonlyMap<string, TraceEvent> {
    return this.resvByHolder.get(holder) ?? EMPTY;
  }

  /** The device whose VFIO export `buf` is, or undefined for another exporter's dma-buf. */
  deviceOf(buf: string): string | undefined {
    return this.vfioDevice.get(buf);
  }

  /**
   * Applies one event. Call it after the monitor's own checks, which see the state before the event.
   * A release the trace does not match (unlock of a lock not held) just clears what is there: the
   * model asserts its own lock discipline; monitors only read it.
   */
  observe(event: TraceEvent): void {
    if (event.layer === "vfio") this.observeVfio(event);
    else if (event.layer === "dmabuf") this.observeDmabuf(event);
  }

  private observeVfio(event: TraceEvent): void {
    const device = str(event, "device");
    const holder = str(event, "holder");
    switch (event.kind) {
      case "registration.get":
        this.exporting = device;
        return;
      case "memory_lock.down_write":
        if (device !== undefined && holder !== undefined) this.memWriter.set(device, { holder, event });
        return;
      case "memory_lock.up_write":
        if (device !== undefined) this.memWriter.delete(device);
        return;
      case "memory_lock.down_read":
        if (device !== undefined && holder !== undefined) readersOf(this.memReaders, device).set(holder, event);
        return;
      case "memory_lock.up_read":
        if (device !== undefined && holder !== undefined) this.memReaders.get(device)?.delete(holder);
        return;
    }
  }

  private observeDmabuf(event: TraceEvent): void {
    const buf = str(event, "buf");
    if (buf === undefined) return;
    if (event.kind === "export") {
      if (this.exporting !== undefined) this.vfioDevice.set(buf, this.exporting);
      this.exporting = undefined;
      return;
    }
    const holder = str(event, "holder");
    if (holder === undefined) return;
    if (event.kind === "resv.lock") {
      this.resv.set(buf, { holder, event });
      readersOf(this.resvByHolder, holder).set(buf, event);
    } else if (event.kind === "resv.unlock") {
      this.resv.delete(buf);
      const held = this.resvByHolder.get(holder);
      held?.delete(buf);
      if (held?.size === 0) this.resvByHolder.delete(holder);
    }
  }
}

const EMPTY: ReadonlyMap<string, TraceEvent> = new Map();

function readersOf(map: Map<string, Map<string, TraceEvent>>, key: string): Map<string, TraceEvent> {
  let inner = map.get(key);
  if (inner === undefined) {
    inner = new Map();
    map.set(key, inner);
  }
  return inner;
}
