/**
 * Reference kernels of asm/attention.ts: the same names, arguments and scratch layout, in
 * float64 arithmetic (results stored as float32). See the header of asm/attention.ts for the
 * modes and the scratch layout.
 *
 * @module
 */
import type { Heap } from "../../engine/heap.ts";
import type { RefKernel } from "../../engine/backend.ts";

const MODE_BTSP = 1;
const MODE_ORIGINAL = 2;
const QP_C = sigmoid(-5);
const QP_INV = 1 / (sigmoid(5) - sigmoid(-5));
const QM_C = sigmoid(-1);
const QM_INV = 1 / (sigmoid(9) - sigmoid(-1));

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function ceil4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Floats of one (b, h) task's scratch block (the same formula as `taskFloats` in
 * asm/attention.ts). Mode ids: 0 standard, 1 btsp, 2 original.
 *
 * @example
 * ```ts
 * import { _attentionTaskFloats } from "./attention.ts";
 * console.log(_attentionTaskFloats(0, 5, 0)); // 80
 * ```
 */
export function _attentionTaskFloats(mode: number, L: number, qStart: number): number {
  const Lp = ceil4(L), Lq = L - qStart;
  let n = 2 * Lq * Lp;
  if (mode === MODE_BTSP) n += 2 * Lq * Lp + 2 * ceil4(Lq) + 9 * Lp;
  return (n + 15) & ~15;
}

/**
 * Float offsets of one task's scratch regions, relative to the task block (the layout of
 * asm/attention.ts). The ref kernels use A, N, IS and R; the asm kernels also keep e₋ there and
 * their work rows after R.
 */
function regions(L: number, qStart: number) {
  const Lp = ceil4(L), Lq = L - qStart, Lqp = ceil4(Lq);
  const n = 2 * Lq * Lp, is = n + Lqp, r = is + Lqp;
  return { Lp, Lq, n, is, r };
}

/** W(Δ) of spec §3 step 4, in float64. */
function lagWindow(dl: number, tauE: number, tauI: number): number {
  return dl >= 0 ? Math.exp(-dl / tauE) : Math.exp(dl / tauI);
}

function timeBiasAt(f: Float32Array, timeBias: number, i: number, j: number): number {
  return f[(timeBias >> 2) + Math.min(Math.max(j - i + 250, 0), 499)];
}

/** Softmax row in float64: a[j] = softmax_j(S_ij) over j < L (scores as in the asm kernel). */
function softmaxRow(
  f: Float32Array,
  a: Float64Array,
  qi: number,
  kB: number,
  rs: number,
  L: number,
  Dh: number,
  scale: number,
  original: boolean,
  g: number,
  ig: number,
  timeBias: number,
  i: number,
): void {
  let m = -Infinity;
  for (let j = 0; j < L; j++) {
    const k = kB + j * rs;
    let s = 0;
    for (let d = 0; d < Dh; d++) s += f[qi + d] * f[k + d];
    s *= scale;
    if (original) s = s + g * timeBiasAt(f, timeBias, i, j) + ig;
    a[j] = s;
    if (s > m) m = s;
  }
  let sum = 0;
  for (let j = 0; j < L; j++) {
    a[j] = Math.exp(a[j] - m);
    sum += a[j];
  }
  for (let j = 0; j < L; j++) a[j] /= sum;
}

