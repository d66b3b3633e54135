/**
 * The moving fabric over a topology: one {@link LinkDirection} per link direction (created when
 * first used), cut-through switches, and the root complex with its latency, its peer-to-peer
 * policy and the IOMMU. A TLP carries its route's hops; the fabric moves it hop by hop and hands
 * it to the stream when the last hop is done.
 *
 * Timing per hop [pcie-timing.md §5]: a link serializes at its TLP bandwidth (generation × width
 * after encoding and DLLP overhead, §3.2) and adds the hop latency; a switch forwards cut-through
 * after its port-to-port latency (§5 rows 8-11), never finishing on the egress before the last
 * byte came in plus that latency; the root complex adds its traversal latency each way, the
 * IOMMU's translation latency (an IOTLB miss costs a page walk, §5 rows 5-7), and, for P2P, the
 * platform's P2P penalty (§5 rows 12-16).
 *
 * Link faults: a link can retrain to another width or generation (Recovery: the wire is
 * unavailable for the platform's `linkRetrainPs`, then both directions serialize at the new
 * bandwidth), go down (DL_Down: the TLPs on it are lost, and later TLPs are handed back to their
 * owner, the port above answering requests heading below it with UR) and come up again. A
 * completer can be muted: the DMA bus's completer then answers none of its reads.
 */
import { assert } from "../fabric/assert.js";
import type { Engine } from "../fabric/engine.js";
import { LINK_WIDTHS, type LinkWidth, type PayloadSize, type PcieGen } from "./dllp-limits.js";
import type { Iommu } from "./iommu.js";
import { LinkDirection, type LinkObserver } from "./link-direction.js";
import { type LinkConfig, tlpBandwidthGbps } from "./pcie-model.js";
import type { PerfPlatform } from "./perf-platform.js";
import type { Hop } from "./route.js";
import { HOP_LINK, HOP_ROOT_COMPLEX, HOP_SWITCH, type Tlp, type TlpPath } from "./tlp-packet.js";

export type { RootComplexOutcome } from "./tlp-packet.js";

import type { PciFunction } from "./topology.js";

/** TLP settings every link of the fabric shares. */
export interface FabricTlpSettings {
  readonly mps: PayloadSize;
  readonly mrrs: PayloadSize;
  readonly rcb: 64 | 128 | 256 | 512;
  readonly rcbChunks: boolean;
  readonly addressBits: 32 | 64;
  readonly ecrc: boolean;
}

/** How the fabric is timed. */
export interface FabricOptions {
  readonly platform: PerfPlatform;
  /** Credits and every latency non-limiting (the link ceiling). */
  readonly ideal: boolean;
  readonly tlp: FabricTlpSettings;
  /** The IOMMU requests through the root complex are translated by; undefined: no translation. */
  readonly iommu?: Iommu;
  /**
   * Cross a switch whose egress has one feeder without an event (see {@link Fabric.prepare}).
   * Default true. Only sound when every route is prepared before traffic starts and requesters
   * pace themselves (the perf stream books at most a few µs ahead); a bus that learns routes as it
   * goes and injects whole operations turns it off, or early bookings would starve later feeders.
   */
  readonly express?: boolean;
}

/** The default link where a topology does not say (documented in the README): Gen4 x16. */
export const DEFAULT_LINK = { gen: 4 as PcieGen, width: 16 as LinkWidth };

/** The fabric. */
export class Fabric {
  private readonly links = new Map<string, LinkDirection>();
  /** Link directions by hop object: routes are built once, so this avoids a string key per TLP. */
  private readonly hopLinks = new Map<Hop, LinkDirection>();
  /** What feeds each link direction: the ingress link through a switch, or another source. */
  private readonly feeders = new Map<LinkDirection, Set<LinkDirection | string>>();
  /** A switch's port-to-port latency (read per TLP per switch). */
  private readonly switchLatencyPs: number;
  private linkObserver: LinkObserver | undefined = undefined;
  /** Links a fault retrained, by the port above them: their generation and width now. */
  private readonly trained = new Map<PciFunction, { gen: PcieGen; width: LinkWidth }>();
  /**
   * Completers that answer no non-posted request (the completion-timeout fault): the DMA bus's
   * completer swallows reads that reach them, and their requesters' completion timers fire.
   */
  readonly mutedCompleters = new Set<PciFunction>();

