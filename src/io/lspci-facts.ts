/**
 * What one lspci function contributes to a {@link FunctionSpec}: its kind, identity, ACS, link,
 * payload sizes, power state and BARs, with a note for every fact that took a default or was
 * read against the grain. `lspci-import.ts` nests these functions into host bridges and turns
 * each function's notes into one warning.
 */
import { ACS_FLAGS, type AcsFlag, acsBits } from "../pci/acs.js";
import { STD_ENABLE_ACS } from "../pci/acs-params.js";
import type { Bdf } from "../pci/ids.js";
import type { BarSpec, FunctionKind, FunctionSpec, LinkSpec } from "../pci/topology-spec.js";
import type { LspciTreeFunction } from "./lspci-tree.js";
import type { LspciRecord } from "./lspci-verbose.js";
import type { ExpressType, LspciCapabilities } from "./lspci-verbose-caps.js";

/** The facts of a function spec other than its place in the tree. */
export type FunctionFacts = Omit<FunctionSpec, "kind" | "bdf" | "secondaryBus" | "children">;

/** Facts while they are gathered. */
type Gathered = { -readonly [K in keyof FunctionFacts]: FunctionFacts[K] };

/** A function on its way into the spec. */
export interface PlannedFunction {
  readonly bdf: Bdf;
  /** Where the function is described (the `-vvv` record when there is one, else the tree line). */
  readonly file: string;
  readonly line: number;
  facts: FunctionFacts;
  /** Undefined when only the function's place in the tree can tell (see `guessReason`). */
  kind: FunctionKind | undefined;
  guessReason: string | undefined;
  /** Whether the function has a secondary bus (a type 1 header, or a bridge drawn by the tree). */
  bridge: boolean;
  secondaryBus: number | undefined;
  subordinateBus: number | undefined;
  /** Defaults taken and conflicts met, reported as one warning for the function. */
  readonly notes: string[];
  readonly children: PlannedFunction[];
}

const EXPRESS_KIND: Readonly<Record<ExpressType, FunctionKind | undefined>> = {
  "root-port": "root-port",
  "upstream-port": "upstream-port",
  "downstream-port": "downstream-port",
  "pcie-to-pci-bridge": "pci-bridge",
  "pci-to-pcie-bridge": "pci-bridge",
  endpoint: "endpoint",
  "legacy-endpoint": "endpoint",
  "rc-integrated-endpoint": "endpoint",
  "rc-event-collector": "endpoint",
  unknown: undefined,
};

const hex = (value: number, digits: number) => `0x${value.toString(16).padStart(digits, "0")}`;

/**
 * A function as `lspci -t` draws it: nothing but the name and ids is known, and a bridge's kind
 * is left for its place in the tree to tell.
 * @param tree the drawn function.
 * @param bdf its address (the drawing gives the device and function, its bus the rest).
 * @param file the tree's file, for warnings.
 * @returns the planned function, without children.
 */
export function functionFromTree(tree: LspciTreeFunction, bdf: Bdf, file: string): PlannedFunction {
  const facts: Gathered = {};
  if (tree.description !== undefined) facts.description = tree.description;
  if (tree.vendor !== undefined) facts.vendor = hex(tree.vendor, 4);
  if (tree.deviceId !== undefined) facts.device = hex(tree.deviceId, 4);
  const bridge = tree.busRange !== undefined;
  return {
    bdf,
    file,
    line: tree.line,
    facts,
    kind: bridge ? undefined : "endpoint",
    guessReason: bridge ? "lspci -t shows no port types" : undefined,
    bridge,
    secondaryBus: tree.busRange?.[0],
    subordinateBus: tree.busRange?.[1],
    notes: [],
    children: [],
  };
}

/**
 * A function as `lspci -vvv` describes it: kind from the Express capability checked against the
 * header (a `Bus:` line or a PCI bridge class means a secondary bus), and every fact p2psim reads.
 * @param record the parsed record.
 * @param file the `-vvv` file, for warnings.
 * @param iommuOn whether the machine had an IOMMU (its ACS control then already shows what the
 *   kernel set at boot, and the build will set it again [kernel.md §a.3]).
 * @returns the planned function, without children; its kind is undefined only for a bridge whose
 *   capabilities lspci could not read.
 */
