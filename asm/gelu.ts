// Exact (erf) GELU and erf itself, elementwise over fixed chunks: task t does elements
// [t·chunk, min(n, (t+1)·chunk)). chunk must be a multiple of 4, so only the last task has a
// tail, and the tail goes through the same f32x4 code (bits do not depend on where a task starts).
import { erf4, loadPartial, phi4, pdf4, storePartial } from "./elementwise_math";

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
