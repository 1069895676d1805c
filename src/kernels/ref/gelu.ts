/**
 * Reference kernels of asm/gelu.ts. They compute in float64 with an erf accurate to 1e-15 and
 * round once, so they are the accuracy yardstick of the f32x4 approximation (not bit-equal to it).
 *
 * @module
 */
import type { RefKernel } from "../../engine/backend.ts";
import type { Heap } from "../../engine/heap.ts";
import { erf64, normalCdf64 } from "./erf.ts";
import { _dropoutKeep } from "./dropout.ts";

const INV_SQRT_2PI = 0.3989422804014327;

function gelu_forward(
  heap: Heap,
  out: number,
  inp: number,
  n: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, o = out >> 2, x = inp >> 2;
  for (let i = t0 * chunk, i1 = Math.min(n, t1 * chunk); i < i1; i++) {
    const v = f[x + i];
    f[o + i] = v * normalCdf64(v);
  }
}

function gelu_backward(
  heap: Heap,
  dinp: number,
  inp: number,
  dout: number,
  n: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, d = dinp >> 2, x = inp >> 2, g = dout >> 2;
  for (let i = t0 * chunk, i1 = Math.min(n, t1 * chunk); i < i1; i++) {
    const v = f[x + i];
    const grad = normalCdf64(v) + v * Math.exp(-0.5 * v * v) * INV_SQRT_2PI;
    f[d + i] += Math.fround(f[g + i] * grad);
  }
}

function gelu_dropout_forward(
  heap: Heap,
  out: number,
  grad: number,
  inp: number,
  n: number,
  p: number,
  key0: number,
  key1: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, o = out >> 2, gr = grad >> 2, x = inp >> 2, pf = Math.fround(p);
  const scale = Math.fround(1 / Math.fround(1 - pf));
  for (let i = t0 * chunk, i1 = Math.min(n, t1 * chunk); i < i1; i++) {
    const v = f[x + i], cdf = normalCdf64(v);
    // gelu_forward then dropout_forward: round GELU to float32 before scaling
    const y = Math.fround(v * cdf);
    const g = Math.fround(cdf + v * Math.exp(-0.5 * v * v) * INV_SQRT_2PI);
    const keep = pf === 0 || _dropoutKeep(key0, key1, i, pf);
    f[o + i] = pf === 0 ? y : keep ? y * scale : 0;
    if (grad !== 0) f[gr + i] = pf === 0 ? g : keep ? g * scale : 0;
  }
}

function gelu_dropout_backward(
  heap: Heap,
  dx: number,
  grad: number,
  n: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, d = dx >> 2, g = grad >> 2;
  for (let i = t0 * chunk, i1 = Math.min(n, t1 * chunk); i < i1; i++) f[d + i] *= f[g + i];
}

function erf_forward(
  heap: Heap,
  out: number,
  inp: number,
  n: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, o = out >> 2, x = inp >> 2;
  for (let i = t0 * chunk, i1 = Math.min(n, t1 * chunk); i < i1; i++) f[o + i] = erf64(f[x + i]);
}

/**
 * `gelu_forward`, `gelu_backward`, `gelu_dropout_forward`, `gelu_dropout_backward`, `erf_forward`
 * (task t = elements [t·chunk, (t+1)·chunk)).
 *
 * @example
 * ```ts
 * import { Heap } from "../../engine/heap.ts";
 * import { geluRefKernels } from "./gelu.ts";
 * const heap = new Heap();
 * const x = heap.alloc(2);
 * heap.write(x, [0, 1]);
 * geluRefKernels.gelu_forward(heap, x, x, 2, 4, 0, 1);
 * console.log(heap.read(x, 2)[1].toFixed(6)); // 0.841345
 * ```
 */
export const geluRefKernels: Record<string, RefKernel> = {
  gelu_forward,
  gelu_backward,
  gelu_dropout_forward,
  gelu_dropout_backward,
  erf_forward,
};
