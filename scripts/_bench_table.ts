/**
 * Figures and tables for `scripts/bench.ts`: medians, number formats, and a
 * plain-text table with aligned columns.
 *
 * @module
 */

/** The median of the numbers, ignoring `null`s; `null` if there are none. */
export function median(values: readonly (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null).sort((a, b) =>
    a - b
  );
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** `a / b`, or `null` when either is missing or `b` is 0. */
export function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

/** A number with `digits` decimals, or `-` for `null`. */
export function fixed(value: number | null, digits: number): string {
  return value === null ? "-" : value.toFixed(digits);
}

/** An integer with thousands separators, or `-` for `null`. */
export function grouped(value: number | null): string {
  return value === null ? "-" : Math.round(value).toLocaleString("en-US");
}

/** A ratio as `1.23x`, or `-` for `null`. */
export function times(value: number | null): string {
  return value === null ? "-" : `${value.toFixed(2)}x`;
}

/** One column of a {@linkcode formatTable}. */
export interface Column {
  /** Heading. */
  title: string;
  /** Align right (numbers). @default {false} */
  right?: boolean;
}

/**
 * Lays out rows under headings, each column as wide as its widest cell, two
 * spaces apart. A row that is a single string is printed as it is (a
 * section heading or a note).
 *
 * @param columns The columns.
 * @param rows Cells per row, or a line of text.
 * @returns The table, one line per row, without a final newline.
 */
export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[] | string)[],
): string {
  const widths = columns.map((c) => c.title.length);
  for (const row of rows) {
    if (typeof row === "string") continue;
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) =>
      columns[i]?.right ? cell.padStart(widths[i]) : cell.padEnd(widths[i])
    ).join("  ").trimEnd();
  const out = [line(columns.map((c) => c.title))];
  out.push(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) out.push(typeof row === "string" ? row : line(row));
  return out.join("\n");
}
