/**
 * CSV for spreadsheets (RFC 4180 quoting, CRLF rows), safe to open: a cell a spreadsheet would
 * run as a formula is neutralised with a leading `'` (OWASP "CSV injection"). File names, paths
 * and error texts are user-controlled, so every cell goes through here.
 */

/**
 * Characters that make a spreadsheet read a cell as a formula or DDE call when they come first:
 * = + - @, tab and CR (OWASP's list), and their full-width forms, which some spreadsheets fold
 * to ASCII before parsing.
 */
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;

/** One cell: empty for null/undefined; quoted when it holds a quote, comma, CR or LF, or was neutralised. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  const safe = FORMULA_START.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) || safe !== text ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One row, CRLF-terminated. */
export function csvRow(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
