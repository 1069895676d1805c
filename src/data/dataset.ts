/**
 * From options to model-ready training and validation windows: the series (damped sine or CSV
 * column), the split, the scaler. See docs/data.md for the exact counts.
 *
 * @module
 */

import { UserError } from "../util/errors.ts";
import { Rng } from "../util/rng.ts";
import { parseCsvColumn, readCsvHeader } from "./csv.ts";
import { fitScaler, IDENTITY_SCALER, scale, type Scaler } from "./scaler.ts";
import { dampedSine } from "./series.ts";
import { windowCount, windowsAt } from "./windows.ts";

/**
 * Where the series comes from and how it becomes windows (the data flags of the CLI).
 *
 * @example
 * ```ts
 * import type { DataOptions } from "./dataset.ts";
 * const o: DataOptions = {
 *   source: "csv", csv: "examples/data/co2-concentration.csv", column: "CO2",
 *   numSamples: 0, seqLen: 24, horizon: 1,
 *   amplitude: 1, gamma: 0.1, omega: 2, phi: 0, tMax: 20, noise: 0,
 *   split: "chronological", normalize: "train", seed: 0, preset: "none",
 * };
 * console.log(o.source); // csv
 * ```
 */
export interface DataOptions {
  /** `sine`: the damped sine of spec §1; `csv`: column `column` of file `csv`. */
  source: "sine" | "csv";
  /** Path of the CSV file (source `csv`). */
  csv?: string;
  /** Header name of the column to read (source `csv`). */
  column?: string;
  /**
   * Sine only (ignored for CSV, which uses every row): the number of windows, so the series has
   * `numSamples + seqLen + horizon − 1` points. With preset `original`: the number of time points,
   * as in the reference code (which gives `numSamples − seqLen − horizon + 1` windows).
   */
  numSamples: number;
  /** L, inputs per window. */
  seqLen: number;
  /** K, values predicted per window. */
  horizon: number;
  /** A of the sine. */
  amplitude: number;
  /** γ of the sine. */
  gamma: number;
  /** ω of the sine. */
  omega: number;
  /** φ of the sine. */
  phi: number;
  /** Last time stamp of the sine grid (the first is 0). */
  tMax: number;
  /** σ of the Gaussian noise added to the sine. */
  noise: number;
  /** `chronological`: first 80 % of windows train, a purge gap, the rest validate. `random`: shuffled 80/20. */
  split: "chronological" | "random";
  /** z-score fitted on the values the training windows touch, on the whole series, or none. */
  normalize: "train" | "global" | "none";
  /** Seeds the sine noise and the random split. */
  seed: number;
  /** `original` reproduces the reference repository's data (spec §5); overrides split and normalize. */
  preset: "none" | "original";
}

/**
 * Training and validation windows, already scaled, plus what is needed to undo the scaling.
 *
 * @example
 * ```ts
 * import { buildDataset, type Dataset } from "./dataset.ts";
 * import { unscale } from "./scaler.ts";
 * const d: Dataset = buildDataset({
 *   source: "sine", numSamples: 0, seqLen: 4, horizon: 1,
 *   amplitude: 1, gamma: 0, omega: 1, phi: 0, tMax: 1, noise: 0,
 *   split: "chronological", normalize: "train", seed: 0, preset: "none",
 * }, Float64Array.from({ length: 40 }, (_, i) => i % 7));
 * // The first validation target, back in series units:
 * console.log(unscale([d.valY[0]], d.scaler)[0].toFixed(4)); // 1.0000 (series[36] = 36 % 7)
 * ```
 */
export interface Dataset {
  /** Training inputs, (nTrain, seqLen). */
  trainX: Float32Array;
  /** Training targets, (nTrain, horizon). */
  trainY: Float32Array;
  /** Validation inputs, (nVal, seqLen). */
  valX: Float32Array;
  /** Validation targets, (nVal, horizon). */
  valY: Float32Array;
  /** Number of training windows. */
  nTrain: number;
  /** Number of validation windows. */
  nVal: number;
  /** L. */
  seqLen: number;
  /** K. */
  horizon: number;
  /** The z-score of the series values (targets, and inputs unless `inputKind` is `time`); identity for `none`. */
  scaler: Scaler;
  /** What the inputs are: series values, or time stamps (preset `original`). */
  inputKind: "values" | "time";
  /** The z-score applied to the inputs: `scaler` for values, the time stamps' own for `time`. */
  inputScaler: Scaler;
  /** The raw (unscaled) series. */
  series: Float64Array;
  /** Time stamp of each series point: the sine's grid, or the row number 0, 1, … for a CSV. */
  time: Float64Array;
  /** Start index (into `series`) of each training window, ascending. */
  trainIndex: Int32Array;
  /** Start index of each validation window, ascending. */
  valIndex: Int32Array;
  /** One line for logs and reports. */
  description: string;
}

