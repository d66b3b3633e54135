/**
 * The run's trace events, as the Perfetto trace draws them: a trace sink that turns them into
 * slices and arrows on the VFIO, NIC and IOMMU tracks.
 *
 * - a VFIO device's track (`gpu0`): each revoke window of its dma-bufs (`dmabuf/revoke.begin` →
 *   `revoke.done`), each reset (`vfio/reset.begin` → `reset.end`, and hot resets), marks for
 *   `vfio/revoke` and `vfio/restore`; requests its BARs answered with UR on `gpu0 UR`;
 * - a NIC's tracks: per QP (`nic0/qp#0`) the WQE fetch (doorbell → fetch done) and the RDMA data
 *   writes it serves as responder (issue → done), per CQ each CQE write (issue → done), and
 *   `nic0/driver` for the importer's side of a revoke: invalidations, unmaps, drains;
 * - the IOMMU's `faults` track.
 *
 * Arrows: a WQE fetch to the data write and the CQE of each of its WQEs; a revoke to every
 * invalidation, unmap and drain of its buffer while it was open.
 */
import type { TraceEvent } from "../fabric/trace.js";
import type { FlowTable } from "./perfetto-flows.js";
import type { PendingSlice, TrackGroup, TrackTable } from "./perfetto-tracks.js";

/** A revoke that has begun and not yet returned, with what it caused so far. */
interface OpenRevoke {
  readonly startPs: number;
  readonly profile: string;
  readonly caused: PendingSlice[];
  /** Its slice, once it has returned (drains that end later link to it then). */
  slice?: PendingSlice | undefined;
}

/** A WQE fetch and the WQEs it brought in. */
interface Fetch {
  readonly qp: string;
  readonly first: number;
  readonly count: number;
  readonly slice: PendingSlice | undefined;
  readonly written: Set<number>;
}

/** The owner of an object name (`nic0/qp#0` → `nic0`, `gpu0/bar1#0` → `gpu0`). */
function ownerOf(name: string): string {
  return name.split("/")[0] ?? name;
}

const str = (e: TraceEvent, field: string): string => String(e[field]);
const num = (e: TraceEvent, field: string): number => Number(e[field]);

/** The sink side of the Perfetto writer. */
export class EventTimeline {
  private readonly revokes = new Map<string, OpenRevoke>();
  private readonly resets = new Map<string, { startPs: number; name: string }>();
  private readonly posts = new Map<string, Array<{ first: number; count: number; atPs: number }>>();
  private readonly fetches: Fetch[] = [];
  private readonly drains = new Map<string, { startPs: number; umem: string; inFlight: number; revoke: OpenRevoke | undefined }>();
  private readonly umemBuf = new Map<string, string>();
  private lastPs = 0;

  /** @param offsetPs added to every time. */
  constructor(
    private readonly tracks: TrackTable,
    private readonly flows: FlowTable,
    private readonly offsetPs = 0,
  ) {}

