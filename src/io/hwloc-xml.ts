/**
 * Imports a machine from hwloc's XML (`lstopo --of xml`), format v2 (`<topology version="2.0">`)
 * and v1 (hwloc 1.x: no version attribute, `Socket` or `Package` objects, NUMANode objects as
 * parents of packages, `name=` on PCI objects).
 *
 * hwloc nests I/O objects below the CPU object they are local to:
 *
 * ```
 * Package os_index=1 (CPUVendor, CPUFamilyNumber, CPUModelNumber)
 *  └─ Bridge bridge_type="0-1" bridge_pci="0000:[aa-ab]"        host bridge, root bus aa
 *      └─ Bridge bridge_type="1-1" pci_busid="0000:aa:01.0"      root port
 *          └─ PCIDev pci_busid="0000:ab:00.0" pci_type="0200 [15b3:101d] …" pci_link_speed="31.507692"
 *              └─ OSDev name="mlx5_0" osdev_type="3"            the alias
 * ```
 *
 * The machine facts (CPU identity, NUMA distances, where a host bridge hangs) are read by
 * `hwloc-xml-v1.ts`, which also knows the v1 spellings.
 */
import { parseBdf } from "../pci/ids.js";
import type { LinkSpec, TopologySpec } from "../pci/topology-spec.js";
import { hwlocMachineFacts, hwlocPlacement } from "./hwloc-xml-v1.js";
import type { ImportIssue, TopologyImport } from "./import-types.js";
import { type RawFunction, type RawHostBridge, repairPciTrees } from "./pci-tree-repair.js";
import { childrenNamed, ImportFailure, issueAt, parseXml, type XmlElement } from "./xml.js";

/** Whether `text` looks like hwloc XML (v1 or v2). */
export function looksLikeHwlocXml(text: string): boolean {
  return /<topology[\s>]/.test(text) && /<object\s[^>]*type="/.test(text);
}

/**
 * Imports an hwloc XML export.
 *
 * Host bridges are the `bridge_type="0-1"` objects; their NUMA node and socket come from the CPU
 * object they hang under. Root ports, switch ports and PCI bridges are the `1-1` bridges below,
 * classified by position (see `repairPciTrees`). Identities come from `pci_type`, descriptions
 * from `name=` (v1) or the `PCIVendor`/`PCIDevice` infos, aliases from OS devices (see
 * {@link osDeviceName}), links from `pci_link_speed` (see {@link linkFromGBps}). PCI objects that
 * hang under no host bridge get one assumed host bridge per CPU object (one warning each).
 * @param text the XML.
 * @param file the name the user gave, for messages.
 * @returns the topology and every assumption as a located warning, or a located error for
 * malformed XML, a root other than `<topology>`, or a PCI object without a valid `pci_busid`,
 * `pci_type` or `bridge_pci`. Never throws.
 */
export function importHwlocXml(text: string, file: string): TopologyImport {
  const parsed = parseXml(text);
  if (!parsed.ok) return { ok: false, error: { file, line: parsed.line, message: `not well-formed XML: ${parsed.message}` } };
  const root = parsed.root;
  if (root.name !== "topology") return { ok: false, error: issueAt(file, root, `expected an hwloc <topology> document, found <${root.name}>`) };
  const warnings: ImportIssue[] = [];
  const version = root.attributes.get("version");
  if (version !== undefined && !/^2\./.test(version)) {
    if (!/^[3-9]\./.test(version))
      return { ok: false, error: issueAt(file, root, `unsupported hwloc XML version "${version}" (expected 2.x, or none for v1)`) };
    warnings.push(issueAt(file, root, `hwloc XML version ${version} is newer than 2.x: read as 2.x`));
  }
  const reader = new HwlocReader(file, warnings);
  try {
    for (const object of childrenNamed(root, "object")) reader.visit(object, []);
  } catch (error) {
    if (error instanceof ImportFailure) return { ok: false, error: error.issue };
    throw error;
  }
  const repaired = repairPciTrees(reader.hostBridges, {
    file,
    foldsDownstreamPorts: false,
    rootPortReason: "hwloc lists no root port above it",
    downstreamPortReason: "hwloc lists no downstream port above it",
  });
  if (!repaired.ok) return repaired;
  const facts = hwlocMachineFacts(root, file);
  const spec: TopologySpec = {
    name: file,
    platform: facts.platform,
    hostBridges: repaired.hostBridges,
  };
  return { ok: true, spec, warnings: [...warnings, ...facts.warnings, ...repaired.warnings] };
}

