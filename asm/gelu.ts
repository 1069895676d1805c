// Exact (erf) GELU and erf itself, elementwise over fixed chunks: task t does elements
// [t·chunk, min(n, (t+1)·chunk)). chunk must be a multiple of 4, so only the last task has a
// tail, and the tail goes through the same f32x4 code (bits do not depend on where a task starts).
import { erf4, keep4, loadPartial, phi4, pdf4, storePartial } from "./elementwise_math";

// @ts-ignore: decorator
@inline
function geluVec(x: v128): v128 {
  return f32x4.mul(x, phi4(x));
}

// @ts-ignore: decorator
@inline
function geluGradVec(x: v128): v128 {
  return f32x4.relaxed_madd(x, pdf4(x), phi4(x));
}

/** out(n) = inp(n)·Φ(inp) = 0.5·x·(1 + erf(x/√2)); in place allowed. */
export function gelu_forward(out: usize, inp: usize, n: i32, chunk: i32, t0: i32, t1: i32): void {
  for (let t = t0; t < t1; t++) {
    const i0 = t * chunk;
    const i1 = min(n, i0 + chunk);
    let i = i0;
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, geluVec(v128.load(inp + o)));
    }
    if (i < i1) {
      const o = <usize>i << 2;
      storePartial(out + o, geluVec(loadPartial(inp + o, i1 - i)), i1 - i);
    }
  }
}

/** dinp(n) += dout(n)·(Φ(x) + x·φ(x)); backward of out = x·Φ(x). */
export function gelu_backward(
  dinp: usize,
  inp: usize,
  dout: usize,
  n: i32,
  chunk: i32,
  t0: i32,
  t1: i32,
): void {
  for (let t = t0; t < t1; t++) {
    const i0 = t * chunk;
    const i1 = min(n, i0 + chunk);
    let i = i0;
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      const g = f32x4.mul(v128.load(dout + o), geluGradVec(v128.load(inp + o)));
      v128.store(dinp + o, f32x4.add(v128.load(dinp + o), g));
    }
    if (i < i1) {
      const o = <usize>i << 2;
      const k = i1 - i;
      const g = f32x4.mul(loadPartial(dout + o, k), geluGradVec(loadPartial(inp + o, k)));
      storePartial(dinp + o, f32x4.add(loadPartial(dinp + o, k), g), k);
    }
  }
}

/**
 * Fused GELU + inverted dropout (the mask of dropout_forward with these keys; p = 0: no dropout):
 * out(n) = mask·x·Φ(x)/(1 − p), x = inp(n), and the local derivative
 * grad(n) = ∂out/∂x = mask·(Φ(x) + x·φ(x))/(1 − p) that gelu_dropout_backward multiplies by.
 * grad may alias inp (every element is read before it is written); out may alias neither.
 * One pass instead of two, and the backward needs neither erf nor the mask hash again.
 */
export function gelu_dropout_forward(
  out: usize,
  grad: usize,
  inp: usize,
  n: i32,
  p: f32,
  key0: u32,
  key1: u32,
  chunk: i32,
  t0: i32,
  t1: i32,
): void {
  // splatted once here rather than per vector in geluDrop4
  const sv = f32x4.splat(<f32>1.0 / (<f32>1.0 - p)), pv = f32x4.splat(p);
  const k0 = i32x4.splat(key0), k1 = i32x4.splat(key1);
  for (let t = t0; t < t1; t++) {
    const i0 = t * chunk;
    const i1 = min(n, i0 + chunk);
    let i = i0;
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      geluDrop4(out + o, grad + o, v128.load(inp + o), p, sv, pv, k0, k1, i, 4);
    }
    if (i < i1) {
      const o = <usize>i << 2;
      geluDrop4(out + o, grad + o, loadPartial(inp + o, i1 - i), p, sv, pv, k0, k1, i, i1 - i);
    }
  }
}

// out[0 … k), grad[0 … k) for elements i … i+k−1 (k ≤ 4) with values x, sv = 1/(1 − p),
// pv = p, k0 and k1 the keys, all splatted; the same operations as
// gelu_forward then dropout_forward, so out has the same bits as those two
// @ts-ignore: decorator
@inline
function geluDrop4(
  out: usize, grad: usize, x: v128, p: f32, sv: v128, pv: v128, k0: v128, k1: v128, i: i32,
  k: i32,
): void {
  const ph = phi4(x);
  let y = f32x4.mul(x, ph);
  let g = f32x4.relaxed_madd(x, pdf4(x), ph);
  if (p != 0) {
    const m = keep4(k0, k1, i, pv);
    y = v128.and(f32x4.mul(y, sv), m);
    g = v128.and(f32x4.mul(g, sv), m);
  }
  if (k == 4) {
    v128.store(out, y);
    v128.store(grad, g);
  } else {
    storePartial(out, y, k);
    storePartial(grad, g, k);
  }
}

/**
 * Backward of gelu_dropout_forward, in place: dx(n) ← dx·grad turns the gradient of its output
 * into the gradient of its input (grad from the forward). In place rather than accumulating:
 * the model's buffer needs no zeroing and one pass less.
 */
export function gelu_dropout_backward(dx: usize, grad: usize, n: i32, chunk: i32, t0: i32, t1: i32): void {
  for (let t = t0; t < t1; t++) {
    const i1 = min(n, t * chunk + chunk);
    let i = t * chunk;
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, f32x4.mul(v128.load(dx + o), v128.load(grad + o)));
    }
    for (; i < i1; i++) {
      const o = <usize>i << 2;
      store<f32>(dx + o, load<f32>(dx + o) * load<f32>(grad + o));
    }
  }
}

/** out(n) = erf(inp(n)); in place allowed. Exposed to measure the erf approximation. */
export function erf_forward(out: usize, inp: usize, n: i32, chunk: i32, t0: i32, t1: i32): void {
  for (let t = t0; t < t1; t++) {
    const i0 = t * chunk;
    const i1 = min(n, i0 + chunk);
    let i = i0;
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, erf4(v128.load(inp + o)));
    }
    if (i < i1) {
      const o = <usize>i << 2;
      storePartial(out + o, erf4(loadPartial(inp + o, i1 - i)), i1 - i);
    }
  }
}
