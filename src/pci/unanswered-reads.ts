/**
 * What a {@link DmaPort} keeps for link faults: the reads some of whose completions will never
 * come, with the completion timer each has armed, and the completion paths from a port that
 * answers UR for a link that is down [kernel.md §c.6].
 */
import { assert } from "../fabric/assert.js";
import { type BusPath, busPath } from "./dma-bus.js";
import type { Fabric } from "./fabric.js";
import type { PciFunction } from "./topology.js";

/** A read whose completions (some or all) will never come. */
export interface UnansweredRead {
  readonly tag: number;
  readonly op: number;
  /** The lowest address whose data never came (the request's own for a request lost or swallowed). */
  address: number;
  /** Bytes of the request no completion will account. */
  bytes: number;
  readonly target: string;
  /** When the request was sent: its completion timer's start. */
  readonly issuedPs: number;
}

/** The unanswered reads of one requester, by tag. */
export class UnansweredReads {
  /** When each tag's read was sent (written per read request: one array store). */
  private readonly issuedPs: number[] = [];
  private readonly reads = new Map<number, UnansweredRead>();

  /** Read `tag` is sent at `atPs`. */
  issued(tag: number, atPs: number): void {
    this.issuedPs[tag] = atPs;
  }

  /** Whether read `tag` waits for its timer (its tag is then freed by the timer, not by its last completion). */
  holds(tag: number): boolean {
    return this.reads.size > 0 && this.reads.has(tag);
  }

  /**
   * `bytes` at `address` of read `tag` will never come. Returns when its completion timer fires,
   * `timeoutPs` after the request was sent (not before `nowPs`), the first time the read is
   * named; undefined when its timer is already armed.
   */
  arm(tag: number, op: number, address: number, bytes: number, target: string, timeoutPs: number, nowPs: number): number | undefined {
    const known = this.reads.get(tag);
    if (known !== undefined) {
      known.bytes += bytes;
      known.address = Math.min(known.address, address);
      return undefined;
    }
    const issuedPs = this.issuedPs[tag];
    assert(issuedPs !== undefined, () => `read tag ${tag} was never sent`);
    this.reads.set(tag, { tag, op, address, bytes, target, issuedPs });
    return Math.max(nowPs, Math.ceil(issuedPs + timeoutPs));
  }

  /**
   * Read `tag`'s timer fired: the read, forgotten.
   * @throws AssertionError when no timer is armed for it.
   */
  fire(tag: number): UnansweredRead {
    const read = this.reads.get(tag);
    assert(read !== undefined, () => `no completion timer for tag ${tag}`);
    this.reads.delete(tag);
    return read;
  }
}

/**
 * Completion paths from a port that refuses a request heading below it (its link is down) back to
 * the requester: the request's completion hops after the link's up hop. A compiled path cannot
 * start inside a switch, so when the port is a switch's downstream port the switch crossing is
 * returned as a delay instead.
 */
export class PortCompletionPaths {
  private readonly paths = new Map<BusPath, Map<PciFunction, BusPath>>();

  constructor(private readonly fabric: Fabric) {}

  /**
   * The path from `port` back along `request`'s route, and the delay before it starts.
   * @throws AssertionError when the route does not cross the link below `port`.
   */
  from(request: BusPath, port: PciFunction, switchLatencyPs: number): { path: BusPath; delayPs: number } {
    const route = request.route;
    const hops = route.hops.completion;
    const at = hops.findIndex((hop) => hop.kind === "link" && hop.port === port && hop.direction === "up");
    assert(at >= 0, () => `the route to ${route.targetName} does not cross the link below ${port.label}`);
    const throughSwitch = hops[at + 1]?.kind === "switch";
    let byPort = this.paths.get(request);
    if (byPort === undefined) {
      byPort = new Map();
      this.paths.set(request, byPort);
    }
    let path = byPort.get(port);
    if (path === undefined) {
      path = busPath(this.fabric.compile(hops.slice(at + (throughSwitch ? 2 : 1))), route);
      byPort.set(port, path);
    }
    return { path, delayPs: throughSwitch ? switchLatencyPs : 0 };
  }
}