const PCI_TYPES = new Set(["Bridge", "PCIDev"]);

/** Walks the object tree, collecting host bridges with their PCI functions. */
class HwlocReader {
  readonly hostBridges: RawHostBridge[] = [];
  /** Assumed host bridges for PCI objects outside any, per CPU object. */
  private readonly orphans = new Map<XmlElement, Map<number, RawFunction[]>>();

  constructor(
    private readonly file: string,
    private readonly warnings: ImportIssue[],
  ) {}

  visit(object: XmlElement, ancestors: readonly XmlElement[]): void {
    const type = object.attributes.get("type");
    if (type === "Bridge" && object.attributes.get("bridge_type")?.startsWith("0-")) {
      this.hostBridges.push(this.hostBridge(object, ancestors));
    } else if (type !== undefined && PCI_TYPES.has(type)) {
      this.orphan(object, ancestors);
    } else if (type !== "OSDev" && type !== "Misc") {
      for (const child of childrenNamed(object, "object")) this.visit(child, [...ancestors, object]);
    }
  }

  private fail(element: XmlElement, message: string): never {
    throw new ImportFailure(issueAt(this.file, element, message));
  }

  private hostBridge(object: XmlElement, ancestors: readonly XmlElement[]): RawHostBridge {
    const range = parseBusRange(object.attributes.get("bridge_pci"));
    if (range === undefined) this.fail(object, `expected bridge_pci="DDDD:[BB-BB]" on a host bridge, got ${quoted(object.attributes.get("bridge_pci"))}`);
    const place = hwlocPlacement(object, ancestors, this.file);
    this.warnings.push(...place.warnings);
    const functions = this.pciChildren(object);
    const foreign = functions.find((fn) => fn.bdf.domain !== range.domain);
    if (foreign) this.fail(foreign.where, `${foreign.where.attributes.get("pci_busid")} is not in domain ${hex4(range.domain)} of its host bridge`);
    return { domain: range.domain, rootBus: range.secondary, numaNode: place.numaNode, socket: place.socket, functions, where: object };
  }

  /** A PCI object outside every host bridge: it joins an assumed host bridge for its CPU object and domain. */
  private orphan(object: XmlElement, ancestors: readonly XmlElement[]): void {
    const fn = this.pciFunction(object);
    const parent = ancestors[ancestors.length - 1] ?? object;
    let byDomain = this.orphans.get(parent);
    if (!byDomain) {
      byDomain = new Map();
      this.orphans.set(parent, byDomain);
    }
    let functions = byDomain.get(fn.bdf.domain);
    if (!functions) {
      functions = [];
      byDomain.set(fn.bdf.domain, functions);
      const place = hwlocPlacement(object, ancestors, this.file);
      this.warnings.push(...place.warnings);
      this.warnings.push(issueAt(this.file, object, `no host bridge object above ${object.attributes.get("pci_busid")}: assumed one, with its root bus`));
      this.hostBridges.push({ domain: fn.bdf.domain, rootBus: undefined, numaNode: place.numaNode, socket: place.socket, functions, where: object });
    }
    functions.push(fn);
  }

  private pciChildren(object: XmlElement): RawFunction[] {
    return childrenNamed(object, "object")
      .filter((child) => PCI_TYPES.has(child.attributes.get("type") ?? ""))
      .map((child) => this.pciFunction(child));
  }

