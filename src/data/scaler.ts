/**
 * The z-score that maps series values to the units the model trains in, and back.
 *
 * @module
 */

import { UserError } from "../util/errors.ts";

/**
 * z = (x − mean) / std. `{ mean: 0, std: 1 }` is the identity (`--normalize none`).
 *
 * @example
 * ```ts
 * import { type Scaler, unscale } from "./scaler.ts";
 * const s: Scaler = { mean: 400, std: 20 };
 * console.log(unscale([0.5], s)[0]); // 410
 * ```
 */
export interface Scaler {
  /** Mean of the fitted values. */
  mean: number;
  /** Population standard deviation (divide by n, numpy's default) of the fitted values. */
  std: number;
}

/**
 * The scaler that changes nothing.
 *
 * @example
 * ```ts
 * import { IDENTITY_SCALER, scale } from "./scaler.ts";
 * console.log(scale([3], IDENTITY_SCALER)[0]); // 3
 * ```
 */
export const IDENTITY_SCALER: Readonly<Scaler> = Object.freeze({ mean: 0, std: 1 });

/**
 * Mean and population standard deviation of `values` (two passes, in float64).
 *
 * Throws `UserError` for no values, a non-finite value, or a constant series (std 0): dividing by
 * zero would give NaN, and a constant series has nothing to learn.
 *
 * @param values The values to fit on.
 * @param what Names the values in error messages ("the training values of …").
 *
 * @example
 * ```ts
 * import { fitScaler } from "./scaler.ts";
 * console.log(fitScaler([1, 2, 3, 4])); // { mean: 2.5, std: 1.118033988749895 }
 * ```
 */
export function fitScaler(values: ArrayLike<number>, what = "the values"): Scaler {
  const n = values.length;
  if (n === 0) throw new UserError(`Cannot normalize ${what}: there are no values`);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      throw new UserError(`Cannot normalize ${what}: value ${i} is ${v}, expected a finite number`);
    }
    sum += v;
  }
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i] - mean;
    ss += d * d;
  }
  const std = Math.sqrt(ss / n);
  if (!(std > 0)) {
    throw new UserError(
      `Cannot normalize ${what}: all ${n} values equal ${
        values[0]
      } (std 0); pass "--normalize none" to train on a constant series`,
    );
  }
  return { mean, std };
}

/**
 * (x − mean) / std for each value.
 *
 * @example
 * ```ts
 * import { scale } from "./scaler.ts";
 * console.log(Array.from(scale([1, 3], { mean: 2, std: 0.5 }))); // [-2, 2]
 * ```
 */
export function scale(values: ArrayLike<number>, s: Scaler): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = (values[i] - s.mean) / s.std;
  return out;
}

/**
 * z·std + mean for each value: predictions back to the series' units.
 *
 * @example
 * ```ts
 * import { unscale } from "./scaler.ts";
 * console.log(Array.from(unscale([-2, 2], { mean: 2, std: 0.5 }))); // [1, 3]
 * ```
 */
export function unscale(values: ArrayLike<number>, s: Scaler): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = values[i] * s.std + s.mean;
  return out;
}