export function functionFromRecord(record: LspciRecord, file: string, iommuOn: boolean): PlannedFunction {
  const notes: string[] = [];
  const caps = record.caps;
  const denied = caps.deniedLine !== undefined;
  const class16 = record.classCode === undefined ? undefined : record.classCode >> 8;
  // 0604 (PCI-to-PCI) and 0609 (semi-transparent) bridges have a secondary PCI bus; host (0600) and
  // ISA/LPC (0601) bridges have a type 0 header and none, so they are endpoints to the kernel.
  const bridgeClass = class16 === 0x0604 || class16 === 0x0609;
  const bridge = record.bus !== undefined || bridgeClass;
  if (record.bus === undefined && bridgeClass) notes.push("PCI bridge class but no 'Bus:' line: its secondary bus is enumerated");
  const { kind, guessReason } = kindOf(record, bridge, notes);
  const facts: Gathered = {};
  identity(record, facts, notes);
  if (record.numaNode !== undefined) facts.numaNode = record.numaNode;
  if (record.memoryEnabled !== undefined) facts.memoryEnabled = record.memoryEnabled;
  else notes.push("no Control line: memory decoding taken as enabled");
  if (denied) {
    notes.push("capabilities unreadable (lspci ran without root): no ACS (treated as absent), link, MPS/MRRS, FLR or power state; defaults apply");
  } else {
    readAcs(caps, kind, iommuOn, facts, notes);
    readExpress(caps, facts, notes);
    readPower(caps, facts, notes);
    // lspci prints DevCap FLReset± for endpoint types only, and FLR of a conventional function
    // through PCI Advanced Features; a function with neither has no FLR.
    const endpointType = caps.express !== undefined && EXPRESS_KIND[caps.express.type] === "endpoint";
    if (caps.flr !== undefined) facts.flr = caps.flr;
    else if (endpointType) notes.push("no FLReset in DevCap: FLR assumed");
    else if (kind === "endpoint") facts.flr = false;
  }
  const bars = readBars(record, notes);
  if (bars.length > 0) facts.bars = bars;
  const secondary = record.bus?.secondary;
  if (record.bus && record.bus.primary !== record.bdf.bus) notes.push(`'Bus: primary=${hex(record.bus.primary, 2).slice(2)}' is not its own bus`);
  return {
    bdf: record.bdf,
    file,
    line: record.line,
    facts,
    kind,
    guessReason,
    bridge,
    secondaryBus: secondary,
    subordinateBus: record.bus?.subordinate,
    notes,
    children: [],
  };
}

function kindOf(record: LspciRecord, bridge: boolean, notes: string[]): { kind: FunctionKind | undefined; guessReason: string | undefined } {
  const express = record.caps.express;
  if (record.caps.deniedLine !== undefined) {
    return bridge ? { kind: undefined, guessReason: "capabilities unreadable" } : { kind: "endpoint", guessReason: undefined };
  }
  const fallback: FunctionKind = bridge ? "pci-bridge" : "endpoint";
  if (!express) {
    notes.push(`no PCI Express capability (conventional PCI): ${fallback}, no link, MPS/MRRS defaults`);
    return { kind: fallback, guessReason: undefined };
  }
  const kind = EXPRESS_KIND[express.type];
  if (kind === undefined) {
    notes.push(`Express port type "${express.text}" is unknown: ${fallback} from the header`);
    return { kind: fallback, guessReason: undefined };
  }
  if (kind !== "endpoint" && !bridge) {
    notes.push(`Express capability says ${express.text} but there is no secondary bus (no 'Bus:' line): imported as an endpoint`);
    return { kind: "endpoint", guessReason: undefined };
  }
  if (kind === "endpoint" && bridge) {
    notes.push(`Express capability says ${express.text} but the function is a bridge: imported as a PCI bridge`);
    return { kind: "pci-bridge", guessReason: undefined };
  }
  return { kind, guessReason: undefined };
}

function identity(record: LspciRecord, facts: Gathered, notes: string[]): void {
  if (record.vendor !== undefined) facts.vendor = hex(record.vendor, 4);
  if (record.device !== undefined) facts.device = hex(record.device, 4);
  if (record.description !== undefined) facts.description = record.description;
  if (record.classCode !== undefined) facts.classCode = hex(record.classCode, 6);
  if (record.classSource === "base-name") notes.push(`class name "${record.className}" names only a base class: subclass 80 (other) assumed`);
  if (record.classSource === "unknown") notes.push(`class name "${record.className}" is not in pci.ids: class code left to the default`);
}

