/**
 * Routing by address, as switches and root complexes route memory requests: a request climbs
 * from its requester through each port until a switch whose bridge windows contain the target
 * (the target lies in the switch's subtree), where it turns around — unless ACS Request Redirect
 * on the ingress downstream port sends it upstream anyway; with no such switch it reaches the
 * root complex, which sends it to host memory or, peer to peer, down towards the BAR that decodes
 * the address. Completions retrace the request's path back to the requester (routing by ID).
 *
 * ```
 *   rp ─ usp ┬ dsp0 ─ gpu0       gpu0 → nic0 BAR: link(dsp0,up) · switch usp · link(dsp1,down)   (BUS_ADDR)
 *            └ dsp1 ─ nic0       with RR on dsp0: … · link(rp,up) · root complex · link(rp,down) · …
 * ```
 *
 * Pure functions of the topology: the transport turns a route into TLP hops. This is also where
 * the two p2pdma map types show up physically [kernel.md §a.7]: BUS_ADDR traffic never reaches the
 * root complex or the IOMMU; THRU_HOST_BRIDGE traffic always does.
 */
import { ACS_RR } from "./acs.js";
import type { Bar, PciFunction } from "./topology.js";

/** Where a request goes. */
export type RouteTarget =
  /** System memory on a NUMA node. */
  | { readonly kind: "host-memory"; readonly numaNode: number }
  /** A BAR of a function (peer-to-peer). */
  | { readonly kind: "bar"; readonly fn: PciFunction; readonly bar: Bar };

/** One step of a route. */
export type Hop =
  /** A link between a downstream port (root port, switch downstream port, bridge) and the device below it. */
  | { readonly kind: "link"; readonly port: PciFunction; readonly direction: "up" | "down" }
  /** Through a switch, from one of its ports to another (`from`/`to` are the USP or a DSP). */
  | { readonly kind: "switch"; readonly usp: PciFunction; readonly from: PciFunction; readonly to: PciFunction }
  /** Through the root complex: up from one root port and down another, or into memory. */
  | { readonly kind: "root-complex"; readonly hostBridgeId: string };

/** A request's path and how it ends. */
export interface Route {
  /** Hops from the requester to the target. */
  readonly request: readonly Hop[];
  /** Hops of the completions, from the target back to the requester. */
  readonly completion: readonly Hop[];
  /** Whether the request passes the root complex (and, with an IOMMU, is translated there). */
  readonly throughRootComplex: boolean;
  /** What decided where it turned, for reports. */
  readonly turn: string;
}

function isPort(fn: PciFunction): boolean {
  return fn.kind === "root-port" || fn.kind === "downstream-port" || fn.kind === "pci-bridge";
}

/** The hops going up `chain` (a requester's upstream chain) through nodes 1 … topIndex − 1. */
function upHops(chain: readonly PciFunction[], topIndex: number): Hop[] {
  const hops: Hop[] = [];
  for (let i = 1; i < topIndex; i++) {
    const node = chain[i] as PciFunction;
    const below = chain[i - 1] as PciFunction;
    if (isPort(node)) hops.push({ kind: "link", port: node, direction: "up" });
    else if (node.kind === "upstream-port") hops.push({ kind: "switch", usp: node, from: below, to: node });
  }
  return hops;
}

/** The hops going down `chain` (a target's upstream chain) through nodes topIndex − 1 … 1. */
function downHops(chain: readonly PciFunction[], topIndex: number): Hop[] {
  const hops: Hop[] = [];
  for (let i = topIndex - 1; i >= 1; i--) {
    const node = chain[i] as PciFunction;
    const below = chain[i - 1] as PciFunction;
    if (isPort(node)) hops.push({ kind: "link", port: node, direction: "down" });
    else if (node.kind === "upstream-port") hops.push({ kind: "switch", usp: node, from: node, to: below });
  }
  return hops;
}

function reverse(hops: readonly Hop[]): Hop[] {
  return [...hops].reverse().map((hop) => {
    // Spelled out, not `{ ...hop, … }`: V8 gives spread-then-extend literals fresh maps in old space.
    if (hop.kind === "link") return { kind: "link", port: hop.port, direction: hop.direction === "up" ? ("down" as const) : ("up" as const) };
    if (hop.kind === "switch") return { kind: "switch", usp: hop.usp, from: hop.to, to: hop.from };
    return hop;
  });
}

