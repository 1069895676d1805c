/**
 * WGSL shared by the attention forward and backward shaders: the shape and buffer offsets as
 * constants (one pipeline per shape, so loops over Dh have constant bounds and the per-thread
 * vectors are fixed-size private arrays), the BTSP plasticity functions, and the index of the
 * §5 regrouping.
 *
 * @module
 */
import type { GpuLayout, GpuShape } from "./layout.ts";

/** Invocations per workgroup; a workgroup owns one (b, h) pair and loops over its rows. */
export const WG = 64;
/** Workgroups per dispatch dimension (the WebGPU default limit); larger jobs use y as well. */
export const MAX_GROUPS_X = 65535;

const MODE_ID = { standard: 0, btsp: 1, original: 2 } as const;

function _sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** A WGSL f32 literal that keeps every bit of the f32 value. */
function _f(x: number): string {
  return Math.fround(x).toPrecision(9);
}

/**
 * The WGSL prelude of one shape: constants, helpers, and the `outOff` index of a context row.
 *
 * @example
 * ```ts
 * import { gpuLayout } from "./layout.ts";
 * import { wgslPrelude } from "./wgsl_common.ts";
 * const s = { mode: "btsp" as const, B: 1, L: 4, D: 8, H: 2, qStart: 0, regroup: false };
 * console.log(wgslPrelude(s, gpuLayout(s)).includes("const DH: u32 = 4u;")); // true
 * ```
 */
export function wgslPrelude(s: GpuShape, lay: GpuLayout): string {
  const u = (n: number) => `${n}u`;
  return /* wgsl */ `
const MODE: u32 = ${u(MODE_ID[s.mode])}; // 0 standard, 1 btsp, 2 original
const B: u32 = ${u(s.B)};
const L: u32 = ${u(s.L)};
const D: u32 = ${u(s.D)};
const H: u32 = ${u(s.H)};
const DH: u32 = ${u(lay.Dh)};
const QSTART: u32 = ${u(s.qStart)};
const LQ: u32 = ${u(lay.Lq)};
const NT: u32 = ${u(lay.NT)};
const NP: u32 = ${u(lay.NP)};
const RS: u32 = ${u(3 * s.D)}; // floats per qkv row
const REGROUP: bool = ${s.regroup};
const WG: u32 = ${u(WG)};
const SCALE: f32 = ${_f(1 / Math.sqrt(lay.Dh))};

const IN_QKV: u32 = ${u(lay.inp.qkv)};
const IN_ISL: u32 = ${u(lay.inp.isl)};
const IN_TAU_ET: u32 = ${u(lay.inp.tauEt)};
const IN_TAU_IS: u32 = ${u(lay.inp.tauIs)};
const IN_ETA: u32 = ${u(lay.inp.eta)};
const IN_ET_GATE: u32 = ${u(lay.inp.etGate)};
const IN_IS_GATE: u32 = ${u(lay.inp.isGate)};
const IN_TIME_BIAS: u32 = ${u(lay.inp.timeBias)};
const ST_A: u32 = ${u(lay.st.a)};
const ST_AHAT: u32 = ${u(lay.st.ahat)};
const ST_N: u32 = ${u(lay.st.n)};
const WK_DS: u32 = ${u(lay.work.ds)};
const WK_ROW: u32 = ${u(lay.work.rowPart)};
const WK_BH: u32 = ${u(lay.work.bhPart)};
const G_QKV: u32 = ${u(lay.grads.qkv)};
const G_ISL: u32 = ${u(lay.grads.isl)};
const G_PAR: u32 = ${u(lay.grads.par)};

// q(s; θ) = (σ((s−θ)/β) − σ(−θ/β)) / (σ((1−θ)/β) − σ(−θ/β)), β = 0.1:
// q₊ = (σ(10s − 5) − QP_C)·QP_INV, q₋ = (σ(10s − 1) − QM_C)·QM_INV.
const QP_C: f32 = ${_f(_sigmoid(-5))};
const QP_INV: f32 = ${_f(1 / (_sigmoid(5) - _sigmoid(-5)))};
const QM_C: f32 = ${_f(_sigmoid(-1))};
const QM_INV: f32 = ${_f(1 / (_sigmoid(9) - _sigmoid(-1)))};

// exp overflow is not specified to give +inf in WGSL, so the argument is clamped; σ(±80) is
// already 0 or 1 in f32.
fn sigm(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-clamp(x, -80.0, 80.0)));
}

// W(Δ) = exp(−Δ/τ_ET) for Δ = i − j ≥ 0, exp(Δ/τ_IS) for Δ < 0
fn lagWindow(i: u32, j: u32, tauE: f32, tauI: f32) -> f32 {
  let dl = f32(i32(i) - i32(j));
  return select(exp(dl / tauI), exp(-dl / tauE), dl >= 0.0);
}

// Float offset of the context of (b, h, query row r) in out / dout. With the §5 regrouping the
// per-head context C[h][b][t] lands in slot row ⌊ρ/H⌋, head column ρ mod H, ρ = h·B·L + b·L + t
// (the inverse of the spec's map), so the permutation costs no extra pass.
fn outOff(b: u32, h: u32, r: u32) -> u32 {
  if (REGROUP) {
    let rho = h * B * L + b * L + r;
    return (rho / H) * D + (rho % H) * DH;
  }
  return (b * LQ + r) * D + h * DH;
}

// (b, h) pair of a workgroup; dispatches wider than MAX_GROUPS_X use a second dimension.
fn pairOf(wid: vec3<u32>) -> u32 {
  return wid.y * ${u(MAX_GROUPS_X)} + wid.x;
}
`;
}

/** `timeBias(i, j)`, for shaders that bind the `inp` buffer (the reduce pass does not). */
export const WGSL_TIME_BIAS: string = /* wgsl */ `
// T[i][j] = time_bias[clamp(j − i + 250, 0, 499)]
fn timeBias(i: u32, j: u32) -> f32 {
  let k = clamp(i32(j) - i32(i) + 250, 0, 499);
  return inp[IN_TIME_BIAS + u32(k)];
}
`;

/**
 * Workgroup counts that cover `n` workgroups within the per-dimension limit.
 *
 * @example
 * ```ts
 * import { groupsFor } from "./wgsl_common.ts";
 * console.log(groupsFor(70000)); // [ 65535, 2 ]
 * ```
 */
export function groupsFor(n: number): [number, number] {
  if (n <= MAX_GROUPS_X) return [Math.max(1, n), 1];
  return [MAX_GROUPS_X, Math.ceil(n / MAX_GROUPS_X)];
}
