import assert from "node:assert/strict";
import { METRICS_COLUMNS, metricsCsv, parseMetricsCsv } from "../../src/report/metrics_csv.ts";
import type { EpochMetrics } from "../../src/report/epoch_metrics.ts";
import { UserError } from "../../src/util/errors.ts";

function row(epoch: number, v: number): EpochMetrics {
  return {
    epoch,
    trainLoss: v,
    trainMse: v * 1.1,
    trainMae: v * 1.2,
    trainRmse: Math.sqrt(v),
    trainMseOrig: Math.sqrt(v),
    trainMaeOrig: Math.sqrt(v),
    trainRmseOrig: Math.sqrt(v),
    valMse: v * 2,
    valMae: v * 2.1,
    valRmse: Math.sqrt(2 * v),
    valMseOrig: v * 30,
    valMaeOrig: v * 31,
    valRmseOrig: v * 32,
    lr: 3e-4 / epoch,
    bestValMse: v * 2,
    bestEpoch: epoch,
    seconds: 1.5 * epoch,
    samplesPerSec: 1234.5,
  };
}

Deno.test("metrics.csv has the fixed header and one line per epoch", () => {
  assert.deepEqual(METRICS_COLUMNS, [
    "epoch",
    "train_loss",
    "train_mse",
    "train_mae",
    "train_rmse",
    "train_mse_orig",
    "train_mae_orig",
    "train_rmse_orig",
    "val_mse",
    "val_mae",
    "val_rmse",
    "val_mse_orig",
    "val_mae_orig",
    "val_rmse_orig",
    "lr",
    "best_val_mse",
    "best_epoch",
    "seconds",
    "samples_per_sec",
  ]);
  const text = metricsCsv([row(1, 0.5), row(2, 0.25), row(3, 0.125)]);
  const lines = text.split("\n");
  assert.equal(lines.length, 5); // header, 3 rows, "" after the final newline
  assert.equal(lines[4], "");
  assert.equal(lines[0], METRICS_COLUMNS.join(","));
  assert.equal(
    lines[1],
    "1,0.5,0.55,0.6,0.7071067811865476,0.7071067811865476,0.7071067811865476,0.7071067811865476,1,1.05,1,15,15.5,16,0.0003,1,1,1.5,1234.5",
  );
  for (const l of lines.slice(1, 4)) assert.equal(l.split(",").length, METRICS_COLUMNS.length);
  assert.equal(metricsCsv([]), METRICS_COLUMNS.join(",") + "\n");
});

Deno.test("metrics.csv round-trips every float64 exactly, non-finite values included", () => {
  const rows = [row(1, 0.1), row(2, 1e-30), row(3, 123456789.123), row(4, Math.PI / 7)];
  rows[1].trainLoss = NaN;
  rows[2].valMseOrig = Infinity;
  rows[3].valMaeOrig = -Infinity;
  const text = metricsCsv(rows);
  assert.match(text, /,nan,/);
  assert.match(text, /,inf,/);
  assert.match(text, /,-inf,/);
  assert.deepEqual(parseMetricsCsv(text), rows); // deepStrictEqual treats NaN as equal to NaN
});

Deno.test("parseMetricsCsv matches columns by name and reports bad input", () => {
  const text = metricsCsv([row(1, 0.5)]);
  const [head, line] = text.trim().split("\n");
  const swap = (s: string) => {
    const c = s.split(",");
    [c[0], c[1]] = [c[1], c[0]];
    return c.join(",");
  };
  assert.deepEqual(parseMetricsCsv(`${swap(head)}\r\n${swap(line)}\r\n`), [row(1, 0.5)]);
  assert.throws(() => parseMetricsCsv(""), UserError);
  assert.throws(
    () => parseMetricsCsv(head.replace("lr,", "learning_rate,") + "\n"),
    /lacks the column "lr"/,
  );
  assert.throws(() => parseMetricsCsv(`${head}\n1,2\n`), /line 2 has 2 cells/);
  assert.throws(
    () => parseMetricsCsv(`${head}\n${line.replace(/^1,/, "one,")}\n`),
    /column "epoch" is not a number: "one"/,
  );
});

Deno.test("metricsCsv rejects a row with a missing field", () => {
  const bad = row(1, 0.5) as Partial<EpochMetrics>;
  delete bad.lr;
  assert.throws(() => metricsCsv([bad as EpochMetrics]), /field "lr" is not a number/);
});