  constructor(
    private readonly engine: Engine,
    readonly options: FabricOptions,
  ) {
    // verify mode: after every event, no link has delivered more than it sent, and no credit pool
    // holds more than was advertised (conservation; the after-run check is `conserved`).
    if (engine.verify) engine.addVerifier(() => this.verifyLinks());
    this.switchLatencyPs = options.ideal ? 0 : options.platform.switchLatencyPs;
  }

  private verifyLinks(): void {
    for (const link of this.links.values()) {
      assert(link.counters.tlpsDelivered <= link.counters.tlpsSent, () => `link ${link.config.name} delivered more TLPs than it sent`);
      assert(link.creditsWithinAdvertised(), () => `link ${link.config.name} holds more credits than advertised`);
    }
  }

  /**
   * Watches every link direction, those built so far and those routes build later (timelines).
   * @param observer undefined to stop watching.
   */
  observeLinks(observer: LinkObserver | undefined): void {
    this.linkObserver = observer;
    for (const link of this.links.values()) link.observer = observer;
  }

  /** Every link direction used so far, for counters and the conservation check. */
  allLinks(): LinkDirection[] {
    return [...this.links.values()];
  }

  /**
   * Puts a TLP on its first hop, not before `notBeforePs`. A route that starts in the root complex
   * (completions from memory, the CPU's accesses) is stepped at once: its root-complex hop books
   * the next link. A route that is nothing but the root complex (a root-complex integrated
   * requester reaching memory) would arrive during this call, so it is started as its own event,
   * and a stream never re-enters itself.
   */
  inject(tlp: Tlp, notBeforePs: number): void {
    tlp.hopIndex = 0;
    if (tlp.path.kinds[0] === HOP_LINK || tlp.path.kinds.length > 1) this.step(tlp, notBeforePs);
    else this.engine.scheduleAt(Math.max(this.engine.nowPs, Math.ceil(notBeforePs)), () => this.step(tlp, notBeforePs));
  }

  /**
   * Declares a route whose TLPs will flow (call it for every route before traffic starts). A
   * switch whose egress link is fed by one ingress link only is then crossed without an event:
   * the egress is booked when the ingress link sends, which gives the same times as handing the
   * TLP over at the switch, because nothing else can reach that egress in between.
   */
  prepare(hops: readonly Hop[]): void {
    hops.forEach((hop, i) => {
      if (hop.kind !== "link") return;
      const link = this.linkOfHop(hop);
      const before = hops[i - 1];
      const ingress = hops[i - 2];
      const feeder = before?.kind === "switch" && ingress?.kind === "link" ? this.linkOfHop(ingress) : `${i === 0 ? "requester" : "root complex"}`;
      let set = this.feeders.get(link);
      if (!set) {
        set = new Set();
        this.feeders.set(link, set);
      }
      set.add(feeder);
    });
  }

  /**
   * A prepared route compiled for its TLPs' `path`: per hop, its kind, link direction and express
   * flag. Call after every route has been prepared.
   */
  compile(hops: readonly Hop[]): TlpPath {
    const kinds = hops.map((hop) => (hop.kind === "link" ? HOP_LINK : hop.kind === "switch" ? HOP_SWITCH : HOP_ROOT_COMPLEX));
    const links = hops.map((hop) => (hop.kind === "link" ? this.linkOfHop(hop) : undefined));
    const expressAt = hops.map((hop, i) => {
      if (this.options.express === false) return false;
      const sw = hops[i + 1];
      const next = hops[i + 2];
      if (hop.kind !== "link" || sw?.kind !== "switch" || next?.kind !== "link") return false;
      const ingress = links[i] as LinkDirection;
      const fed = this.feeders.get(links[i + 2] as LinkDirection);
      if (fed === undefined || fed.size !== 1 || !fed.has(ingress)) return false;
      ingress.express ??= (tlp, handOverPs) => this.expressThroughSwitch(tlp, handOverPs);
      return true;
    });
    return { hops, kinds, links, expressAt };
  }

  /** Forwards `tlp` across the switch after its current link, when its route says it may. */
  private expressThroughSwitch(tlp: Tlp, handOverPs: number): boolean {
    if (!tlp.path.expressAt[tlp.hopIndex]) return false;
    tlp.hopIndex++;
    this.step(tlp, handOverPs);
    return true;
  }

  /** The link direction of a route's first hop, if it starts with a link. */
  firstLinkOf(hops: readonly Hop[]): LinkDirection | undefined {
    const first = hops[0];
    return first?.kind === "link" ? this.linkOfHop(first) : undefined;
  }

