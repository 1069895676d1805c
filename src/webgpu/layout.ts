/**
 * Float offsets inside the five GPU buffers of one attention shape. The same numbers are baked
 * into the WGSL (as constants) and used by the host for uploads and downloads, so they live here
 * once. Few large buffers rather than one per tensor: a compute stage may bind only 8 storage
 * buffers by default.
 *
 * @module
 */
import type { AttentionMode } from "../ops/attention.ts";

/** One attention call's shape; every field is baked into the WGSL. */
export interface GpuShape {
  /** Attention variant. */
  mode: AttentionMode;
  /** Batch. */
  B: number;
  /** Sequence length. */
  L: number;
  /** Model width. */
  D: number;
  /** Heads. */
  H: number;
  /** First query computed. */
  qStart: number;
  /** original only: write `out` with the §5 regrouping. */
  regroup: boolean;
}

/** Offsets (floats) and sizes (floats) of every region, plus derived sizes. */
export interface GpuLayout {
  /** Head width D/H. */
  Dh: number;
  /** Queries per (b, h): L − qStart. */
  Lq: number;
  /** (b, h) pairs, one workgroup each. */
  NT: number;
  /** Parameter-gradient partials per row and per (b, h): 3 btsp, 2 original, 0 standard. */
  NP: number;
  /** `inp` (uploaded each forward): qkv (B,L,3D) | isLogit (B,L,H) | τ_ET, τ_IS, η logits (H each) | et_gate | is_gate | time_bias (500). */
  inp: {
    qkv: number;
    isl: number;
    tauEt: number;
    tauIs: number;
    eta: number;
    etGate: number;
    isGate: number;
    timeBias: number;
    size: number;
  };
  /**
   * `st` (forward → backward): A | Â (btsp) | N (NT,Lq) (btsp). A and Â of pair t are stored
   * key-major, element (r, j) at (t·L + j)·Lq + r, so neighbouring invocations (query rows)
   * touch neighbouring floats.
   */
  st: { a: number; ahat: number; n: number; size: number };
  /** `out` (B, Lq, D), downloaded; `dout` has the same size. */
  out: { size: number };
  /** `work` (backward only): dS (key-major like A) | row partials (NT,Lq,NP) | (b,h) partials (NT,NP). */
  work: { ds: number; rowPart: number; bhPart: number; size: number };
  /** `grads` (downloaded after backward): dqkv (B,L,3D) | disLogit (B,L,H) | params (3H btsp, 2 original). */
  grads: { qkv: number; isl: number; par: number; parCount: number; size: number };
}

/** Buffers are padded to whole 16-byte vectors and never empty (a 0-byte binding is invalid). */
function _pad(n: number): number {
  // Arithmetic, not `& ~3`: sizes can pass 2³¹ and must then fail the limit check, not wrap.
  return Math.max(4, Math.ceil(n / 4) * 4);
}

/**
 * Compute the layout of a shape.
 *
 * @example
 * ```ts
 * import { gpuLayout } from "./layout.ts";
 * const lay = gpuLayout({ mode: "standard", B: 2, L: 3, D: 4, H: 2, qStart: 0, regroup: false });
 * console.log(lay.Dh, lay.NT, lay.st.a, lay.inp.qkv); // 2 4 0 0
 * ```
 */
export function gpuLayout(s: GpuShape): GpuLayout {
  const { B, L, D, H } = s;
  const Dh = D / H, Lq = L - s.qStart, NT = B * H, rows = NT * Lq;
  const btsp = s.mode === "btsp", original = s.mode === "original";
  const NP = btsp ? 3 : original ? 2 : 0;
  const qkv = 0, isl = qkv + B * L * 3 * D;
  const tauEt = isl + (btsp ? B * L * H : 0);
  const tauIs = tauEt + (btsp ? H : 0), eta = tauIs + (btsp ? H : 0);
  const etGate = eta + (btsp ? H : 0), isGate = etGate + (original ? 1 : 0);
  const timeBias = isGate + (original ? 1 : 0);
  const inpEnd = timeBias + (original ? 500 : 0);
  const a = 0, ahat = rows * L, n = ahat + (btsp ? rows * L : 0);
  const stEnd = n + (btsp ? rows : 0);
  const ds = 0, rowPart = rows * L, bhPart = rowPart + rows * NP, workEnd = bhPart + NT * NP;
  const gq = 0, gi = B * L * 3 * D, par = gi + (btsp ? B * L * H : 0);
  const parCount = btsp ? 3 * H : original ? 2 : 0;
  return {
    Dh,
    Lq,
    NT,
    NP,
    inp: { qkv, isl, tauEt, tauIs, eta, etGate, isGate, timeBias, size: _pad(inpEnd) },
    st: { a, ahat: btsp ? ahat : a, n, size: _pad(stEnd) },
    out: { size: _pad(B * Lq * D) },
    work: { ds, rowPart, bhPart, size: _pad(workEnd) },
    grads: { qkv: gq, isl: gi, par, parCount, size: _pad(par + parCount) },
  };
}
