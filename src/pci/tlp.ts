/**
 * Transaction Layer Packets: the three kinds a DMA stream uses, their wire size, and how a DMA
 * is cut into them [pcie-timing.md §2, §3.3].
 *
 * - MWr, memory write (posted): header 3DW (32-bit address) or 4DW (64-bit), payload ≤ MPS.
 * - MRd, memory read request (non-posted): header only, asks for ≤ MRRS bytes, takes a tag.
 * - CplD, completion with data: 3DW header, payload ≤ MPS, cut at RCB boundaries; the last
 *   completion of a request frees its tag.
 *
 * Every TLP costs 8 B of link framing (STP/sequence/LCRC/END or the Gen3+ STP token + LCRC) and
 * 4 B more with an ECRC digest. No TLP crosses a 4 KiB boundary.
 */
import { assert } from "../fabric/assert.js";
import { ECRC_BYTES, TLP_FRAMING_BYTES } from "./pcie-model.js";

/** The TLP kinds p2psim moves. */
export type TlpKind = "MWr" | "MRd" | "CplD";

/** How TLPs are framed on a link. */
export interface TlpFormat {
  /** 64: 4DW request headers; 32: 3DW (addresses below 4 GiB). */
  readonly addressBits: 32 | 64;
  /** End-to-end CRC digest (4 B per TLP). */
  readonly ecrc: boolean;
}

/** No request may cross this boundary. */
export const PAGE_4K = 4096;

/**
 * `address % chunk` for a non-negative safe-integer `address` and a power-of-two `chunk`, without
 * the `%` operator: on a double (an address above 2^31) V8 compiles `%` to a call of C's fmod,
 * which costs more than the rest of cutting a TLP. Exact: dividing by a power of two, flooring and
 * multiplying back round nothing below 2^53.
 */
export function offsetInChunk(address: number, chunk: number): number {
  return address - Math.floor(address / chunk) * chunk;
}

/** Header bytes of a TLP kind: requests 12 or 16 by address width, completions always 12. */
export function headerBytes(kind: TlpKind, format: TlpFormat): number {
  if (kind === "CplD") return 12;
  return format.addressBits === 64 ? 16 : 12;
}

/** Bytes a TLP occupies on the wire: header, payload, framing and the optional ECRC. */
export function wireBytes(kind: TlpKind, payloadBytes: number, format: TlpFormat): number {
  return headerBytes(kind, format) + payloadBytes + TLP_FRAMING_BYTES + (format.ecrc ? ECRC_BYTES : 0);
}

/**
 * Cuts `[address, address + length)` at every multiple of `chunk` (a power of two ≤ 4096, so the
 * cuts include every 4 KiB boundary). Returns the piece lengths, in order. This is how a DMA engine
 * cuts writes at MPS and read requests at MRRS, and how a completer cuts completions at MPS or RCB:
 * every piece but the first starts aligned, so the first piece ends at the first aligned boundary.
 * @throws AssertionError for a non-positive length or a chunk that is not a power of two ≤ 4096.
 */
export function splitAligned(address: number, length: number, chunk: number): number[] {
  assert(Number.isSafeInteger(address) && address >= 0, "address must be a non-negative safe integer");
  assert(Number.isSafeInteger(length) && length > 0, "length must be a positive integer");
  assert(chunk > 0 && chunk <= PAGE_4K && (chunk & (chunk - 1)) === 0, () => `chunk ${chunk} must be a power of two ≤ 4096`);
  const pieces: number[] = [];
  let at = address;
  const end = address + length;
  while (at < end) {
    const boundary = (Math.floor(at / chunk) + 1) * chunk;
    const next = Math.min(boundary, end);
    pieces.push(next - at);
    at = next;
  }
  return pieces;
}

/** How many pieces {@link splitAligned} would make, without building them. */
export function countAligned(address: number, length: number, chunk: number): number {
  const first = Math.floor(address / chunk);
  const last = Math.floor((address + length - 1) / chunk);
  return last - first + 1;
}

/** Sizes of the completions a completer returns for one read request [§2 RCB, §3.4]. */
export function completionSizes(address: number, length: number, mps: number, rcb: number, rcbChunks: boolean): number[] {
  return splitAligned(address, length, rcbChunks ? rcb : Math.min(mps, PAGE_4K));
}
