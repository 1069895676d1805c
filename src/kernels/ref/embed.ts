/**
 * Reference kernels of asm/embed.ts, bit-identical to them (float32 rounding after every
 * operation, the same order).
 *
 * @module
 */
import type { RefKernel } from "../../engine/backend.ts";
import type { Heap } from "../../engine/heap.ts";

const fr = Math.fround;

function embed_forward(
  heap: Heap,
  out: number,
  x: number,
  weight: number,
  bias: number,
  pe: number,
  _B: number,
  L: number,
  D: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, w = weight >> 2, b = bias >> 2;
  for (let r = t0; r < t1; r++) {
    const xs = f[(x >> 2) + r], y = (out >> 2) + r * D, q = (pe >> 2) + (r % L) * D;
    for (let d = 0; d < D; d++) {
      const v = fr(fr(xs * f[w + d]) + f[b + d]);
      f[y + d] = pe ? v + f[q + d] : v;
    }
  }
}

function embed_backward_partial(
  heap: Heap,
  dwpart: number,
  dbpart: number,
  dout: number,
  x: number,
  N: number,
  D: number,
  rows: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32;
  for (let t = t0; t < t1; t++) {
    const dw = (dwpart >> 2) + t * D, db = (dbpart >> 2) + t * D;
    f.fill(0, dw, dw + D);
    f.fill(0, db, db + D);
    for (let r = t * rows, r1 = Math.min(N, t * rows + rows); r < r1; r++) {
      const xs = f[(x >> 2) + r], g = (dout >> 2) + r * D;
      for (let d = 0; d < D; d++) {
        f[dw + d] += fr(f[g + d] * xs);
        f[db + d] += f[g + d];
      }
    }
  }
}

/**
 * `embed_forward` (task r = row b·L + p) and `embed_backward_partial` (task t = rows
 * [t·rows, …), writing per-task dweight/dbias partials).
 *
 * @example
 * ```ts
 * import { Heap } from "../../engine/heap.ts";
 * import { embedRefKernels } from "./embed.ts";
 * const heap = new Heap();
 * const x = heap.alloc(1), w = heap.alloc(2), b = heap.alloc(2), out = heap.alloc(2);
 * heap.write(x, [2]);
 * heap.write(w, [1, 3]);
 * heap.write(b, [0.5, 0]);
 * embedRefKernels.embed_forward(heap, out, x, w, b, 0, 1, 1, 2, 0, 1);
 * console.log(Array.from(heap.read(out, 2))); // [2.5, 6]
 * ```
 */
export const embedRefKernels: Record<string, RefKernel> = {
  embed_forward,
  embed_backward_partial,
};
