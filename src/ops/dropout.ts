/**
 * Inverted dropout (PyTorch `nn.Dropout` in training mode) with a counter-based mask: element i
 * is kept iff u ≥ p, u uniform in [0, 1) from 24 bits of a hash of (key0, key1, i). The mask is
 * a pure function of the keys, so forward and backward agree without storing it, and the
 * `ref` and `wasm` backends (any thread count) produce the same bits.
 *
 * @module
 */
import type { Backend } from "../engine/backend.ts";
import { UserError } from "../util/errors.ts";

/** Elements per task (a multiple of 4). */
const CHUNK = 8192;
/** Rough flops of one element (the hash is ~14 integer operations). */
const FLOPS = 18;

/**
 * out(n) = inp·mask/(1 − p) for 0 ≤ p < 1; `out` may be `inp`; p = 0 copies. key0/key1 are
 * uint32 (one pair per dropout site and step).
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { dropoutForward } from "./dropout.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const x = be.heap.alloc(1000);
 * be.heap.view(x, 1000).fill(1);
 * dropoutForward(be, x, x, 1000, 0.5, 1234, 5678);
 * const kept = be.heap.read(x, 1000).filter((v) => v === 2).length;
 * console.log(kept > 400 && kept < 600); // true
 * be.close();
 * ```
 */
export function dropoutForward(
  be: Backend,
  out: number,
  inp: number,
  n: number,
  p: number,
  key0: number,
  key1: number,
): void {
  _checkDropout(n, p, key0, key1);
  if (p === 0 && out === inp) return;
  be.run(
    "dropout_forward",
    Math.ceil(n / CHUNK),
    [out, inp, n, p, key0, key1, CHUNK],
    FLOPS * CHUNK,
  );
}

/**
 * Backward of {@linkcode dropoutForward} with the same p and keys, accumulating:
 * dinp(n) += dout·mask/(1 − p).
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { dropoutBackward } from "./dropout.ts";
 * const be = createBackend("ref");
 * const dout = be.heap.alloc(2), dinp = be.heap.alloc(2);
 * be.heap.write(dout, [1, 2]);
 * dropoutBackward(be, dinp, dout, 2, 0, 1, 2);
 * console.log(Array.from(be.heap.read(dinp, 2))); // [1, 2]
 * be.close();
 * ```
 */
export function dropoutBackward(
  be: Backend,
  dinp: number,
  dout: number,
  n: number,
  p: number,
  key0: number,
  key1: number,
): void {
  _checkDropout(n, p, key0, key1);
  be.run(
    "dropout_backward",
    Math.ceil(n / CHUNK),
    [dinp, dout, n, p, key0, key1, CHUNK],
    FLOPS * CHUNK,
  );
}

/**
 * Throws a {@linkcode UserError} unless n is a count, 0 ≤ p < 1 and both keys are uint32 (the
 * arguments every dropout op takes).
 *
 * @example
 * ```ts
 * import { _checkDropout } from "./dropout.ts";
 * _checkDropout(10, 0.1, 1, 2); // fine
 * try {
 *   _checkDropout(10, 1, 1, 2);
 * } catch (e) {
 *   console.log((e as Error).message); // Cannot use dropout probability 1: expected 0 ≤ p < 1
 * }
 * ```
 */
export function _checkDropout(n: number, p: number, key0: number, key1: number): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new UserError(`Cannot apply dropout to n = ${n} values: expected an integer ≥ 0`);
  }
  if (!(p >= 0 && p < 1)) {
    throw new UserError(`Cannot use dropout probability ${p}: expected 0 ≤ p < 1`);
  }
  for (const k of [key0, key1]) {
    if (!Number.isInteger(k) || k < 0 || k > 0xffffffff) {
      throw new UserError(`Cannot use dropout key ${k}: expected a uint32`);
    }
  }
}
