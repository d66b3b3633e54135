/**
 * Turns a {@link TopologySpec} into a {@link Topology}: checks the tree, numbers buses and
 * functions depth-first like Linux where the document leaves them out, assigns BAR addresses
 * inside each host bridge's windows, and sets ACS control as the kernel would at boot
 * (`pci_enable_acs`, see `acs-params.ts`).
 *
 * Problems in the document are returned as located issues, never thrown: a topology file is user
 * input. Each issue names the JSON path of the offending node.
 */
import { acsBits } from "./acs.js";
import { applyBootAcs } from "./acs-params.js";
import { assignBars, type BarAllocator, createBarAllocator } from "./bar-assignment.js";
import { type Bdf, deviceKindOfClass, parseBdf, parseHexId } from "./ids.js";
import { HostBridge, PciFunction, type Platform, Topology } from "./topology.js";
import type { FunctionSpec, HostBridgeSpec, TopologySpec } from "./topology-spec.js";

/** A problem with a topology document, located by JSON path (`$.hostBridges[0].devices[2]`). */
export interface TopologyIssue {
  readonly path: string;
  readonly message: string;
}

/** The outcome of {@link buildTopology}. */
export type BuildResult =
  | { readonly ok: true; readonly topology: Topology; readonly warnings: readonly TopologyIssue[] }
  | { readonly ok: false; readonly errors: readonly TopologyIssue[] };

const BRIDGE_CLASS = 0x060400;
const UNCLASSIFIED = 0xff0000;

/** Default platform: an Intel x86 CPU of family 6. */
export const DEFAULT_PLATFORM: Platform = { cpuVendor: "intel", cpuFamily: 6, cpuModel: undefined, arch: "x86", numaDistances: undefined };

interface DomainBuses {
  readonly used: Set<number>;
}

interface BuildContext {
  readonly errors: TopologyIssue[];
  readonly warnings: TopologyIssue[];
  readonly functions: PciFunction[];
  readonly seen: Map<string, string>;
  readonly domains: Map<number, DomainBuses>;
  readonly bars: BarAllocator;
}

/**
 * Builds the model from a document.
 * @returns the topology and warnings, or every error found (the build does not stop at the first).
 */
export function buildTopology(spec: TopologySpec): BuildResult {
  const ctx: BuildContext = { errors: [], warnings: [], functions: [], seen: new Map(), domains: new Map(), bars: createBarAllocator() };
  collectExplicitBuses(spec, ctx);
  const hostBridges: HostBridge[] = [];
  spec.hostBridges.forEach((hbSpec, i) => {
    const hb = buildHostBridge(hbSpec, i, `$.hostBridges[${i}]`, ctx);
    if (hb) hostBridges.push(hb);
  });
  if (spec.hostBridges.length === 0) ctx.errors.push({ path: "$.hostBridges", message: "expected at least one host bridge" });
  const names = new Map<string, string>();
  for (const fn of ctx.functions) {
    const name = fn.identity.name;
    if (name === undefined) continue;
    if (names.has(name)) ctx.errors.push({ path: "$", message: `name "${name}" is used by both ${names.get(name)} and ${fn.id}` });
    names.set(name, fn.id);
  }
  if (ctx.errors.length > 0) return { ok: false, errors: ctx.errors };
  const platform: Platform = spec.platform
    ? {
        cpuVendor: spec.platform.cpuVendor,
        cpuFamily: spec.platform.cpuFamily,
        cpuModel: spec.platform.cpuModel,
        arch: spec.platform.arch ?? "x86",
        numaDistances: spec.platform.numaDistances,
      }
    : DEFAULT_PLATFORM;
  const iommuEnabled = spec.iommu === "on";
  const topology = new Topology(spec.name ?? "topology", platform, iommuEnabled, hostBridges, ctx.functions);
  if (spec.kernel?.acsConfigured !== true) ctx.warnings.push(...applyBootAcs(topology, spec.kernel ?? {}));
  return { ok: true, topology, warnings: ctx.warnings };
}

function domainBuses(ctx: BuildContext, domain: number): DomainBuses {
  let buses = ctx.domains.get(domain);
  if (!buses) {
    buses = { used: new Set() };
    ctx.domains.set(domain, buses);
  }
  return buses;
}

/** Reserves every bus number the document states, so that enumeration never hands it out again. */
function collectExplicitBuses(spec: TopologySpec, ctx: BuildContext): void {
  const visit = (fn: FunctionSpec, domain: number) => {
    const bdf = fn.bdf === undefined ? undefined : parseBdf(fn.bdf);
    if (bdf) domainBuses(ctx, bdf.domain).used.add(bdf.bus);
    if (fn.secondaryBus !== undefined) domainBuses(ctx, domain).used.add(fn.secondaryBus);
    for (const child of fn.children ?? []) visit(child, domain);
  };
  for (const hb of spec.hostBridges) {
    const domain = hb.domain ?? 0;
    if (hb.bus !== undefined) domainBuses(ctx, domain).used.add(hb.bus);
    for (const fn of hb.devices) visit(fn, domain);
  }
}

