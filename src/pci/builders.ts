/**
 * Typed builders for the topology shapes people ask about most. Each returns a plain
 * {@link TopologySpec} (the same document a user would write), so a builder's output can be
 * saved as JSON, validated against the schema and edited.
 *
 * Devices carry realistic identities: NVIDIA A100 GPUs (10de:20b0, BAR0 16 MiB, BAR1 64 GiB
 * prefetchable, BAR3 32 MiB), ConnectX-6 NICs (15b3:101b), Samsung NVMe (144d:a80a), Broadcom
 * PEX switches (1000:c010) whose downstream ports implement ACS, and Intel Ice Lake root ports
 * (8086:347a) behind a host bridge whose first device is 8086:09a2 (on the kernel's allow list).
 */
import type { AcsFlag } from "./acs.js";
import type { FunctionSpec, HostBridgeSpec, PlatformSpec, TopologySpec } from "./topology-spec.js";

/** What to attach at a leaf. */
export type LeafKind = "gpu" | "nic" | "nvme";

/** Options every builder takes. */
export interface BuilderOptions {
  /** IOMMU on or off (on: the kernel enables ACS redirect on every port that has it). Default off. */
  readonly iommu?: "on" | "off";
  /** Set RR and CR in the ACS control of every switch downstream port and root port. Default false. */
  readonly acsRedirect?: boolean;
  /** CPU; default Intel family 6 (Ice Lake). */
  readonly platform?: PlatformSpec;
}

const PORT_ACS_CAP: readonly AcsFlag[] = ["SV", "RR", "CR", "UF", "EC"];
const INTEL_PLATFORM: PlatformSpec = { cpuVendor: "intel", cpuFamily: 6, cpuModel: 106 };

/** One endpoint of the given kind, with its identity, link and BARs. */
export function leaf(kind: LeafKind, name: string): FunctionSpec {
  switch (kind) {
    case "gpu":
      return {
        kind: "endpoint",
        name,
        vendor: "0x10de",
        device: "0x20b0",
        classCode: "0x030200",
        description: "NVIDIA A100-SXM4-40GB",
        link: { capGen: 4, capWidth: 16, gen: 4, width: 16 },
        bars: [
          { index: 0, size: 16 * 2 ** 20, type: "mem32", prefetchable: false },
          { index: 1, size: 64 * 2 ** 30, type: "mem64", prefetchable: true },
          { index: 3, size: 32 * 2 ** 20, type: "mem64", prefetchable: true },
        ],
      };
    case "nic":
      return {
        kind: "endpoint",
        name,
        vendor: "0x15b3",
        device: "0x101b",
        classCode: "0x020700",
        description: "Mellanox ConnectX-6",
        link: { capGen: 4, capWidth: 16, gen: 4, width: 16 },
        bars: [{ index: 0, size: 32 * 2 ** 20, type: "mem64", prefetchable: true }],
      };
    case "nvme":
      return {
        kind: "endpoint",
        name,
        vendor: "0x144d",
        device: "0xa80a",
        classCode: "0x010802",
        description: "Samsung NVMe SSD",
        link: { capGen: 4, capWidth: 4, gen: 4, width: 4 },
        bars: [{ index: 0, size: 16 * 2 ** 10, type: "mem64", prefetchable: false }],
      };
  }
}

function acs(options: BuilderOptions): { cap: readonly AcsFlag[]; ctl: readonly AcsFlag[] } {
  return { cap: PORT_ACS_CAP, ctl: options.acsRedirect ? ["RR", "CR"] : [] };
}

/** A switch: an upstream port whose downstream ports each lead to one child. */
export function pcieSwitch(children: readonly FunctionSpec[], options: BuilderOptions = {}): FunctionSpec {
  return {
    kind: "upstream-port",
    vendor: "0x1000",
    device: "0xc010",
    description: "Broadcom PEX88xxx switch upstream port",
    link: { capGen: 4, capWidth: 16, gen: 4, width: 16 },
    children: children.map((child) => ({
      kind: "downstream-port" as const,
      vendor: "0x1000",
      device: "0xc010",
      description: "Broadcom PEX88xxx switch downstream port",
      acs: acs(options),
      link: { capGen: 4, capWidth: 16, gen: 4, width: 16 },
      children: [child],
    })),
  };
}

