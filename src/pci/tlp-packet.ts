/**
 * A TLP in flight: what the links, the requester and the completer need to know about it.
 * Allocated per TLP; the transport keeps only the TLPs on the wire, so memory stays bounded by the
 * window, not by the transfer size.
 */
import type { LinkDirection } from "./link-direction.js";
import type { Hop } from "./route.js";
import type { TlpKind } from "./tlp.js";
import type { PciFunction } from "./topology.js";

/** Completion status: successful, or Unsupported Request (a disabled target, an IOMMU fault). */
export type CompletionStatus = "SC" | "UR";

/**
 * A route compiled for the transport by `Fabric.compile`, shared by every TLP that follows it.
 * The per-hop facts the fabric reads for every TLP at every hop are precomputed here, as arrays
 * indexed by hop, so that a hop costs array reads instead of string compares on the three
 * shapes of {@link Hop}.
 */
export interface TlpPath {
  readonly hops: readonly Hop[];
  /** Per hop: its kind as a small integer ({@link HOP_LINK}, {@link HOP_SWITCH}, {@link HOP_ROOT_COMPLEX}); past the end: undefined. */
  readonly kinds: readonly number[];
  /** Per hop: its link direction (link hops). */
  readonly links: readonly (LinkDirection | undefined)[];
  /** Per hop: whether the fabric forwards the TLP across the switch after this link without an event. */
  readonly expressAt: readonly boolean[];
}

/** {@link TlpPath.kinds} of a link hop. */
export const HOP_LINK = 0;
/** {@link TlpPath.kinds} of a switch hop. */
export const HOP_SWITCH = 1;
/** {@link TlpPath.kinds} of the root-complex hop. */
export const HOP_ROOT_COMPLEX = 2;

/** What the root complex did with a request it translated. */
export type RootComplexOutcome = { readonly ok: true; readonly delayPs: number; readonly mmio: boolean } | { readonly ok: false; readonly delayPs: number };

/**
 * Who put a TLP into the fabric: the fabric tells it where the TLP's route ends and asks it at
 * the root complex. Several owners (a perf stream, each requester of a DMA bus) share one fabric.
 */
export interface TlpOwner {
  /** The TLP has done its last hop; `atPs` ≥ now is when it is really there (root-complex latency folded in). */
  arrived(tlp: Tlp, atPs: number): void;
  /**
   * A request (MWr, MRd) reaches the root complex (`p2p`: it will leave towards a peer): translate
   * or refuse it. On refusal the owner has recorded the fault and answered the requester; the
   * fabric drops the TLP.
   */
  atRootComplex(tlp: Tlp, p2p: boolean): RootComplexOutcome;
  /**
   * The TLP's link is down (DL_Down): it was on the wire when the link went down, or was sent
   * while it was down. `answeringPort` is the port above the link when the TLP is a request
   * heading below it: that port answers it with UR, as a switch or root port does for a link that
   * is down; otherwise the TLP is lost and only the requester's completion timer can end its
   * request. Optional: owners that never meet a link fault (the perf stream) leave it out.
   */
  dropped?(tlp: Tlp, link: string, answeringPort: PciFunction | undefined): void;
}

/** One TLP. */
export interface Tlp {
  readonly kind: TlpKind;
  /** Target address (for a CplD: the address the data belongs to). */
  readonly address: number;
  /** Data carried (0 for MRd). */
  readonly payloadBytes: number;
  /** For MRd: bytes requested. */
  readonly requestBytes: number;
  /** Bytes on the wire: header, payload, framing, ECRC. */
  readonly wireBytes: number;
  /** Tag of the read request (MRd and its CplDs); -1 for writes and for a read still waiting for a tag. */
  tag: number;
  /** The DMA operation the TLP belongs to. */
  readonly op: number;
  /** For CplD: the last completion of its request (frees the tag). */
  readonly lastOfRequest: boolean;
  /** For MWr: the last TLP of its operation. */
  readonly lastOfOp: boolean;
  /** For CplD: SC, or UR when the request failed (then the completion carries no data). */
  readonly status: CompletionStatus;
  /** The compiled route this TLP follows (request, completion, or refusal hops). */
  readonly path: TlpPath;
  /** Who is told when it arrives. */
  readonly owner: TlpOwner;
  /** Index of the hop the TLP is on (advanced by the fabric). */
  hopIndex: number;
  /** When its last byte arrived at the current hop's receiver (for cut-through forwarding). */
  tailPs: number;
  /**
   * The physical address the root complex's IOMMU translated a request to, or -1 when it was not
   * translated. It travels with the TLP: an unmap after the translation must not change where the
   * request lands, nor what a trace says about it.
   */
  translated: number;
}

/**
 * The transport's fault events, on the `pci` layer (dma-bus.ts's `PciTraceKinds` extends this).
 */
export interface PciFaultTraceKinds {
  /** The link below `port` retrained (Recovery) to another width or generation; TLPs wait `recoveryPs`, then serialize at `toGbps`. */
  "link.retrain": {
    port: string;
    device: string;
    fromGen: number;
    fromWidth: number;
    toGen: number;
    toWidth: number;
    fromGbps: number;
    toGbps: number;
    recoveryPs: number;
  };
  /** The link below `port` finished the Recovery a retrain started; `waited`: TLPs sent on it meanwhile, which queued behind it. */
  "link.trained": { port: string; device: string; gen: number; width: number; waited: number };
  /** The link below `port` went down (DL_Down); `lost`: TLPs that were on it. */
  "link.down": { port: string; device: string; lost: number };
  /** The link below `port` is up again (DL_Up) at `gen` and `width`. */
  "link.up": { port: string; device: string; gen: number; width: number };
  /** A TLP was lost on a link that is down (its request then ends by completion timeout, or a posted write is gone). */
  "tlp.lost": { requester: string; tlp: string; address: number; bytes: number; target: string; link: string };
  /** A non-posted request's completion timer fired: `bytes` never came back; the request ends in error. */
  "cpl.timeout": { requester: string; tag: number; address: number; bytes: number; target: string; issuedPs: number };
  /** `function` stops answering non-posted requests (a hung completer) until `untilPs` (null: the rest of the run). */
  "completer.mute": { function: string; untilPs: number | null };
  /** `function` answers non-posted requests again. */
  "completer.unmute": { function: string };
}
