/**
 * ACS (Access Control Services) capability and control bits, as in the PCIe ACS Capability and
 * Control registers and in the kernel's `PCI_ACS_*` constants [spec kernel.md §a.3, §a.8].
 * A set of bits is a number (bit i = flag i below), so a whole capability compares with `===`.
 */

/** ACS flags in register bit order: SV=bit0 … DT=bit6 (`pci=config_acs=` uses the same order). */
export const ACS_FLAGS = ["SV", "TB", "RR", "CR", "UF", "EC", "DT"] as const;

/** One ACS flag. */
export type AcsFlag = (typeof ACS_FLAGS)[number];

/** A set of ACS flags as a bitmask. */
export type AcsBits = number;

/** Source Validation. */
export const ACS_SV = 1 << 0;
/** Translation Blocking. */
export const ACS_TB = 1 << 1;
/** P2P Request Redirect. */
export const ACS_RR = 1 << 2;
/** P2P Completion Redirect. */
export const ACS_CR = 1 << 3;
/** Upstream Forwarding. */
export const ACS_UF = 1 << 4;
/** P2P Egress Control. */
export const ACS_EC = 1 << 5;
/** Direct Translated P2P. */
export const ACS_DT = 1 << 6;

/** The bits whose presence in ACS Control makes p2pdma leave BUS_ADDR [§a.3 step 1]. */
export const ACS_REDIRECT_BITS = ACS_RR | ACS_CR | ACS_EC;

/** Turns flag names into bits. */
export function acsBits(flags: readonly AcsFlag[]): AcsBits {
  return flags.reduce((bits, flag) => bits | (1 << ACS_FLAGS.indexOf(flag)), 0);
}

/** Turns bits into flag names, in register order. */
export function acsFlags(bits: AcsBits): AcsFlag[] {
  return ACS_FLAGS.filter((_, i) => (bits & (1 << i)) !== 0);
}

/** What an ACS Control write did (see {@link acsCtlWrite}). */
export interface AcsCtlWrite {
  /** ACS Control before the write. */
  readonly old: AcsBits;
  /** ACS Control after it. */
  readonly new: AcsBits;
  /** Bits the write asked to set that the function does not implement (its ACS Capability lacks them), so they stay 0. */
  readonly ignored: AcsBits;
}

/**
 * A config write to the ACS Control register of `fn` (what `setpci` or the kernel's
 * `pci_std_enable_acs`/`pci=config_acs=` do): sets `set`, then clears `clear`. Control bits of
 * capabilities the function does not implement are hardwired to 0 (PCIe Base §7.7.8.3), so they
 * are ignored; a function without an ACS capability has no register and nothing changes.
 * Nothing else notices: p2pdma's cached map types stay as they are [kernel.md §a.6]; the
 * fabric's routes must be recomputed by whoever owns them (`DmaBus.writeAcsCtl` does both).
 * @returns the register before and after, and the requested bits that did not stick.
 */
export function acsCtlWrite(fn: { acsCtl: AcsBits; readonly acsCap: AcsBits; readonly hasAcs: boolean }, set: AcsBits, clear: AcsBits): AcsCtlWrite {
  const old = fn.acsCtl;
  if (!fn.hasAcs) return { old, new: old, ignored: set };
  fn.acsCtl = (old | set) & ~clear & fn.acsCap;
  return { old, new: fn.acsCtl, ignored: set & ~fn.acsCap };
}