/** Fraction of the windows that train (the reference code's `int(0.8 * len)`). */
const TRAIN_FRACTION = 0.8;
/** The reference repository's split seed (`pl.seed_everything(42)`). */
const ORIGINAL_SPLIT_SEED = 42;

/**
 * Makes the series (generating the sine, or reading the CSV file with `Deno.readTextFile`) and
 * builds the dataset from it with {@linkcode buildDataset}.
 *
 * @example
 * ```ts
 * import { loadDataset } from "./dataset.ts";
 * const d = await loadDataset({
 *   source: "sine", numSamples: 100, seqLen: 10, horizon: 1,
 *   amplitude: 1, gamma: 0.1, omega: 2, phi: 0, tMax: 20, noise: 0,
 *   split: "chronological", normalize: "train", seed: 1, preset: "none",
 * });
 * console.log(d.nTrain, d.nVal); // 80 10
 * ```
 */
export async function loadDataset(o: DataOptions): Promise<Dataset> {
  if (o.source === "csv") {
    const path = o.csv;
    if (!path) throw new UserError('Cannot load a CSV series: no file given (pass "--csv PATH")');
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new UserError(`Cannot read "${path}": no such file`);
      }
      throw new UserError(`Cannot read "${path}": ${(e as Error).message}`);
    }
    if (!o.column) {
      const names = readCsvHeader(text, path).map((c) => JSON.stringify(c)).join(", ");
      throw new UserError(
        `Cannot read "${path}": no column chosen (pass "--column NAME"; columns: ${names})`,
      );
    }
    return buildDataset(o, parseCsvColumn(text, o.column, path));
  }
  if (o.source !== "sine") {
    throw new UserError(`Invalid "--source": expected "sine" or "csv", got "${o.source}"`);
  }
  if (!Number.isInteger(o.numSamples) || o.numSamples < 1) {
    throw new UserError(
      `Invalid "--num_samples": expected a positive integer, got ${o.numSamples}`,
    );
  }
  _checkLengths(o);
  const numPoints = o.preset === "original"
    ? o.numSamples
    : o.numSamples + o.seqLen + o.horizon - 1;
  const { t, x } = dampedSine({ ...o, numPoints });
  return buildDataset(o, x, t);
}

/**
 * The pure part: windows, split and scaling of a given raw `series` (`t`: its time stamps,
 * default 0, 1, …; used as inputs by preset `original`).
 *
 * - Windows: stride 1, W = n − seqLen − horizon + 1 of them; window i reads inputs i … i+L−1 and
 *   targets i+L … i+L+K−1.
 * - `chronological`: nTrain = ⌊0.8·W⌋ first windows; the next L+K−1 windows are dropped (their
 *   inputs would contain a training target); the rest validate: nVal = W − nTrain − (L+K−1).
 * - `random`: windows shuffled by `new Rng(seed)` (seed 42 with preset `original`), the first
 *   ⌊0.8·W⌋ train, the others validate; both index lists are then sorted.
 * - Scaling: `train` fits on every value a training window reads or predicts, `global` on the
 *   whole series, `none` is the identity. Preset `original` forces a random split and `global`,
 *   and uses the time stamps, z-scored over the whole grid, as inputs.
 *
 * Throws `UserError` when the series is too short for both sets, saying how long it must be.
 *
 * @example
 * ```ts
 * import { buildDataset } from "./dataset.ts";
 * const series = Float64Array.from({ length: 20 }, (_, i) => Math.sin(i));
 * const d = buildDataset({
 *   source: "sine", numSamples: 0, seqLen: 3, horizon: 1,
 *   amplitude: 1, gamma: 0, omega: 1, phi: 0, tMax: 19, noise: 0,
 *   split: "chronological", normalize: "none", seed: 0, preset: "none",
 * }, series);
 * console.log(d.nTrain, Array.from(d.valIndex)); // 13 [16]
 * ```
 */