function attention_forward(
  heap: Heap,
  mode: number,
  out: number,
  q: number,
  qs: number,
  qRows: number,
  kv: number,
  kvs: number,
  scratch: number,
  _B: number,
  L: number,
  D: number,
  H: number,
  qStart: number,
  isLogit: number,
  logTauEt: number,
  logTauIs: number,
  eta: number,
  etGate: number,
  isGate: number,
  timeBias: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32;
  const Dh = D / H, rs = kvs;
  const { Lp, Lq, n, is, r: rOff } = regions(L, qStart);
  const stride = _attentionTaskFloats(mode, L, qStart);
  const scale = 1 / Math.sqrt(Dh);
  const btsp = mode === MODE_BTSP, original = mode === MODE_ORIGINAL;
  const g = original ? sigmoid(f[etGate >> 2]) : 0;
  const ig = original ? f[isGate >> 2] : 0;
  const a = new Float64Array(L), w = new Float64Array(2 * L);
  for (let t = t0; t < t1; t++) {
    const b = Math.floor(t / H), h = t % H;
    const base = (scratch >> 2) + t * stride;
    const qB = (q >> 2) + b * qRows * qs + h * Dh;
    const kB = (kv >> 2) + b * L * rs + h * Dh, vB = kB + D;
    let et = 0;
    if (btsp) {
      const tauE = Math.exp(f[(logTauEt >> 2) + h]), tauI = Math.exp(f[(logTauIs >> 2) + h]);
      for (let m = 0; m < 2 * Lp; m++) {
        w[m] = m >= 2 * L - 1 ? 0 : lagWindow(L - 1 - m, tauE, tauI);
        f[base + rOff + m] = w[m];
      }
      et = 0.5 * sigmoid(f[(eta >> 2) + h]);
    }
    for (let i = qStart; i < L; i++) {
      const r = i - qStart, arow = base + r * Lp;
      softmaxRow(f, a, qB + r * qs, kB, rs, L, Dh, scale, original, g, ig, timeBias, i);
      for (let j = 0; j < Lp; j++) f[arow + j] = j < L ? a[j] : 0;
      if (btsp) {
        // rounded as stored, so that the backward sees the same IS
        const isv = Math.fround(sigmoid(f[(isLogit >> 2) + (b * qRows + r) * H + h]));
        let nn = 0;
        for (let j = 0; j < L; j++) {
          const s = isv * w[j - i + L - 1];
          const qp = (sigmoid((s - 0.5) / 0.1) - QP_C) * QP_INV;
          const qm = (sigmoid((s - 0.1) / 0.1) - QM_C) * QM_INV;
          a[j] = a[j] + et * (qp * (1 - a[j]) - qm * a[j]);
          nn += a[j];
        }
        for (let j = 0; j < L; j++) a[j] /= nn;
        f[base + n + r] = nn;
        f[base + is + r] = isv;
      }
      const o = (out >> 2) + (b * Lq + r) * D + h * Dh;
      for (let d = 0; d < Dh; d++) {
        let c = 0;
        for (let j = 0; j < L; j++) c += a[j] * f[vB + j * rs + d];
        f[o + d] = c;
      }
    }
  }
}

function attention_backward(
  heap: Heap,
  mode: number,
  dq: number,
  dkv: number,
  disLogit: number,
  partials: number,
  dout: number,
  q: number,
  qs: number,
  qRows: number,
  kv: number,
  kvs: number,
  scratch: number,
  _B: number,
  L: number,
  D: number,
  H: number,
  qStart: number,
  logTauEt: number,
  logTauIs: number,
  eta: number,
  etGate: number,
  timeBias: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32;
  const Dh = D / H, rs = kvs;
  const { Lp, Lq, n, is } = regions(L, qStart);
  const stride = _attentionTaskFloats(mode, L, qStart);
  const scale = 1 / Math.sqrt(Dh);
  const btsp = mode === MODE_BTSP, original = mode === MODE_ORIGINAL;
  const da = new Float64Array(L), ah = new Float64Array(L), ds = new Float64Array(L);
  const sp = new Float64Array(L), sm = new Float64Array(L), w = new Float64Array(L);
  for (let t = t0; t < t1; t++) {
    const b = Math.floor(t / H), h = t % H;
    const base = (scratch >> 2) + t * stride;
    const qOff = b * qRows * qs + h * Dh, kOff = b * L * rs + h * Dh;
    const qB = (q >> 2) + qOff, kB = (kv >> 2) + kOff, vB = kB + D;
    const dqB = (dq >> 2) + qOff, dkB = (dkv >> 2) + kOff, dvB = dkB + D;
    const e0 = btsp ? sigmoid(f[(eta >> 2) + h]) : 0, et = 0.5 * e0;
    const tauE = btsp ? Math.exp(f[(logTauEt >> 2) + h]) : 1;
    const tauI = btsp ? Math.exp(f[(logTauIs >> 2) + h]) : 1;
    let accE = 0, accI = 0, accEta = 0, gT = 0, gI = 0;
    for (let i = qStart; i < L; i++) {
      const r = i - qStart, arow = base + r * Lp;
      const qi = qB + r * qs, dc = (dout >> 2) + (b * Lq + r) * D + h * Dh;
      for (let j = 0; j < L; j++) {
        let s = 0;
        for (let d = 0; d < Dh; d++) s += f[dc + d] * f[vB + j * rs + d];
        da[j] = s;
      }
      if (btsp) {
        const isv = f[base + is + r], invN = 1 / f[base + n + r];
        // σ₊, σ₋ again from s = IS·W(i − j), as the forward computed them
        for (let j = 0; j < L; j++) {
          w[j] = lagWindow(i - j, tauE, tauI);
          sp[j] = sigmoid((isv * w[j] - 0.5) / 0.1);
          sm[j] = sigmoid((isv * w[j] - 0.1) / 0.1);
        }
        const qp = (j: number) => (sp[j] - QP_C) * QP_INV;
        const qm = (j: number) => (sm[j] - QM_C) * QM_INV;
        let rho = 0;
        for (let j = 0; j < L; j++) {
          const a = f[arow + j];
          ah[j] = (a + et * (qp(j) * (1 - a) - qm(j) * a)) * invN;
          rho += ah[j] * da[j];
        }
        let dis = 0;
        for (let j = 0; j < L; j++) {
          const a = f[arow + j], p = sp[j], q = sm[j];
          const dat = (da[j] - rho) * invN;
          da[j] = dat * (1 - et * (qp(j) + qm(j)));
          accEta += dat * (qp(j) * (1 - a) - qm(j) * a);
          const dsv = dat * et *
            ((1 - a) * p * (1 - p) * 10 * QP_INV - a * q * (1 - q) * 10 * QM_INV);
          const wv = w[j], dl = i - j;
          dis += dsv * wv;
          if (dl > 0) accE += dsv * isv * wv * dl;
          if (dl < 0) accI += dsv * isv * wv * -dl;
        }
        if (disLogit !== 0) f[(disLogit >> 2) + (b * qRows + r) * H + h] += dis * isv * (1 - isv);
      } else {
        for (let j = 0; j < L; j++) ah[j] = f[arow + j];
      }
      let rho2 = 0;
      for (let j = 0; j < L; j++) rho2 += f[arow + j] * da[j];
      for (let j = 0; j < L; j++) {
        ds[j] = f[arow + j] * (da[j] - rho2);
        if (original) {
          gT += ds[j] * timeBiasAt(f, timeBias, i, j);
          gI += ds[j];
        }
        ds[j] *= scale;
      }
      for (let d = 0; d < Dh; d++) {
        let c = 0;
        for (let j = 0; j < L; j++) c += ds[j] * f[kB + j * rs + d];
        f[dqB + r * qs + d] += c;
      }
      for (let j = 0; j < L; j++) {
        for (let d = 0; d < Dh; d++) {
          f[dkB + j * rs + d] += ds[j] * f[qi + d];
          f[dvB + j * rs + d] += ah[j] * f[dc + d];
        }
      }
    }
    if (btsp) {
      const p = (partials >> 2) + t * 3;
      f[p] = accE / tauE;
      f[p + 1] = accI / tauI;
      f[p + 2] = accEta * 0.5 * e0 * (1 - e0);
    } else if (original) {
      const g = sigmoid(f[etGate >> 2]);
      const p = (partials >> 2) + t * 2;
      f[p] = gT * g * (1 - g);
      f[p + 1] = gI;
    }
  }
}

