/**
 * Reference kernels of asm/residual.ts: elementwise add / accumulate / scale over fixed chunks
 * and row gather / scatter. Single IEEE float32 operations, so the bits equal the Wasm ones.
 *
 * @module
 */
import type { RefKernel } from "../../engine/backend.ts";
import type { Heap } from "../../engine/heap.ts";

function add_forward(
  heap: Heap,
  out: number,
  a: number,
  b: number,
  n: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, o = out >> 2, x = a >> 2, y = b >> 2;
  for (let i = t0 * chunk, i1 = Math.min(n, t1 * chunk); i < i1; i++) {
    f[o + i] = f[x + i] + f[y + i];
  }
}

function accumulate(
  heap: Heap,
  dst: number,
  src: number,
  n: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  add_forward(heap, dst, dst, src, n, chunk, t0, t1);
}

function scale_inplace(
  heap: Heap,
  x: number,
  n: number,
  s: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, o = x >> 2, sf = Math.fround(s);
  for (let i = t0 * chunk, i1 = Math.min(n, t1 * chunk); i < i1; i++) f[o + i] *= sf;
}

function gather_rows(
  heap: Heap,
  out: number,
  inp: number,
  _B: number,
  L: number,
  C: number,
  p: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32;
  for (let b = t0; b < t1; b++) {
    const s = (inp >> 2) + (b * L + p) * C;
    f.copyWithin((out >> 2) + b * C, s, s + C);
  }
}

function scatter_rows_add(
  heap: Heap,
  dinp: number,
  dout: number,
  _B: number,
  L: number,
  C: number,
  p: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32;
  for (let b = t0; b < t1; b++) {
    const d = (dinp >> 2) + (b * L + p) * C, s = (dout >> 2) + b * C;
    for (let c = 0; c < C; c++) f[d + c] += f[s + c];
  }
}

/**
 * `add_forward`, `accumulate`, `scale_inplace` (task t = elements [t·chunk, (t+1)·chunk)),
 * `gather_rows`, `scatter_rows_add` (task b = sample b).
 *
 * @example
 * ```ts
 * import { Heap } from "../../engine/heap.ts";
 * import { residualRefKernels } from "./residual.ts";
 * const heap = new Heap();
 * const x = heap.alloc(2);
 * heap.write(x, [1, 2]);
 * residualRefKernels.scale_inplace(heap, x, 2, 3, 4, 0, 1);
 * console.log(Array.from(heap.read(x, 2))); // [3, 6]
 * ```
 */
export const residualRefKernels: Record<string, RefKernel> = {
  add_forward,
  accumulate,
  scale_inplace,
  gather_rows,
  scatter_rows_add,
};
