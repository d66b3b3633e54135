/**
 * The pcie-bench analytical model of PCIe link throughput (Neugebauer et al., SIGCOMM 2018; code
 * `model/pcie.py` and `model/mem_bw.py`), transcribed from pcie-timing.md §3. It is the reference
 * the TLP-by-TLP transport is checked against: with credits, tags and latency made non-limiting, a
 * saturated DMA stream must land within 1 % of these ceilings [pcie-timing.md, top].
 *
 * The model in four steps:
 * 1. `R`: raw rate × encoding × lanes, one direction ({@link linkRateGbps}, §2, §3.1);
 * 2. `T`: `R` less one 8-byte Ack per `A` bytes, one 8-byte UpdateFC per `F` bytes and a 4-byte SKP
 *    per 1538 bytes ({@link tlpBandwidthGbps}, §3.2; `A`, `F` from {@link dllpLimits});
 * 3. wire bytes per TLP: header, 8 bytes of link framing, optional ECRC (§3.3);
 * 4. per DMA of `S` bytes, the bytes each direction carries, and `T` shared out over them (§3.4).
 *
 * It is a link-layer ceiling only: no latency, tags, credits, root complex or memory (§3.5). The
 * model's own simplifications are kept on purpose, because the transport is compared with the
 * model as published: the DLLP charge is 8/A regardless of width, Gen6/Gen7 keep the Gen5 DLLP tables
 * and 8-byte per-TLP framing, and the x8 MPS 512 table quirk is inherited.
 */
import { assert } from "../fabric/assert.js";
import { dllpLimits, LINK_WIDTHS, type LinkWidth, PAYLOAD_SIZES, type PayloadSize, PCIE_GENS, type PcieGen } from "./dllp-limits.js";

export type { LinkWidth, PayloadSize, PcieGen } from "./dllp-limits.js";

/** Read Completion Boundary in bytes: 64 (128 on some root ports) per spec; the model also accepts 256 and 512 [§2]. */
export type ReadCompletionBoundary = 64 | 128 | 256 | 512;

/** The link settings the model depends on, named as `pcie.Cfg` of pcie-model names them. */
export interface LinkConfig {
  readonly gen: PcieGen;
  readonly lanes: LinkWidth;
  /** Max Payload Size: the largest MWr or CplD payload. */
  readonly mps: PayloadSize;
  /** Max Read Request Size: the largest MRd a device issues. */
  readonly mrrs: PayloadSize;
  readonly rcb: ReadCompletionBoundary;
  /** When true, completions are assumed chopped at the RCB (`rcb_chunks=True`); otherwise they are MPS-sized. */
  readonly rcbChunks: boolean;
  /** 64 selects 4DW MWr/MRd headers, 32 selects 3DW; CplD is 3DW either way. */
  readonly addressBits: 32 | 64;
  /** End-to-end CRC: adds a 4-byte TLP digest to every TLP. */
  readonly ecrc: boolean;
}

/** Line rate and encoding of one generation [pcie-timing.md §2]. */
export interface GenerationParams {
  /** Transfers per second per lane, in GT/s (one bit per transfer). */
  readonly gtPerSec: number;
  /** Encoding efficiency as a fraction `payloadBits / lineBits`. */
  readonly encodingPayloadBits: number;
  readonly encodingLineBits: number;
  readonly encoding: string;
}

/**
 * Per-generation line rate and encoding. Gen6 and Gen7 use 242/256 (TLP + DLP bytes of a 256-byte
 * FLIT) because pcie-model does; the TLP-only share of a FLIT is 236/256, used by
 * {@link modelFlitGen6Estimate}. The Gen3+ 128b/130b sync header is inside the encoding factor.
 */
export const GENERATION_PARAMS: Readonly<Record<PcieGen, GenerationParams>> = {
  1: { gtPerSec: 2.5, encodingPayloadBits: 8, encodingLineBits: 10, encoding: "8b/10b" },
  2: { gtPerSec: 5, encodingPayloadBits: 8, encodingLineBits: 10, encoding: "8b/10b" },
  3: { gtPerSec: 8, encodingPayloadBits: 128, encodingLineBits: 130, encoding: "128b/130b" },
  4: { gtPerSec: 16, encodingPayloadBits: 128, encodingLineBits: 130, encoding: "128b/130b" },
  5: { gtPerSec: 32, encodingPayloadBits: 128, encodingLineBits: 130, encoding: "128b/130b" },
  6: { gtPerSec: 64, encodingPayloadBits: 242, encodingLineBits: 256, encoding: "FLIT 242/256 (pcie-model)" },
  7: { gtPerSec: 128, encodingPayloadBits: 242, encodingLineBits: 256, encoding: "FLIT 242/256 (pcie-model)" },
};

