/**
 * GELU in its exact form 0.5·x·(1 + erf(x/√2)) (PyTorch `nn.GELU()`), elementwise over fixed
 * chunks. The Wasm kernels use an f32x4 erf accurate to ~1e-7 absolute.
 *
 * @module
 */
import type { Backend } from "../engine/backend.ts";
import { UserError } from "../util/errors.ts";

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
