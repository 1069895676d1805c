/**
 * WGSL of the attention forward: one workgroup per (b, h) pair, its invocations share out the
 * query rows, every row independent (so the result does not depend on scheduling).
 *
 * @module
 */
import type { GpuLayout, GpuShape } from "./layout.ts";
import { WGSL_TIME_BIAS, wgslPrelude } from "./wgsl_common.ts";

/**
 * The forward shader of one shape. Bindings: 0 `inp` (read), 1 `st` (A, Â, N for the backward),
 * 2 `outp` (B, Lq, D).
 *
 * @example
 * ```ts
 * import { gpuLayout } from "./layout.ts";
 * import { forwardWgsl } from "./wgsl_forward.ts";
 * const s = { mode: "standard" as const, B: 1, L: 4, D: 8, H: 2, qStart: 0, regroup: false };
 * console.log(forwardWgsl(s, gpuLayout(s)).includes("fn main")); // true
 * ```
 */
export function forwardWgsl(s: GpuShape, lay: GpuLayout): string {
  return wgslPrelude(s, lay) + WGSL_TIME_BIAS + /* wgsl */ `
@group(0) @binding(0) var<storage, read> inp: array<f32>;
@group(0) @binding(1) var<storage, read_write> st: array<f32>;
@group(0) @binding(2) var<storage, read_write> outp: array<f32>;

// qkv (B, L, 3D), isLogit (B, L, H) -> out (B, Lq, D); st: A, Â (NT, L, Lq), N (NT, Lq)
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = pairOf(wid);
  if (t >= NT) {
    return;
  }
  let b = t / H;
  let h = t % H;
  let qB = IN_QKV + b * L * RS + h * DH;
  var g = 0.0;
  var ig = 0.0;
  if (MODE == 2u) {
    g = sigm(inp[IN_ET_GATE]);
    ig = inp[IN_IS_GATE];
  }
  for (var r = lid; r < LQ; r += WG) {
    let i = QSTART + r;
    let row = t * LQ + r;
    let aRow = ST_A + t * L * LQ + r;
    var q: array<f32, DH>;
    for (var d = 0u; d < DH; d++) {
      q[d] = inp[qB + i * RS + d];
    }
    // S_ij = q_i·k_j/√Dh (+ σ(et_gate)·T_ij + is_gate in §5), kept in A until normalized
    var m = -3.40282347e38;
    for (var j = 0u; j < L; j++) {
      let kj = qB + j * RS + D;
      var s = 0.0;
      for (var d = 0u; d < DH; d++) {
        s += q[d] * inp[kj + d];
      }
      s *= SCALE;
      if (MODE == 2u) {
        s += g * timeBias(i, j) + ig;
      }
      st[aRow + j * LQ] = s;
      m = max(m, s);
    }
    var sum = 0.0;
    for (var j = 0u; j < L; j++) {
      let e = exp(st[aRow + j * LQ] - m);
      st[aRow + j * LQ] = e;
      sum += e;
    }
    let inv = 1.0 / sum;
    for (var j = 0u; j < L; j++) {
      st[aRow + j * LQ] *= inv;
    }
    var pRow = aRow;
    if (MODE == 1u) {
      // Ã = A + η·(q₊(s)(1 − A) − q₋(s)A), s = IS_i·W(i − j); Â = Ã / N, N = Σⱼ Ã
      let isv = sigm(inp[IN_ISL + (b * L + i) * H + h]);
      let et = 0.5 * sigm(inp[IN_ETA + h]);
      let tauE = exp(inp[IN_TAU_ET + h]);
      let tauI = exp(inp[IN_TAU_IS + h]);
      let hRow = ST_AHAT + t * L * LQ + r;
      var n = 0.0;
      for (var j = 0u; j < L; j++) {
        let a = st[aRow + j * LQ];
        let sv = isv * lagWindow(i, j, tauE, tauI);
        let qp = (sigm(10.0 * sv - 5.0) - QP_C) * QP_INV;
        let qm = (sigm(10.0 * sv - 1.0) - QM_C) * QM_INV;
        let at = a + et * (qp * (1.0 - a) - qm * a);
        st[hRow + j * LQ] = at;
        n += at;
      }
      let invN = 1.0 / n;
      for (var j = 0u; j < L; j++) {
        st[hRow + j * LQ] *= invN;
      }
      st[ST_N + row] = n;
      pRow = hRow;
    }
    // C_i = Σⱼ Â_ij·V_j
    var c: array<f32, DH>;
    for (var j = 0u; j < L; j++) {
      let p = st[pRow + j * LQ];
      let vj = qB + j * RS + 2u * D;
      for (var d = 0u; d < DH; d++) {
        c[d] += p * inp[vj + d];
      }
    }
    let o = outOff(b, h, r);
    for (var d = 0u; d < DH; d++) {
      outp[o + d] = c[d];
    }
  }
}
`;
}