/** Wire bytes of one DLLP (Ack/Nak or UpdateFC): 6-byte DLLP plus 2 bytes of framing [§2]. */
export const DLLP_WIRE_BYTES = 8;
/** Per-TLP link framing in every non-FLIT generation (`DLLP_Hdr` of the model) [§2]. */
export const TLP_FRAMING_BYTES = 8;
/** The model's SKP charge: 4 bytes every 1538 bytes (the Gen1/2 figure, applied to every generation) [§2]. */
export const SKP_BYTES = 4;
/** Bytes between the model's SKP charges. */
export const SKP_INTERVAL_BYTES = 1538;
/** Header DW0 (format, type, length), common to every TLP [§3.3]. */
export const TLP_DW0_BYTES = 4;
/** The optional ECRC TLP digest [§3.3]. */
export const ECRC_BYTES = 4;

const RCB_VALUES: readonly ReadCompletionBoundary[] = [64, 128, 256, 512];

/** Asserts every field of `cfg` is a value the model covers; configs from unchecked input land here first. */
function assertLinkConfig(cfg: LinkConfig): void {
  assert(PCIE_GENS.includes(cfg.gen), () => `gen ${cfg.gen} is not 1..7`);
  assert(LINK_WIDTHS.includes(cfg.lanes), () => `lanes ${cfg.lanes} is not 1, 2, 4, 8, 16 or 32`);
  assert(PAYLOAD_SIZES.includes(cfg.mps), () => `mps ${cfg.mps} is not 128..4096`);
  assert(PAYLOAD_SIZES.includes(cfg.mrrs), () => `mrrs ${cfg.mrrs} is not 128..4096`);
  assert(RCB_VALUES.includes(cfg.rcb), () => `rcb ${cfg.rcb} is not 64, 128, 256 or 512`);
  assert(cfg.addressBits === 32 || cfg.addressBits === 64, () => `addressBits ${cfg.addressBits} is not 32 or 64`);
}

function assertTransferSize(sizeBytes: number): void {
  assert(Number.isSafeInteger(sizeBytes), () => `transfer size ${sizeBytes} is not an integer`);
  assert(sizeBytes > 0, () => `transfer size ${sizeBytes} is not positive`);
}

/**
 * `R`: link rate after encoding, all lanes, one direction [pcie-timing.md §3.1].
 * @param gen PCIe generation 1-7.
 * @param lanes link width.
 * @returns Gb/s, e.g. 63.015 for Gen3 x8.
 */
export function linkRateGbps(gen: PcieGen, lanes: LinkWidth): number {
  const params = GENERATION_PARAMS[gen];
  assert(params !== undefined, () => `gen ${gen} is not 1..7`);
  assert(LINK_WIDTHS.includes(lanes), () => `lanes ${lanes} is not 1, 2, 4, 8, 16 or 32`);
  return (params.gtPerSec * params.encodingPayloadBits * lanes) / params.encodingLineBits;
}

/**
 * `T = R × (1 − 8/A − 8/F − 4/1538)`: the bandwidth left for TLPs once Acks, UpdateFCs and SKPs are
 * paid [pcie-timing.md §3.2]. Like the model, the DLLP charge does not scale with width (§3.5).
 * @param cfg the link; only `gen`, `lanes` and `mps` matter.
 * @returns Gb/s per direction, e.g. 57.88 for Gen3 x8 MPS 256.
 */
export function tlpBandwidthGbps(cfg: LinkConfig): number {
  assertLinkConfig(cfg);
  const { ackLimit, fcUpdateGuideline } = dllpLimits(cfg.gen, cfg.lanes, cfg.mps);
  const overheadShare = DLLP_WIRE_BYTES / ackLimit + DLLP_WIRE_BYTES / fcUpdateGuideline + SKP_BYTES / SKP_INTERVAL_BYTES;
  return linkRateGbps(cfg.gen, cfg.lanes) * (1 - overheadShare);
}

/** Header bytes after DW0 for an address-routed request: 3DW header for 32-bit, 4DW for 64-bit addresses. */
function requestHeaderRestBytes(cfg: LinkConfig): number {
  return cfg.addressBits === 64 ? 12 : 8;
}

function digestBytes(cfg: LinkConfig): number {
  return cfg.ecrc ? ECRC_BYTES : 0;
}

