/**
 * The repair of the PCI trees the XML formats prune (`repairPciTrees`): hwloc drops bridges that
 * lead to nothing it keeps, NCCL keeps one `<pci>` per switch level and folds root ports into
 * `<cpu>`. Each hole is filled with the default documented on the function that fills it, and
 * each filled hole is one warning.
 */
import { type Bdf, formatBdf } from "../pci/ids.js";
import type { FunctionKind, FunctionSpec, HostBridgeSpec, LinkSpec } from "../pci/topology-spec.js";
import type { ImportIssue } from "./import-types.js";
import { definedOnly, ImportFailure, issueAt, type XmlElement } from "./xml.js";

/** One PCI function as an XML format states it, before the holes around it are filled. */
export interface RawFunction {
  readonly bdf: Bdf;
  readonly isBridge: boolean;
  /** The secondary bus when the file states it (hwloc's `bridge_pci`). */
  readonly secondaryBus: number | undefined;
  readonly name: string | undefined;
  readonly vendor: number | undefined;
  readonly device: number | undefined;
  readonly classCode: number | undefined;
  readonly description: string | undefined;
  readonly link: LinkSpec | undefined;
  /** A warning about the link, given only if the function has one (it is no root-complex integrated or conventional PCI device). */
  readonly linkWarning: string | undefined;
  readonly children: readonly RawFunction[];
  readonly where: XmlElement;
}

/** A host bridge as an XML format states it. */
export interface RawHostBridge {
  readonly domain: number;
  /** The root bus, when the file states it (hwloc's `bridge_pci`); NCCL never does. */
  readonly rootBus: number | undefined;
  readonly numaNode: number;
  readonly socket: number | undefined;
  readonly functions: readonly RawFunction[];
  readonly where: XmlElement;
}

/** How {@link repairPciTrees} reads a format. */
export interface RepairOptions {
  readonly file: string;
  /**
   * True for NCCL: every bridge is a switch upstream port whose downstream ports are folded away,
   * so a bridge below a port is an upstream port and its internal bus is unknown. False for hwloc,
   * which keeps every bridge on a kept path: a bridge below a port is a switch upstream port when
   * a bridge (or a function off its secondary bus) hangs below it, else a PCI(e-to-PCI) bridge;
   * an unstated secondary bus is its first child's bus.
   */
  readonly foldsDownstreamPorts: boolean;
  /** Why a root port can be missing, for the warning (`"NCCL folds root ports into <cpu>"`). */
  readonly rootPortReason: string;
  /** Why a downstream port can be missing, for the warning. */
  readonly downstreamPortReason: string;
}

/** The outcome of {@link repairPciTrees}. */
export type RepairResult =
  | { readonly ok: true; readonly hostBridges: HostBridgeSpec[]; readonly warnings: ImportIssue[] }
  | { readonly ok: false; readonly error: ImportIssue };

/** Where a function sits and what its parent is. */
interface Place {
  readonly role: FunctionKind | "host";
  /** The parent's secondary bus (the root bus for a host bridge); undefined when not known. */
  readonly bus: number | undefined;
  readonly domain: number;
  /** The parent for messages: a BDF or a host bridge id. */
  readonly parentLabel: string;
  /** The parent's vendor and device ids (an assumed downstream port takes its switch's). */
  readonly parentIds: { readonly vendor?: string; readonly device?: string };
}

/** The holes every file of these formats has, reported once per import. */
const COMMON_WARNINGS = [
  "the file carries no ACS capabilities: every function is imported without one, so p2pdma sees no ACS redirect [kernel.md §a.3]",
  "the file does not list each host bridge's own device (00.0 on the root bus): the host-bridge allow list [kernel.md §a.4] reads the first function on the root bus instead",
];

/**
 * Turns the raw trees into host bridge specs, filling what the format leaves out:
 *
 * - **Root port**: a function below a host bridge that is not on the root bus (or every function,
 *   when the root bus is unknown) gets an assumed root port on the root bus, one per secondary
 *   bus, with device numbers from 1 up that no real function uses (00.0 stays free for the host
 *   bridge's own device, which neither format lists).
 * - **Root bus** (when unknown): the nearest bus below the lowest bus of its functions that no
 *   function, stated secondary bus or earlier choice uses (then the lowest free bus).
 * - **Downstream port**: a function below a switch upstream port that is not on the switch's
 *   internal bus (or every function, when that bus is unknown) gets an assumed downstream port,
 *   one per secondary bus, with the lowest free device numbers and the upstream port's vendor and
 *   device id (a switch's ports share the chip's ids).
 * - **Switch internal bus** (when unknown): the first bus after the upstream port's own that
 *   nothing uses.
 * - An assumed port's link is the link of the function below it: they are the two ends of one link.
 * - **ACS**: neither format carries ACS, so no function gets an ACS capability (one warning).
 * - Names are made unique by suffixing `-2`, `-3`, … to later duplicates (one warning each).
 *
 * Every assumed port has a `description` that says it was assumed and is one located warning.
 * The caller checks that only bridges have functions below them.
 * @returns the specs and the warnings, or the first structural error (more than 32 devices on one
 * bus, a domain with no free bus number left).
 */