  /** Rate and latency of the link below `port`: the trained link of the narrower end. */
  linkOf(port: PciFunction): { gen: PcieGen; width: LinkWidth } {
    const below = port.children[0];
    const ends = [port.link, below?.link].filter((l) => l !== undefined);
    if (ends.length === 0) return DEFAULT_LINK;
    const gen = Math.min(...ends.map((l) => l.gen)) as PcieGen;
    const width = Math.min(...ends.map((l) => l.width));
    // x12 and other widths outside the model's tables use the next narrower tabulated width.
    return { gen, width: [...LINK_WIDTHS].reverse().find((w) => w <= width) ?? 1 };
  }

  /** The link below `port` as it is trained now: {@link linkOf}, or what a fault retrained it to. */
  trainedLinkOf(port: PciFunction): { gen: PcieGen; width: LinkWidth } {
    return this.trained.get(port) ?? this.linkOf(port);
  }

  /**
   * The link below `port` retrains to `width` and `gen` (default: its generation now): each
   * direction is unavailable for the platform's `linkRetrainPs` (none when ideal) after the TLPs
   * already booked on it, then serializes at the new TLP bandwidth [pcie-timing.md §2, §3.2].
   * Traced as `pci/link.retrain`.
   * @throws AssertionError when `port` has no device below it.
   */
  retrain(port: PciFunction, width: LinkWidth, gen?: PcieGen): void {
    const device = port.children[0];
    assert(device !== undefined, () => `${port.label} has no link below it`);
    const from = this.trainedLinkOf(port);
    const to = { gen: gen ?? from.gen, width };
    const tlp = this.options.tlp;
    const fromGbps = tlpBandwidthGbps({ gen: from.gen, lanes: from.width, ...tlp });
    const toGbps = tlpBandwidthGbps({ gen: to.gen, lanes: to.width, ...tlp });
    const recoveryPs = this.options.ideal ? 0 : this.options.platform.linkRetrainPs;
    this.engine.trace.emit("pci", "link.retrain", {
      port: port.label,
      device: device.label,
      fromGen: from.gen,
      fromWidth: from.width,
      toGen: to.gen,
      toWidth: to.width,
      fromGbps,
      toGbps,
      recoveryPs,
    });
    this.trained.set(port, to);
    const links = (["down", "up"] as const).map((direction) => this.direction(port, direction));
    const sentBefore = links.map((link) => link.counters.tlpsSent);
    for (const link of links) link.retrain(toGbps, recoveryPs);
    // What waited for Recovery: the TLPs sent meanwhile (they start after it), so a report can tell the retrain mattered.
    this.engine.scheduleAt(this.engine.nowPs + recoveryPs, () => {
      const waited = links.reduce((n, link, i) => n + link.counters.tlpsSent - (sentBefore[i] as number), 0);
      this.engine.trace.emit("pci", "link.trained", { port: port.label, device: device.label, gen: to.gen, width: to.width, waited });
    });
  }

  /**
   * The link below `port` goes down (DL_Down): the TLPs on it, down then up, are lost and handed
   * to their owners; until {@link linkUp}, TLPs sent on it are handed back too. Traced as
   * `pci/link.down` before the owners' own events.
   * @throws AssertionError when `port` has no device below it or the link is already down.
   */
  linkDown(port: PciFunction): void {
    const device = port.children[0];
    assert(device !== undefined, () => `${port.label} has no link below it`);
    const lost = (["down", "up"] as const).map((direction) => {
      const link = this.direction(port, direction);
      return { link: link.config.name, tlps: link.goDown() };
    });
    this.engine.trace.emit("pci", "link.down", { port: port.label, device: device.label, lost: lost.reduce((n, l) => n + l.tlps.length, 0) });
    for (const { link, tlps } of lost) for (const tlp of tlps) tlp.owner.dropped?.(tlp, link, undefined);
  }

  /** Whether the link below `port` is down. */
  linkIsDown(port: PciFunction): boolean {
    return this.links.get(`${port.id}/down`)?.down === true;
  }

  /**
   * The link below `port` is up again (DL_Up), at the generation and width it had. Traced as `pci/link.up`.
   * @throws AssertionError when it is not down.
   */
  linkUp(port: PciFunction): void {
    for (const direction of ["down", "up"] as const) this.direction(port, direction).up();
    const { gen, width } = this.trainedLinkOf(port);
    this.engine.trace.emit("pci", "link.up", { port: port.label, device: port.children[0]?.label ?? "", gen, width });
  }

