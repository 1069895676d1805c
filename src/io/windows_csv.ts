/**
 * The `predict` input format: one window per line, comma-separated numbers, no header, every
 * line the same width. Blank lines are skipped.
 *
 * @module
 */
import { UserError } from "../util/errors.ts";

/** Windows read from a file, row-major. */
export interface Windows {
  values: Float32Array;
  width: number;
  count: number;
}

/**
 * Parse windows from CSV text; `source` names the file in errors.
 *
 * @example
 * ```ts
 * import { parseWindowsCsv } from "./windows_csv.ts";
 * const w = parseWindowsCsv("1,2,3\n4,5,6\n", "w.csv");
 * console.log(w.count, w.width, w.values[4]); // 2 3 5
 * ```
 */
export function parseWindowsCsv(text: string, source: string): Windows {
  const rows: number[][] = [];
  let width = 0;
  const lines = text.split(/\r?\n/);
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].trim();
    if (line === "") continue;
    const cells = line.split(",");
    const row = cells.map((c, ci) => {
      const s = c.trim();
      const v = Number(s);
      if (s === "" || !Number.isFinite(v)) {
        throw new UserError(
          `Cannot read "${source}": line ${li + 1}, value ${ci + 1}: expected a number, got "${s}"`,
        );
      }
      return v;
    });
    if (rows.length === 0) width = row.length;
    else if (row.length !== width) {
      throw new UserError(
        `Cannot read "${source}": line ${
          li + 1
        } has ${row.length} values, the first window has ${width}`,
      );
    }
    rows.push(row);
  }
  if (rows.length === 0) throw new UserError(`Cannot read "${source}": it holds no windows`);
  const values = new Float32Array(rows.length * width);
  rows.forEach((r, i) => values.set(r, i * width));
  return { values, width, count: rows.length };
}

/**
 * Read and parse a windows file.
 *
 * @example
 * ```ts ignore
 * import { readWindowsCsv } from "./windows_csv.ts";
 * const w = await readWindowsCsv("windows.csv");
 * ```
 */
export async function readWindowsCsv(path: string): Promise<Windows> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UserError(`Cannot read "${path}": no such file`);
    }
    throw new UserError(`Cannot read "${path}": ${e instanceof Error ? e.message : e}`);
  }
  return parseWindowsCsv(text, path);
}
