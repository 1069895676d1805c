/**
 * Linear layers, `y = x·Wᵀ + b` with W stored (out, in) as PyTorch does, and their backward.
 * Weights are first copied into zero-padded panels of 8 columns (temporary heap scratch, freed
 * before returning), which the register-tiled matmul kernel reads without edge cases.
 *
 * @module
 */
import type { Backend } from "../engine/backend.ts";
import { UserError } from "../util/errors.ts";

/** Rows per matmul/dweight task: the kernels' register-tile height. */
const TR = 6;
/** Columns per packed panel: the kernels' register-tile width. */
const TC = 8;
/** Rows of dout/inp per linear_dweight pass (that chunk of inp stays cached across tasks). */
const DW_CHUNK = 128;
/** linear_dweight tasks wanted at least: enough for even thread shares, few enough per row tile. */
const DW_MIN_TASKS = 16;

/**
 * out(N, OC) = inp(N, C)·weight(OC, C)ᵀ + bias(OC). Pointers are byte offsets into `be.heap`;
 * `bias` 0 means none. `out` must not overlap `inp` or `weight`.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { linearForward } from "./linear.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const h = be.heap;
 * const inp = h.alloc(2), weight = h.alloc(6), bias = h.alloc(3), out = h.alloc(3);
 * h.write(inp, [1, 2]);
 * h.write(weight, [1, 0, 0, 1, 1, 1]);
 * h.write(bias, [0, 0, 10]);
 * linearForward(be, out, inp, weight, bias, 1, 2, 3);
 * console.log(Array.from(h.read(out, 3))); // [1, 2, 13]
 * be.close();
 * ```
 */
export function linearForward(
  be: Backend,
  out: number,
  inp: number,
  weight: number,
  bias: number,
  N: number,
  C: number,
  OC: number,
): void {
  checkShape(N, C, OC);
  checkPtrs({ out, inp, weight }, { bias });
  if (N === 0) return;
  const heap = be.heap, mark = heap.mark();
  try {
    const panels = Math.ceil(OC / TC);
    const wp = heap.alloc(panels * TC * C);
    be.run("linear_pack_t", panels, [wp, weight, OC, C], TC * C);
    be.run(
      "linear_matmul",
      Math.ceil(N / TR),
      [out, inp, wp, bias, N, C, OC, 0],
      2 * TR * C * panels * TC,
    );
  } finally {
    heap.release(mark);
  }
}

/**
 * Backward of {@linkcode linearForward}, accumulating: dinp(N, C) += dout(N, OC)·weight,
 * dweight(OC, C) += doutᵀ·inp, dbias(OC) += Σₙ dout. A gradient pointer of 0 skips that
 * gradient. Gradient buffers must not overlap the inputs. With `overwriteDinp`, dinp ←
 * dout·weight instead, which spares the caller zeroing a buffer that only this layer feeds.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { linearBackward } from "./linear.ts";
 * const be = createBackend("ref");
 * const h = be.heap;
 * const inp = h.alloc(2), weight = h.alloc(2), dout = h.alloc(1);
 * const dinp = h.alloc(2), dweight = h.alloc(2), dbias = h.alloc(1);
 * h.write(inp, [3, 4]);
 * h.write(weight, [1, 2]);
 * h.write(dout, [0.5]);
 * linearBackward(be, dinp, dweight, dbias, dout, inp, weight, 1, 2, 1);
 * console.log(Array.from(h.read(dinp, 2)), Array.from(h.read(dweight, 2)), h.read(dbias, 1)[0]);
 * // [0.5, 1] [1.5, 2] 0.5
 * be.close();
 * ```
 */
export function linearBackward(
  be: Backend,
  dinp: number,
  dweight: number,
  dbias: number,
  dout: number,
  inp: number,
  weight: number,
  N: number,
  C: number,
  OC: number,
  overwriteDinp = false,
): void {
  checkShape(N, C, OC);
  checkPtrs({ dout, inp, weight }, { dinp, dweight, dbias });
  if (N === 0) return;
  if (dinp !== 0) {
    const heap = be.heap, mark = heap.mark();
    try {
      const panels = Math.ceil(C / TC);
      const wp = heap.alloc(panels * TC * OC);
      be.run("linear_pack", panels, [wp, weight, OC, C, TC], TC * OC);
      be.run(
        "linear_matmul",
        Math.ceil(N / TR),
        [dinp, dout, wp, 0, N, OC, C, overwriteDinp ? 0 : 1],
        2 * TR * OC * panels * TC,
      );
    } finally {
      heap.release(mark);
    }
  }
  if (dweight !== 0) {
    const heap = be.heap, mark = heap.mark();
    try {
      // Few row tiles (small OC) split into column blocks too, to balance the threads.
      const tiles = Math.ceil(OC / TR), full = Math.floor(C / TC);
      const cb = Math.max(1, Math.min(full, Math.ceil(DW_MIN_TASKS / tiles)));
      const tasks = tiles * cb;
      // part: the running dweight sums, then the running dbias sums of the tiles (6·⌈OC/6⌉)
      const part = heap.alloc(OC * C + tiles * TR), dbuf = heap.alloc(tasks * DW_CHUNK * TR);
      be.run(
        "linear_dweight",
        tasks,
        [dweight, dbias, part, dbuf, dout, inp, N, C, OC, DW_CHUNK, cb],
        (2 * TR * C * N) / cb,
      );
    } finally {
      heap.release(mark);
    }
  } else if (dbias !== 0) {
    be.run("linear_dbias", Math.ceil(OC / TC), [dbias, dout, N, OC], TC * N);
  }
}

function checkShape(N: number, C: number, OC: number): void {
  if (!Number.isInteger(N) || N < 0) {
    throw new UserError(`Cannot run a linear layer over N = ${N} rows: expected an integer ≥ 0`);
  }
  for (const [name, v] of [["C", C], ["OC", OC]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new UserError(`Cannot run a linear layer with ${name} = ${v}: expected an integer ≥ 1`);
    }
  }
}

/** Pointers are f32 byte offsets; a required one may not be 0 (the "absent" value). */
function checkPtrs(required: Record<string, number>, optional: Record<string, number>): void {
  for (const [name, p] of Object.entries(required)) {
    if (!Number.isInteger(p) || p <= 0 || p % 4 !== 0) {
      throw new UserError(
        `Cannot use ${name} = ${p} as a tensor: expected a positive byte offset, a multiple of 4`,
      );
    }
  }
  for (const [name, p] of Object.entries(optional)) {
    if (!Number.isInteger(p) || p < 0 || p % 4 !== 0) {
      throw new UserError(
        `Cannot use ${name} = ${p} as a tensor: expected 0 (none) or a byte offset, a multiple of 4`,
      );
    }
  }
}
