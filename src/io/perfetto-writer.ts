/**
 * The Perfetto writer: a trace sink plus a link observer that, at the end of a run, gives the run
 * as a Chrome JSON trace (opens in ui.perfetto.dev and chrome://tracing).
 *
 * Processes, top-down: `verdict` (the verdict and each violation, as global instants with the
 * message and the causal chain), `VFIO devices` (one track per device: revoke windows, resets),
 * `NIC` (one track per QP and per CQ, and the driver's), `IOMMU` (faults, IOTLB hit rate), `links`
 * (one track per link direction, with utilisation and credit counters) and `switch ports`
 * (TLPs queued per egress port).
 * Times are µs; every slice keeps its exact ps in `args.ps` / `args.durPs`.
 *
 * Long runs are bounded: each track keeps its first `capPerTrack` slices; the counters go on to
 * the end; `otherData.droppedSlices` says how many each track left out. Like every sink here, the
 * writer only reads (the run's events, the wire through `Fabric.observeLinks`, the IOMMU's
 * counters), so the run's fingerprint is the same with or without it.
 */
import type { TraceEvent } from "../fabric/trace.js";
import type { Fabric } from "../pci/fabric.js";
import type { LinkDirection } from "../pci/link-direction.js";
import type { Tlp } from "../pci/tlp-packet.js";
import type { Topology } from "../pci/topology.js";
import { HeldCounters, IotlbCounter, type IotlbCounts, UtilisationCounters } from "./perfetto-counters.js";
import { EventTimeline } from "./perfetto-events.js";
import { FlowTable } from "./perfetto-flows.js";
import type { ChromeTraceDocument, ChromeTraceEvent } from "./perfetto-format.js";
import { psToUs } from "./perfetto-format.js";
import { groupPid, TrackTable } from "./perfetto-tracks.js";
import { WireTimeline } from "./perfetto-wire.js";

/** Settings of a writer. */
export interface PerfettoWriterOptions {
  /** Slices kept per track. Default 5,000. */
  readonly capPerTrack?: number;
  /** Counter window, ps. Default 1 µs. */
  readonly windowPs?: number;
}

/** What a run lets the writer watch. */
export interface PerfettoRunView {
  /** Where the run's time is read (the engine). */
  readonly clock: { readonly nowPs: number };
  readonly fabric: Fabric;
  /** Names link ends by label when given. */
  readonly topology?: Topology;
  /** The IOMMU's cumulative IOTLB counts, when the run has one. */
  readonly iommu?: { stats(): IotlbCounts };
}

/** A violation as a run reports it. */
export interface PerfettoViolation {
  readonly invariant: string;
  readonly timePs: number;
  readonly message: string;
  readonly chain: readonly TraceEvent[];
}

/** The writer of one trace. */
export class PerfettoWriter {
  private readonly tracks: TrackTable;
  private readonly flows = new FlowTable();
  private readonly utilisation: UtilisationCounters;
  private readonly held: HeldCounters;
  private readonly iotlb: IotlbCounter[] = [];
  private readonly instants: ChromeTraceEvent[] = [];
  private readonly segments: Array<{ label: string; offsetPs: number }> = [];
  private readonly windowPs: number;
  private readonly capPerTrack: number;
  private events: EventTimeline;
  private wires: WireTimeline[] = [];
  private offsetPs = 0;
  private endPs = 0;

  /** The trace sink to subscribe to the run (`runScenario(loaded, { sinks: [writer.sink] })`). */
  readonly sink = (event: TraceEvent): void => {
    this.events.observe(event);
    this.iotlb.at(-1)?.tick(this.offsetPs + event.t);
    this.endPs = Math.max(this.endPs, this.offsetPs + event.t);
  };

  constructor(options: PerfettoWriterOptions = {}) {
    this.capPerTrack = options.capPerTrack ?? 5000;
    this.windowPs = options.windowPs ?? 1_000_000;
    this.tracks = new TrackTable(this.capPerTrack);
    this.utilisation = new UtilisationCounters(this.windowPs);
    this.held = new HeldCounters(this.windowPs);
    this.events = new EventTimeline(this.tracks, this.flows);
  }