function attention_reduce_params(
  heap: Heap,
  mode: number,
  partials: number,
  B: number,
  H: number,
  g0: number,
  g1: number,
  g2: number,
  t0: number,
  t1: number,
): void {
  if (t0 > 0 || t1 < 1) return;
  const btsp = mode === MODE_BTSP;
  if (!btsp && mode !== MODE_ORIGINAL) return;
  const f = heap.f32;
  const P = btsp ? 3 : 2, heads = btsp ? H : 1, per = btsp ? 1 : H;
  const gs = [g0, g1, g2];
  for (let p = 0; p < P; p++) {
    if (gs[p] === 0) continue;
    for (let h = 0; h < heads; h++) {
      let s = 0;
      for (let b = 0; b < B; b++) {
        for (let k = 0; k < per; k++) s += f[(partials >> 2) + (b * H + h + k) * P + p];
      }
      f[(gs[p] >> 2) + h] += s;
    }
  }
}

function regroup(
  heap: Heap,
  dst: number,
  src: number,
  B: number,
  L: number,
  D: number,
  H: number,
  t0: number,
  t1: number,
  forward: boolean,
): void {
  const f = heap.f32, Dh = D / H, BL = B * L;
  for (let row = t0; row < t1; row++) {
    for (let j = 0; j < H; j++) {
      const r = row * H + j, h = Math.floor(r / BL), rem = r % BL;
      const per = rem * D + h * Dh, slot = row * D + j * Dh;
      const [to, from] = forward ? [slot, per] : [per, slot];
      for (let k = 0; k < Dh; k++) f[(dst >> 2) + to + k] = f[(src >> 2) + from + k];
    }
  }
}

/** Reference kernels of asm/attention.ts. */
export const attentionKernels: Record<string, RefKernel> = {
  attention_forward,
  attention_backward,
  attention_reduce_params,
  attention_regroup_forward: (heap, out, ctx, B, L, D, H, t0, t1) =>
    regroup(heap, out, ctx, B, L, D, H, t0, t1, true),
  attention_regroup_backward: (heap, dctx, dout, B, L, D, H, t0, t1) =>
    regroup(heap, dctx, dout, B, L, D, H, t0, t1, false),
};
