/**
 * Fixed positional encodings (spec §2): the predictive BTSP "time cells", Vaswani's sinusoids,
 * or nothing.
 *
 * @module
 */
import type { PosEncoding } from "./config.ts";
import { UserError } from "../util/errors.ts";

/**
 * The (L, D) table added to the input embedding, row-major, or `null` for `"none"`.
 *
 * Predictive: spacing s = L/(D−1), cell k peaks at m_k = s·k − 1, u = m_k − p,
 * P[p][k] = exp(−u/τ₁) for u ≥ 0 else exp(u/τ₂), τ₁ = max(2s, 0.25), τ₂ = max(s/2, 0.25).
 * Computed in float64, rounded once to float32.
 *
 * @example
 * ```ts
 * import { positionalEncoding } from "./posenc.ts";
 * const pe = positionalEncoding("predictive", 4, 4)!;
 * console.log(pe.length, pe[0].toFixed(4)); // 16 0.2231
 * console.log(positionalEncoding("none", 4, 4)); // null
 * ```
 */
export function positionalEncoding(kind: PosEncoding, L: number, D: number): Float32Array | null {
  if (!Number.isInteger(L) || L < 1) {
    throw new UserError(
      `Cannot build a positional encoding for length ${L}: expected a positive integer`,
    );
  }
  if (!Number.isInteger(D) || D < 2) {
    throw new UserError(
      `Cannot build a positional encoding of width ${D}: expected an integer ≥ 2`,
    );
  }
  if (kind === "none") return null;
  const out = new Float32Array(L * D);
  if (kind === "predictive") {
    const s = L / (D - 1);
    const tau1 = Math.max(2 * s, 0.25), tau2 = Math.max(s / 2, 0.25);
    for (let p = 0; p < L; p++) {
      for (let k = 0; k < D; k++) {
        const u = s * k - 1 - p;
        out[p * D + k] = u >= 0 ? Math.exp(-u / tau1) : Math.exp(u / tau2);
      }
    }
    return out;
  }
  if (kind === "sinusoidal") {
    for (let p = 0; p < L; p++) {
      for (let i = 0; 2 * i < D; i++) {
        const angle = p / Math.pow(10000, (2 * i) / D);
        out[p * D + 2 * i] = Math.sin(angle);
        if (2 * i + 1 < D) out[p * D + 2 * i + 1] = Math.cos(angle);
      }
    }
    return out;
  }
  throw new UserError(
    `Unknown positional encoding ${
      JSON.stringify(kind)
    }: expected "predictive", "sinusoidal" or "none"`,
  );
}
