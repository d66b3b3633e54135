/**
 * The run's measurements, taken from the trace as it goes: exporter revoke latency (revoke begun →
 * returned), requests that reached an export's BAR after its revoke returned, and the bytes the
 * programs moved. Like the monitors, a measurement only observes.
 */
import type { TraceEvent } from "../fabric/trace.js";

/** Watches the trace for the measurements that need it. */
export class TraceMeasures {
  /** The longest exporter revoke so far, ps (vfio `revoke` → `revoke.done` of one export). */
  revokeLatencyMaxPs = 0;
  revokes = 0;
  /** Requests of a device (not the CPU) that reached a revoked export's BAR after the revoke returned. */
  tlpsAfterRevoke = 0;
  private readonly revokeBegan = new Map<string, number>();
  /** Per `device BARn`: revoked exports of it since their revoke returned. */
  private readonly revokedBars = new Map<string, number>();
  private readonly barOfBuf = new Map<string, string>();

  /** Sees one event (subscribe it to the trace bus). */
  observe(event: TraceEvent): void {
    if (event.layer === "vfio") {
      const buf = event.buf as string | undefined;
      if (event.kind === "export" && buf !== undefined) this.barOfBuf.set(buf, `${event.device} BAR${event.bar}`);
      else if (event.kind === "revoke" && buf !== undefined) this.revokeBegan.set(buf, event.t);
      else if (event.kind === "revoke.done" && buf !== undefined) {
        this.revokes++;
        this.revokeLatencyMaxPs = Math.max(this.revokeLatencyMaxPs, event.t - (this.revokeBegan.get(buf) ?? event.t));
        const bar = this.barOfBuf.get(buf);
        if (bar !== undefined) this.revokedBars.set(bar, (this.revokedBars.get(bar) ?? 0) + 1);
      } else if (event.kind === "restore" && buf !== undefined) {
        const bar = this.barOfBuf.get(buf);
        if (bar !== undefined) this.revokedBars.set(bar, Math.max(0, (this.revokedBars.get(bar) ?? 0) - 1));
      }
    } else if (event.layer === "pci" && event.kind === "tlp" && event.requester !== "cpu" && event.tlp !== "CplD") {
      if ((this.revokedBars.get(event.target as string) ?? 0) > 0) this.tlpsAfterRevoke++;
    }
  }
}
