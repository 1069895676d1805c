/**
 * GELU in its exact form 0.5·x·(1 + erf(x/√2)) (PyTorch `nn.GELU()`), elementwise over fixed
 * chunks. The Wasm kernels use an f32x4 erf accurate to ~1e-7 absolute.
 *
 * @module
 */
import type { Backend } from "../engine/backend.ts";
import { UserError } from "../util/errors.ts";
import { _checkDropout } from "./dropout.ts";

/** Elements per task (a multiple of 4). */
const CHUNK = 4096;
/** Rough flops of one element (two polynomials, an exp, a few selects). */
const FLOPS = 60;

/**
 * out(n) = GELU(inp(n)); `out` may alias `inp`.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { geluForward } from "./gelu.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const x = be.heap.alloc(3);
 * be.heap.write(x, [-1, 0, 1]);
 * geluForward(be, x, x, 3);
 * console.log(Array.from(be.heap.read(x, 3), (v) => v.toFixed(5))); // ["-0.15866", "0.00000", "0.84134"]
 * be.close();
 * ```
 */
export function geluForward(be: Backend, out: number, inp: number, n: number): void {
  checkCount(n);
  be.run("gelu_forward", Math.ceil(n / CHUNK), [out, inp, n, CHUNK], FLOPS * CHUNK);
}

/**
 * Backward of {@linkcode geluForward}, accumulating: dinp(n) += dout·(Φ(x) + x·φ(x)), with `inp`
 * the forward's input.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { geluBackward } from "./gelu.ts";
 * const be = createBackend("ref");
 * const x = be.heap.alloc(1), dout = be.heap.alloc(1), dinp = be.heap.alloc(1);
 * be.heap.write(dout, [2]);
 * geluBackward(be, dinp, x, dout, 1);
 * console.log(be.heap.read(dinp, 1)[0]); // 1
 * be.close();
 * ```
 */
export function geluBackward(
  be: Backend,
  dinp: number,
  inp: number,
  dout: number,
  n: number,
): void {
  checkCount(n);
  be.run("gelu_backward", Math.ceil(n / CHUNK), [dinp, inp, dout, n, CHUNK], 2 * FLOPS * CHUNK);
}

/**
 * out(n) = Dropout(GELU(inp(n))) in one pass, with the mask of `dropoutForward` (dropout.ts) for
 * the same p and keys (p = 0: GELU alone, the keys unused). When `grad` ≠ 0 it also stores the
 * local derivative ∂out/∂inp = mask·GELU′(inp)/(1 − p), which {@linkcode geluDropoutBackward}
 * multiplies by. `grad` may be `inp` (overwritten in place); `out` may alias neither.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { geluDropoutForward } from "./gelu.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const x = be.heap.alloc(2), y = be.heap.alloc(2);
 * be.heap.write(x, [0, 1]);
 * geluDropoutForward(be, y, x, x, 2, 0, 0, 0); // p = 0: x now holds GELU′
 * console.log(Array.from(be.heap.read(y, 2), (v) => v.toFixed(5))); // ["0.00000", "0.84134"]
 * console.log(be.heap.read(x, 2)[0]); // 0.5
 * be.close();
 * ```
 */
export function geluDropoutForward(
  be: Backend,
  out: number,
  grad: number,
  inp: number,
  n: number,
  p: number,
  key0: number,
  key1: number,
): void {
  checkCount(n);
  _checkDropout(n, p, key0, key1);
  if (out === inp || (grad !== 0 && out === grad)) {
    throw new UserError(`Cannot write GELU output ${out} over its input or derivative buffer`);
  }
  be.run(
    "gelu_dropout_forward",
    Math.ceil(n / CHUNK),
    [out, grad, inp, n, p, key0, key1, CHUNK],
    2 * FLOPS * CHUNK,
  );
}

/**
 * Backward of {@linkcode geluDropoutForward}, in place: dx(n) ← dx·grad turns the gradient of
 * its output into that of its input. In place rather than accumulating because the model's
 * buffer then needs no zeroing and one pass less.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { geluDropoutBackward } from "./gelu.ts";
 * const be = createBackend("ref");
 * const dx = be.heap.alloc(2), grad = be.heap.alloc(2);
 * be.heap.write(dx, [2, 3]);
 * be.heap.write(grad, [0.5, 0]);
 * geluDropoutBackward(be, dx, grad, 2);
 * console.log(Array.from(be.heap.read(dx, 2))); // [1, 0]
 * be.close();
 * ```
 */
export function geluDropoutBackward(be: Backend, dx: number, grad: number, n: number): void {
  checkCount(n);
  be.run("gelu_dropout_backward", Math.ceil(n / CHUNK), [dx, grad, n, CHUNK], 2 * CHUNK);
}

/**
 * out(n) = erf(inp(n)), the approximation the GELU kernels use (for accuracy checks).
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { erfForward } from "./gelu.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const x = be.heap.alloc(1);
 * be.heap.write(x, [1]);
 * erfForward(be, x, x, 1);
 * console.log(be.heap.read(x, 1)[0].toFixed(6)); // 0.842701
 * be.close();
 * ```
 */
export function erfForward(be: Backend, out: number, inp: number, n: number): void {
  checkCount(n);
  be.run("erf_forward", Math.ceil(n / CHUNK), [out, inp, n, CHUNK], FLOPS * CHUNK);
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new UserError(`Cannot apply GELU to n = ${n} values: expected an integer ≥ 0`);
  }
}
