/**
 * Sliding windows (stride 1) over a series: `seqLen` inputs, then the `horizon` values to predict.
 *
 * @module
 */

import { UserError } from "../util/errors.ts";

/**
 * Model-ready windows: `x` is (count, seqLen) and `y` is (count, horizon), row-major float32.
 *
 * @example
 * ```ts
 * import { makeWindows, type Windows } from "./windows.ts";
 * const w: Windows = makeWindows([1, 2, 3, 4], 2, 2);
 * console.log(w.count, w.x.length, w.y.length); // 1 2 2
 * ```
 */
export interface Windows {
  /** Inputs, (count, seqLen). */
  x: Float32Array;
  /** Targets, (count, horizon). */
  y: Float32Array;
  /** Number of windows. */
  count: number;
}

/**
 * How many stride-1 windows a series of `length` values holds: `length − seqLen − horizon + 1`,
 * or 0 when it is too short for one.
 *
 * @example
 * ```ts
 * import { windowCount } from "./windows.ts";
 * console.log(windowCount(10, 4, 2)); // 5
 * ```
 */
export function windowCount(length: number, seqLen: number, horizon: number): number {
  return Math.max(0, length - seqLen - horizon + 1);
}

/**
 * Every window of `series`: window i has inputs `inputs[i … i+seqLen−1]` (`inputs` defaults to
 * `series`; the reference-repository preset passes the time stamps) and targets
 * `series[i+seqLen … i+seqLen+horizon−1]`.
 *
 * Throws `UserError` when `seqLen` or `horizon` is not a positive integer or the series is too
 * short for one window.
 *
 * @example
 * ```ts
 * import { makeWindows } from "./windows.ts";
 * const w = makeWindows([0, 1, 2, 3, 4], 3, 1);
 * console.log(w.count, Array.from(w.x), Array.from(w.y)); // 2 [0, 1, 2, 1, 2, 3] [3, 4]
 * ```
 */
export function makeWindows(
  series: ArrayLike<number>,
  seqLen: number,
  horizon: number,
  inputs?: ArrayLike<number>,
): Windows {
  _checkShape(series, seqLen, horizon, inputs);
  const count = windowCount(series.length, seqLen, horizon);
  if (count < 1) {
    throw new UserError(
      `Cannot make windows: a window needs seq_len + horizon = ${
        seqLen + horizon
      } values, the series has ${series.length}`,
    );
  }
  const starts = new Int32Array(count);
  for (let i = 0; i < count; i++) starts[i] = i;
  return windowsAt(series, seqLen, horizon, starts, inputs);
}

/**
 * The windows that start at `starts` (in that order), laid out as {@linkcode makeWindows} does.
 * Used to build the training and validation sets without copying every window first.
 *
 * @example
 * ```ts
 * import { windowsAt } from "./windows.ts";
 * const w = windowsAt([0, 1, 2, 3, 4], 2, 2, Int32Array.of(1), [10, 11, 12, 13, 14]);
 * console.log(Array.from(w.x), Array.from(w.y)); // [11, 12] [3, 4]
 * ```
 */
export function windowsAt(
  series: ArrayLike<number>,
  seqLen: number,
  horizon: number,
  starts: ArrayLike<number>,
  inputs?: ArrayLike<number>,
): Windows {
  _checkShape(series, seqLen, horizon, inputs);
  const src = inputs ?? series;
  const count = starts.length;
  const last = series.length - seqLen - horizon;
  const x = new Float32Array(count * seqLen);
  const y = new Float32Array(count * horizon);
  for (let w = 0; w < count; w++) {
    const s = starts[w];
    if (!Number.isInteger(s) || s < 0 || s > last) {
      throw new RangeError(`Cannot take window at ${s}: starts must lie in [0, ${last}]`);
    }
    for (let p = 0; p < seqLen; p++) x[w * seqLen + p] = src[s + p];
    for (let k = 0; k < horizon; k++) y[w * horizon + k] = series[s + seqLen + k];
  }
  return { x, y, count };
}

function _checkShape(
  series: ArrayLike<number>,
  seqLen: number,
  horizon: number,
  inputs: ArrayLike<number> | undefined,
): void {
  if (!Number.isInteger(seqLen) || seqLen < 1) {
    throw new UserError(`Invalid "--seq_len": expected a positive integer, got ${seqLen}`);
  }
  if (!Number.isInteger(horizon) || horizon < 1) {
    throw new UserError(`Invalid "--horizon": expected a positive integer, got ${horizon}`);
  }
  if (inputs && inputs.length !== series.length) {
    throw new RangeError(
      `Cannot make windows: ${inputs.length} inputs for a series of ${series.length} values`,
    );
  }
}