/**
 * The lowest unused bus number above `above` (depth-first numbering, as Linux does), or
 * undefined when the domain's 256 buses are used up.
 */
function allocateBus(ctx: BuildContext, domain: number, above: number): number | undefined {
  const buses = domainBuses(ctx, domain);
  let bus = above + 1;
  while (buses.used.has(bus)) bus++;
  if (bus > 255) return undefined;
  buses.used.add(bus);
  return bus;
}

function buildHostBridge(spec: HostBridgeSpec, index: number, path: string, ctx: BuildContext): HostBridge | undefined {
  const domain = spec.domain ?? 0;
  const rootBus = spec.bus ?? firstChildBus(spec.devices) ?? allocateBus(ctx, domain, -1);
  if (rootBus === undefined) {
    ctx.errors.push({ path, message: `domain ${domain} has no bus number left for another host bridge (256 buses per domain)` });
    return undefined;
  }
  domainBuses(ctx, domain).used.add(rootBus);
  const numaNode = spec.numaNode ?? 0;
  const hb = new HostBridge(spec.id ?? `hb${index}`, domain, rootBus, numaNode, spec.socket ?? numaNode, spec.busOffset ?? 0);
  const onBus = buildBus(spec.devices, { domain, bus: rootBus, hb, upstream: undefined, path: `${path}.devices` }, ctx);
  hb.rootFunctions.push(...onBus);
  return hb;
}

function firstChildBus(devices: readonly FunctionSpec[]): number | undefined {
  for (const fn of devices) {
    const bdf = fn.bdf === undefined ? undefined : parseBdf(fn.bdf);
    if (bdf) return bdf.bus;
  }
  return undefined;
}

interface BusPlace {
  readonly domain: number;
  readonly bus: number;
  readonly hb: HostBridge;
  readonly upstream: PciFunction | undefined;
  readonly path: string;
}

/** Builds the functions on one bus (and, depth-first, below them). Returns them in devfn order. */
function buildBus(specs: readonly FunctionSpec[], place: BusPlace, ctx: BuildContext): PciFunction[] {
  const addresses = assignDevfns(specs, place, ctx);
  const built: PciFunction[] = [];
  specs.forEach((spec, i) => {
    const bdf = addresses[i];
    if (bdf === undefined) return;
    const fn = buildFunction(spec, bdf, place, `${place.path}[${i}]`, ctx);
    if (fn) built.push(fn);
  });
  return built.sort((a, b) => a.bdf.device - b.bdf.device || a.bdf.fn - b.bdf.fn);
}

/** Device and function numbers for every spec on a bus: given ones checked, missing ones assigned. */
function assignDevfns(specs: readonly FunctionSpec[], place: BusPlace, ctx: BuildContext): Array<Bdf | undefined> {
  const taken = new Set<number>();
  const usedDevices = new Set<number>();
  const result: Array<Bdf | undefined> = [];
  let previousDevice: number | undefined;
  const freeDevice = () => {
    let device = 0;
    while (usedDevices.has(device)) device++;
    return device;
  };
  specs.forEach((spec, i) => {
    const path = `${place.path}[${i}]`;
    let bdf: Bdf | undefined;
    if (spec.bdf !== undefined) {
      bdf = parseBdf(spec.bdf);
      if (!bdf) ctx.errors.push({ path: `${path}.bdf`, message: `expected a PCI address like 0000:41:00.0, got "${spec.bdf}"` });
      else if (bdf.bus !== place.bus || bdf.domain !== place.domain) {
        ctx.errors.push({
          path: `${path}.bdf`,
          message: `${spec.bdf} is not on bus ${place.domain.toString(16).padStart(4, "0")}:${place.bus.toString(16).padStart(2, "0")}, where it sits in the tree`,
        });
        bdf = undefined;
      }
    } else {
      // A function > 0 without a slot joins the device before it (a multi-function device).
      const joinsPrevious = spec.slot === undefined && (spec.function ?? 0) > 0 && previousDevice !== undefined;
      const device = spec.slot ?? (joinsPrevious ? (previousDevice as number) : freeDevice());
      if (device > 31) ctx.errors.push({ path, message: `bus ${place.bus} has no device number left (more than 32 devices)` });
      else bdf = { domain: place.domain, bus: place.bus, device, fn: spec.function ?? 0 };
    }
    if (bdf) {
      const key = bdf.device * 8 + bdf.fn;
      if (taken.has(key)) {
        ctx.errors.push({ path, message: `device ${bdf.device}.${bdf.fn} appears twice on bus ${place.bus}` });
        bdf = undefined;
      } else {
        taken.add(key);
        usedDevices.add(bdf.device);
        previousDevice = bdf.device;
      }
    }
    result.push(bdf);
  });
  return result;
}

