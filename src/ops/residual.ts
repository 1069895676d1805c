/**
 * The residual stream's plumbing: elementwise add, accumulate and scale (over fixed chunks), and
 * picking one position's row out of every sample (the head reads the last position) and its
 * backward.
 *
 * @module
 */
import type { Backend } from "../engine/backend.ts";
import { UserError } from "../util/errors.ts";

/** Elements per task (a multiple of 4). */
const CHUNK = 8192;

/**
 * out(n) = a(n) + b(n); `out` may alias `a` or `b`.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { addForward } from "./residual.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const h = be.heap;
 * const a = h.alloc(2), b = h.alloc(2), out = h.alloc(2);
 * h.write(a, [1, 2]);
 * h.write(b, [10, 20]);
 * addForward(be, out, a, b, 2);
 * console.log(Array.from(h.read(out, 2))); // [11, 22]
 * be.close();
 * ```
 */
export function addForward(be: Backend, out: number, a: number, b: number, n: number): void {
  checkInt("n", n, 0);
  be.run("add_forward", Math.ceil(n / CHUNK), [out, a, b, n, CHUNK], CHUNK);
}

/**
 * dst(n) += src(n).
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { accumulate } from "./residual.ts";
 * const be = createBackend("ref");
 * const h = be.heap;
 * const dst = h.alloc(2), src = h.alloc(2);
 * h.write(dst, [1, 2]);
 * h.write(src, [3, 4]);
 * accumulate(be, dst, src, 2);
 * console.log(Array.from(h.read(dst, 2))); // [4, 6]
 * be.close();
 * ```
 */
export function accumulate(be: Backend, dst: number, src: number, n: number): void {
  checkInt("n", n, 0);
  be.run("accumulate", Math.ceil(n / CHUNK), [dst, src, n, CHUNK], CHUNK);
}

/**
 * x(n) *= s (gradient clipping, loss scaling). `s` must be finite.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { scaleInPlace } from "./residual.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const x = be.heap.alloc(2);
 * be.heap.write(x, [1, -2]);
 * scaleInPlace(be, x, 2, 0.5);
 * console.log(Array.from(be.heap.read(x, 2))); // [0.5, -1]
 * be.close();
 * ```
 */
export function scaleInPlace(be: Backend, x: number, n: number, s: number): void {
  checkInt("n", n, 0);
  if (!Number.isFinite(s)) {
    throw new UserError(`Cannot scale a tensor by ${s}: expected a finite number`);
  }
  be.run("scale_inplace", Math.ceil(n / CHUNK), [x, n, s, CHUNK], CHUNK);
}

/**
 * out(B, C) = inp(B, L, C)[:, p, :]: position p of every sample. `out` must not overlap `inp`.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { gatherRows } from "./residual.ts";
 * const be = createBackend("ref");
 * const h = be.heap;
 * const inp = h.alloc(8), out = h.alloc(4);
 * h.write(inp, [1, 2, 3, 4, 5, 6, 7, 8]); // B = 2, L = 2, C = 2
 * gatherRows(be, out, inp, 2, 2, 2, 1);
 * console.log(Array.from(h.read(out, 4))); // [3, 4, 7, 8]
 * be.close();
 * ```
 */
export function gatherRows(
  be: Backend,
  out: number,
  inp: number,
  B: number,
  L: number,
  C: number,
  p: number,
): void {
  checkRows(B, L, C, p);
  be.run("gather_rows", B, [out, inp, B, L, C, p], C);
}

/**
 * Backward of {@linkcode gatherRows}, accumulating: dinp(B, L, C)[:, p, :] += dout(B, C).
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { scatterRowsAdd } from "./residual.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const h = be.heap;
 * const dinp = h.alloc(4), dout = h.alloc(2);
 * h.write(dout, [5, 6]); // B = 2, L = 2, C = 1
 * scatterRowsAdd(be, dinp, dout, 2, 2, 1, 1);
 * console.log(Array.from(h.read(dinp, 4))); // [0, 5, 0, 6]
 * be.close();
 * ```
 */
export function scatterRowsAdd(
  be: Backend,
  dinp: number,
  dout: number,
  B: number,
  L: number,
  C: number,
  p: number,
): void {
  checkRows(B, L, C, p);
  be.run("scatter_rows_add", B, [dinp, dout, B, L, C, p], C);
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new UserError(`Cannot use ${name} = ${v}: expected an integer ≥ ${min}`);
  }
}

function checkRows(B: number, L: number, C: number, p: number): void {
  checkInt("B", B, 0);
  checkInt("L", L, 1);
  checkInt("C", C, 1);
  if (!Number.isInteger(p) || p < 0 || p >= L) {
    throw new UserError(`Cannot pick position p = ${p}: expected an integer in 0 … ${L - 1}`);
  }
}
