import assert from "node:assert/strict";
import { inferenceConfigs, lossCurveConfig } from "../../src/report/chart_configs.ts";
import type { EpochMetrics } from "../../src/report/epoch_metrics.ts";
import { UserError } from "../../src/util/errors.ts";

function row(
  epoch: number,
  train: number,
  val: number,
  best: number,
  bestEpoch: number,
): EpochMetrics {
  return {
    epoch,
    trainLoss: train,
    trainMse: train,
    trainMae: 0,
    trainRmse: 0,
    trainMseOrig: 0,
    trainMaeOrig: 0,
    trainRmseOrig: 0,
    valMse: val,
    valMae: 0,
    valRmse: 0,
    valMseOrig: 0,
    valMaeOrig: 0,
    valRmseOrig: 0,
    lr: 1e-3,
    bestValMse: best,
    bestEpoch,
    seconds: 1,
    samplesPerSec: 1,
  };
}

const rows = [row(1, 0.5, 0.6, 0.6, 1), row(2, 0, 0.3, 0.3, 2), row(3, NaN, 0.4, 0.3, 2)];

Deno.test("lossCurveConfig: train loss, val MSE and the best epoch, finite points only", () => {
  const cfg = lossCurveConfig(rows);
  const [train, val, best] = cfg.data.datasets;
  assert.equal(train.label, "train loss");
  assert.deepEqual(train.data, [{ x: 1, y: 0.5 }, { x: 2, y: 0 }]); // NaN left out
  assert.deepEqual(val.data, [{ x: 1, y: 0.6 }, { x: 2, y: 0.3 }, { x: 3, y: 0.4 }]);
  assert.equal(best.label, "best val MSE (epoch 2)");
  assert.deepEqual(best.data, [{ x: 2, y: 0.3 }]);
  assert.equal(cfg.options!.scales!.y!.type, "linear");
  assert.deepEqual([cfg.options!.scales!.x!.min, cfg.options!.scales!.x!.max], [1, 3]);
});

Deno.test("lossCurveConfig: log scale drops non-positive values", () => {
  const cfg = lossCurveConfig(rows, { logScale: true });
  assert.equal(cfg.options!.scales!.y!.type, "logarithmic");
  assert.deepEqual(cfg.data.datasets[0].data, [{ x: 1, y: 0.5 }]);
  assert.throws(() => lossCurveConfig([]), UserError);
});

Deno.test("configs are plain JSON (the HTML report embeds them)", () => {
  const cfgs = [lossCurveConfig(rows), ...inferenceConfigs([1, 2], [2, 1])];
  for (const c of cfgs) assert.deepEqual(JSON.parse(JSON.stringify(c)), c);
});

Deno.test("inferenceConfigs: time panel keeps order, sorted panel keeps (truth, pred) pairs", () => {
  const truth = [0.3, -1, 2, NaN, 0.3];
  const pred = [10, 11, 12, 13, 14];
  const [time, sorted] = inferenceConfigs(truth, pred, { title: "Val", yLabel: "temp" });
  assert.deepEqual(time.data.datasets[0].data, [
    { x: 0, y: 0.3 },
    { x: 1, y: -1 },
    { x: 2, y: 2 },
    { x: 4, y: 0.3 },
  ]);
  assert.deepEqual(time.data.datasets[1].data.map((p) => p.y), pred);
  // Ascending truth, ties by index, NaN last (left out of the truth line, its prediction kept).
  assert.deepEqual(sorted.data.datasets[0].data.map((p) => p.y), [-1, 0.3, 0.3, 2]);
  assert.deepEqual(sorted.data.datasets[1].data.map((p) => p.y), [11, 10, 14, 12, 13]);
  assert.deepEqual(sorted.data.datasets[1].data.map((p) => p.x), [0, 1, 2, 3, 4]);
  assert.equal(sorted.data.datasets[1].showLine, false);
  assert.equal(
    (time.options!.plugins!.title as { text: string }).text,
    "Val: prediction vs truth over time",
  );
  assert.equal((sorted.options!.scales!.y!.title as { text: string }).text, "temp");
});

Deno.test("inferenceConfigs rejects unequal or empty series", () => {
  assert.throws(() => inferenceConfigs([1, 2, 3], [1, 2]), /lengths differ: "3" vs "2"/);
  assert.throws(() => inferenceConfigs([], []), UserError);
});
