/**
 * `explore --csv FILE`: one row per seed, a header row first, units in column names. The table
 * is the sweep's `perSeed` list; a field with a comma, quote or newline is quoted (RFC 4180).
 */
import type { SeedRow } from "./report-input.js";

/** The header of the explore CSV. */
export const EXPLORE_CSV_HEADER = [
  "seed",
  "verdict",
  "invariants_broken",
  "invariant_count",
  "fingerprint",
  "events",
  "end_time_us",
  "swarm_faults",
  "diverged_at_event",
] as const;

/** One CSV field. */
export function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * The whole CSV text, newline-terminated. Invariants and swarm fault indices are
 * space-separated inside their field; an empty field means none (or not asked for).
 */
export function exploreCsv(perSeed: readonly SeedRow[]): string {
  const lines = [EXPLORE_CSV_HEADER.join(",")];
  for (const s of perSeed) {
    lines.push(
      [
        String(s.seed),
        s.verdict,
        s.invariants.join(" "),
        String(s.invariants.length),
        s.fingerprint,
        String(s.events),
        s.endPs === undefined ? "" : String(s.endPs / 1e6),
        s.swarm === undefined ? "" : s.swarm.join(" "),
        s.divergence == null ? "" : String(s.divergence.seq),
      ]
        .map(csvField)
        .join(","),
    );
  }
  return `${lines.join("\n")}\n`;
}