/**
 * Routes a memory request from `requester` to `target`.
 * Functions of one device share their link, so a request between them never leaves the device
 * (an empty route).
 */
export function routeRequest(requester: PciFunction, target: RouteTarget): Route {
  const up = requester.upstreamChain();
  if (target.kind === "bar") {
    const down = target.fn.upstreamChain();
    if (requester.upstream === target.fn.upstream && requester.bdf.bus === target.fn.bdf.bus && requester.bdf.device === target.fn.bdf.device) {
      return { request: [], completion: [], throughRootComplex: false, turn: "inside one multi-function device" };
    }
    // Climb; at each switch, turn if the target is below it and the ingress port does not redirect.
    for (let i = 1; i < up.length; i++) {
      const node = up[i] as PciFunction;
      if (node.kind !== "upstream-port") continue;
      const j = down.indexOf(node);
      if (j < 0) continue;
      const ingress = up[i - 1] as PciFunction;
      if (ingress.hasAcs && (ingress.acsCtl & ACS_RR) !== 0) continue;
      const request = [...upHops(up, i), { kind: "switch" as const, usp: node, from: ingress, to: down[j - 1] as PciFunction }, ...downHops(down, j)];
      return { request, completion: reverse(request), throughRootComplex: false, turn: `switch ${node.id}` };
    }
    return routeThroughRootComplex(requester, target);
  }
  const request: Hop[] = [...upHops(up, up.length), { kind: "root-complex", hostBridgeId: requester.hostBridge.id }];
  return { request, completion: reverse(request), throughRootComplex: true, turn: "host memory" };
}

/**
 * Routes a request of `requester` to a BAR up through the root complex whatever the switches
 * between them could do: the path of an address no bridge window claims (an IOVA), which the
 * IOMMU translates into the BAR's CPU address at the root complex [kernel.md §a.7].
 */
export function routeThroughRootComplex(requester: PciFunction, target: Extract<RouteTarget, { kind: "bar" }>): Route {
  const up = requester.upstreamChain();
  const down = target.fn.upstreamChain();
  const request = [...upHops(up, up.length), { kind: "root-complex" as const, hostBridgeId: requester.hostBridge.id }, ...downHops(down, down.length)];
  return { request, completion: reverse(request), throughRootComplex: true, turn: "root complex" };
}

/**
 * Routes a CPU access (an MMIO load or store) to a BAR: it starts in the root complex of the
 * target's host bridge and goes down to the function. Completions retrace it.
 */
export function routeFromHost(target: Extract<RouteTarget, { kind: "bar" }>): Route {
  const down = target.fn.upstreamChain();
  const request: Hop[] = [{ kind: "root-complex", hostBridgeId: target.fn.hostBridge.id }, ...downHops(down, down.length)];
  return { request, completion: reverse(request), throughRootComplex: true, turn: "from the CPU" };
}

/** Describes hops for traces and `perf --explain`: `link 0000:02:00.0 up · switch 0000:01:00.0 · …`. */
export function describeRoute(hops: readonly Hop[]): string {
  return hops
    .map((hop) =>
      hop.kind === "link"
        ? `link ${hop.port.id} ${hop.direction}`
        : hop.kind === "switch"
          ? `switch ${hop.usp.id} (${hop.from.id} → ${hop.to.id})`
          : `root complex ${hop.hostBridgeId}`,
    )
    .join(" · ");
}

/**
 * Address decode, as the fabric does it: the memory BAR (of any function in the topology) whose
 * bus-address range holds `busAddress`, else host memory. Bridge windows are the union of their
 * subtree's BARs (the builder assigns BARs depth-first), so finding the BAR finds the window path.
 * @param functions the topology's functions.
 */
export function decodeAddress(functions: readonly PciFunction[], busAddress: number, numaNode: number): RouteTarget {
  for (const fn of functions) {
    for (const bar of fn.bars) {
      if (bar.type !== "io" && busAddress >= bar.busAddress && busAddress < bar.busAddress + bar.sizeBytes) return { kind: "bar", fn, bar };
    }
  }
  return { kind: "host-memory", numaNode };
}