/**
 * `H_wr`: wire bytes of one Memory Write TLP besides its payload [pcie-timing.md §3.3].
 * @returns DW0 4 + rest of header (8 or 12 by address width) + framing 8 + ECRC 4 if enabled: 20, 24 or 28.
 */
export function mwrOverheadBytes(cfg: LinkConfig): number {
  assertLinkConfig(cfg);
  return TLP_DW0_BYTES + requestHeaderRestBytes(cfg) + TLP_FRAMING_BYTES + digestBytes(cfg);
}

/**
 * `H_rq`: wire bytes of one Memory Read request TLP (it carries no payload) [pcie-timing.md §3.3].
 * @returns the same as {@link mwrOverheadBytes}: 20, 24 or 28.
 */
export function mrdOverheadBytes(cfg: LinkConfig): number {
  assertLinkConfig(cfg);
  return TLP_DW0_BYTES + requestHeaderRestBytes(cfg) + TLP_FRAMING_BYTES + digestBytes(cfg);
}

/**
 * `H_cpl`: wire bytes of one Completion-with-Data TLP besides its payload; a CplD header is always
 * 3DW because it is routed by Requester ID, not by address [pcie-timing.md §3.3].
 * @returns DW0 4 + 8 + framing 8 + ECRC 4 if enabled: 20 or 24.
 */
export function cpldOverheadBytes(cfg: LinkConfig): number {
  assertLinkConfig(cfg);
  return TLP_DW0_BYTES + 8 + TLP_FRAMING_BYTES + digestBytes(cfg);
}

/** The model's answer for one DMA pattern at one transfer size. */
export interface ModelThroughput {
  /** Payload bits per second per direction that carries data, in Gb/s (for read+write: each of the two streams). */
  readonly goodputGbps: number;
  /** DMA transfers (for read+write: read-and-write steps) per second, limited by the busier direction. */
  readonly transactionsPerSec: number;
  /** Wire bytes the device sends towards the host per transaction (TLP bytes; DLLP/SKP costs are inside `T`). */
  readonly txBytesPerTransaction: number;
  /** Wire bytes the device receives per transaction; 0 for a posted write. */
  readonly rxBytesPerTransaction: number;
}

/** Shares `T` over the busier direction: transactions/s = min(T/(8·tx), T/(8·rx)), goodput = S × that. */
function throughput(cfg: LinkConfig, sizeBytes: number, txBytes: number, rxBytes: number): ModelThroughput {
  const tlpGbps = tlpBandwidthGbps(cfg);
  const busiestBytes = Math.max(txBytes, rxBytes);
  assert(busiestBytes > 0, "a transaction moves some bytes");
  return {
    goodputGbps: (tlpGbps * sizeBytes) / busiestBytes,
    transactionsPerSec: (tlpGbps * 1e9) / (8 * busiestBytes),
    txBytesPerTransaction: txBytes,
    rxBytesPerTransaction: rxBytes,
  };
}

/** Completions per read of `sizeBytes`: MPS-sized, or RCB-sized when `rcbChunks` [§3.4]. */
function completionCount(cfg: LinkConfig, sizeBytes: number): number {
  return Math.ceil(sizeBytes / (cfg.rcbChunks ? cfg.rcb : cfg.mps));
}

/** Wire bytes of the MWr TLPs carrying `sizeBytes`: `S + ceil(S/MPS)·H_wr`. */
function writeWireBytes(cfg: LinkConfig, sizeBytes: number): number {
  return sizeBytes + Math.ceil(sizeBytes / cfg.mps) * mwrOverheadBytes(cfg);
}

/** Wire bytes of the CplD TLPs returning `sizeBytes`: `S + n_cpl·H_cpl`. */
function completionWireBytes(cfg: LinkConfig, sizeBytes: number): number {
  return sizeBytes + completionCount(cfg, sizeBytes) * cpldOverheadBytes(cfg);
}

/** Wire bytes of the MRd TLPs asking for `sizeBytes`: `ceil(S/MRRS)·H_rq`. */
function requestWireBytes(cfg: LinkConfig, sizeBytes: number): number {
  return Math.ceil(sizeBytes / cfg.mrrs) * mrdOverheadBytes(cfg);
}

/**
 * DMA write (device → host, posted, one direction only): `goodput = T · S / (S + ceil(S/MPS)·H_wr)`
 * [pcie-timing.md §3.4].
 * @param cfg the link.
 * @param sizeBytes transfer size `S`, a positive integer.
 * @returns goodput and transactions/s; tx = the MWr bytes, rx = 0.
 */
