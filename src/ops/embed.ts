/**
 * Input embedding of a scalar series (spec §2): e[b, p] = x[b, p]·W_in[:, 0] + b_in + P[p], a
 * Linear(1 → D) plus an optional fixed positional table P (L, D). The backward reduces over rows
 * in fixed chunks whose partial sums are added in chunk order (thread-count independent).
 *
 * @module
 */
import type { Backend } from "../engine/backend.ts";
import { UserError } from "../util/errors.ts";

/** Rows per backward task: the granularity of the dweight/dbias partial sums. */
const ROWS = 64;
/** Columns per task of the partial-sum reduction (fixed by the sum_partials kernel). */
const SUM_COLS = 64;

/**
 * out(B, L, D) = x(B, L)·weight(D, 1)ᵀ + bias(D) + pe(L, D); `pe` 0 means no positional table.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { embedForward } from "./embed.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const h = be.heap;
 * const x = h.alloc(2), w = h.alloc(2), b = h.alloc(2), pe = h.alloc(4), out = h.alloc(4);
 * h.write(x, [1, 2]); // B = 1, L = 2
 * h.write(w, [1, 10]); // D = 2
 * h.write(pe, [0, 0, 100, 100]);
 * embedForward(be, out, x, w, b, pe, 1, 2, 2);
 * console.log(Array.from(h.read(out, 4))); // [1, 10, 102, 120]
 * be.close();
 * ```
 */
export function embedForward(
  be: Backend,
  out: number,
  x: number,
  weight: number,
  bias: number,
  pe: number,
  B: number,
  L: number,
  D: number,
): void {
  checkShape(B, L, D);
  be.run("embed_forward", B * L, [out, x, weight, bias, pe, B, L, D], 3 * D);
}

/**
 * Backward of {@linkcode embedForward}, accumulating: dweight(D, 1) += Σ dout·x,
 * dbias(D) += Σ dout over all B·L rows (the input x gets no gradient: it is data).
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { embedBackward } from "./embed.ts";
 * const be = createBackend("ref");
 * const h = be.heap;
 * const x = h.alloc(2), dout = h.alloc(2), dw = h.alloc(1), db = h.alloc(1);
 * h.write(x, [1, 2]); // B = 1, L = 2, D = 1
 * h.write(dout, [3, 4]);
 * embedBackward(be, dw, db, dout, x, 1, 2, 1);
 * console.log(h.read(dw, 1)[0], h.read(db, 1)[0]); // 11 7
 * be.close();
 * ```
 */
export function embedBackward(
  be: Backend,
  dweight: number,
  dbias: number,
  dout: number,
  x: number,
  B: number,
  L: number,
  D: number,
): void {
  checkShape(B, L, D);
  const N = B * L;
  if (N === 0) return;
  const heap = be.heap, mark = heap.mark();
  try {
    const tasks = Math.ceil(N / ROWS);
    const dwpart = heap.alloc(tasks * D), dbpart = heap.alloc(tasks * D);
    be.run("embed_backward_partial", tasks, [dwpart, dbpart, dout, x, N, D, ROWS], 3 * ROWS * D);
    const cols = Math.ceil(D / SUM_COLS);
    be.run("sum_partials", cols, [dweight, dwpart, tasks, D], SUM_COLS * tasks);
    be.run("sum_partials", cols, [dbias, dbpart, tasks, D], SUM_COLS * tasks);
  } finally {
    heap.release(mark);
  }
}

function checkShape(B: number, L: number, D: number): void {
  for (const [name, v, min] of [["B", B, 0], ["L", L, 1], ["D", D, 1]] as const) {
    if (!Number.isInteger(v) || v < min) {
      throw new UserError(`Cannot embed with ${name} = ${v}: expected an integer ≥ ${min}`);
    }
  }
}
