/**
 * Reads one numeric column of a CSV file (RFC 4180: comma separated, `"` quotes with `""`
 * escapes, LF or CRLF line ends). The first non-blank row is the header; blank rows are
 * skipped; the other columns (dates, labels…) are never parsed, so they may hold anything.
 *
 * @module
 */

import { UserError } from "../util/errors.ts";

/** A decimal number as written in a CSV cell; rejects "", "0x10", "NaN", "Infinity", "1e". */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * The values of column `column` (matched by its header name, surrounding spaces ignored), one per
 * non-blank data row, in file order. `source` names the file in error messages.
 *
 * Throws `UserError` naming the file, the 1-based line and the column for an empty file, a
 * header without that column, an unterminated quote, a row too short to hold the column, or a
 * cell that is not a finite decimal number (empty cells included).
 *
 * @example
 * ```ts
 * import { parseCsvColumn } from "./csv.ts";
 * const text = 'date,value\r\n2020-01-01,1.5\r\n\r\n"2020-01-02",-2e1\r\n';
 * console.log(Array.from(parseCsvColumn(text, "value", "x.csv"))); // [1.5, -20]
 * ```
 */
export function parseCsvColumn(text: string, column: string, source: string): Float64Array {
  const fail = (line: number, what: string): never => {
    throw new UserError(`Cannot read "${source}": line ${line}, column "${column}": ${what}`);
  };
  let col = -1;
  const values: number[] = [];
  _scanCsv(text, (fields, line) => {
    if (col < 0) {
      col = _findColumn(fields, column);
      if (col < 0) {
        fail(line, `no such column in the header (columns: ${fields.map(_quote).join(", ")})`);
      }
      return true;
    }
    if (col >= fields.length) {
      fail(
        line,
        `expected a number, got nothing (the row has ${fields.length} field${
          fields.length === 1 ? "" : "s"
        }, the column is field ${col + 1})`,
      );
    }
    const cell = fields[col];
    const s = cell.trim();
    if (!NUMBER.test(s)) fail(line, `expected a number, got ${_quote(cell)}`);
    const v = Number(s);
    // "1e999" passes the pattern but is Infinity.
    if (!Number.isFinite(v)) fail(line, `expected a finite number, got ${_quote(cell)}`);
    values.push(v);
    return true;
  }, (line, what) => fail(line, what));
  if (col < 0) fail(1, "the file is empty (expected a header row)");
  return Float64Array.from(values);
}

/**
 * The header row's column names (the first non-blank row), for messages that list the choices.
 *
 * @example
 * ```ts
 * import { readCsvHeader } from "./csv.ts";
 * console.log(readCsvHeader('\n"a,b",c\n1,2\n', "x.csv")); // ["a,b", "c"]
 * ```
 */
export function readCsvHeader(text: string, source: string): string[] {
  let header: string[] | undefined;
  _scanCsv(text, (fields) => {
    header = fields;
    return false;
  }, (line, what) => {
    throw new UserError(`Cannot read "${source}": line ${line}: ${what}`);
  });
  if (!header) throw new UserError(`Cannot read "${source}": line 1: the file is empty`);
  return header;
}

function _findColumn(header: string[], column: string): number {
  const exact = header.indexOf(column);
  if (exact >= 0) return exact;
  const want = column.trim();
  return header.findIndex((h) => h.trim() === want);
}

function _quote(s: string): string {
  return JSON.stringify(s);
}

/**
 * Calls `onRecord(fields, line)` for each non-blank record (`line`: the 1-based line it starts
 * on) until it returns false. A blank record is an empty or whitespace-only line.
 */
function _scanCsv(
  text: string,
  onRecord: (fields: string[], line: number) => boolean,
  onError: (line: number, what: string) => never,
): void {
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let quotedAny = false;
    // One record: fields until an unquoted line end or the end of the text.
    for (;;) {
      let j = i;
      while (j < n && (text[j] === " " || text[j] === "\t")) j++;
      if (j < n && text[j] === '"') {
        quotedAny = true;
        const opened = line;
        let cell = "";
        j++;
        for (;;) {
          if (j >= n) {
            onError(opened, `unterminated quoted field (the quote opens on line ${opened})`);
          }
          const c = text[j];
          if (c === '"') {
            if (text[j + 1] === '"') {
              cell += '"';
              j += 2;
              continue;
            }
            j++;
            break;
          }
          if (c === "\n") line++;
          cell += c;
          j++;
        }
        while (j < n && (text[j] === " " || text[j] === "\t")) j++;
        if (j < n && text[j] !== "," && text[j] !== "\n" && text[j] !== "\r") {
          onError(line, `unexpected ${_quote(text[j])} after a closing quote`);
        }
        fields.push(cell);
        i = j;
      } else {
        while (j < n && text[j] !== "," && text[j] !== "\n" && text[j] !== "\r") j++;
        fields.push(text.slice(i, j));
        i = j;
      }
      if (i < n && text[i] === ",") {
        i++;
        continue;
      }
      // Line end: CRLF, LF, or a lone CR.
      if (i < n && text[i] === "\r") i++;
      if (i < n && text[i] === "\n") i++;
      line++;
      break;
    }
    const blank = !quotedAny && fields.length === 1 && fields[0].trim() === "";
    if (!blank && !onRecord(fields, start)) return;
  }
}
