/**
 * I3 [kernel.md §f I3]: no DMA and no CPU MMIO request lands successfully on a function while it is
 * in reset, has Memory Space Enable off, or is out of D0; such a request must be answered UR (a read
 * completes with UR and reads all-ones, a write is dropped) [§c.6], and the run reports each one.
 */
import type { TraceEvent } from "../fabric/trace.js";
import { hex, num, str, targetDevice, violationAt } from "./fabric-events.js";
import type { Monitor, Violation } from "./monitor.js";

/** One request the model refused with UR (`pci/tlp.ur`), kept for the run's report. */
export interface UrHit {
  readonly t: number;
  readonly requester: string;
  readonly target: string;
  readonly tlp: string;
  readonly address: number;
  readonly reason: string;
}

/** The I3 monitor, with the UR hits it has seen. */
export interface I3Monitor extends Monitor {
  /** The first {@link I3_UR_HITS_KEPT} UR refusals of the run, in order. */
  readonly urHits: readonly UrHit[];
  /** Every UR refusal of the run. */
  readonly urCount: number;
}

/** How many UR hits the monitor keeps (the count goes on). */
export const I3_UR_HITS_KEPT = 64;

interface DeviceState {
  memoryOff: TraceEvent | undefined;
  reset: TraceEvent | undefined;
  lowPower: TraceEvent | undefined;
  /** The successful request that lands latest (largest `atPs`) so far. */
  latest: TraceEvent | undefined;
  latestAtPs: number;
}

/** The event that currently keeps the device from answering, or undefined when it answers. */
function blocker(state: DeviceState | undefined): TraceEvent | undefined {
  return state === undefined ? undefined : (state.reset ?? state.memoryOff ?? state.lowPower);
}

function why(cause: TraceEvent): string {
  if (cause.kind === "reset.begin") return `in ${str(cause, "method") ?? "a"} reset`;
  if (cause.kind === "command.write") return "Memory Space Enable off";
  return `in ${str(cause, "state") ?? "low power"}`;
}

/**
 * Creates the I3 monitor.
 *
 * Observes `vfio/reset.begin` / `reset.end` (reset ends restore the MEM bit saved at its begin, as
 * `pci_reset_function` restores config space), `vfio/command.write` (`memory`), `vfio/power.set`
 * (`state`: anything but D0 does not decode memory), and every request `pci/tlp` (MWr, MRd; the
 * target names the device, `gpu0 BAR1`). Flags (1) a request whose target is blocked and whose
 * `status` is not UR, (2) a device becoming blocked at time T while a successful request to it
 * lands at `atPs` > T (the model answered for an earlier moment than the TLP is really there).
 * Records every `pci/tlp.ur` in `urHits`. Devices start answering (no event tells otherwise).
 */
export function createI3Monitor(): I3Monitor {
  const devices = new Map<string, DeviceState>();
  const urHits: UrHit[] = [];
  let urCount = 0;
  const stateOf = (device: string): DeviceState => {
    let state = devices.get(device);
    if (state === undefined) {
      state = { memoryOff: undefined, reset: undefined, lowPower: undefined, latest: undefined, latestAtPs: -1 };
      devices.set(device, state);
    }
    return state;
  };

  /** A device just stopped answering: a request it answered that lands later is a violation. */
  const blocked = (device: string, cause: TraceEvent): Violation | undefined => {
    const state = stateOf(device);
    const late = state.latest;
    if (late === undefined || state.latestAtPs <= cause.t) return undefined;
    const message = `${str(late, "requester")} ${str(late, "tlp")} at ${hex(num(late, "address") ?? 0)} lands on ${str(late, "target")} at ${state.latestAtPs} ps, after ${device} went ${why(cause)} at ${cause.t} ps, yet it was answered successfully`;
    return violationAt("I3", cause, message, [late]);
  };

  const monitor: I3Monitor = {
    id: "I3",
    urHits,
    get urCount() {
      return urCount;
    },
    observe(event) {
      if (event.layer === "vfio") {
        const device = str(event, "device");
        if (device === undefined) return undefined;
        switch (event.kind) {
          case "reset.begin":
            stateOf(device).reset = event;
            return blocked(device, event);
          case "reset.end":
            stateOf(device).reset = undefined;
            return undefined;
          case "command.write": {
            const off = event.memory === false;
            stateOf(device).memoryOff = off ? event : undefined;
            return off ? blocked(device, event) : undefined;
          }
          case "power.set": {
            const low = str(event, "state") !== "D0";
            stateOf(device).lowPower = low ? event : undefined;
            return low ? blocked(device, event) : undefined;
          }
          default:
            return undefined;
        }
      }
      if (event.layer !== "pci") return undefined;
      if (event.kind === "tlp.ur") {
        urCount++;
        if (urHits.length < I3_UR_HITS_KEPT) {
          urHits.push({
            t: event.t,
            requester: str(event, "requester") ?? "?",
            target: str(event, "target") ?? "?",
            tlp: str(event, "tlp") ?? "?",
            address: num(event, "address") ?? 0,
            reason: str(event, "reason") ?? "",
          });
        }
        return undefined;
      }
      if (event.kind !== "tlp") return undefined;
      const tlp = str(event, "tlp");
      if (tlp !== "MWr" && tlp !== "MRd") return undefined;
      const device = targetDevice(str(event, "target"));
      if (device === undefined || str(event, "status") === "UR") return undefined;
      const state = stateOf(device);
      const cause = blocker(state);
      if (cause !== undefined) {
        const message = `${str(event, "requester")} ${tlp} at ${hex(num(event, "address") ?? 0)} landed on ${str(event, "target")} with status ${str(event, "status")} while ${device} is ${why(cause)}: it must be UR`;
        return violationAt("I3", event, message, [cause]);
      }
      const atPs = num(event, "atPs") ?? event.t;
      if (atPs > state.latestAtPs) {
        state.latestAtPs = atPs;
        state.latest = event;
      }
      return undefined;
    },
  };
  return monitor;
}
