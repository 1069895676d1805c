/**
 * Naive forecasting baselines that every Transformer result should be read against: persistence
 * and a least-squares linear autoregression over the window. Both are scored on the dataset's
 * validation windows, over every horizon step, in original series units, i.e. the trainer's
 * `valMseOrig` / `valMaeOrig` / `valRmseOrig` for a model that predicted these values.
 *
 * Both read the raw `Dataset.series` (float64) at the windows' start indices rather than the
 * float32, scaled `valX`, so they also work for `inputKind: "time"` datasets (preset `original`),
 * whose windows hold time stamps: there the baselines see the values before each target, which
 * the Transformer of that preset does not.
 *
 * @module
 */
import type { Dataset } from "../data/dataset.ts";
import { UserError } from "../util/errors.ts";

/** Validation error of a baseline, in original series units, over all windows and horizon steps. */
export interface BaselineMetrics {
  /** Mean squared error. */
  mse: number;
  /** Mean absolute error. */
  mae: number;
  /** √mse. */
  rmse: number;
}

/**
 * Persistence: every horizon step of a window is predicted as the window's last input value.
 *
 * @example
 * ```ts
 * import { buildDataset } from "../data/dataset.ts";
 * import { persistenceBaseline } from "./baselines.ts";
 * // A ramp of slope 0.5: persistence is always 0.5 short.
 * const ds = buildDataset({
 *   source: "sine", numSamples: 0, seqLen: 4, horizon: 1,
 *   amplitude: 1, gamma: 0, omega: 1, phi: 0, tMax: 1, noise: 0,
 *   split: "chronological", normalize: "train", seed: 0, preset: "none",
 * }, Float64Array.from({ length: 60 }, (_, i) => 0.5 * i));
 * console.log(persistenceBaseline(ds)); // { mse: 0.25, mae: 0.5, rmse: 0.5 }
 * ```
 */
export function persistenceBaseline(ds: Dataset): BaselineMetrics {
  const s = _checkedSeries(ds), L = ds.seqLen, K = ds.horizon;
  return _score(ds, (start, out) => out.fill(s[start + L - 1], 0, K));
}

/**
 * Linear autoregression: for each horizon step k, y_k = w_k·window + b_k fitted by least squares
 * on the training windows (float64 normal equations on centred data, ridge 1e-8·trace/L so that
 * collinear windows, e.g. a noiseless sinusoid, still give a unique solution; Cholesky), then
 * scored on the validation windows.
 *
 * @example
 * ```ts
 * import { buildDataset } from "../data/dataset.ts";
 * import { linearArBaseline } from "./baselines.ts";
 * // x[t+1] = 1.8·x[t] − 0.9·x[t−1] is linear in the window: recovered to rounding error.
 * const x = [1, 0.5];
 * for (let t = 2; t < 300; t++) x.push(1.8 * x[t - 1] - 0.9 * x[t - 2]);
 * const ds = buildDataset({
 *   source: "sine", numSamples: 0, seqLen: 3, horizon: 2,
 *   amplitude: 1, gamma: 0, omega: 1, phi: 0, tMax: 1, noise: 0,
 *   split: "chronological", normalize: "none", seed: 0, preset: "none",
 * }, Float64Array.from(x));
 * console.log(linearArBaseline(ds).rmse < 1e-6); // true
 * ```
 */