  /** The trace sink. */
  observe(e: TraceEvent): void {
    const t = this.offsetPs + e.t;
    this.lastPs = t;
    const key = `${e.layer}/${e.kind}`;
    switch (key) {
      case "dmabuf/revoke.begin":
        this.revokes.set(str(e, "buf"), { startPs: t, profile: str(e, "profile"), caused: [] });
        break;
      case "dmabuf/revoke.done":
        this.closeRevoke(str(e, "buf"), t, `${num(e, "invalidated")} importers invalidated`);
        break;
      case "vfio/reset.begin":
        this.resets.set(str(e, "device"), { startPs: t, name: `reset (${str(e, "method")})` });
        break;
      case "vfio/reset.end":
        this.closeReset(str(e, "device"), t);
        break;
      case "vfio/hot-reset.begin":
        for (const d of e.devices as string[]) this.resets.set(d, { startPs: t, name: "hot reset" });
        break;
      case "vfio/hot-reset.done":
        for (const d of e.devices as string[]) this.closeReset(d, t);
        break;
      case "vfio/revoke":
      case "vfio/restore":
        this.mark("VFIO devices", str(e, "device"), `vfio ${e.kind}`, "vfio", t, { buf: str(e, "buf") });
        break;
      case "pci/tlp.ur":
        this.mark("VFIO devices", `${str(e, "target").split(" ")[0]} UR`, `${str(e, "tlp")} from ${str(e, "requester")}: UR`, "pci", t, {
          target: str(e, "target"),
          reason: str(e, "reason"),
          address: `0x${num(e, "address").toString(16)}`,
        });
        break;
      case "pci/iommu.fault":
        this.mark("IOMMU", "faults", `${str(e, "tlp")} from ${str(e, "requester")}: ${str(e, "fault")}`, "iommu", t, {
          iova: `0x${num(e, "iova").toString(16)}`,
        });
        break;
      case "rdma/umem.map":
      case "rdma/umem.invalidate":
      case "rdma/umem.unmap":
        this.umemBuf.set(str(e, "umem"), str(e, "buf"));
        if (e.kind !== "umem.map")
          this.caused(str(e, "buf"), this.mark("NIC", `${ownerOf(str(e, "umem"))}/driver`, `${e.kind} ${str(e, "umem")}`, "rdma", t, {}));
        break;
      case "dmabuf/invalidate":
      case "dmabuf/unmap":
        this.caused(
          str(e, "buf"),
          this.mark("NIC", `${str(e, "importer")}/driver`, `dma-buf ${e.kind} (attach ${num(e, "attach")})`, "dmabuf", t, { buf: str(e, "buf") }),
        );
        break;
      case "rdma/driver.drain": {
        const umem = str(e, "umem");
        this.drains.set(str(e, "fence"), { startPs: t, umem, inFlight: num(e, "inFlight"), revoke: this.revokes.get(this.umemBuf.get(umem) ?? "") });
        break;
      }
      case "rdma/driver.drained":
        this.closeDrain(str(e, "fence"), t);
        break;
      case "rdma/post.send":
        this.post(str(e, "qp"), num(e, "firstWrId"), num(e, "count"), t);
        break;
      case "rdma/wqe.fetch":
        this.fetch(str(e, "qp"), num(e, "first"), num(e, "count"), t);
        break;
      case "rdma/data.write":
        this.dataWrite(e, t);
        break;
      case "rdma/cqe.write":
        this.cqeWrite(e, t);
        break;
      case "rdma/wqe.failed":
        this.mark("NIC", str(e, "qp"), `WR ${num(e, "wrId")} failed: ${str(e, "status")}`, "rdma", t, {});
        break;
      case "rdma/qp.error":
        this.mark("NIC", str(e, "qp"), `QP error: ${str(e, "reason")}`, "rdma", t, {});
        break;
    }
  }

  /** Closes what is still open at the end of the run (a revoke or reset that never returned), at `endPs`. */
  finish(endPs: number): void {
    const end = Math.max(endPs, this.lastPs);
    for (const buf of [...this.revokes.keys()]) this.closeRevoke(buf, end, "still open at the end of the run");
    for (const device of [...this.resets.keys()]) this.closeReset(device, end);
    for (const fence of [...this.drains.keys()]) this.closeDrain(fence, end);
  }

  /** A zero-length slice: a moment on a track. */
  private mark(group: TrackGroup, track: string, name: string, cat: string, t: number, args: Record<string, string>): PendingSlice | undefined {
    return this.tracks.slice({ group, track, name, cat, startPs: t, endPs: t, args });
  }

  /** Records a slice caused by the open revoke of `buf`, if one is open. */
  private caused(buf: string, slice: PendingSlice | undefined): void {
    const revoke = this.revokes.get(buf);
    if (revoke && slice) revoke.caused.push(slice);
  }

  private closeRevoke(buf: string, t: number, outcome: string): void {
    const open = this.revokes.get(buf);
    if (!open) return;
    this.revokes.delete(buf);
    const slice = this.tracks.slice({
      group: "VFIO devices",
      track: ownerOf(buf),
      name: `revoke ${buf}`,
      cat: "dmabuf",
      startPs: open.startPs,
      endPs: t,
      args: { buf, profile: open.profile, outcome },
    });
    open.slice = slice;
    for (const effect of open.caused) this.flows.link("revoke → importer", "dmabuf", slice, effect);
  }

