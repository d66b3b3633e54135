/**
 * The network between two NIC ports (or a port and itself, loopback): per direction, messages are
 * serialized at the line rate in the order they are sent and arrive one latency later. A message
 * is cut into MTU-sized packets, each carrying the RoCEv2 headers, so the wire time of a message is
 * `(payload + packets × header) × 8 / rate`. No loss, no congestion control: the model's questions
 * are about the PCIe side; the wire only has to pace and delay.
 */
import { assert } from "../fabric/assert.js";
import type { Engine } from "../fabric/engine.js";

/** How a wire is built. */
export interface RdmaWireConfig {
  /** Line rate in Gbit/s (e.g. 400 for 400GbE). */
  readonly rateGbps: number;
  /** One-way latency (cable, PHY, MAC), ps. */
  readonly latencyPs: number;
  /** Path MTU in bytes. Default 4096. */
  readonly mtu?: number;
  /**
   * Bytes per packet besides the payload. Default 82, RoCEv2 over Ethernet: preamble and SFD 8,
   * Ethernet header 14, IPv4 20, UDP 8, BTH 12, ICRC 4, FCS 4, inter-frame gap 12 (the RETH of a
   * first RDMA packet and the AETH of an ACK are not counted).
   */
  readonly headerBytes?: number;
}

/** The wire. A message is delivered by calling `deliver` at its arrival time. */
export class RdmaWire {
  private readonly busyUntil = [0, 0];
  readonly mtu: number;
  readonly headerBytes: number;
  /** ps per byte on the wire. */
  private readonly psPerByte: number;

  constructor(
    private readonly engine: Engine,
    readonly config: RdmaWireConfig,
  ) {
    assert(config.rateGbps > 0 && Number.isFinite(config.rateGbps), "wire rate must be positive");
    assert(Number.isSafeInteger(config.latencyPs) && config.latencyPs >= 0, "wire latency is a non-negative integer of ps");
    this.mtu = config.mtu ?? 4096;
    this.headerBytes = config.headerBytes ?? 82;
    this.psPerByte = 8000 / config.rateGbps;
  }

  /** Bytes a message of `payload` bytes occupies on the wire. */
  wireBytes(payload: number): number {
    return payload + Math.max(1, Math.ceil(payload / this.mtu)) * this.headerBytes;
  }

  /**
   * Sends a message in `direction` (0 or 1; loopback uses 0): it starts when the direction is
   * free, takes its serialization time, and `deliver` runs one latency after its last bit.
   * @returns the arrival time.
   */
  send(direction: 0 | 1, payload: number, deliver: () => void): number {
    const now = this.engine.nowPs;
    const start = Math.max(now, this.busyUntil[direction] as number);
    const end = start + Math.ceil(this.wireBytes(payload) * this.psPerByte);
    this.busyUntil[direction] = end;
    const arrival = end + this.config.latencyPs;
    this.engine.scheduleAt(arrival, deliver);
    return arrival;
  }
}