export function modelWrite(cfg: LinkConfig, sizeBytes: number): ModelThroughput {
  assertTransferSize(sizeBytes);
  return throughput(cfg, sizeBytes, writeWireBytes(cfg, sizeBytes), 0);
}

/**
 * DMA read (device reads host memory): MRd requests go out (`tx = ceil(S/MRRS)·H_rq`), completions
 * come back (`rx = S + n_cpl·H_cpl`), and the busier direction sets the rate; in practice always the
 * completions [pcie-timing.md §3.4].
 * @param cfg the link; `rcbChunks` selects RCB-sized rather than MPS-sized completions.
 * @param sizeBytes transfer size `S`, a positive integer.
 * @returns goodput (of the completion direction) and transactions/s.
 */
export function modelRead(cfg: LinkConfig, sizeBytes: number): ModelThroughput {
  assertTransferSize(sizeBytes);
  return throughput(cfg, sizeBytes, requestWireBytes(cfg, sizeBytes), completionWireBytes(cfg, sizeBytes));
}

/**
 * Mixed read+write, one read and one write of `S` per step: TX carries the write TLPs and the read
 * requests, RX carries the completions; steps/s = min(T/(8·tx), T/(8·rx)) [pcie-timing.md §3.4].
 * @param cfg the link.
 * @param sizeBytes transfer size `S` of each of the read and the write, a positive integer.
 * @returns the goodput of each stream (the read stream and the write stream get the same value) and steps/s.
 */
export function modelReadWrite(cfg: LinkConfig, sizeBytes: number): ModelThroughput {
  assertTransferSize(sizeBytes);
  const txBytes = writeWireBytes(cfg, sizeBytes) + requestWireBytes(cfg, sizeBytes);
  return throughput(cfg, sizeBytes, txBytes, completionWireBytes(cfg, sizeBytes));
}

/** The FLIT-mode estimate for one transfer size; see {@link modelFlitGen6Estimate}. */
export interface FlitEstimate {
  /** `T6`: the TLP area of the FLITs, `GT/s × lanes × 236/256`, in Gb/s. */
  readonly tlpAreaGbps: number;
  readonly writeGoodputGbps: number;
  readonly readGoodputGbps: number;
}

/** TLP bytes of a 256-byte FLIT; the rest is 6 B DLP, 8 B CRC and 6 B FEC [§2]. */
export const FLIT_TLP_BYTES = 236;
/** Bytes of one FLIT. */
export const FLIT_BYTES = 256;

/**
 * AN ESTIMATE, NOT THE MODEL: FLIT-mode throughput for Gen6 (and Gen7, which uses the same FLIT)
 * [pcie-timing.md §3.6]. DLLPs ride in the FLIT's DLP bytes and TLPs carry no STP/LCRC, so only
 * headers (and ECRC) cost; SKP ordered sets and NOP FLITs are ignored. pcie-model itself does not
 * do this: {@link modelWrite} and {@link modelRead} are the reference the transport is held to.
 * @param cfg the link; `gen` must be 6 or 7. Headers follow `addressBits` and `ecrc` (16 B MWr and
 *   12 B CplD with the spec's 64-bit, no-ECRC setting); completions are MPS-sized, request bytes ignored.
 * @param sizeBytes transfer size `S`, a positive integer.
 * @returns `T6`, write goodput `T6·S/(S + ceil(S/MPS)·H)` and read goodput with the CplD header.
 */
export function modelFlitGen6Estimate(cfg: LinkConfig, sizeBytes: number): FlitEstimate {
  assertLinkConfig(cfg);
  assertTransferSize(sizeBytes);
  assert(cfg.gen >= 6, () => `FLIT mode needs Gen6 or later, got Gen${cfg.gen}`);
  const tlpAreaGbps = (GENERATION_PARAMS[cfg.gen].gtPerSec * cfg.lanes * FLIT_TLP_BYTES) / FLIT_BYTES;
  const tlpCount = Math.ceil(sizeBytes / cfg.mps);
  const writeHeaderBytes = mwrOverheadBytes(cfg) - TLP_FRAMING_BYTES;
  const completionHeaderBytes = cpldOverheadBytes(cfg) - TLP_FRAMING_BYTES;
  return {
    tlpAreaGbps,
    writeGoodputGbps: (tlpAreaGbps * sizeBytes) / (sizeBytes + tlpCount * writeHeaderBytes),
    readGoodputGbps: (tlpAreaGbps * sizeBytes) / (sizeBytes + tlpCount * completionHeaderBytes),
  };
}