export function repairPciTrees(raw: readonly RawHostBridge[], options: RepairOptions): RepairResult {
  const repair = new TreeRepair(raw, options);
  try {
    const hostBridges = raw.map((hb) => repair.hostBridge(hb));
    const warnings = repair.warnings;
    if (raw.some((hb) => hb.functions.length > 0)) warnings.push(...COMMON_WARNINGS.map((message) => ({ file: options.file, message })));
    return { ok: true, hostBridges, warnings };
  } catch (error) {
    if (error instanceof ImportFailure) return { ok: false, error: error.issue };
    throw error;
  }
}

class TreeRepair {
  readonly warnings: ImportIssue[] = [];
  private readonly usedBuses = new Map<number, Set<number>>();
  private readonly usedNames = new Set<string>();

  constructor(
    raw: readonly RawHostBridge[],
    private readonly options: RepairOptions,
  ) {
    const visit = (fn: RawFunction, domain: number) => {
      this.buses(domain).add(fn.bdf.bus);
      if (fn.secondaryBus !== undefined) this.buses(domain).add(fn.secondaryBus);
      for (const child of fn.children) visit(child, domain);
    };
    for (const hb of raw) {
      if (hb.rootBus !== undefined) this.buses(hb.domain).add(hb.rootBus);
      for (const fn of hb.functions) visit(fn, hb.domain);
    }
  }

  hostBridge(hb: RawHostBridge): HostBridgeSpec {
    let rootBus = hb.rootBus;
    const lowest = Math.min(...hb.functions.map((fn) => fn.bdf.bus));
    if (rootBus === undefined && hb.functions.length > 0) rootBus = this.claimBus(hb.domain, [...busesFrom(lowest - 1, -1), ...busesFrom(0, 1)], hb.where);
    const id = rootBus === undefined ? undefined : `pci${hb.domain.toString(16).padStart(4, "0")}:${rootBus.toString(16).padStart(2, "0")}`;
    const place: Place = { role: "host", bus: rootBus, domain: hb.domain, parentLabel: `host bridge ${id ?? "(empty)"}`, parentIds: {} };
    const devices = this.placeAll(hb.functions, place);
    return definedOnly({ id, domain: hb.domain, bus: rootBus, numaNode: hb.numaNode, socket: hb.socket, devices });
  }

  private buses(domain: number): Set<number> {
    const set = this.usedBuses.get(domain) ?? new Set<number>();
    this.usedBuses.set(domain, set);
    return set;
  }

  /** Claims the first of `candidates` that nothing in the domain uses. */
  private claimBus(domain: number, candidates: readonly number[], where: XmlElement): number {
    const used = this.buses(domain);
    const bus = candidates.find((candidate) => !used.has(candidate));
    if (bus === undefined)
      throw new ImportFailure(issueAt(this.options.file, where, `no free bus number left in domain ${domain.toString(16)} for an assumed port`));
    used.add(bus);
    return bus;
  }

  /** Places `functions` below a parent; assumes root or downstream ports where the bus says one is missing. */
  private placeAll(functions: readonly RawFunction[], place: Place): FunctionSpec[] {
    const portKind = place.role === "host" ? "root-port" : place.role === "upstream-port" ? "downstream-port" : undefined;
    if (portKind === undefined) return functions.map((fn) => this.functionSpec(fn, place));
    const direct = functions.filter((fn) => fn.bdf.bus === place.bus);
    const groups = new Map<number, RawFunction[]>();
    for (const fn of functions) {
      if (fn.bdf.bus === place.bus) continue;
      groups.set(fn.bdf.bus, [...(groups.get(fn.bdf.bus) ?? []), fn]);
    }
    const specs = direct.map((fn) => this.functionSpec(fn, place));
    const usedDevices = new Set(direct.map((fn) => fn.bdf.device));
    for (const [secondaryBus, group] of groups) specs.push(this.assumedPort(portKind, secondaryBus, group, place, usedDevices));
    return specs;
  }

