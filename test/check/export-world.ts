/**
 * Test support for the export monitors: a vfio world (test/vfio/world.ts) whose engine feeds the
 * given monitors from the first event, a correct run that exercises every export path (export,
 * attach, map, MEM clear and set, FLR, a second export, fd close, device close), and helpers to
 * read a violation as plain data.
 */

import type { Monitor, Violation } from "../../src/check/monitor.js";
import { dmaBufDetach } from "../../src/dmabuf/attachment.js";
import { dmaBufUnmapAttachment } from "../../src/dmabuf/map.js";
import { us } from "../../src/fabric/time.js";
import type { TraceEvent } from "../../src/fabric/trace.js";
import type { VfioOptions } from "../../src/vfio/profiles.js";
import { exportFd, fn, lateImporter, vfioWorld } from "../vfio/world.js";

/** A vfio world with `monitors` subscribed before anything happens; violations collected in order. */
export function monitoredWorld(monitors: readonly Monitor[], fdsMax = 1024) {
  const w = vfioWorld(undefined, fdsMax);
  const violations: Violation[] = [];
  w.engine.trace.subscribe((event) => {
    for (const monitor of monitors) {
      const found = monitor.observe(event);
      if (found !== undefined) violations.push(found);
    }
  });
  return { ...w, violations };
}

/**
 * The correct model end to end: gpu0 exports BAR1, nic0 attaches (dynamic, revocable) and maps;
 * MEM clear at 1 µs (revoke, nic0 unmaps 8 µs after the invalidate), MEM set at 20 µs (restore),
 * nic0 re-maps; an FLR at 30 µs; a second export of BAR3 whose fd is closed; nic0 unmaps and
 * detaches; the device closes at 200 µs (cleanup), then the first fd is closed (release).
 * @returns the world, run until quiet.
 */
export function correctRun(monitors: readonly Monitor[], options: VfioOptions = {}) {
  const w = monitoredWorld(monitors);
  const gpu0 = w.device("gpu0", { resetDurationPs: us(20), ...options });
  gpu0.open();
  const first = exportFd(gpu0);
  const importer = lateImporter(w.engine, first.buf, fn(w.topology, "nic0"), us(8));
  w.engine.scheduleAt(us(1), () => void gpu0.writeCommandMemory(false));
  w.engine.scheduleAt(us(20), () => void gpu0.writeCommandMemory(true));
  w.engine.scheduleAt(us(25), () => {
    if (!importer.map().ok) throw new Error("re-map after restore failed");
  });
  w.engine.scheduleAt(us(30), () => void gpu0.writeDevCtlFlr());
  w.engine.scheduleAt(us(100), () => {
    const second = exportFd(gpu0, 3);
    w.fdTable.close(second.fd);
    const holder = importer.attach.importer.id;
    first.buf.resv.lock(holder);
    for (const sgt of [...importer.attach.sgts]) dmaBufUnmapAttachment(importer.attach, sgt);
    first.buf.resv.unlock(holder);
    dmaBufDetach(importer.attach);
  });
  w.engine.scheduleAt(us(200), () => void gpu0.close());
  w.engine.scheduleAt(us(300), () => w.fdTable.close(first.fd));
  const status = w.engine.runUntilQuiet({ eventsMax: 10_000 }).status;
  return { ...w, gpu0, status };
}

/** `layer/kind` of each event. */
export function kinds(events: readonly TraceEvent[]): string[] {
  return events.map((e) => `${e.layer}/${e.kind}`);
}

/** A violation as `{ invariant, message, event, chain }` with kinds instead of events. */
export function summary(violation: Violation | undefined) {
  if (violation === undefined) return undefined;
  return {
    invariant: violation.invariant,
    message: violation.message,
    event: violation.event === undefined ? undefined : `${violation.event.layer}/${violation.event.kind}`,
    chain: kinds(violation.chain),
  };
}

/** A hand-written event at `t` ps; {@link feed} numbers it by its position. */
export function ev(layer: string, kind: string, fields: Record<string, string | number | boolean | null | object> = {}, t = 0): TraceEvent {
  return { t, seq: -1, layer, kind, ...fields } as TraceEvent;
}

/** Feeds `events` to `monitor`, with `seq` = position, and returns every violation. */
export function feed(monitor: Monitor, events: readonly TraceEvent[]): Violation[] {
  const out: Violation[] = [];
  for (const [seq, event] of events.entries()) {
    const found = monitor.observe({ ...event, seq });
    if (found !== undefined) out.push(found);
  }
  return out;
}