export function linearArBaseline(ds: Dataset): BaselineMetrics {
  const s = _checkedSeries(ds), L = ds.seqLen, K = ds.horizon;
  const n = ds.trainIndex.length;
  // Centring removes the bias column from the system: b_k = ȳ_k − w_k·x̄.
  const xMean = new Float64Array(L), yMean = new Float64Array(K);
  for (const st of ds.trainIndex) {
    for (let p = 0; p < L; p++) xMean[p] += s[st + p];
    for (let k = 0; k < K; k++) yMean[k] += s[st + L + k];
  }
  for (let p = 0; p < L; p++) xMean[p] /= n;
  for (let k = 0; k < K; k++) yMean[k] /= n;

  const G = new Float64Array(L * L), R = new Float64Array(L * K), xc = new Float64Array(L);
  for (const st of ds.trainIndex) {
    for (let p = 0; p < L; p++) xc[p] = s[st + p] - xMean[p];
    for (let p = 0; p < L; p++) {
      const a = xc[p];
      for (let q = 0; q <= p; q++) G[p * L + q] += a * xc[q];
      for (let k = 0; k < K; k++) R[p * K + k] += a * (s[st + L + k] - yMean[k]);
    }
  }
  let trace = 0;
  for (let p = 0; p < L; p++) trace += G[p * L + p];
  // A constant training input (trace 0) still needs a positive ridge to be solvable: w = 0 then.
  const ridge = trace > 0 ? 1e-8 * trace / L : 1e-8;
  for (let p = 0; p < L; p++) G[p * L + p] += ridge;
  _cholesky(G, L);
  const W = _choleskySolve(G, L, R, K); // (L, K): column k holds w_k

  const bias = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    let b = yMean[k];
    for (let p = 0; p < L; p++) b -= W[p * K + k] * xMean[p];
    bias[k] = b;
  }
  return _score(ds, (start, out) => {
    for (let k = 0; k < K; k++) {
      let y = bias[k];
      for (let p = 0; p < L; p++) y += W[p * K + k] * s[start + p];
      out[k] = y;
    }
  });
}

/** MSE/MAE over every validation window and horizon step; `predict` fills (K) for a window start. */
function _score(
  ds: Dataset,
  predict: (start: number, out: Float64Array) => void,
): BaselineMetrics {
  const s = ds.series, L = ds.seqLen, K = ds.horizon;
  const out = new Float64Array(K);
  let sq = 0, ab = 0;
  for (const st of ds.valIndex) {
    predict(st, out);
    for (let k = 0; k < K; k++) {
      const d = out[k] - s[st + L + k];
      sq += d * d;
      ab += Math.abs(d);
    }
  }
  const count = ds.valIndex.length * K;
  if (count === 0) {
    throw new UserError(
      `Cannot score a baseline on "${ds.description}": it has no validation windows`,
    );
  }
  const mse = sq / count;
  if (!Number.isFinite(mse)) {
    throw new Error(`Baseline produced a non-finite validation MSE (${mse}) on a finite series`);
  }
  return { mse, mae: ab / count, rmse: Math.sqrt(mse) };
}

/** The raw series, after making sure no value a window touches is NaN or infinite. */
function _checkedSeries(ds: Dataset): Float64Array {
  const s = ds.series;
  for (let i = 0; i < s.length; i++) {
    if (!Number.isFinite(s[i])) {
      throw new UserError(
        `Cannot fit a baseline on "${ds.description}": value ${i} is ${
          s[i]
        }, expected a finite number`,
      );
    }
  }
  if (ds.trainIndex.length === 0) {
    throw new UserError(`Cannot fit a baseline on "${ds.description}": it has no training windows`);
  }
  return s;
}

/** In-place lower Cholesky factor of the SPD (n, n) matrix `a` (only its lower triangle is read). */
function _cholesky(a: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
    // The ridge keeps the matrix positive definite; a failure here means the inputs overflowed.
    if (!(d > 0)) throw new Error(`Cholesky failed at pivot ${j}: ${d} (normal equations not SPD)`);
    const r = Math.sqrt(d);
    a[j * n + j] = r;
    for (let i = j + 1; i < n; i++) {
      let v = a[i * n + j];
      for (let k = 0; k < j; k++) v -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = v / r;
    }
  }
}

/** Solve (LLᵀ)·X = B for the (n, m) right-hand sides `b`, given the factor from `_cholesky`. */
function _choleskySolve(l: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  const x = Float64Array.from(b);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let v = x[i * m + c];
      for (let k = 0; k < i; k++) v -= l[i * n + k] * x[k * m + c];
      x[i * m + c] = v / l[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let v = x[i * m + c];
      for (let k = i + 1; k < n; k++) v -= l[k * n + i] * x[k * m + c];
      x[i * m + c] = v / l[i * n + i];
    }
  }
  return x;
}