  private pciFunction(object: XmlElement): RawFunction {
    const a = object.attributes;
    const isBridge = a.get("type") === "Bridge";
    if (isBridge && a.get("bridge_type") !== "1-1") this.fail(object, `expected bridge_type="1-1" below a host bridge, got ${quoted(a.get("bridge_type"))}`);
    const bdf = parseBdf(a.get("pci_busid") ?? "");
    if (bdf === undefined) this.fail(object, `expected pci_busid="DDDD:BB:DD.F", got ${quoted(a.get("pci_busid"))}`);
    const ids = parsePciType(a.get("pci_type"));
    if (ids === undefined) this.fail(object, `expected pci_type="CCCC [VVVV:DDDD] [SSSS:ssss] RR", got ${quoted(a.get("pci_type"))}`);
    let secondaryBus: number | undefined;
    if (isBridge && a.has("bridge_pci")) {
      const range = parseBusRange(a.get("bridge_pci"));
      if (range === undefined) this.fail(object, `expected bridge_pci="DDDD:[BB-BB]", got ${quoted(a.get("bridge_pci"))}`);
      secondaryBus = range.secondary;
    }
    const children = this.pciChildren(object);
    if (!isBridge && children.length > 0) this.fail(object, `${a.get("pci_busid")} is a PCIDev, not a bridge, but has PCI objects below it`);
    const where = `${a.get("pci_busid")}: pci_link_speed="${a.get("pci_link_speed") ?? ""}"`;
    const { link, warning } = linkFromGBps(Number.parseFloat(a.get("pci_link_speed") ?? ""), where);
    const infos = new Map(childrenNamed(object, "info").map((info) => [info.attributes.get("name"), info.attributes.get("value")]));
    const description = a.get("name") ?? ([infos.get("PCIVendor"), infos.get("PCIDevice")].filter((part) => part !== undefined).join(" ") || undefined);
    return {
      bdf,
      isBridge,
      secondaryBus,
      name: osDeviceName(object),
      vendor: ids.vendor,
      device: ids.device,
      classCode: ids.classCode,
      description,
      link,
      linkWarning: warning,
      children,
      where: object,
    };
  }
}

/**
 * The alias of a PCI function: the name of the OS device hwloc found below it, by preference an
 * OpenFabrics device (`mlx5_0`, osdev_type 3), a CUDA device (`cuda0`, osdev_type 5), an NVMe
 * namespace (`nvme0n1`), then a network interface (`enp23s0f0`, osdev_type 2). DRM cards, OpenCL
 * devices and SATA/SAS disks do not name the function (a controller has many disks).
 */
export function osDeviceName(object: XmlElement): string | undefined {
  const rank = (osdev: XmlElement): number => {
    const name = osdev.attributes.get("name") ?? "";
    const type = osdev.attributes.get("osdev_type");
    if (type === "3") return 0;
    if (type === "5" && /^cuda\d+$/.test(name)) return 1;
    if (type === "0" && /^nvme\d+n\d+$/.test(name)) return 2;
    if (type === "2") return 3;
    return 4;
  };
  const osdevs = childrenNamed(object, "object").filter((child) => child.attributes.get("type") === "OSDev" && child.attributes.get("name"));
  const best = osdevs.map((osdev) => ({ osdev, rank: rank(osdev) })).sort((x, y) => x.rank - y.rank)[0];
  return best === undefined || best.rank === 4 ? undefined : best.osdev.attributes.get("name");
}

/**
 * GB/s per lane that hwloc computes for each generation: GT/s × encoding / 8 bits. Gen2 appears
 * twice: hwloc reads the kernel's `current_link_speed` string and recognises `"5 GT/s"` as 8b/10b
 * (0.5), but newer kernels write `"5.0 GT/s PCIe"`, which hwloc 2.x encodes as 128b/130b (0.615).
 */
