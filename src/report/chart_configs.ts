/**
 * Chart.js configurations for the report charts, as plain JSON-safe objects (no functions), so
 * that the PNG renderer and the HTML report draw exactly the same charts.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- the project pins npm versions inline, not in deno.json
import type { ChartConfiguration } from "npm:chart.js@4.5.1";
import type { EpochMetrics } from "./epoch_metrics.ts";
import { UserError } from "../util/errors.ts";

/** Options of {@linkcode lossCurveConfig}. */
export interface LossCurveOptions {
  /** Logarithmic y axis (non-positive values are left out). Default false. */
  logScale?: boolean;
  /** Chart title. Default "Loss". */
  title?: string;
}

/** Options of {@linkcode inferenceConfigs}. */
export interface InferenceOptions {
  /** Prefix of both panel titles, e.g. "Validation". */
  title?: string;
  /** Y axis label, e.g. the CSV column name. Default "value". */
  yLabel?: string;
}

/** A point of a line dataset. */
export type XY = { x: number; y: number };

const COLORS = {
  train: "#1f77b4",
  val: "#ff7f0e",
  best: "#2ca02c",
  truth: "#222222",
  pred: "#d62728",
} as const;

function _points(xs: ArrayLike<number>, ys: ArrayLike<number>, positiveOnly: boolean): XY[] {
  const out: XY[] = [];
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    // Left out, not null: a null y would count as 0 in the axis range and break a log scale.
    if (Number.isFinite(y) && (!positiveOnly || y > 0)) out.push({ x: xs[i], y });
  }
  return out;
}

function _line(label: string, color: string, data: XY[], extra: Record<string, unknown> = {}) {
  return {
    type: "line" as const,
    label,
    data,
    borderColor: color,
    backgroundColor: color,
    borderWidth: 2,
    pointRadius: data.length > 60 ? 0 : 2,
    tension: 0,
    ...extra,
  };
}

/**
 * Loss curve: training loss and validation MSE (both on normalized data) against the epoch, with
 * the best validation epoch marked.
 *
 * @throws {UserError} When `rows` is empty.
 * @example
 * ```ts
 * import { lossCurveConfig } from "./chart_configs.ts";
 * const row = (epoch: number, v: number) => ({
 *   epoch, trainLoss: v, trainMse: v, trainMae: v, trainRmse: v,
 *   trainMseOrig: v, trainMaeOrig: v, trainRmseOrig: v, valMse: v, valMae: v,
 *   valRmse: v, valMseOrig: v, valMaeOrig: v, valRmseOrig: v, lr: 1e-3, bestValMse: v,
 *   bestEpoch: epoch, seconds: 1, samplesPerSec: 1,
 * });
 * const cfg = lossCurveConfig([row(1, 0.5), row(2, 0.25)], { logScale: true });
 * console.log(cfg.data.datasets.length); // 3
 * ```
 */
export function lossCurveConfig(
  rows: EpochMetrics[],
  opts: LossCurveOptions = {},
): ChartConfiguration<"line", XY[]> {
  if (rows.length === 0) throw new UserError("Cannot draw a loss curve of zero epochs");
  const log = opts.logScale ?? false;
  const epochs = rows.map((r) => r.epoch);
  const last = rows[rows.length - 1];
  const best = _points([last.bestEpoch], [last.bestValMse], log);
  return {
    type: "line",
    data: {
      datasets: [
        // Chart.js draws higher `order` first: the best marker ends on top.
        _line("train loss", COLORS.train, _points(epochs, rows.map((r) => r.trainLoss), log), {
          order: 2,
        }),
        _line("val MSE", COLORS.val, _points(epochs, rows.map((r) => r.valMse), log), {
          order: 1,
        }),
        _line(`best val MSE (epoch ${last.bestEpoch})`, COLORS.best, best, {
          order: 0,
          showLine: false,
          pointRadius: 6,
          pointStyle: "rectRot",
        }),
      ],
    },
    options: {
      parsing: false,
      normalized: true,
      plugins: {
        title: { display: true, text: opts.title ?? "Loss" },
        // Legend items follow `order`; reversed they list in dataset order.
        legend: { display: true, position: "top", reverse: true },
      },
      scales: {
        x: {
          type: "linear",
          title: { display: true, text: "epoch" },
          min: rows.reduce((m, r) => Math.min(m, r.epoch), Infinity),
          max: rows.reduce((m, r) => Math.max(m, r.epoch), -Infinity),
          ticks: { precision: 0 },
        },
        y: {
          type: log ? "logarithmic" : "linear",
          title: { display: true, text: log ? "MSE, normalized (log scale)" : "MSE, normalized" },
        },
      },
    },
  };
}

