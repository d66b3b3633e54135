/**
 * Platform profiles: the latencies, tags, window and credits a realistic run uses, each with
 * where its number comes from [pcie-timing.md §5]. Latencies are integer picoseconds.
 *
 * The Haswell profile is decomposed so that a 64-byte DMA read from a Gen3 x8 device to a buffer in
 * the LLC takes about 546 ns, the median the pcie-bench measurements give (§5 row 1):
 * 66 ns device DMA-engine issue (546 − 480, row 1 less row 3) + 2 × 50 ns link hops + 2 × 120 ns
 * root complex + 125 ns LLC + ~15 ns serialization of the request and the completion = ~546 ns.
 * Per-hop PHY + data-link latency and root-complex traversal are not published as clean numbers
 * (§5 "Gaps"); 50 ns per hop is half the lowest switch cut-through figure (105 ns covers two link
 * traversals plus switching, row 10), and the root-complex share is what is left of row 3.
 */
import type { LinkCredits } from "./link-direction.js";

/** A platform profile. */
export interface PerfPlatform {
  readonly name: string;
  readonly description: string;
  /** PHY + data-link latency of one link hop, one direction. */
  readonly linkLatencyPs: number;
  /** Root complex traversal, each way (request in, completion out). */
  readonly rootComplexLatencyPs: number;
  /** Host memory read latency for a buffer in the LLC. */
  readonly memoryLatencyPs: number;
  /** Extra latency when the buffer is in DRAM, not the LLC (§5 row 2). */
  readonly dramExtraPs: number;
  /** Extra latency when the memory is on the remote socket (§5 row 4). */
  readonly remoteSocketPs: number;
  /** Switch port-to-port cut-through latency (§5 rows 8-11). */
  readonly switchLatencyPs: number;
  /** Extra root-complex latency for peer-to-peer between root ports (§5 rows 12-16: P2P through a root complex is slower than through a switch). */
  readonly p2pExtraPs: number;
  /** Whether the root complex forwards peer-to-peer reads between root ports, or answers them with UR (§5 row 14: pre-Zen AMD forwarded P2P writes only). */
  readonly p2pReads: "forward" | "refuse";
  /** Last-level cache size: a working window larger than this is served from DRAM (adds `dramExtraPs`). */
  readonly llcBytes: number;
  /** Latency of a device answering a read of its BAR (P2P reads). */
  readonly barReadLatencyPs: number;
  /** From the driver's doorbell to the device's first TLP. */
  readonly dmaIssueLatencyPs: number;
  /** Outstanding non-posted requests the device may have (5-bit tags: 32). */
  readonly tags: number;
  /** Bytes of DMA operations the device keeps in flight. */
  readonly windowBytes: number;
  /** Credits the root port advertises to the device. */
  readonly rootPortCredits: LinkCredits;
  /**
   * A requester's Completion Timeout: how long a non-posted request may wait for its completions
   * before it ends in error (Device Control 2 "Completion Timeout Value"; the spec's default range
   * is 50 µs to 50 ms, and ranges A-D reach 64 s).
   */
  readonly completionTimeoutPs: number;
  /** How long a link is unavailable while it retrains to another width or speed (LTSSM Recovery and Configuration). */
  readonly linkRetrainPs: number;
}

const NS = 1000;

/** Xeon E5-2620 v3 (Haswell) host with a Gen3 x8 device (the NFP-6000 of the pcie-bench data). */
export const XEON_E5_V3_GEN3X8: PerfPlatform = {
  name: "xeon-e5-v3-gen3x8",
  description: "Xeon E5-2620 v3 (Haswell) + Gen3 x8 NIC, as measured by pcie-bench (pcie-timing.md §5 rows 1-4)",
  linkLatencyPs: 50 * NS,
  rootComplexLatencyPs: 120 * NS,
  memoryLatencyPs: 125 * NS,
  dramExtraPs: 54 * NS,
  remoteSocketPs: 53 * NS,
  dmaIssueLatencyPs: 66 * NS,
  // PEX8796 (Gen3, the era of this platform): at most 150 ns x16 to x16 (row 9).
  switchLatencyPs: 150 * NS,
  // Haswell-EP forwards P2P between root ports only within one host bridge, and slowly (rows 12-13,
  // 15-16 say "works but slower" without a number): 200 ns is our choice, documented as such.
  p2pExtraPs: 200 * NS,
  p2pReads: "forward",
  // Xeon E5-2620 v3: 15 MiB of L3.
  llcBytes: 15 * 2 ** 20,
  // A device answering a BAR read from its on-chip memory: comparable to the LLC (our choice).
  barReadLatencyPs: 125 * NS,
  tags: 32,
  windowBytes: 1 << 20,
  // Typical root-port advertisement: 32 posted headers with 8 KiB of posted data, 32 non-posted
  // headers; UpdateFC returns credits about 100 ns after the TLP is taken.
  rootPortCredits: { posted: { header: 32, data: 512 }, nonPosted: { header: 32, data: 0 }, completion: "infinite", returnDelayPs: 100 * NS },
  // The low end of the spec's default range (50 µs - 50 ms), our choice: a requester that gives up
  // early, and a timeout that fits in a scenario's liveness phase.
  completionTimeoutPs: 50_000 * NS,
  // Recovery (RcvrLock, RcvrCfg) plus Configuration for a width change: a few µs; our choice, no
  // published figure (a speed change with Gen3+ equalization can take far longer).
  linkRetrainPs: 2_000 * NS,
};

/**
 * A current Gen5 server: the Haswell latencies where nothing newer is published (§5 "Gaps"), a
 * PEX89000-class switch (115 ns port to port, row 11), 10-bit tags (768 outstanding reads) and a
 * root port advertising enough posted credits (128 headers, 32 KiB of data) to keep a Gen5 x16
 * link busy over its credit round trip (our choice, documented as such).
 */
export const GEN5_SERVER: PerfPlatform = {
  ...XEON_E5_V3_GEN3X8,
  name: "gen5-server",
  description: "Gen5 server: Haswell-era latencies, a Gen5 switch (115 ns), 10-bit tags, deep posted credits",
  switchLatencyPs: 115 * NS,
  tags: 768,
  windowBytes: 4 << 20,
  rootPortCredits: { posted: { header: 128, data: 2048 }, nonPosted: { header: 128, data: 0 }, completion: "infinite", returnDelayPs: 100 * NS },
};

/** Profiles by name. */
export const PERF_PLATFORMS: Readonly<Record<string, PerfPlatform>> = { [XEON_E5_V3_GEN3X8.name]: XEON_E5_V3_GEN3X8, [GEN5_SERVER.name]: GEN5_SERVER };