  /**
   * Watches a run's wire and IOMMU. Call once per run; a second call (`perf`, one run per size)
   * starts a new segment after the end of the previous one, labelled `label` by an instant.
   */
  observe(view: PerfettoRunView, label?: string): void {
    if (this.wires.length > 0) {
      this.events.finish(this.endPs);
      // A gap of one window, so the runs' counters do not run into each other.
      this.offsetPs = Math.ceil(this.endPs / this.windowPs) * this.windowPs + this.windowPs;
      this.events = new EventTimeline(this.tracks, this.flows, this.offsetPs);
    }
    if (label !== undefined) {
      this.segments.push({ label, offsetPs: this.offsetPs });
      this.instants.push(this.instant(label, this.offsetPs, "g", { ps: this.offsetPs }));
    }
    const wire = new WireTimeline({ tracks: this.tracks, flows: this.flows, utilisation: this.utilisation, held: this.held }, this.offsetPs, view.topology);
    this.wires.push(wire);
    const iommu = view.iommu;
    const iotlb = iommu ? new IotlbCounter({ pid: groupPid("IOMMU"), name: "IOTLB hit rate %" }, this.windowPs, () => iommu.stats()) : undefined;
    if (iotlb) {
      this.tracks.useGroup("IOMMU");
      this.iotlb.push(iotlb);
    }
    const offset = this.offsetPs;
    view.fabric.observeLinks({
      sent: (link: LinkDirection, tlp: Tlp, startPs: number, tailPs: number, stalled: boolean) => {
        iotlb?.tick(offset + view.clock.nowPs);
        wire.sent(link, tlp, startPs, tailPs, stalled);
        this.endPs = Math.max(this.endPs, offset + tailPs);
      },
    });
  }

  /** Records the run's outcome: a global instant for the verdict at the end and one per violation at its time. */
  verdict(verdict: "pass" | "violation", violations: readonly PerfettoViolation[], endPs?: number): void {
    this.tracks.thread("verdict", "verdict");
    const end = this.offsetPs + (endPs ?? this.endPs);
    this.endPs = Math.max(this.endPs, end);
    for (const v of violations) {
      this.instants.push(
        this.instant(`violation of ${v.invariant}: ${v.message}`, this.offsetPs + v.timePs, "g", {
          invariant: v.invariant,
          message: v.message,
          ps: this.offsetPs + v.timePs,
          chain: v.chain.map(chainText),
        }),
      );
    }
    const name = verdict === "pass" ? "verdict: PASS" : `verdict: VIOLATION of ${violations.map((v) => v.invariant).join(", ")}`;
    this.instants.push(this.instant(name, end, "g", { verdict, ps: end }));
  }

  /** The whole trace. Call once, after the run (and {@link verdict}). */
  document(): ChromeTraceDocument {
    this.events.finish(this.endPs);
    const slices = this.tracks.layout();
    const flows = this.flows.events();
    const counters = [...this.utilisation.events(), ...this.held.events(), ...this.iotlb.flatMap((c) => c.events())];
    const dropped = Object.fromEntries([...this.tracks.dropped].sort(([a], [b]) => (a < b ? -1 : 1)));
    return {
      traceEvents: [...this.tracks.metadata(), ...slices, ...flows, ...counters, ...this.instants],
      displayTimeUnit: "ns",
      otherData: {
        generator: "p2psim",
        timeUnit: "ts and dur in µs; exact ps in args.ps and args.durPs",
        capPerTrack: this.capPerTrack,
        counterWindowPs: this.windowPs,
        tlpsObserved: this.wires.reduce((n, w) => n + w.tlps, 0),
        droppedSlices: dropped,
        droppedFlows: this.flows.dropped,
        segments: this.segments.map((s) => ({ label: s.label, offsetPs: s.offsetPs })),
      },
    };
  }

  /** {@link document} as JSON text (one event per line, so a diff or grep reads it). */
  json(): string {
    const doc = this.document();
    const { traceEvents, ...rest } = doc;
    const head = JSON.stringify(rest).slice(1, -1);
    return `{${head},"traceEvents":[\n${traceEvents.map((e) => JSON.stringify(e)).join(",\n")}\n]}\n`;
  }

  private instant(name: string, atPs: number, scope: "g", args: ChromeTraceEvent["args"] & object): ChromeTraceEvent {
    return { name, ph: "i", s: scope, ts: psToUs(atPs), pid: groupPid("verdict"), tid: this.tracks.thread("verdict", "verdict").tid, args };
  }
}

/** A chain event as one line: time, layer/kind, fields. */
function chainText(event: TraceEvent): string {
  const { t, seq: _seq, layer, kind, ...fields } = event;
  const detail = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" ");
  return `${t} ps ${layer}/${kind} ${detail}`.trimEnd();
}