  private assumedPort(kind: "root-port" | "downstream-port", secondaryBus: number, group: RawFunction[], place: Place, usedDevices: Set<number>): FunctionSpec {
    const first = group[0] as RawFunction;
    const bus = place.bus as number;
    let device = kind === "root-port" ? 1 : 0;
    while (usedDevices.has(device)) device++;
    if (device > 31)
      throw new ImportFailure(issueAt(this.options.file, first.where, `bus ${bus.toString(16)} has no device number left for an assumed ${kind}`));
    usedDevices.add(device);
    const bdf = formatBdf({ domain: place.domain, bus, device, fn: 0 });
    const reason = kind === "root-port" ? this.options.rootPortReason : this.options.downstreamPortReason;
    const what = kind === "root-port" ? "root port" : "downstream port";
    this.warnings.push(issueAt(this.options.file, first.where, `assumed ${what} ${bdf} between ${place.parentLabel} and ${formatBdf(first.bdf)}: ${reason}`));
    const ids = kind === "downstream-port" ? place.parentIds : {};
    const below: Place = { role: kind, bus: secondaryBus, domain: place.domain, parentLabel: bdf, parentIds: ids };
    const children = group.map((fn) => this.functionSpec(fn, below));
    return definedOnly({
      kind,
      bdf,
      ...ids,
      classCode: "0x060400",
      description: `assumed ${what} (not in the file: ${reason})`,
      link: first.link,
      secondaryBus,
      children,
    });
  }

  private functionSpec(fn: RawFunction, place: Place): FunctionSpec {
    const kind = this.kindOf(fn, place.role);
    const hasLink = !(place.role === "host" && kind === "endpoint") && place.role !== "pci-bridge";
    if (hasLink && fn.linkWarning !== undefined) this.warnings.push(issueAt(this.options.file, fn.where, fn.linkWarning));
    let secondaryBus = fn.secondaryBus;
    if (secondaryBus === undefined && kind !== "endpoint") {
      const internal = kind === "upstream-port" && this.options.foldsDownstreamPorts && fn.children.length > 0;
      if (internal) secondaryBus = this.claimBus(place.domain, busesFrom(fn.bdf.bus + 1, 1), fn.where);
      else secondaryBus = fn.children[0]?.bdf.bus;
    }
    const ids = definedOnly({ vendor: hex(fn.vendor, 4), device: hex(fn.device, 4) });
    const below: Place = { role: kind, bus: secondaryBus, domain: place.domain, parentLabel: formatBdf(fn.bdf), parentIds: ids };
    const children = kind === "endpoint" ? [] : this.placeAll(fn.children, below);
    const link = hasLink ? fn.link : undefined;
    const { description } = fn;
    return definedOnly({
      kind,
      bdf: formatBdf(fn.bdf),
      name: this.uniqueName(fn),
      ...ids,
      classCode: hex(fn.classCode, 6),
      description,
      link,
      secondaryBus,
      children,
    });
  }

  private kindOf(fn: RawFunction, role: FunctionKind | "host"): FunctionKind {
    if (!fn.isBridge) return "endpoint";
    switch (role) {
      case "host":
        return "root-port";
      case "upstream-port":
        return "downstream-port";
      case "root-port":
      case "downstream-port":
        if (this.options.foldsDownstreamPorts) return "upstream-port";
        // A child off the stated secondary bus means hwloc lost a downstream port: a switch.
        return fn.children.some((child) => child.isBridge || (fn.secondaryBus !== undefined && child.bdf.bus !== fn.secondaryBus))
          ? "upstream-port"
          : "pci-bridge";
      default:
        return "pci-bridge";
    }
  }

  private uniqueName(fn: RawFunction): string | undefined {
    if (fn.name === undefined) return undefined;
    let name = fn.name;
    for (let n = 2; this.usedNames.has(name); n++) name = `${fn.name}-${n}`;
    if (name !== fn.name)
      this.warnings.push(issueAt(this.options.file, fn.where, `name "${fn.name}" is already used: ${formatBdf(fn.bdf)} is named "${name}"`));
    this.usedNames.add(name);
    return name;
  }
}

/** Bus numbers from `first` in steps of `step` (±1), wrapping around 255 → 0 when going up, stopping at 0 when going down. */
function busesFrom(first: number, step: 1 | -1): number[] {
  return step === 1 ? Array.from({ length: 256 }, (_, i) => (first + i) % 256) : Array.from({ length: Math.max(0, first + 1) }, (_, i) => first - i);
}

function hex(value: number | undefined, digits: number): string | undefined {
  return value === undefined ? undefined : `0x${value.toString(16).padStart(digits, "0")}`;
}
