/**
 * The topology document: what a user writes (JSON or YAML, checked against the published schema)
 * and what the importers of real machines produce. It is a tree per host bridge, the way Linux
 * sees PCI: every node is one PCI function; a bridge function (root port, switch port, PCI
 * bridge) lists the functions on its secondary bus as `children`. A switch is an `upstream-port`
 * whose children are `downstream-port`s.
 *
 * Everything but the shape is optional: BDFs are enumerated depth-first like Linux when not
 * given, BAR addresses are assigned inside the host bridge's windows, and missing facts take the
 * defaults documented on each field. {@link buildTopology} turns a document into the model.
 */
import type { AcsFlag } from "./acs.js";

/** The whole document. */
export interface TopologySpec {
  /** Shown in reports. */
  readonly name?: string;
  /** The CPU, as the host-bridge decision of p2pdma reads it [kernel.md §a.3 step 5]. */
  readonly platform?: PlatformSpec;
  /** Whether an IOMMU translates DMA. Default `"off"`. With `"on"` the kernel enables ACS SV/RR/CR/UF on every port that has them [§a.3]. */
  readonly iommu?: "on" | "off";
  /** Kernel command-line parameters that change ACS [§a.8]. */
  readonly kernel?: KernelParamsSpec;
  readonly hostBridges: readonly HostBridgeSpec[];
}

/** The CPU. Default: Intel family 6 on x86. */
export interface PlatformSpec {
  readonly cpuVendor: "intel" | "amd" | "other";
  /** CPU family (AMD Zen and newer is 0x17 or higher). */
  readonly cpuFamily: number;
  readonly cpuModel?: number;
  /** Default `"x86"`; the AMD Zen rule applies to x86 only. */
  readonly arch?: "x86" | "arm64" | "other";
  /** NUMA node distances as `numactl --hardware` prints them (row i, column j). */
  readonly numaDistances?: readonly (readonly number[])[];
}

/** `pci=disable_acs_redir=` and `pci=config_acs=` [§a.8]. */
export interface KernelParamsSpec {
  /** Device specifiers (`0000:01:00.0`, `01:00.0`, `pci:10b5:8747`) whose RR, CR and EC are cleared. */
  readonly disableAcsRedir?: readonly string[];
  /**
   * True when ACS control was read from a running kernel (lspci): the boot-time setup of
   * `pci_enable_acs` is already in it and is not applied again. Default false: the document
   * gives ACS control as firmware leaves it, and the build applies the kernel's setup.
   */
  readonly acsConfigured?: boolean;
  /** The value of `pci=config_acs=`: `<flags>@<device>[;<flags>@<device>…]`, flags MSB first over `DT EC UF CR RR TB SV` with `0`, `1`, `x`. */
  readonly configAcs?: string;
}

/** A host bridge and its root bus. */
export interface HostBridgeSpec {
  /** A name for reports; default `hb<N>`. */
  readonly id?: string;
  /** PCI domain (segment). Default 0. */
  readonly domain?: number;
  /** Root bus number. Default: 0 for the first host bridge of a domain, else above the previous one's buses. */
  readonly bus?: number;
  /** NUMA node of the bridge. Default 0. */
  readonly numaNode?: number;
  /** CPU package the bridge belongs to. Default: the NUMA node. */
  readonly socket?: number;
  /** Offset added to a CPU physical address to get the PCI bus address in this bridge's windows (`bus_offset`, 0 on most x86) [§a.1]. */
  readonly busOffset?: number;
  readonly devices: readonly FunctionSpec[];
}

/** The PCIe role of a function. */
export type FunctionKind =
  /** A Root Port: a bridge on the root bus. */
  | "root-port"
  /** A switch's upstream port: a bridge whose children are its downstream ports. */
  | "upstream-port"
  /** A switch's downstream port. */
  | "downstream-port"
  /** A PCI(-X) or PCIe-to-PCI bridge that is not a switch port. */
  | "pci-bridge"
  /** An endpoint (on the root bus: a root-complex integrated endpoint). */
  | "endpoint";

/** One PCI function. */
export interface FunctionSpec {
  readonly kind: FunctionKind;
  /** A short alias for reports and `--explain` (`gpu0`). */
  readonly name?: string;
  /** The function's address; enumerated when absent. */
  readonly bdf?: string;
  /** Device number on its bus when `bdf` is absent (functions with the same slot form one multi-function device). */
  readonly slot?: number;
  /** Function number (0-7) when `bdf` is absent. Default 0. */
  readonly function?: number;
  /** Vendor id (`"0x10de"` or a number). */
  readonly vendor?: string | number;
  /** Device id. */
  readonly device?: string | number;
  /** 24-bit class code (`"0x030200"`). Default: bridge class for bridges, `0xff0000` otherwise. */
  readonly classCode?: string | number;
  /** Human description (lspci's text). */
  readonly description?: string;
  /** NUMA node; default the host bridge's. */
  readonly numaNode?: number;
  /** ACS capability and control. Absent: no ACS capability. */
  readonly acs?: { readonly cap: readonly AcsFlag[]; readonly ctl?: readonly AcsFlag[] };
  /** PCIe link: capability and trained status. */
  readonly link?: LinkSpec;
  /** Max payload size in bytes. Default 256. */
  readonly mps?: number;
  /** Max read request size in bytes. Default 512. */
  readonly mrrs?: number;
  /** Memory Space Enable. Default true. */
  readonly memoryEnabled?: boolean;
  /** Power state. Default D0. */
  readonly powerState?: "D0" | "D1" | "D2" | "D3hot" | "D3cold";
  /** Function Level Reset capable. Default true for endpoints. */
  readonly flr?: boolean;
  readonly bars?: readonly BarSpec[];
  /** For bridges: the secondary bus number (from an imported file); enumerated when absent. */
  readonly secondaryBus?: number;
  /** For bridges: the functions on the secondary bus. */
  readonly children?: readonly FunctionSpec[];
}

/** Link capability (`cap*`) and status (`gen`, `width`). Generations 1-6; widths 1-32. */
export interface LinkSpec {
  readonly capGen?: number;
  readonly capWidth?: number;
  readonly gen?: number;
  readonly width?: number;
}

/** A Base Address Register. */
export interface BarSpec {
  /** BAR index 0-5. */
  readonly index: number;
  /** Size in bytes: a power of two. */
  readonly size: number;
  /** Default `"mem64"`. */
  readonly type?: "mem32" | "mem64" | "io";
  /** Default true for `mem64`, false otherwise. */
  readonly prefetchable?: boolean;
  /** CPU physical address (`"0x3bf000000000"` or a number); assigned in the host bridge window when absent. */
  readonly address?: string | number;
}