function buildFunction(spec: FunctionSpec, bdf: Bdf, place: BusPlace, path: string, ctx: BuildContext): PciFunction | undefined {
  const isBridge = spec.kind !== "endpoint";
  const children = spec.children ?? [];
  if (!isBridge && children.length > 0) {
    ctx.errors.push({ path: `${path}.children`, message: "an endpoint has no secondary bus: expected no children" });
    return undefined;
  }
  const ids = parseIds(spec, path, ctx, isBridge);
  const link = spec.link
    ? {
        capGen: spec.link.capGen ?? spec.link.gen ?? 1,
        capWidth: spec.link.capWidth ?? spec.link.width ?? 1,
        gen: spec.link.gen ?? spec.link.capGen ?? 1,
        width: spec.link.width ?? spec.link.capWidth ?? 1,
      }
    : undefined;
  const hasAcs = spec.acs !== undefined;
  const acsCap = spec.acs ? acsBits(spec.acs.cap) : 0;
  const acsCtl = spec.acs ? acsBits(spec.acs.ctl ?? []) & acsCap : 0;
  if (spec.acs && (acsBits(spec.acs.ctl ?? []) & ~acsCap) !== 0) {
    ctx.warnings.push({ path: `${path}.acs.ctl`, message: "ACS control bits outside the capability were dropped" });
  }
  const bars = assignBars(spec.bars ?? [], place.hb, `${path}.bars`, ctx.bars, ctx.errors);
  const secondaryBus = isBridge ? (spec.secondaryBus ?? firstChildBus(children) ?? allocateBus(ctx, place.domain, place.bus)) : undefined;
  if (isBridge && secondaryBus === undefined) {
    ctx.errors.push({ path, message: `domain ${place.domain} has no bus number left for this bridge's secondary bus (256 buses per domain)` });
    return undefined;
  }
  const fn = new PciFunction(
    bdf,
    spec.kind,
    place.hb,
    place.upstream,
    // Field by field, not `{ ...ids, name, … }`: V8 gives every spread-then-extend literal fresh maps
    // in old space, and those keep each run's young topology alive through scavenges (nepotism).
    {
      vendorId: ids.vendorId,
      deviceId: ids.deviceId,
      classCode: ids.classCode,
      deviceKind: ids.deviceKind,
      name: spec.name,
      description: spec.description,
      numaNode: spec.numaNode ?? place.hb.numaNode,
    },
    acsCap,
    hasAcs,
    acsCtl,
    link,
    spec.mps ?? 256,
    spec.mrrs ?? 512,
    spec.flr ?? !isBridge,
    bars,
    secondaryBus === undefined ? undefined : [secondaryBus, secondaryBus],
    spec.memoryEnabled ?? true,
    spec.powerState ?? "D0",
  );
  if (ctx.seen.has(fn.id)) {
    ctx.errors.push({ path, message: `${fn.id} appears twice (also at ${ctx.seen.get(fn.id)})` });
    return undefined;
  }
  ctx.seen.set(fn.id, path);
  ctx.functions.push(fn);
  if (secondaryBus !== undefined) {
    const below = buildBus(children, { domain: place.domain, bus: secondaryBus, hb: place.hb, upstream: fn, path: `${path}.children` }, ctx);
    fn.children.push(...below);
    const subordinate = Math.max(secondaryBus, ...below.map((child) => child.busRange?.[1] ?? child.bdf.bus));
    fn.busRange = [secondaryBus, subordinate];
  }
  return fn;
}

function parseIds(spec: FunctionSpec, path: string, ctx: BuildContext, isBridge: boolean) {
  const read = (value: string | number | undefined, field: string, fallback: number): number => {
    if (value === undefined) return fallback;
    const parsed = parseHexId(value);
    if (parsed === undefined) {
      ctx.errors.push({ path: `${path}.${field}`, message: `expected a hexadecimal id such as "0x10de", got ${JSON.stringify(value)}` });
      return fallback;
    }
    return parsed;
  };
  const classCode = read(spec.classCode, "classCode", isBridge ? BRIDGE_CLASS : UNCLASSIFIED);
  return { vendorId: read(spec.vendor, "vendor", 0xffff), deviceId: read(spec.device, "device", 0xffff), classCode, deviceKind: deviceKindOfClass(classCode) };
}
