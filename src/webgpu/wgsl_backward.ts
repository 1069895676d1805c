/**
 * WGSL of the attention backward. One workgroup per (b, h) pair, in three phases separated by
 * storage barriers: query rows (dS, dQ, dIS, per-row parameter partials), then key rows (dK, dV
 * sum over queries, so they wait for every row), then one invocation sums the row partials in
 * row order. A second single-workgroup shader sums the (b, h) partials in (b, h) order: no atomics
 * anywhere, so the result does not depend on scheduling.
 *
 * @module
 */
import type { GpuLayout, GpuShape } from "./layout.ts";
import { WGSL_TIME_BIAS, wgslPrelude } from "./wgsl_common.ts";

/**
 * The backward shader of one shape. Bindings: 0 `inp`, 1 `st` (from the forward), 2 `dout`
 * (read); 3 `work` (dS and partials), 4 `grads` (dqkv, disLogit, written, not accumulated: the
 * host adds them to the heap).
 *
 * @example
 * ```ts
 * import { gpuLayout } from "./layout.ts";
 * import { backwardWgsl } from "./wgsl_backward.ts";
 * const s = { mode: "btsp" as const, B: 1, L: 4, D: 8, H: 2, qStart: 0, regroup: false };
 * console.log(backwardWgsl(s, gpuLayout(s)).includes("storageBarrier")); // true
 * ```
 */
export function backwardWgsl(s: GpuShape, lay: GpuLayout): string {
  return wgslPrelude(s, lay) + WGSL_TIME_BIAS + /* wgsl */ `
@group(0) @binding(0) var<storage, read> inp: array<f32>;
@group(0) @binding(1) var<storage, read> st: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> work: array<f32>;
@group(0) @binding(4) var<storage, read_write> grads: array<f32>;

// dout (B, Lq, D) -> dqkv (B, L, 3D), disLogit (B, L, H), partials (NT, NP)
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = pairOf(wid);
  if (t >= NT) {
    return;
  }
  let b = t / H;
  let h = t % H;
  let qB = IN_QKV + b * L * RS + h * DH;
  let gB = G_QKV + b * L * RS + h * DH;
  var et = 0.0;
  var tauE = 1.0;
  var tauI = 1.0;
  if (MODE == 1u) {
    et = 0.5 * sigm(inp[IN_ETA + h]);
    tauE = exp(inp[IN_TAU_ET + h]);
    tauI = exp(inp[IN_TAU_IS + h]);
  }

  // Phase 1: one query row per invocation. Rows before qStart get no gradient.
  for (var i = lid; i < L; i += WG) {
    if (i < QSTART) {
      for (var d = 0u; d < DH; d++) {
        grads[gB + i * RS + d] = 0.0;
      }
      if (MODE == 1u) {
        grads[G_ISL + (b * L + i) * H + h] = 0.0;
      }
      continue;
    }
    let r = i - QSTART;
    let row = t * LQ + r;
    let aRow = ST_A + t * L * LQ + r;
    let hRow = ST_AHAT + t * L * LQ + r;
    let sRow = WK_DS + t * L * LQ + r;
    var dc: array<f32, DH>;
    let o = outOff(b, h, r);
    for (var d = 0u; d < DH; d++) {
      dc[d] = dout[o + d];
    }
    // C_i = Σⱼ Â_ij·V_j  =>  dÂ_ij = dC_i·V_j (kept in the dS row until it becomes dS)
    for (var j = 0u; j < L; j++) {
      let vj = qB + j * RS + 2u * D;
      var s = 0.0;
      for (var d = 0u; d < DH; d++) {
        s += dc[d] * inp[vj + d];
      }
      work[sRow + j * LQ] = s;
    }
    var p0 = 0.0;
    var p1 = 0.0;
    var p2 = 0.0;
    if (MODE == 1u) {
      // Â = Ã / N  =>  dÃ_j = (dÂ_j − Σₖ Â_k dÂ_k) / N
      var rho = 0.0;
      for (var j = 0u; j < L; j++) {
        rho += st[hRow + j * LQ] * work[sRow + j * LQ];
      }
      let invN = 1.0 / st[ST_N + row];
      let isv = sigm(inp[IN_ISL + (b * L + i) * H + h]);
      var dis = 0.0;
      for (var j = 0u; j < L; j++) {
        let a = st[aRow + j * LQ];
        let w = lagWindow(i, j, tauE, tauI);
        let sv = isv * w;
        let sp = sigm(10.0 * sv - 5.0);
        let sm = sigm(10.0 * sv - 1.0);
        let qp = (sp - QP_C) * QP_INV;
        let qm = (sm - QM_C) * QM_INV;
        let dat = (work[sRow + j * LQ] - rho) * invN;
        // Ã = A + η·(q₊(s)(1 − A) − q₋(s)A)  =>  dA, dη, ds
        work[sRow + j * LQ] = dat * (1.0 - et * (qp + qm));
        p2 += dat * (qp * (1.0 - a) - qm * a);
        let dsv = dat * et * ((1.0 - a) * sp * (1.0 - sp) * 10.0 * QP_INV
          - a * sm * (1.0 - sm) * 10.0 * QM_INV);
        // s = IS_i·W(i − j), W = exp(−Δ/τ_ET) (Δ ≥ 0) or exp(Δ/τ_IS)  =>  dIS, d log τ (times τ later)
        dis += dsv * w;
        let dl = i32(i) - i32(j);
        if (dl > 0) {
          p0 += dsv * sv * f32(dl);
        } else if (dl < 0) {
          p1 += dsv * sv * f32(-dl);
        }
      }
      // IS = σ(isLogit)
      grads[G_ISL + (b * L + i) * H + h] = dis * isv * (1.0 - isv);
    }
    // A = softmax(S)  =>  dS_j = A_j (dA_j − Σₖ A_k dA_k)
    var rho2 = 0.0;
    for (var j = 0u; j < L; j++) {
      rho2 += st[aRow + j * LQ] * work[sRow + j * LQ];
    }
    // S = q·k/√Dh (+ σ(et_gate)·T + is_gate)  =>  dq_i = Σⱼ dS_j k_j/√Dh
    var dq: array<f32, DH>;
    for (var j = 0u; j < L; j++) {
      let ds = st[aRow + j * LQ] * (work[sRow + j * LQ] - rho2);
      if (MODE == 2u) {
        p0 += ds * timeBias(i, j);
        p1 += ds;
      }
      let dss = ds * SCALE;
      work[sRow + j * LQ] = dss;
      let kj = qB + j * RS + D;
      for (var d = 0u; d < DH; d++) {
        dq[d] += dss * inp[kj + d];
      }
    }
    for (var d = 0u; d < DH; d++) {
      grads[gB + i * RS + d] = dq[d];
    }
    if (NP > 0u) {
      work[WK_ROW + row * NP] = p0;
      work[WK_ROW + row * NP + 1u] = p1;
      if (NP > 2u) {
        work[WK_ROW + row * NP + 2u] = p2;
      }
    }
  }
  storageBarrier();

  // Phase 2: one key row per invocation; dk_j = Σᵢ dS_ij q_i/√Dh, dv_j = Σᵢ Â_ij dC_i.
  for (var j = lid; j < L; j += WG) {
    var dk: array<f32, DH>;
    var dv: array<f32, DH>;
    for (var r = 0u; r < LQ; r++) {
      let row = t * LQ + r;
      let ds = work[WK_DS + (t * L + j) * LQ + r];
      let ah = st[ST_AHAT + (t * L + j) * LQ + r];
      let qi = qB + (QSTART + r) * RS;
      let o = outOff(b, h, r);
      for (var d = 0u; d < DH; d++) {
        dk[d] += ds * inp[qi + d];
        dv[d] += ah * dout[o + d];
      }
    }
    for (var d = 0u; d < DH; d++) {
      grads[gB + j * RS + D + d] = dk[d];
      grads[gB + j * RS + 2u * D + d] = dv[d];
    }
  }

  // Phase 3: the (b, h) partials, rows summed in order, with the chain-rule factor of each
  // parameter: d log τ = τ-free sums / τ; η = 0.5·σ(eta) => ·0.5σ(1 − σ); g = σ(et_gate) => ·g(1 − g).
  if (NP > 0u && lid == 0u) {
    var f0 = 1.0;
    var f1 = 1.0;
    var f2 = 1.0;
    if (MODE == 1u) {
      let e0 = sigm(inp[IN_ETA + h]);
      f0 = 1.0 / tauE;
      f1 = 1.0 / tauI;
      f2 = 0.5 * e0 * (1.0 - e0);
    } else {
      let g = sigm(inp[IN_ET_GATE]);
      f0 = g * (1.0 - g);
    }
    for (var k = 0u; k < NP; k++) {
      var s = 0.0;
      for (var r = 0u; r < LQ; r++) {
        s += work[WK_ROW + (t * LQ + r) * NP + k];
      }
      work[WK_BH + t * NP + k] = s * select(select(f2, f1, k == 1u), f0, k == 0u);
    }
  }
}
`;
}

