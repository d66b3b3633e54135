/**
 * The wire, as the Perfetto trace draws it: a {@link LinkObserver} that turns each TLP booked on a
 * link direction into a slice on that direction's track (from its first bit leaving the sender to
 * its last bit leaving it: the wire is busy for exactly that long, so slices of one direction
 * never overlap; the arrival time is in `args.tailPs`), a count on the switch port it left by
 * (TLPs queued from their start on the ingress link to their start on the egress link), an arrow from each read
 * request to its last completion, and the samples of link utilisation and credits in use.
 *
 * It watches through `Fabric.observeLinks`, never through the run's trace, so tracing cannot
 * change a fingerprint.
 */
import type { Fabric } from "../pci/fabric.js";
import type { CreditClass, LinkDirection, LinkObserver } from "../pci/link-direction.js";
import { HOP_LINK, type Tlp, type TlpOwner } from "../pci/tlp-packet.js";
import type { Topology } from "../pci/topology.js";
import type { HeldCounters, UtilisationCounters } from "./perfetto-counters.js";
import type { FlowTable } from "./perfetto-flows.js";
import { groupPid, type PendingSlice, type TrackTable } from "./perfetto-tracks.js";

/** Where the wire's slices, arrows and samples go. */
export interface WireSinks {
  readonly tracks: TrackTable;
  readonly flows: FlowTable;
  readonly utilisation: UtilisationCounters;
  readonly held: HeldCounters;
}

const CLASS_OF: Record<Tlp["kind"], CreditClass> = { MWr: "posted", MRd: "non-posted", CplD: "completion" };

/** The observer of one fabric. */
export class WireTimeline implements LinkObserver {
  private readonly names = new Map<LinkDirection, string>();
  /** Where each TLP started on its previous link (for its switch-port slice). */
  private readonly lastStart = new WeakMap<Tlp, number>();
  /** Each outstanding read's request slice, by owner and tag, for its completion's arrow. */
  private readonly reads = new Map<TlpOwner, Map<number, PendingSlice | undefined>>();
  /** TLPs seen on the wire. */
  tlps = 0;

  /**
   * @param offsetPs added to every time (a later run of `perf` follows the earlier ones on one timeline).
   * @param topology names link ends by their labels (`rp0→nic0`); without it, by the fabric's names.
   */
  constructor(
    private readonly sinks: WireSinks,
    private readonly offsetPs: number,
    private readonly topology?: Topology,
  ) {}

  /** Starts watching `fabric`. */
  watch(fabric: Fabric): void {
    fabric.observeLinks(this);
  }

  /** {@link LinkObserver.sent}: one TLP on one direction. */
  sent(link: LinkDirection, tlp: Tlp, startPs: number, tailPs: number, stalled: boolean): void {
    this.tlps++;
    const { tracks, flows, utilisation, held } = this.sinks;
    const start = this.offsetPs + startPs;
    const tail = this.offsetPs + tailPs;
    // The sender's own arithmetic (start + serialization), offset last, so back-to-back TLPs touch and never overlap.
    const wireEnd = this.offsetPs + (startPs + tlp.wireBytes * link.psPerByte);
    const name = this.linkName(link);
    const bytes = tlp.kind === "MRd" ? tlp.requestBytes : tlp.payloadBytes;
    const slice = tracks.slice({
      group: "links",
      track: name,
      name: `${tlp.kind} ${bytes} B${tlp.status === "UR" ? " UR" : ""}`,
      cat: "tlp",
      startPs: start,
      endPs: wireEnd,
      args: { op: tlp.op, tag: tlp.tag, address: `0x${tlp.address.toString(16)}`, wireBytes: tlp.wireBytes, tailPs: tail, stalled },
    });
    utilisation.add({ pid: groupPid("links"), name: `${name} utilisation %` }, start, wireEnd);
    const cls = CLASS_OF[tlp.kind];
    const advertised = link.config.credits?.[cls === "posted" ? "posted" : cls === "non-posted" ? "nonPosted" : "completion"];
    if (advertised !== undefined && advertised !== "infinite" && link.config.credits) {
      const data = Math.ceil(tlp.payloadBytes / 16);
      held.hold({ pid: groupPid("links"), name: `${name} credits ${cls}` }, { header: 1, data }, start, tail + link.config.credits.returnDelayPs);
    }
    this.switchPort(tlp, start);
    this.lastStart.set(tlp, start);
    const kinds = tlp.path.kinds;
    if (tlp.kind === "MRd" && tlp.hopIndex === kinds.indexOf(HOP_LINK)) {
      let byTag = this.reads.get(tlp.owner);
      if (!byTag) {
        byTag = new Map();
        this.reads.set(tlp.owner, byTag);
      }
      byTag.set(tlp.tag, slice);
    } else if (tlp.kind === "CplD" && tlp.lastOfRequest && tlp.hopIndex === kinds.lastIndexOf(HOP_LINK)) {
      const byTag = this.reads.get(tlp.owner);
      if (byTag?.has(tlp.tag)) {
        flows.link("read → completion", "tlp", byTag.get(tlp.tag), slice);
        byTag.delete(tlp.tag);
      }
    }
  }

  /**
   * A TLP that crossed a switch waited at its egress port from its start on the ingress link to
   * its start on the egress link: counted on the port's "queued" counter (a counter, not slices:
   * a busy port holds dozens at once).
   */
  private switchPort(tlp: Tlp, egressStartPs: number): void {
    const hop = tlp.path.hops[tlp.hopIndex - 1];
    const ingressStart = this.lastStart.get(tlp);
    if (hop?.kind !== "switch" || ingressStart === undefined) return;
    const port = `switch ${hop.usp.label} ${hop.to === hop.usp ? "upstream port" : `port ${hop.to.label}`}`;
    this.sinks.tracks.useGroup("switch ports");
    this.sinks.held.hold(
      { pid: groupPid("switch ports"), name: `${port} queued` },
      { tlps: 1, bytes: tlp.wireBytes },
      ingressStart,
      Math.max(ingressStart, egressStartPs),
    );
  }

  /** `rp0→nic0` (down) or `nic0→rp0` (up), from the port below which the link is. */
  private linkName(link: LinkDirection): string {
    let name = this.names.get(link);
    if (name === undefined) {
      const [id, direction] = link.config.name.split(" ");
      const port = id === undefined ? undefined : this.topology?.find(id);
      const below = port?.children[0];
      name = port && below ? (direction === "up" ? `${below.label}→${port.label}` : `${port.label}→${below.label}`) : link.config.name;
      this.names.set(link, name);
    }
    return name;
  }
}
