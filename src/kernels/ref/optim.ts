/**
 * Reference kernel of asm/optim.ts, bit-identical to it: float32 rounding after every operation
 * in PyTorch's order (division and square root of float32 values are correctly rounded through
 * float64).
 *
 * @module
 */
import type { RefKernel } from "../../engine/backend.ts";
import type { Heap } from "../../engine/heap.ts";

const fr = Math.fround;

function adamw_step(
  heap: Heap,
  param: number,
  grad: number,
  m: number,
  v: number,
  n: number,
  decay: number,
  l2: number,
  omb1: number,
  beta2: number,
  omb2: number,
  stepSize: number,
  bc2sqrt: number,
  eps: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, P = param >> 2, G = grad >> 2, M = m >> 2, V = v >> 2;
  const dc = fr(decay), wd = fr(l2), a = fr(omb1), b2 = fr(beta2), c2 = fr(omb2);
  const ss = fr(-fr(stepSize)), bc = fr(bc2sqrt), ep = fr(eps);
  const low = a < 0.5, w1 = fr(1 - a);
  for (let i = t0 * chunk, i1 = Math.min(n, t1 * chunk); i < i1; i++) {
    let p = f[P + i], g = f[G + i], mv = f[M + i], vv = f[V + i];
    if (wd !== 0) g = fr(g + fr(wd * p));
    if (dc !== 1) p = fr(p * dc);
    mv = low ? fr(mv + fr(a * fr(g - mv))) : fr(g - fr(fr(g - mv) * w1));
    vv = fr(fr(vv * b2) + fr(fr(c2 * g) * g));
    const den = fr(fr(fr(Math.sqrt(vv)) / bc) + ep);
    f[P + i] = p + fr(ss * fr(mv / den));
    f[M + i] = mv;
    f[V + i] = vv;
  }
}

/**
 * `adamw_step` (task t = elements [t·chunk, (t+1)·chunk)).
 *
 * @example
 * ```ts
 * import { Heap } from "../../engine/heap.ts";
 * import { optimRefKernels } from "./optim.ts";
 * const heap = new Heap();
 * const p = heap.alloc(1), g = heap.alloc(1), m = heap.alloc(1), v = heap.alloc(1);
 * heap.write(p, [1]);
 * heap.write(g, [0.5]);
 * // lr 0.1, first step: p moves by lr·sign(g).
 * optimRefKernels.adamw_step(heap, p, g, m, v, 1, 1, 0, 0.1, 0.999, 0.001, 1, 0.0316227766, 1e-8, 4, 0, 1);
 * console.log(heap.read(p, 1)[0].toFixed(4)); // 0.9000
 * ```
 */
export const optimRefKernels: Record<string, RefKernel> = { adamw_step };