/**
 * The parameter-gradient reduction of one shape (btsp: per head over b; original: over every
 * (b, h)), summing in (b, h) order. Bindings: 0 `work` (read), 1 `grads`.
 *
 * @example
 * ```ts
 * import { gpuLayout } from "./layout.ts";
 * import { reduceWgsl } from "./wgsl_backward.ts";
 * const s = { mode: "original" as const, B: 2, L: 4, D: 8, H: 2, qStart: 0, regroup: true };
 * console.log(reduceWgsl(s, gpuLayout(s)).includes("WK_BH")); // true
 * ```
 */
export function reduceWgsl(s: GpuShape, lay: GpuLayout): string {
  return wgslPrelude(s, lay) + /* wgsl */ `
@group(0) @binding(0) var<storage, read> work: array<f32>;
@group(0) @binding(1) var<storage, read_write> grads: array<f32>;

// partials (NT, NP) -> btsp: dlogTauEt, dlogTauIs, deta (H each); original: detGate, disGate
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  if (MODE == 1u) {
    for (var h = lid; h < H; h += WG) {
      for (var k = 0u; k < NP; k++) {
        var s = 0.0;
        for (var b = 0u; b < B; b++) {
          s += work[WK_BH + (b * H + h) * NP + k];
        }
        grads[G_PAR + k * H + h] = s;
      }
    }
  } else if (lid < NP) {
    var s = 0.0;
    for (var t = 0u; t < NT; t++) {
      s += work[WK_BH + t * NP + lid];
    }
    grads[G_PAR + lid] = s;
  }
}
`;
}