const LANE_GBPS: ReadonlyArray<readonly [number, number]> = [
  [1, 0.25],
  [2, 0.5],
  [2, (5 * 128) / 130 / 8],
  [3, (8 * 128) / 130 / 8],
  [4, (16 * 128) / 130 / 8],
  [5, (32 * 128) / 130 / 8],
  [6, (64 * 128) / 130 / 8],
];
const LINK_WIDTHS = [1, 2, 4, 8, 12, 16, 32];

/**
 * Turns hwloc's `pci_link_speed` (GB/s for the whole link) into a generation and width. Because a
 * lane's rate doubles with each generation from Gen3 on, every Gen3+ speed matches several
 * pairs (31.5 GB/s is Gen3 x32, Gen4 x16, Gen5 x8 or Gen6 x4): the default is the widest match of
 * at most x16 (no slot is wider), then the widest, with a warning naming the alternatives.
 * @returns the link, or none with a warning when the speed is 0, absent or matches nothing.
 */
export function linkFromGBps(speedGBps: number, where: string): { link: LinkSpec | undefined; warning: string | undefined } {
  if (!(speedGBps > 0)) return { link: undefined, warning: `${where}: hwloc did not read the link speed, so the link is left unknown` };
  const matches: Array<{ gen: number; width: number }> = [];
  for (const [gen, lane] of LANE_GBPS) {
    for (const width of LINK_WIDTHS) {
      if (Math.abs(lane * width - speedGBps) <= 0.001 + speedGBps * 0.001 && !matches.some((m) => m.gen === gen && m.width === width))
        matches.push({ gen, width });
    }
  }
  const score = (m: { gen: number; width: number }) => (m.width <= 16 ? 100 : 0) + m.width;
  const best = [...matches].sort((x, y) => score(y) - score(x) || x.gen - y.gen)[0];
  if (best === undefined) return { link: undefined, warning: `${where}: ${speedGBps} GB/s matches no PCIe generation and width, so the link is left unknown` };
  const link = { gen: best.gen, width: best.width };
  if (matches.length === 1) return { link, warning: undefined };
  const all = matches.map((m) => `Gen${m.gen} x${m.width}`).join(", ");
  return { link, warning: `${where}: ${speedGBps} GB/s is any of ${all}; assumed Gen${best.gen} x${best.width} (the widest link up to x16)` };
}

/** Parses `bridge_pci="0000:[01-02]"` into the domain and the secondary bus. */
function parseBusRange(text: string | undefined): { domain: number; secondary: number } | undefined {
  const match = /^([0-9a-fA-F]{1,8}):\[([0-9a-fA-F]{1,2})-([0-9a-fA-F]{1,2})\]$/.exec(text?.trim() ?? "");
  return match ? { domain: Number.parseInt(match[1] as string, 16), secondary: Number.parseInt(match[2] as string, 16) } : undefined;
}

/**
 * Parses `pci_type="0604 [8086:1bbf] [15d9:1c30] 11"`: class and subclass, vendor, device. hwloc
 * does not record the programming interface: it is taken as 00, except 02 (NVM Express) for
 * class 0108, the only one in use for non-volatile memory controllers.
 */
function parsePciType(text: string | undefined): { classCode: number; vendor: number; device: number } | undefined {
  const match = /^([0-9a-fA-F]{4}) \[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]/.exec(text?.trim() ?? "");
  if (!match) return undefined;
  const classAndSub = Number.parseInt(match[1] as string, 16);
  return {
    classCode: (classAndSub << 8) | (classAndSub === 0x0108 ? 0x02 : 0),
    vendor: Number.parseInt(match[2] as string, 16),
    device: Number.parseInt(match[3] as string, 16),
  };
}

function quoted(value: string | undefined): string {
  return value === undefined ? "nothing" : JSON.stringify(value);
}

function hex4(value: number): string {
  return value.toString(16).padStart(4, "0");
}
