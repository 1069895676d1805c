/**
 * `metrics.csv`: one row per epoch, fixed snake_case columns, numbers written with the shortest
 * text that parses back to the same float64 (so pandas/numpy read exactly what was logged).
 *
 * @module
 */

import { EPOCH_METRIC_KEYS, type EpochMetrics } from "./epoch_metrics.ts";
import { UserError } from "../util/errors.ts";

export type { EpochMetrics } from "./epoch_metrics.ts";

function _snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/**
 * Column names of `metrics.csv`, in order (`epoch, train_loss, …, samples_per_sec`).
 *
 * @example
 * ```ts
 * import { METRICS_COLUMNS } from "./metrics_csv.ts";
 * console.log(METRICS_COLUMNS.slice(0, 3).join(",")); // "epoch,train_loss,train_mse"
 * ```
 */
export const METRICS_COLUMNS: readonly string[] = Object.freeze(EPOCH_METRIC_KEYS.map(_snake));

/** Python's spelling of the non-finite floats, which `float()`, numpy and pandas all parse. */
function _num(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  return String(v);
}

/**
 * The whole `metrics.csv` text: header line, then one line per row, `\n` line ends and a final
 * newline. Rows are written in the order given.
 *
 * @throws {TypeError} When a field of a row is missing or not a number (a bug in the caller).
 * @example
 * ```ts
 * import { metricsCsv } from "./metrics_csv.ts";
 * const row = {
 *   epoch: 1, trainLoss: 0.5, trainMse: 0.5, trainMae: 0.6, trainRmse: 0.71,
 *   trainMseOrig: 0.71, trainMaeOrig: 0.71, trainRmseOrig: 0.71,
 *   valMse: 0.4, valMae: 0.5, valRmse: 0.63, valMseOrig: 0.1, valMaeOrig: 0.2,
 *   valRmseOrig: 0.32, lr: 1e-3, bestValMse: 0.4, bestEpoch: 1, seconds: 2.5, samplesPerSec: 400,
 * };
 * console.log(metricsCsv([row]).split("\n")[1].slice(0, 13)); // "1,0.5,0.5,0.6"
 * ```
 */
export function metricsCsv(rows: EpochMetrics[]): string {
  const lines = [METRICS_COLUMNS.join(",")];
  for (const [i, row] of rows.entries()) {
    lines.push(
      EPOCH_METRIC_KEYS.map((k) => {
        const v = row[k];
        if (typeof v !== "number") {
          throw new TypeError(`metrics row ${i} field "${k}" is not a number: ${String(v)}`);
        }
        return _num(v);
      }).join(","),
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Reads back a file written by {@linkcode metricsCsv} (to resume a run or to re-plot one).
 * Columns are matched by name, so their order may differ; every column must be present.
 *
 * @throws {UserError} On a missing column, a short row or a cell that is not a number.
 * @example
 * ```ts
 * import { metricsCsv, parseMetricsCsv } from "./metrics_csv.ts";
 * const row = {
 *   epoch: 1, trainLoss: 0.5, trainMse: 0.5, trainMae: 0.6, trainRmse: 0.71,
 *   trainMseOrig: 0.71, trainMaeOrig: 0.71, trainRmseOrig: 0.71,
 *   valMse: 0.4, valMae: 0.5, valRmse: 0.63, valMseOrig: 0.1, valMaeOrig: 0.2,
 *   valRmseOrig: 0.32, lr: 1e-3, bestValMse: 0.4, bestEpoch: 1, seconds: 2.5, samplesPerSec: 400,
 * };
 * console.log(parseMetricsCsv(metricsCsv([row]))[0].lr); // 0.001
 * ```
 */
export function parseMetricsCsv(text: string): EpochMetrics[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new UserError("Empty metrics CSV: no header line");
  const header = lines[0].split(",").map((h) => h.trim());
  const index = METRICS_COLUMNS.map((c) => {
    const j = header.indexOf(c);
    if (j < 0) throw new UserError(`Metrics CSV lacks the column "${c}"`);
    return j;
  });
  return lines.slice(1).map((line, r) => {
    const cells = line.split(",");
    if (cells.length !== header.length) {
      throw new UserError(
        `Metrics CSV line ${r + 2} has ${cells.length} cells, expected ${header.length}: "${line}"`,
      );
    }
    const row = {} as Record<keyof EpochMetrics, number>;
    EPOCH_METRIC_KEYS.forEach((k, c) => {
      const cell = cells[index[c]].trim();
      const v = _parseNum(cell);
      if (v === undefined) {
        throw new UserError(
          `Metrics CSV line ${r + 2} column "${METRICS_COLUMNS[c]}" is not a number: "${cell}"`,
        );
      }
      row[k] = v;
    });
    return row;
  });
}

function _parseNum(cell: string): number | undefined {
  const low = cell.toLowerCase();
  if (low === "nan") return NaN;
  if (low === "inf" || low === "+inf" || low === "infinity") return Infinity;
  if (low === "-inf" || low === "-infinity") return -Infinity;
  if (cell === "") return undefined;
  const v = Number(cell);
  return Number.isNaN(v) ? undefined : v;
}