function readAcs(caps: LspciCapabilities, kind: FunctionKind | undefined, iommuOn: boolean, facts: Gathered, notes: string[]): void {
  if (!caps.acs) {
    // ACS is defined for Root Ports and Downstream Ports (and multi-function devices); its absence
    // on a port is worth saying, since p2pdma then never sees a redirect there [kernel.md §a.3].
    if (kind === "root-port" || kind === "downstream-port") notes.push("no ACS capability: treated as none (no redirect here) [kernel.md §a.3]");
    return;
  }
  const cap: readonly AcsFlag[] = caps.acs.cap ?? [];
  const ctl: readonly AcsFlag[] = caps.acs.ctl ?? [];
  if (caps.acs.cap === undefined) notes.push("ACS capability without an ACSCap line: no capability bits");
  if (caps.acs.ctl === undefined) notes.push("ACS capability without an ACSCtl line: control bits all clear");
  facts.acs = { cap, ctl };
  const unset = acsBits(cap) & STD_ENABLE_ACS & ~acsBits(ctl);
  if (iommuOn && unset !== 0) {
    const names = ACS_FLAGS.filter((_, i) => (unset & (1 << i)) !== 0).join(", ");
    notes.push(`ACSCtl has ${names} clear although the IOMMU is on (pci=disable_acs_redir or config_acs at boot?): kept as read [kernel.md §a.3, §a.8]`);
  }
}

function readExpress(caps: LspciCapabilities, facts: Gathered, notes: string[]): void {
  const express = caps.express;
  if (!express) return;
  if (caps.mps !== undefined) facts.mps = caps.mps;
  if (caps.mrrs !== undefined) facts.mrrs = caps.mrrs;
  if (caps.mps === undefined) notes.push("no DevCtl MaxPayload/MaxReadReq: MPS 256 and MRRS 512 defaults");
  // Root-complex integrated endpoints and event collectors have no link of their own.
  if (express.type === "rc-integrated-endpoint" || express.type === "rc-event-collector") return;
  const link: { -readonly [K in keyof LinkSpec]: LinkSpec[K] } = {};
  const { linkCap: cap, linkSta: sta } = caps;
  if (!cap && !sta) notes.push("no LnkCap/LnkSta lines: no link");
  if (cap) {
    if (cap.gen !== undefined) link.capGen = cap.gen;
    else notes.push(`LnkCap speed ${cap.speed} has no PCIe generation`);
    if (cap.width > 0) link.capWidth = cap.width;
    else notes.push("LnkCap Width x0: no link width");
  }
  if (sta) {
    if (sta.width === 0) {
      notes.push("link down (LnkSta Width x0): trained speed and width omitted (the model then assumes the capability)");
    } else {
      link.width = sta.width;
      if (sta.gen !== undefined) link.gen = sta.gen;
      else notes.push(`LnkSta speed ${sta.speed} has no PCIe generation`);
    }
  }
  if (Object.keys(link).length > 0) facts.link = link;
}

function readPower(caps: LspciCapabilities, facts: Gathered, notes: string[]): void {
  const power = caps.powerManagement;
  if (power?.state !== undefined) facts.powerState = power.state;
  else if (power) notes.push("Power Management capability without a Status line: D0 assumed");
  else notes.push("no Power Management capability: D0 assumed");
}

function readBars(record: LspciRecord, notes: string[]): BarSpec[] {
  const bars = new Map<number, BarSpec>();
  let disabled = false;
  for (const bar of record.bars) {
    const label = `BAR ${bar.index}`;
    if (bar.size === undefined) {
      notes.push(`${label} has no [size=]: left out`);
      continue;
    }
    if (!Number.isInteger(Math.log2(bar.size))) {
      notes.push(`${label} size ${bar.size} is not a power of two: left out`);
      continue;
    }
    if (bars.has(bar.index)) notes.push(`${label} is listed twice: the last line is used`);
    if (bar.unusualType !== undefined) notes.push(`${label} is ${bar.unusualType} memory: imported as 32-bit`);
    const spec: { -readonly [K in keyof BarSpec]: BarSpec[K] } = { index: bar.index, size: bar.size, type: bar.type, prefetchable: bar.prefetchable };
    if (bar.state === "unassigned" || bar.state === "virtual") {
      notes.push(`${label} is ${bar.state === "virtual" ? "[virtual] (not in the BAR register)" : "unassigned"}: size kept, address left to the build`);
    } else if (bar.addressHex !== undefined) {
      spec.address = `0x${bar.addressHex.replace(/^0+(?=.)/, "")}`;
      if (Number.parseInt(bar.addressHex, 16) > Number.MAX_SAFE_INTEGER)
        notes.push(`${label} address 0x${bar.addressHex} is above 2^53 and loses precision in the model`);
      // The address stays valid while decoding is off (a vfio-pci device not yet opened looks like this).
      if (bar.state === "disabled" && bar.type !== "io") disabled = true;
    }
    bars.set(bar.index, spec);
  }
  if (disabled) notes.push("memory BARs marked [disabled] (Mem- in Control): addresses kept, memory decoding off");
  return [...bars.values()].sort((a, b) => a.index - b.index);
}
