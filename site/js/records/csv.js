// CSV cells that a spreadsheet reads as text, never as a formula. OWASP's CSV-injection guidance: Excel and
// LibreOffice run a cell that starts with = + - @, a tab or a carriage return as a formula (=HYPERLINK(...)
// in a file name becomes a live link), so such a cell gets a leading apostrophe; every cell is quoted, with
// its quotes doubled, so a comma or line break cannot start a new cell (spreadsheets still read a quoted
// number as a number).

// Spreadsheets look past leading white space, quotes and invisible characters (a BOM, a zero-width space) for
// the formula sign, and read the full-width ＝ ＋ － ＠ as the ASCII ones.
const FORMULA_START = /^[\s"'\u200B-\u200D\u2060\uFEFF]*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20\t\r]/u;

/** One cell: quoted, inner quotes doubled, a formula-like start neutralised. */
export function csvCell(value) {
  const text = String(value);
  const inert = FORMULA_START.test(text) ? `'${text}` : text;
  return `"${inert.replaceAll('"', '""')}"`;
}

/** One line of cells. */
export function csvRow(cells) {
  return cells.map(csvCell).join(',');
}