  /**
   * A TLP reached a link that is down: a request heading below the port answers UR from there;
   * anything else (a completion, a TLP from the device below) is lost.
   */
  private refused(tlp: Tlp, link: LinkDirection): void {
    const hop = tlp.path.hops[tlp.hopIndex];
    assert(hop?.kind === "link", () => `a TLP refused by ${link.config.name} is not on a link hop`);
    const answering = hop.direction === "down" && tlp.kind !== "CplD" ? hop.port : undefined;
    tlp.owner.dropped?.(tlp, link.config.name, answering);
  }

  private direction(port: PciFunction, direction: "up" | "down"): LinkDirection {
    const key = `${port.id}/${direction}`;
    let link = this.links.get(key);
    if (!link) {
      const { platform, ideal, tlp } = this.options;
      const { gen, width } = this.trainedLinkOf(port);
      const config: LinkConfig = { gen, lanes: width, ...tlp };
      const receiverIsSwitch = direction === "up" ? port.kind === "downstream-port" : port.children[0]?.kind === "upstream-port";
      const credits = ideal ? undefined : direction === "up" ? platform.rootPortCredits : undefined;
      link = new LinkDirection(
        this.engine,
        {
          name: `${port.id} ${direction}`,
          tlpGbps: tlpBandwidthGbps(config),
          latencyPs: ideal ? 0 : platform.linkLatencyPs,
          ...(credits ? { credits } : {}),
          ...(receiverIsSwitch ? { cutThroughPs: ideal ? 0 : platform.switchLatencyPs } : {}),
        },
        (arrived) => this.arrived(arrived),
      );
      link.observer = this.linkObserver;
      const created = link;
      link.refuse = (refused) => this.refused(refused, created);
      this.links.set(key, link);
    }
    return link;
  }

  private linkOfHop(hop: Extract<Hop, { kind: "link" }>): LinkDirection {
    let link = this.hopLinks.get(hop);
    if (!link) {
      link = this.direction(hop.port, hop.direction);
      this.hopLinks.set(hop, link);
    }
    return link;
  }

  /** A link delivered `tlp`: its hop is done; move on. */
  private arrived(tlp: Tlp): void {
    tlp.hopIndex++;
    this.step(tlp, this.engine.nowPs);
  }

  /** Does the TLP's current hop (switch and root-complex hops take no event of their own). */
  private step(tlp: Tlp, notBeforePs: number): void {
    const path = tlp.path;
    for (;;) {
      const kind = path.kinds[tlp.hopIndex];
      if (kind === undefined) {
        tlp.owner.arrived(tlp, notBeforePs);
        return;
      }
      if (kind === HOP_LINK) {
        (path.links[tlp.hopIndex] as LinkDirection).send(tlp, notBeforePs);
        return;
      }
      if (kind === HOP_SWITCH) {
        // Cut-through: the egress may start as soon as the link delivered the header plus the
        // switch latency (now), but may not finish before the last byte is in (tailPs) plus it.
        const egress = path.kinds[tlp.hopIndex + 1] === HOP_LINK ? path.links[tlp.hopIndex + 1] : undefined;
        const serializationPs = egress ? tlp.wireBytes * egress.psPerByte : 0;
        notBeforePs = Math.max(notBeforePs, tlp.tailPs + this.switchLatencyPs - serializationPs);
        tlp.hopIndex++;
        continue;
      }
      // Root complex: translation (requests only) and traversal latency; P2P pays the platform's penalty.
      // Peer to peer when the root complex is neither where the TLP starts (a completion from
      // memory) nor where it ends (a request to memory).
      const p2p = tlp.hopIndex > 0 && tlp.hopIndex + 1 < path.kinds.length;
      const options = this.options;
      let delayPs = options.ideal ? 0 : options.platform.rootComplexLatencyPs + (p2p ? options.platform.p2pExtraPs : 0);
      if (tlp.kind !== "CplD") {
        const outcome = tlp.owner.atRootComplex(tlp, p2p);
        delayPs += outcome.delayPs;
        if (!outcome.ok) return; // the owner recorded the fault and answered the requester
      }
      // From when the TLP is there: now for one a link delivered, later for one injected ahead.
      notBeforePs = Math.max(notBeforePs, this.engine.nowPs) + delayPs;
      tlp.hopIndex++;
    }
  }
}