/**
 * The two inference panels: prediction and truth against the time step, and both reordered by
 * ascending truth (a perfect model's points lie on the truth curve).
 *
 * @throws {UserError} When the series are empty or their lengths differ.
 * @example
 * ```ts
 * import { inferenceConfigs } from "./chart_configs.ts";
 * const [timeCfg, sortedCfg] = inferenceConfigs([3, 1, 2], [2.9, 1.2, 2]);
 * console.log(sortedCfg.data.datasets[0].data.map((p) => p.y)); // [ 1, 2, 3 ]
 * ```
 */
export function inferenceConfigs(
  truth: ArrayLike<number>,
  pred: ArrayLike<number>,
  opts: InferenceOptions = {},
): [ChartConfiguration<"line", XY[]>, ChartConfiguration<"line", XY[]>] {
  if (truth.length !== pred.length) {
    throw new UserError(
      `Truth and prediction lengths differ: "${truth.length}" vs "${pred.length}"`,
    );
  }
  if (truth.length === 0) throw new UserError("Cannot draw predictions of an empty series");
  const n = truth.length;
  const idx = Array.from({ length: n }, (_, i) => i);
  // NaN truths sort last, so the order is total and stable.
  const order = idx.slice().sort((a, b) => {
    const ta = truth[a], tb = truth[b];
    if (Number.isNaN(ta)) return Number.isNaN(tb) ? a - b : 1;
    if (Number.isNaN(tb)) return -1;
    return ta - tb || a - b;
  });
  const sortedTruth = order.map((i) => truth[i]);
  const sortedPred = order.map((i) => pred[i]);
  const prefix = opts.title ? `${opts.title}: ` : "";
  const yLabel = opts.yLabel ?? "value";
  const many = n > 300;
  const panel = (
    title: string,
    xLabel: string,
    t: ArrayLike<number>,
    p: ArrayLike<number>,
    predAsPoints: boolean,
  ): ChartConfiguration<"line", XY[]> => ({
    type: "line",
    data: {
      datasets: [
        // The prediction is drawn over the truth (lower `order`), else a good fit hides it.
        _line("truth", COLORS.truth, _points(idx, t, false), {
          order: 2,
          borderWidth: 2.5,
        }),
        _line(
          "prediction",
          COLORS.pred,
          _points(idx, p, false),
          predAsPoints
            ? { order: 1, showLine: false, pointRadius: many ? 1.5 : 2.5, borderWidth: 0 }
            : { order: 1, borderWidth: 1.5 },
        ),
      ],
    },
    options: {
      parsing: false,
      normalized: true,
      plugins: {
        title: { display: true, text: prefix + title },
        // Legend items follow `order`; reversed they list in dataset order.
        legend: { display: true, position: "top", reverse: true },
      },
      scales: {
        x: { type: "linear", min: 0, max: n - 1, title: { display: true, text: xLabel } },
        y: { type: "linear", title: { display: true, text: yLabel } },
      },
    },
  });
  return [
    panel("prediction vs truth over time", "time step", truth, pred, false),
    panel("sorted by truth", "rank of the true value", sortedTruth, sortedPred, true),
  ];
}
