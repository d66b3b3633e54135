/** Plain-text tables for the terminal: columns padded to their widest cell, numbers right-aligned. */

/** A column: its header and whether its cells align right. */
export interface Column {
  readonly header: string;
  readonly alignRight?: boolean;
}

/**
 * Renders rows under headers, two spaces between columns, each line prefixed by `indent`.
 * @param rows cells as strings; every row has one cell per column.
 */
export function renderTable(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>, indent = "  "): string {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    indent +
    cells
      .map((cell, i) => (columns[i]?.alignRight ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join("\n");
}