export function buildDataset(o: DataOptions, series: Float64Array, t?: Float64Array): Dataset {
  _checkLengths(o);
  const original = o.preset === "original";
  if (!original && o.preset !== "none") {
    throw new UserError(`Invalid "--preset": expected "none" or "original", got "${o.preset}"`);
  }
  const split = original ? "random" : o.split;
  const normalize = original ? "global" : o.normalize;
  if (split !== "chronological" && split !== "random") {
    throw new UserError(`Invalid "--split": expected "chronological" or "random", got "${split}"`);
  }
  if (normalize !== "train" && normalize !== "global" && normalize !== "none") {
    throw new UserError(
      `Invalid "--normalize": expected "train", "global" or "none", got "${normalize}"`,
    );
  }
  if (t && t.length !== series.length) {
    throw new RangeError(
      `Cannot build a dataset: ${t.length} time stamps for ${series.length} values`,
    );
  }
  const L = o.seqLen, K = o.horizon, n = series.length;
  const time = t ?? Float64Array.from({ length: n }, (_, i) => i);
  const what = _sourceName(o);

  const W = windowCount(n, L, K);
  const minW = _minWindows(split, L, K);
  if (W < minW) {
    const need = minW + L + K - 1;
    const hint = o.source === "sine"
      ? original
        ? ` (raise "--num_samples" to at least ${need})`
        : ` (raise "--num_samples" to at least ${minW})`
      : "";
    throw new UserError(
      `Cannot build the dataset from ${what}: a ${split} split with seq_len ${L} and horizon ${K} needs at least ${need} values (${minW} windows), got ${n}${hint}`,
    );
  }

  const nTrain = Math.floor(TRAIN_FRACTION * W);
  let trainIndex: Int32Array, valIndex: Int32Array;
  if (split === "chronological") {
    trainIndex = Int32Array.from({ length: nTrain }, (_, i) => i);
    const valStart = nTrain + L + K - 1;
    valIndex = Int32Array.from({ length: W - valStart }, (_, i) => valStart + i);
  } else {
    const perm = Int32Array.from({ length: W }, (_, i) => i);
    new Rng(original ? ORIGINAL_SPLIT_SEED : o.seed).shuffle(perm);
    trainIndex = perm.slice(0, nTrain).sort();
    valIndex = perm.slice(nTrain).sort();
  }

  let scaler: Scaler = { ...IDENTITY_SCALER };
  if (normalize === "global") scaler = fitScaler(series, what);
  else if (normalize === "train") {
    scaler = fitScaler(_touched(series, trainIndex, L + K), `the training values of ${what}`);
  }
  const values = scale(series, scaler);
  let inputScaler = scaler, inputs: Float64Array | undefined;
  if (original) {
    inputScaler = fitScaler(time, `the time stamps of ${what}`);
    inputs = scale(time, inputScaler);
  }
  const train = windowsAt(values, L, K, trainIndex, inputs);
  const val = windowsAt(values, L, K, valIndex, inputs);

  const splitText = split === "chronological"
    ? `chronological, ${L + K - 1} purged`
    : `random, seed ${original ? ORIGINAL_SPLIT_SEED : o.seed}`;
  const scaleText = normalize === "none"
    ? "not normalized"
    : `z-score on ${normalize === "train" ? "the training values" : "the whole series"} (mean ${
      _num(scaler.mean)
    }, std ${_num(scaler.std)})`;
  const inputText = original ? "time-stamp inputs" : "value inputs";
  return {
    trainX: train.x,
    trainY: train.y,
    valX: val.x,
    valY: val.y,
    nTrain: train.count,
    nVal: val.count,
    seqLen: L,
    horizon: K,
    scaler,
    inputKind: original ? "time" : "values",
    inputScaler,
    series,
    time,
    trainIndex,
    valIndex,
    description:
      `${what}, ${n} points; windows ${L} → ${K} (${inputText}): ${train.count} train, ${val.count} validation (${splitText}); ${scaleText}`,
  };
}

/** Fewest windows for which both sets are non-empty. */
function _minWindows(split: "chronological" | "random", L: number, K: number): number {
  if (split === "random") return 2;
  // nVal = W − ⌊0.8W⌋ − (L+K−1) grows by 0 or 1 per extra window, so the first W that works is
  // found in about 5·(L+K) steps.
  let W = 2;
  while (W - Math.floor(TRAIN_FRACTION * W) - (L + K - 1) < 1) W++;
  return W;
}

/** The values read or predicted by at least one window of `starts` (each spans `span` values). */
function _touched(series: Float64Array, starts: Int32Array, span: number): Float64Array {
  const used = new Uint8Array(series.length);
  for (const s of starts) used.fill(1, s, s + span);
  const out: number[] = [];
  for (let i = 0; i < series.length; i++) if (used[i]) out.push(series[i]);
  return Float64Array.from(out);
}

function _checkLengths(o: DataOptions): void {
  if (!Number.isInteger(o.seqLen) || o.seqLen < 1) {
    throw new UserError(`Invalid "--seq_len": expected a positive integer, got ${o.seqLen}`);
  }
  if (!Number.isInteger(o.horizon) || o.horizon < 1) {
    throw new UserError(`Invalid "--horizon": expected a positive integer, got ${o.horizon}`);
  }
}

function _sourceName(o: DataOptions): string {
  if (o.source === "csv") return `"${o.csv ?? "?"}" column "${o.column ?? "?"}"`;
  return `the damped sine (A ${o.amplitude}, γ ${o.gamma}, ω ${o.omega}, φ ${o.phi}, t ∈ [0, ${o.tMax}], noise ${o.noise})`;
}

function _num(x: number): string {
  return String(Number(x.toPrecision(6)));
}
