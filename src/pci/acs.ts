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
