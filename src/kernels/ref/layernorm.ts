/**
 * Reference kernels of asm/layernorm.ts. They round every operation to float32 and sum rows in
 * the Wasm lane order (four lanes, folded (l0 + l1) + (l2 + l3), then the tail), so the results
 * are bit-identical to the Wasm kernels.
 *
 * @module
 */
import type { RefKernel } from "../../engine/backend.ts";
import type { Heap } from "../../engine/heap.ts";

const fr = Math.fround;
const EPS = fr(1e-5);

/** Σ_c term(c) for c < C in the Wasm lane order, float32 throughout. */
function laneSum(C: number, term: (c: number) => number): number {
  const C4 = C & ~3;
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (let c = 0; c < C4; c += 4) {
    a0 = fr(a0 + term(c));
    a1 = fr(a1 + term(c + 1));
    a2 = fr(a2 + term(c + 2));
    a3 = fr(a3 + term(c + 3));
  }
  let s = fr(fr(a0 + a1) + fr(a2 + a3));
  for (let c = C4; c < C; c++) s = fr(s + term(c));
  return s;
}

function layernorm_forward(
  heap: Heap,
  out: number,
  mean: number,
  rstd: number,
  inp: number,
  weight: number,
  bias: number,
  _N: number,
  C: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, w = weight >> 2, b = bias >> 2;
  for (let n = t0; n < t1; n++) {
    const x = (inp >> 2) + n * C, y = (out >> 2) + n * C;
    const m = fr(laneSum(C, (c) => f[x + c]) / C);
    const v = fr(
      laneSum(C, (c) => {
        const d = fr(f[x + c] - m);
        return fr(d * d);
      }) / C,
    );
    const r = fr(1 / fr(Math.sqrt(fr(v + EPS))));
    for (let c = 0; c < C; c++) {
      const nv = fr(fr(f[x + c] - m) * r);
      f[y + c] = fr(nv * f[w + c]) + f[b + c];
    }
    f[(mean >> 2) + n] = m;
    f[(rstd >> 2) + n] = r;
  }
}

function layernorm_backward(
  heap: Heap,
  dinp: number,
  dwpart: number,
  dbpart: number,
  dout: number,
  inp: number,
  weight: number,
  mean: number,
  rstd: number,
  N: number,
  C: number,
  rows: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, w = weight >> 2;
  for (let t = t0; t < t1; t++) {
    const dw = (dwpart >> 2) + t * C, db = (dbpart >> 2) + t * C;
    f.fill(0, dw, dw + C);
    f.fill(0, db, db + C);
    for (let n = t * rows, n1 = Math.min(N, t * rows + rows); n < n1; n++) {
      const x = (inp >> 2) + n * C, g = (dout >> 2) + n * C, dx = (dinp >> 2) + n * C;
      const m = f[(mean >> 2) + n], r = f[(rstd >> 2) + n];
      const norm = (c: number): number => fr(fr(f[x + c] - m) * r);
      const dnorm = (c: number): number => fr(f[w + c] * f[g + c]);
      const m1 = fr(laneSum(C, dnorm) / C);
      const m2 = fr(laneSum(C, (c) => fr(dnorm(c) * norm(c))) / C);
      for (let c = 0; c < C; c++) {
        const nv = norm(c), gs = f[g + c];
        f[db + c] += gs;
        f[dw + c] += fr(nv * gs);
        f[dx + c] += fr(fr(fr(dnorm(c) - m1) - fr(nv * m2)) * r);
      }
    }
  }
}

/**
 * `layernorm_forward` (task n = row n) and `layernorm_backward` (task t = rows [t·rows, …),
 * writing per-task dweight/dbias partials).
 *
 * @example
 * ```ts
 * import { Heap } from "../../engine/heap.ts";
 * import { layernormRefKernels } from "./layernorm.ts";
 * const heap = new Heap();
 * const x = heap.alloc(2), w = heap.alloc(2), b = heap.alloc(2), y = heap.alloc(2);
 * const mean = heap.alloc(1), rstd = heap.alloc(1);
 * heap.write(x, [1, 3]);
 * heap.write(w, [1, 1]);
 * layernormRefKernels.layernorm_forward(heap, y, mean, rstd, x, w, b, 1, 2, 0, 1);
 * console.log(Array.from(heap.read(y, 2), (v) => v.toFixed(4))); // ["-1.0000", "1.0000"]
 * ```
 */
export const layernormRefKernels: Record<string, RefKernel> = {
  layernorm_forward,
  layernorm_backward,
};
