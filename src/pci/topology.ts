/**
 * The PCI topology model: host bridges, and under each a tree of PCI functions linked the way
 * the kernel links `struct pci_dev`s. Built from a {@link TopologySpec} by `buildTopology`.
 *
 * ```
 *  HostBridge hb0 (root bus 00)
 *   └─ 00:01.0 root-port           upstream = undefined (on a root bus)
 *       └─ 01:00.0 upstream-port   upstream = 00:01.0
 *           ├─ 02:00.0 downstream-port ── 03:00.0 gpu0
 *           └─ 02:01.0 downstream-port ── 04:00.0 nic0
 * ```
 *
 * Identities, addresses and the tree are fixed after the build; the state a run changes (ACS
 * control, Memory Space Enable, power state) is mutable.
 */
import type { AcsBits } from "./acs.js";
import { type Bdf, type DeviceKind, formatBdf } from "./ids.js";
import type { FunctionKind } from "./topology-spec.js";

/** A BAR with its assigned addresses. */
export interface Bar {
  readonly index: number;
  readonly sizeBytes: number;
  readonly type: "mem32" | "mem64" | "io";
  readonly prefetchable: boolean;
  /** CPU physical address. */
  readonly cpuAddress: number;
  /** PCI bus address (`cpuAddress + busOffset` of the host bridge window). */
  readonly busAddress: number;
}

/** A PCIe link as the function's Link Capabilities and Link Status registers say. */
export interface Link {
  readonly capGen: number;
  readonly capWidth: number;
  readonly gen: number;
  readonly width: number;
}

/** The CPU the host-bridge decision reads. */
export interface Platform {
  readonly cpuVendor: "intel" | "amd" | "other";
  readonly cpuFamily: number;
  readonly cpuModel: number | undefined;
  readonly arch: "x86" | "arm64" | "other";
  readonly numaDistances: readonly (readonly number[])[] | undefined;
}

/** One PCI function (`struct pci_dev`). */
export class PciFunction {
  /** The kernel's name, `0000:41:00.0`: the id reports use. */
  readonly id: string;
  readonly children: PciFunction[] = [];
  /** ACS control bits (mutable: a run may change them; p2pdma's cache will not notice [§a.6]). */
  acsCtl: AcsBits;
  memoryEnabled: boolean;
  powerState: "D0" | "D1" | "D2" | "D3hot" | "D3cold";
  /** Held in reset (FLR, secondary bus reset): answers nothing but UR until released [kernel.md §c.6]. */
  inReset = false;

  constructor(
    readonly bdf: Bdf,
    readonly kind: FunctionKind,
    readonly hostBridge: HostBridge,
    /** `pci_upstream_bridge()`: the bridge above this function's bus; undefined on a root bus. */
    readonly upstream: PciFunction | undefined,
    readonly identity: {
      readonly name: string | undefined;
      readonly vendorId: number;
      readonly deviceId: number;
      readonly classCode: number;
      readonly deviceKind: DeviceKind;
      readonly description: string | undefined;
      readonly numaNode: number;
    },
    /** ACS capability bits; 0 when the function has no ACS capability. */
    readonly acsCap: AcsBits,
    /** Whether the function has an ACS capability at all. */
    readonly hasAcs: boolean,
    acsCtl: AcsBits,
    readonly link: Link | undefined,
    readonly mps: number,
    readonly mrrs: number,
    readonly flr: boolean,
    readonly bars: readonly Bar[],
    /** For bridges: [secondary, subordinate] bus numbers (the builder sets subordinate once the subtree is numbered). */
    public busRange: readonly [number, number] | undefined,
    memoryEnabled: boolean,
    powerState: "D0" | "D1" | "D2" | "D3hot" | "D3cold",
  ) {
    this.id = formatBdf(bdf);
    this.acsCtl = acsCtl;
    this.memoryEnabled = memoryEnabled;
    this.powerState = powerState;
  }

  /** Whether the function forwards to a secondary bus. */
  get isBridge(): boolean {
    return this.kind !== "endpoint";
  }

  /** The alias if there is one, else the BDF. */
  get label(): string {
    return this.identity.name ?? this.id;
  }

  /** This function and its bridges up to the root bus: `[this, upstream, upstream.upstream, …]`. */
  upstreamChain(): PciFunction[] {
    const chain: PciFunction[] = [];
    for (let node: PciFunction | undefined = this; node !== undefined; node = node.upstream) chain.push(node);
    return chain;
  }
}

/** A host bridge (`struct pci_host_bridge`) and its root bus. */
export class HostBridge {
  /** Functions on the root bus, in device/function order. */
  readonly rootFunctions: PciFunction[] = [];

  constructor(
    readonly id: string,
    readonly domain: number,
    readonly rootBus: number,
    readonly numaNode: number,
    readonly socket: number,
    readonly busOffset: number,
  ) {}

  /**
   * The device the allow list reads: the first function on the root bus, as
   * `pci_host_bridge_dev()` finds it [§a.4]. Undefined for an empty root bus.
   */
  get firstRootFunction(): PciFunction | undefined {
    return this.rootFunctions[0];
  }
}

/** The whole machine. */
export class Topology {
  private readonly byKey = new Map<string, PciFunction>();

  constructor(
    readonly name: string,
    readonly platform: Platform,
    readonly iommuEnabled: boolean,
    readonly hostBridges: readonly HostBridge[],
    /** Every function, depth-first per host bridge (the order `lspci -t` draws them). */
    readonly functions: readonly PciFunction[],
  ) {
    for (const fn of functions) {
      this.byKey.set(fn.id, fn);
      if (fn.identity.name !== undefined) this.byKey.set(fn.identity.name, fn);
    }
  }

  /** The function named `key`: a BDF (`0000:41:00.0` or `41:00.0`) or an alias. */
  find(key: string): PciFunction | undefined {
    return this.byKey.get(key) ?? this.byKey.get(`0000:${key}`);
  }
}
