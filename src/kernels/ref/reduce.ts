/**
 * Reference kernels of asm/reduce.ts, bit-identical to them: float64 partial sums kept in the
 * Wasm lane order (two f64x2 accumulators over each block of four, folded (a0 + a1) + (b0 + b1),
 * then the tail). Squares of float32 values are exact in float64, so only the order matters.
 *
 * @module
 */
import type { RefKernel } from "../../engine/backend.ts";
import type { Heap } from "../../engine/heap.ts";

function sum_partials(
  heap: Heap,
  dst: number,
  part: number,
  parts: number,
  C: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, p = part >> 2, o = dst >> 2;
  for (let t = t0; t < t1; t++) {
    for (let c = t * 64, c1 = Math.min(C, t * 64 + 64); c < c1; c++) {
      let s = 0;
      for (let k = 0; k < parts; k++) s = Math.fround(s + f[p + k * C + c]);
      f[o + c] += s;
    }
  }
}

/** [Σ h(v)², Σ |h(v)|] over elements i0 … i1−1 of v, in the Wasm lane order. */
function laneSums(v: (i: number) => number, i0: number, i1: number): [number, number] {
  let a0 = 0, a1 = 0, b0 = 0, b1 = 0, c0 = 0, c1 = 0, e0 = 0, e1 = 0;
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const x0 = v(i), x1 = v(i + 1), x2 = v(i + 2), x3 = v(i + 3);
    a0 += x0 * x0;
    a1 += x1 * x1;
    b0 += x2 * x2;
    b1 += x3 * x3;
    c0 += Math.abs(x0);
    c1 += Math.abs(x1);
    e0 += Math.abs(x2);
    e1 += Math.abs(x3);
  }
  let sq = (a0 + a1) + (b0 + b1), ab = (c0 + c1) + (e0 + e1);
  for (; i < i1; i++) {
    const x = v(i);
    sq += x * x;
    ab += Math.abs(x);
  }
  return [sq, ab];
}

function grad_norm_partial(
  heap: Heap,
  part: number,
  grad: number,
  n: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, g = grad >> 2;
  for (let t = t0; t < t1; t++) {
    const [sq] = laneSums((i) => f[g + i], t * chunk, Math.min(n, t * chunk + chunk));
    heap.f64[(part >> 3) + t] = sq;
  }
}

function mse_partial(
  heap: Heap,
  part: number,
  dpred: number,
  pred: number,
  target: number,
  n: number,
  scale: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, p = pred >> 2, y = target >> 2, dp = dpred >> 2, s = Math.fround(scale);
  for (let t = t0; t < t1; t++) {
    const i0 = t * chunk, i1 = Math.min(n, i0 + chunk);
    const diff = (i: number): number => Math.fround(f[p + i] - f[y + i]);
    if (dpred) { for (let i = i0; i < i1; i++) f[dp + i] = diff(i) * s; }
    const [sq, ab] = laneSums(diff, i0, i1);
    heap.f64[(part >> 3) + 2 * t] = sq;
    heap.f64[(part >> 3) + 2 * t + 1] = ab;
  }
}

/**
 * `sum_partials` (task t = columns [64t, 64t + 64)), `grad_norm_partial` and `mse_partial`
 * (task t = elements [t·chunk, (t+1)·chunk), float64 partials).
 *
 * @example
 * ```ts
 * import { Heap } from "../../engine/heap.ts";
 * import { reduceRefKernels } from "./reduce.ts";
 * const heap = new Heap();
 * const g = heap.alloc(2), part = heap.alloc(2);
 * heap.write(g, [3, 4]);
 * reduceRefKernels.grad_norm_partial(heap, part, g, 2, 4, 0, 1);
 * console.log(heap.f64[part >> 3]); // 25
 * ```
 */
export const reduceRefKernels: Record<string, RefKernel> = {
  sum_partials,
  grad_norm_partial,
  mse_partial,
};