/** A root port leading to one child. */
export function rootPort(child: FunctionSpec, options: BuilderOptions = {}): FunctionSpec {
  return {
    kind: "root-port",
    vendor: "0x8086",
    device: "0x347a",
    description: "Intel Ice Lake PCIe root port",
    acs: acs(options),
    link: { capGen: 4, capWidth: 16, gen: 4, width: 16 },
    children: [child],
  };
}

/** A host bridge whose root bus starts with the host bridge device 00.0 (8086:09a2), then `ports`. */
export function hostBridge(id: string, numaNode: number, ports: readonly FunctionSpec[], bus?: number, domain?: number): HostBridgeSpec {
  return {
    id,
    numaNode,
    socket: numaNode,
    ...(bus === undefined ? {} : { bus }),
    ...(domain === undefined ? {} : { domain }),
    devices: [{ kind: "endpoint", vendor: "0x8086", device: "0x09a2", classCode: "0x088000", description: "Intel Ice Lake host bridge" }, ...ports],
  };
}

function document(name: string, hostBridges: readonly HostBridgeSpec[], options: BuilderOptions): TopologySpec {
  return { name, platform: options.platform ?? INTEL_PLATFORM, iommu: options.iommu ?? "off", hostBridges };
}

/** One root port, one switch, and the given leaves on its downstream ports (default: 2 GPUs and a NIC). */
export function oneSwitch(leaves: readonly LeafKind[] = ["gpu", "gpu", "nic"], options: BuilderOptions = {}): TopologySpec {
  const names = nameLeaves(leaves);
  return document(
    "one switch",
    [
      hostBridge("hb0", 0, [
        rootPort(
          pcieSwitch(
            names.map(([k, n]) => leaf(k, n)),
            options,
          ),
          options,
        ),
      ]),
    ],
    options,
  );
}

/** Two switches side by side under one root port (a parent switch with two child switches). */
export function twoSwitchesUnderOneRootPort(leavesPerSwitch: readonly LeafKind[] = ["gpu", "nic"], options: BuilderOptions = {}): TopologySpec {
  const names = nameLeaves([...leavesPerSwitch, ...leavesPerSwitch]);
  const half = leavesPerSwitch.length;
  const switches = [0, 1].map((s) =>
    pcieSwitch(
      names.slice(s * half, (s + 1) * half).map(([k, n]) => leaf(k, n)),
      options,
    ),
  );
  return document("two switches under one root port", [hostBridge("hb0", 0, [rootPort(pcieSwitch(switches, options), options)])], options);
}

/** Two sockets, one host bridge each, with the given leaves each on its own root port. */
export function dualSocket(leavesPerSocket: readonly LeafKind[] = ["gpu", "nic"], options: BuilderOptions = {}): TopologySpec {
  const names = nameLeaves([...leavesPerSocket, ...leavesPerSocket]);
  const half = leavesPerSocket.length;
  const bridges = [0, 1].map((socket) =>
    hostBridge(
      `hb${socket}`,
      socket,
      names.slice(socket * half, (socket + 1) * half).map(([k, n]) => rootPort(leaf(k, n), options)),
      socket * 0x80,
    ),
  );
  return document("dual socket", bridges, options);
}

/**
 * A DGX A100-like machine: 2 sockets × 2 host bridges; under each host bridge one root port and a
 * three-level switch tree holding 2 GPUs and 2 NICs (GPU and NIC pairs share the second level).
 */
export function dgxLike(options: BuilderOptions = {}): TopologySpec {
  let gpu = 0;
  let nic = 0;
  const pair = () => pcieSwitch([pcieSwitch([leaf("gpu", `gpu${gpu++}`)], options), leaf("nic", `nic${nic++}`)], options);
  const bridges = [0, 1, 2, 3].map((i) => hostBridge(`hb${i}`, i >> 1, [rootPort(pcieSwitch([pair(), pair()], options), options)], i * 0x40));
  return document("DGX-like (8 GPUs, 8 NICs, 3-level switch trees)", bridges, options);
}

function nameLeaves(kinds: readonly LeafKind[]): Array<[LeafKind, string]> {
  const counters: Record<LeafKind, number> = { gpu: 0, nic: 0, nvme: 0 };
  return kinds.map((kind) => [kind, `${kind}${counters[kind]++}`]);
}
