/**
 * LayerNorm over the last axis (PyTorch `nn.LayerNorm`: eps 1e-5, biased variance) and its
 * backward. The backward reduces dweight/dbias over rows in fixed chunks of 64 rows whose partial
 * sums are added in chunk order, so the result does not depend on the thread count.
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
 * out(N, C) = (inp − mean)·rstd·weight + bias per row, saving mean(N) and rstd(N) =
 * 1/√(var + 1e-5) for the backward. `out` may alias `inp`.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { layernormForward } from "./layernorm.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const h = be.heap;
 * const inp = h.alloc(4), w = h.alloc(4), b = h.alloc(4), out = h.alloc(4);
 * const mean = h.alloc(1), rstd = h.alloc(1);
 * h.write(inp, [1, 2, 3, 4]);
 * h.write(w, [1, 1, 1, 1]);
 * layernormForward(be, out, mean, rstd, inp, w, b, 1, 4);
 * console.log(h.read(mean, 1)[0], h.read(out, 4)[3].toFixed(4)); // 2.5 1.3416
 * be.close();
 * ```
 */
export function layernormForward(
  be: Backend,
  out: number,
  mean: number,
  rstd: number,
  inp: number,
  weight: number,
  bias: number,
  N: number,
  C: number,
): void {
  checkShape(N, C);
  be.run("layernorm_forward", N, [out, mean, rstd, inp, weight, bias, N, C], 8 * C);
}

/**
 * Backward of {@linkcode layernormForward}, accumulating: dinp(N, C) +=, dweight(C) +=,
 * dbias(C) += (none may be 0). `mean`/`rstd` are the ones the forward saved.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { layernormBackward, layernormForward } from "./layernorm.ts";
 * const be = createBackend("ref");
 * const h = be.heap;
 * const inp = h.alloc(2), w = h.alloc(2), b = h.alloc(2), out = h.alloc(2);
 * const mean = h.alloc(1), rstd = h.alloc(1), dout = h.alloc(2);
 * const dinp = h.alloc(2), dw = h.alloc(2), db = h.alloc(2);
 * h.write(inp, [0, 2]);
 * h.write(w, [1, 1]);
 * h.write(dout, [1, 1]);
 * layernormForward(be, out, mean, rstd, inp, w, b, 1, 2);
 * layernormBackward(be, dinp, dw, db, dout, inp, w, mean, rstd, 1, 2);
 * console.log(Array.from(h.read(db, 2)), Array.from(h.read(dinp, 2))); // [1, 1] [0, 0]
 * be.close();
 * ```
 */
export function layernormBackward(
  be: Backend,
  dinp: number,
  dweight: number,
  dbias: number,
  dout: number,
  inp: number,
  weight: number,
  mean: number,
  rstd: number,
  N: number,
  C: number,
): void {
  checkShape(N, C);
  if (N === 0) return;
  const heap = be.heap, mark = heap.mark();
  try {
    const tasks = Math.ceil(N / ROWS);
    const dwpart = heap.alloc(tasks * C), dbpart = heap.alloc(tasks * C);
    be.run(
      "layernorm_backward",
      tasks,
      [dinp, dwpart, dbpart, dout, inp, weight, mean, rstd, N, C, ROWS],
      16 * ROWS * C,
    );
    const cols = Math.ceil(C / SUM_COLS);
    be.run("sum_partials", cols, [dweight, dwpart, tasks, C], SUM_COLS * tasks);
    be.run("sum_partials", cols, [dbias, dbpart, tasks, C], SUM_COLS * tasks);
  } finally {
    heap.release(mark);
  }
}

function checkShape(N: number, C: number): void {
  if (!Number.isInteger(N) || N < 0) {
    throw new UserError(`Cannot normalize N = ${N} rows: expected an integer ≥ 0`);
  }
  if (!Number.isInteger(C) || C < 1) {
    throw new UserError(`Cannot normalize rows of C = ${C} features: expected an integer ≥ 1`);
  }
}
