/**
 * A fault's effects in one line, for the terminal and the HTML report: the non-zero counters of a
 * fault report (src/scenario/faults.ts `FaultReport`, or its JSON), in a fixed order with words
 * a reader knows. A test checks that every counter of the report is listed here.
 */

/** The effect counters of a fault report, with the words a report prints for them. */
export const FAULT_EFFECTS: ReadonlyArray<readonly [string, string]> = [
  ["revoked", "revoked"],
  ["refused", "refused"],
  ["failedWrs", "failed WRs"],
  ["staleTranslations", "stale translations"],
  ["rerouted", "rerouted"],
  ["staleMapTypes", "stale map types"],
  ["timedOut", "timed out"],
  ["lost", "lost"],
  ["delayed", "delayed"],
];

/**
 * A fault's non-zero effects in one line (`revoked 1 · refused 8`), or `none`.
 * @param report a fault report or its JSON (a missing counter counts as zero).
 */
export function faultEffects(report: object): string {
  const counters = report as Readonly<Record<string, unknown>>;
  const parts = FAULT_EFFECTS.flatMap(([key, words]) => {
    const n = counters[key];
    return typeof n === "number" && n > 0 ? [`${words} ${n}`] : [];
  });
  return parts.length === 0 ? "none" : parts.join(" · ");
}
