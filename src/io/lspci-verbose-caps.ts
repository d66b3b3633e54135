/**
 * The capability blocks of `lspci -vv(v)` that p2psim reads, as pciutils' `ls-caps.c` and
 * `ls-ecaps.c` print them:
 *
 * - `Express (v2) Root Port (Slot+), MSI 00`: the port type; `DevCap` (`FLReset±`, on endpoints),
 *   `DevCtl` (`MaxPayload N bytes, MaxReadReq N bytes`, on its third line), `LnkCap` and `LnkSta`
 *   (`Speed 8GT/s, Width x16`; newer lspci appends `(downgraded)`, older puts the status flags on
 *   the same line);
 * - `Power Management version 3`: `Status: D0 …` (`D3` is D3hot: D3cold cannot be read);
 * - `Access Control Services`: `ACSCap:` and `ACSCtl:` flags;
 * - `PCI Advanced Features`: `AFCap: TP+ FLR+` (FLR of conventional PCI functions);
 * - `<access denied>`: lspci ran without root and could read only the 64-byte header.
 *
 * Other capabilities and fields are skipped. A field that is read but does not have the printed
 * form is an error message naming the expected form.
 */
import { ACS_FLAGS, type AcsFlag } from "../pci/acs.js";

/** The Device/Port Type of the PCI Express capability, as lspci names it. */
export type ExpressType =
  | "root-port"
  | "upstream-port"
  | "downstream-port"
  | "endpoint"
  | "legacy-endpoint"
  | "rc-integrated-endpoint"
  | "rc-event-collector"
  | "pcie-to-pci-bridge"
  | "pci-to-pcie-bridge"
  /** `Unknown type N`. */
  | "unknown";

/** `Speed …, Width x…` of LnkCap or LnkSta. */
export interface LspciLink {
  /** PCIe generation 1-6 from the speed; undefined for `Speed unknown` or an unlisted speed. */
  readonly gen: number | undefined;
  /** Lanes; 0 when lspci printed `Width x0` (no link). */
  readonly width: number;
  /** The speed as printed (`2.5GT/s`, `unknown`). */
  readonly speed: string;
  readonly line: number;
}

/** What the capability list of one function said. */
export interface LspciCapabilities {
  /** Line of `Capabilities: <access denied>`, when lspci could not read them. */
  readonly deniedLine: number | undefined;
  readonly express: { readonly type: ExpressType; readonly text: string; readonly line: number } | undefined;
  /** Power Management capability, with the state of `Status: D…`. */
  readonly powerManagement: { readonly line: number; readonly state: "D0" | "D1" | "D2" | "D3hot" | "D3cold" | undefined } | undefined;
  readonly acs: { readonly line: number; readonly cap: readonly AcsFlag[] | undefined; readonly ctl: readonly AcsFlag[] | undefined } | undefined;
  readonly linkCap: LspciLink | undefined;
  readonly linkSta: LspciLink | undefined;
  /** DevCtl Max_Payload_Size and Max_Read_Request_Size in bytes. */
  readonly mps: number | undefined;
  readonly mrrs: number | undefined;
  /** DevCap `FLReset±` or AFCap `FLR±`; undefined when neither was printed. */
  readonly flr: boolean | undefined;
}

/** A problem found when the capabilities end, located. */
export interface CapabilityProblem {
  readonly line: number;
  readonly message: string;
}

const EXPRESS_TYPES: ReadonlyArray<readonly [string, ExpressType]> = [
  ["Root Port", "root-port"],
  ["Upstream Port", "upstream-port"],
  ["Downstream Port", "downstream-port"],
  ["Legacy Endpoint", "legacy-endpoint"],
  ["Root Complex Integrated Endpoint", "rc-integrated-endpoint"],
  ["Root Complex Event Collector", "rc-event-collector"],
  ["Endpoint", "endpoint"],
  ["PCI-Express to PCI/PCI-X Bridge", "pcie-to-pci-bridge"],
  ["PCI/PCI-X to PCI-Express Bridge", "pci-to-pcie-bridge"],
];

/** lspci's ACS flag names, in register order (the order of {@link ACS_FLAGS}). */
const ACS_NAMES = ["SrcValid", "TransBlk", "ReqRedir", "CmpltRedir", "UpstreamFwd", "EgressCtrl", "DirectTrans"] as const;

/** Link speed → generation (pciutils prints 2.5, 5, 8, 16, 32, 64 GT/s; very old versions wrote Gb/s). */
const GENERATION: Readonly<Record<string, number>> = { "2.5": 1, "5": 2, "8": 3, "16": 4, "32": 5, "64": 6 };

type Section = "express" | "power" | "acs" | "advanced-features" | "other";

/** Reads the capability lines of one function, in order; {@link finish} gives the result. */
export class CapabilityReader {
  private section: Section = "other";
  private field = "";
  private devCap: { line: number; text: string } | undefined;
  private devCtl: { line: number; text: string } | undefined;
  private readonly result: { -readonly [K in keyof LspciCapabilities]: LspciCapabilities[K] } = {
    deniedLine: undefined,
    express: undefined,
    powerManagement: undefined,
    acs: undefined,
    linkCap: undefined,
    linkSta: undefined,
    mps: undefined,
    mrrs: undefined,
    flr: undefined,
  };