  private closeReset(device: string, t: number): void {
    const open = this.resets.get(device);
    if (!open) return;
    this.resets.delete(device);
    this.tracks.slice({ group: "VFIO devices", track: device, name: open.name, cat: "vfio", startPs: open.startPs, endPs: t, args: { device } });
  }

  private closeDrain(fence: string, t: number): void {
    const open = this.drains.get(fence);
    if (!open) return;
    this.drains.delete(fence);
    const slice = this.tracks.slice({
      group: "NIC",
      track: `${ownerOf(open.umem)}/driver`,
      name: `drain ${open.umem} (${open.inFlight} in flight)`,
      cat: "rdma",
      startPs: open.startPs,
      endPs: t,
      args: { fence, umem: open.umem },
    });
    // A drain may end before or after its revoke returns: arrow now if the revoke's slice exists, else when it does.
    if (open.revoke && slice) {
      if (open.revoke.slice !== undefined) this.flows.link("revoke → importer", "dmabuf", open.revoke.slice, slice);
      else open.revoke.caused.push(slice);
    }
  }

  private post(qp: string, first: number, count: number, t: number): void {
    const list = this.posts.get(qp) ?? [];
    list.push({ first, count, atPs: t });
    this.posts.set(qp, list);
  }

  private fetch(qp: string, first: number, count: number, t: number): void {
    const list = this.posts.get(qp) ?? [];
    const index = list.findIndex((p) => p.first <= first && first < p.first + p.count);
    const posted = index < 0 ? undefined : list.splice(index, 1)[0];
    const slice = this.tracks.slice({
      group: "NIC",
      track: qp,
      name: `fetch WQE ${first}–${first + count - 1}`,
      cat: "rdma",
      startPs: posted?.atPs ?? t,
      endPs: t,
      args: { qp, first, count },
    });
    this.fetches.push({ qp, first, count, slice, written: new Set() });
  }

  private dataWrite(e: TraceEvent, t: number): void {
    const wrId = num(e, "wrId");
    const qp = str(e, "qp");
    const slice = this.tracks.slice({
      group: "NIC",
      track: qp,
      name: `RDMA write WR ${wrId} (${num(e, "bytes")} B${e.outcome === "ok" ? "" : `, ${str(e, "outcome")}`})`,
      cat: "dma",
      startPs: this.offsetPs + num(e, "issuedPs"),
      endPs: t,
      args: { mr: str(e, "mr"), address: `0x${num(e, "address").toString(16)}`, outcome: str(e, "outcome") },
    });
    // The responder QP is not the one that fetched: take the oldest fetch of this NIC that brought this WR in.
    const fetch = this.fetches.find((f) => ownerOf(f.qp) === ownerOf(qp) && f.first <= wrId && wrId < f.first + f.count && !f.written.has(wrId));
    if (fetch) {
      fetch.written.add(wrId);
      this.flows.link("WQE → data write", "rdma", fetch.slice, slice);
    }
  }

  private cqeWrite(e: TraceEvent, t: number): void {
    const wrId = num(e, "wrId");
    const qp = str(e, "qp");
    const slice = this.tracks.slice({
      group: "NIC",
      track: str(e, "cq"),
      name: `CQE WR ${wrId} ${str(e, "status")}${e.outcome === "ok" ? "" : ` (${str(e, "outcome")})`}`,
      cat: "dma",
      startPs: this.offsetPs + num(e, "issuedPs"),
      endPs: t,
      args: { qp, slot: num(e, "slot"), address: `0x${num(e, "address").toString(16)}`, outcome: str(e, "outcome") },
    });
    const index = this.fetches.findIndex((f) => f.qp === qp && f.first <= wrId && wrId < f.first + f.count);
    const fetch = this.fetches[index];
    if (fetch) {
      this.flows.link("WQE → CQE", "rdma", fetch.slice, slice);
      // A fetch is done with once its last WQE has completed.
      if (wrId === fetch.first + fetch.count - 1) this.fetches.splice(index, 1);
    }
  }
}
