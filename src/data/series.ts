/**
 * The synthetic series of spec §1: a damped sine on an even time grid, with optional seeded
 * Gaussian noise.
 *
 * @module
 */

import { UserError } from "../util/errors.ts";
import { Rng } from "../util/rng.ts";

/**
 * Constants of x(t) = A·e^(−γt)·cos(ωt + φ) + noise, sampled at `numPoints` times in [0, tMax].
 *
 * @example
 * ```ts
 * import { dampedSine, type DampedSineOptions } from "./series.ts";
 * const o: DampedSineOptions = {
 *   numPoints: 5000, amplitude: 1, gamma: 0.1, omega: 2, phi: 0, tMax: 20, noise: 0.01, seed: 1,
 * };
 * console.log(dampedSine(o).x.length); // 5000
 * ```
 */
export interface DampedSineOptions {
  /** Number of time points (both ends of [0, tMax] included). */
  numPoints: number;
  /** A. */
  amplitude: number;
  /** γ, the decay rate. */
  gamma: number;
  /** ω, the angular frequency. */
  omega: number;
  /** φ, the phase. */
  phi: number;
  /** Last time stamp. */
  tMax: number;
  /** Standard deviation σ of the additive Gaussian noise (0: none). */
  noise: number;
  /** Seed of the noise generator. */
  seed: number;
}

/**
 * numpy's `linspace(start, stop, num)`: `num` evenly spaced points, both ends included, computed
 * as `i·step + start` with the last point set to `stop` exactly (as numpy does).
 *
 * @example
 * ```ts
 * import { linspace } from "./series.ts";
 * console.log(Array.from(linspace(0, 1, 5))); // [0, 0.25, 0.5, 0.75, 1]
 * ```
 */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 0) return out;
  const step = (stop - start) / Math.max(num - 1, 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/**
 * The damped sine x(t) = A·e^(−γt)·cos(ωt + φ) on `linspace(0, tMax, numPoints)`, plus
 * N(0, noise²) drawn in time order from `new Rng(seed)` (no draw at all when `noise` is 0, so the
 * clean series does not depend on the seed).
 *
 * @example
 * ```ts
 * import { dampedSine } from "./series.ts";
 * const { t, x } = dampedSine({
 *   numPoints: 3, amplitude: 1, gamma: 0.1, omega: 2, phi: 0, tMax: 20, noise: 0, seed: 0,
 * });
 * console.log(t[2], x[0]); // 20 1
 * ```
 */
export function dampedSine(o: DampedSineOptions): { t: Float64Array; x: Float64Array } {
  if (!Number.isInteger(o.numPoints) || o.numPoints < 1) {
    throw new UserError(
      `Cannot generate the sine: the number of points must be a positive integer, got ${o.numPoints}`,
    );
  }
  for (
    const [name, v] of [
      ["amplitude", o.amplitude],
      ["gamma", o.gamma],
      ["omega", o.omega],
      ["phi", o.phi],
      ["t_max", o.tMax],
    ] as const
  ) {
    if (!Number.isFinite(v)) {
      throw new UserError(
        `Cannot generate the sine: "--${name}" must be a finite number, got ${v}`,
      );
    }
  }
  if (!(o.noise >= 0) || !Number.isFinite(o.noise)) {
    throw new UserError(
      `Cannot generate the sine: "--noise" must be a finite number >= 0, got ${o.noise}`,
    );
  }
  const t = linspace(0, o.tMax, o.numPoints);
  const x = new Float64Array(o.numPoints);
  for (let i = 0; i < t.length; i++) {
    x[i] = o.amplitude * Math.exp(-o.gamma * t[i]) * Math.cos(o.omega * t[i] + o.phi);
  }
  if (o.noise > 0) {
    const rng = new Rng(o.seed);
    for (let i = 0; i < x.length; i++) x[i] += o.noise * rng.normal();
  }
  for (let i = 0; i < x.length; i++) {
    // e^(−γt) overflows for a large negative γ·t: refuse rather than train on Infinity.
    if (!Number.isFinite(x[i])) {
      throw new UserError(
        `Cannot generate the sine: x(${t[i]}) = ${
          x[i]
        } is not finite (check "--gamma" ${o.gamma} and "--t_max" ${o.tMax})`,
      );
    }
  }
  return { t, x };
}