  /**
   * Starts a capability from the text after `Capabilities: `.
   * @returns an error message when the text is neither `[offset] name` nor `<…>`.
   */
  start(text: string, line: number): string | undefined {
    this.field = "";
    this.section = "other";
    if (text === "<access denied>") {
      this.result.deniedLine = line;
      return undefined;
    }
    if (/^<[^>]*>$/.test(text)) return undefined;
    const head = /^\[[0-9a-fA-F]+(?: v\d+)?\] (.*)$/.exec(text);
    if (!head) return "expected 'Capabilities: [offset] name' or 'Capabilities: <access denied>'";
    const name = head[1] as string;
    if (name.startsWith("Express ")) {
      const express = /^Express (?:\(v\d+\) )?(.+?)(?: \(Slot[+-]\))?, (?:MSI|IRQ) [0-9a-fA-F]+$/.exec(name);
      if (!express) return "expected 'Express (vN) <device/port type>, MSI NN'";
      const text = express[1] as string;
      const type = EXPRESS_TYPES.find(([printed]) => printed === text)?.[1] ?? "unknown";
      this.result.express = { type, text, line };
      this.section = "express";
    } else if (/^Power Management version \d+$/.test(name)) {
      this.result.powerManagement = { line, state: undefined };
      this.section = "power";
    } else if (name === "Access Control Services") {
      this.result.acs = { line, cap: undefined, ctl: undefined };
      this.section = "acs";
    } else if (name === "PCI Advanced Features") {
      this.section = "advanced-features";
    }
    return undefined;
  }

  /**
   * Reads a line indented by `depth` tabs (2: a field, 3 or more: its continuation) inside the
   * current capability.
   * @returns an error message for a read field that is malformed.
   */
  readField(depth: number, content: string, line: number): string | undefined {
    if (this.section === "other") return undefined;
    if (depth > 2) {
      if (this.field === "DevCap" && this.devCap) this.devCap.text += ` ${content}`;
      if (this.field === "DevCtl" && this.devCtl) this.devCtl.text += ` ${content}`;
      return undefined;
    }
    const colon = content.indexOf(":");
    this.field = colon < 0 ? "" : content.slice(0, colon);
    const value = colon < 0 ? "" : content.slice(colon + 1).trim();
    switch (`${this.section}/${this.field}`) {
      case "express/DevCap":
        this.devCap = { line, text: value };
        return undefined;
      case "express/DevCtl":
        this.devCtl = { line, text: value };
        return undefined;
      case "express/LnkCap":
      case "express/LnkSta": {
        const link = parseLink(value, line);
        if (!link) return `expected '${this.field}: … Speed <n>GT/s, Width x<n>'`;
        if (this.field === "LnkCap") this.result.linkCap = link;
        else this.result.linkSta = link;
        return undefined;
      }
      case "power/Status": {
        const state = /^D([0-3])(hot|cold)?\b/.exec(value);
        if (!state || !this.result.powerManagement) return "expected 'Status: D0' … 'Status: D3' in the Power Management capability";
        const d = state[1] as string;
        this.result.powerManagement = {
          line: this.result.powerManagement.line,
          state: d === "3" ? (state[2] === "cold" ? "D3cold" : "D3hot") : (`D${d}` as "D0"),
        };
        return undefined;
      }
      case "acs/ACSCap":
      case "acs/ACSCtl": {
        const flags = parseAcsFlags(value);
        if (!flags || !this.result.acs) return `expected '${this.field}: SrcValid± TransBlk± ReqRedir± CmpltRedir± UpstreamFwd± EgressCtrl± DirectTrans±'`;
        this.result.acs = { ...this.result.acs, ...(this.field === "ACSCap" ? { cap: flags } : { ctl: flags }) };
        return undefined;
      }
      case "advanced-features/AFCap": {
        const flr = /\bFLR([+-])/.exec(value);
        if (!flr) return "expected 'AFCap: TP± FLR±'";
        this.result.flr = flr[1] === "+";
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /**
   * Ends the function: reads the collected DevCap and DevCtl blocks.
   * @returns the capabilities, or the located DevCtl line whose payload sizes are malformed.
   */
  finish(): LspciCapabilities | CapabilityProblem {
    const devCtl = this.devCtl;
    if (devCtl?.text.includes("MaxPayload")) {
      const sizes = /\bMaxPayload (\d+) bytes, MaxReadReq (\d+) bytes\b/.exec(devCtl.text);
      if (!sizes) return { line: devCtl.line, message: "expected 'MaxPayload N bytes, MaxReadReq N bytes' in the DevCtl field" };
      this.result.mps = Number(sizes[1]);
      this.result.mrrs = Number(sizes[2]);
    }
    // DevCtl has its own "FLReset-" (the Initiate FLR bit): only DevCap says whether FLR exists.
    const flr = this.devCap && /\bFLReset([+-])/.exec(this.devCap.text);
    if (flr) this.result.flr = flr[1] === "+";
    return { ...this.result };
  }
}

/** `Speed 8GT/s, Width x16`, with LnkCap's `Port #N, ` in front or LnkSta's `(downgraded)` and old same-line flags after. */
function parseLink(value: string, line: number): LspciLink | undefined {
  const link = /\bSpeed (unknown|[0-9.]+(?:GT\/s|Gb\/s))(?: \([a-z]+\))?, Width x(\d+)\b/.exec(value);
  if (!link) return undefined;
  const speed = link[1] as string;
  return { gen: GENERATION[speed.replace(/(?:GT|Gb)\/s$/, "")], width: Number(link[2]), speed, line };
}

/** `SrcValid+ TransBlk- …` → the flags that are `+`; undefined when no ACS flag name appears. */
function parseAcsFlags(value: string): AcsFlag[] | undefined {
  const on = new Set<string>();
  let named = 0;
  for (const match of value.matchAll(/([A-Za-z]+)([+-])/g)) {
    if ((ACS_NAMES as readonly string[]).includes(match[1] as string)) named++;
    if (match[2] === "+") on.add(match[1] as string);
  }
  if (named === 0) return undefined;
  return ACS_FLAGS.filter((_, i) => on.has(ACS_NAMES[i] as string));
}
