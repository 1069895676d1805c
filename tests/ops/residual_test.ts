import assert from "node:assert/strict";
import type { Backend } from "../../src/engine/backend.ts";
import {
  accumulate,
  addForward,
  gatherRows,
  scaleInPlace,
  scatterRowsAdd,
} from "../../src/ops/residual.ts";
import { UserError } from "../../src/util/errors.ts";
import { Rng } from "../../src/util/rng.ts";
import { put, randn, withBackend } from "../_helpers.ts";

const SIZES = [1, 7, 13, 50, 65, 257];

/** Every elementwise op on (a, b) of length n, results copied out. */
function elementwise(be: Backend, a: Float32Array, b: Float32Array, s: number): Float32Array[] {
  const n = a.length, pa = put(be, a), pb = put(be, b), out = be.heap.alloc(n);
  addForward(be, out, pa, pb, n);
  const sum = be.heap.read(out, n);
  accumulate(be, out, pb, n);
  const acc = be.heap.read(out, n);
  scaleInPlace(be, out, n, s);
  return [sum, acc, be.heap.read(out, n)];
}

Deno.test("add, accumulate, scale: exact float32 results on both backends, odd sizes", () => {
  const rng = new Rng(20);
  for (const n of [...SIZES, 120_003]) {
    const a = randn(rng, n), b = randn(rng, n), s = 0.37;
    // Float32Array.map rounds every step to float32, as the kernels do.
    const sum = a.map((v, i) => v + b[i]), acc = sum.map((v, i) => v + b[i]);
    const want = [sum, acc, acc.map((v) => v * Math.fround(s))];
    for (const [name, threads] of [["ref", 1], ["wasm", 1], ["wasm", 2]] as const) {
      assert.deepEqual(
        withBackend(name, threads, (be) => elementwise(be, a, b, s)),
        want,
        `${name} n=${n}`,
      );
    }
  }
});

Deno.test("addForward may write over one of its inputs", () => {
  withBackend("wasm", 1, (be) => {
    const a = put(be, Float32Array.from([1, 2, 3, 4, 5])),
      b = put(be, Float32Array.from([5, 4, 3, 2, 1]));
    addForward(be, a, a, b, 5);
    assert.deepEqual(Array.from(be.heap.read(a, 5)), [6, 6, 6, 6, 6]);
  });
});

Deno.test("gatherRows and scatterRowsAdd pick and accumulate position p, both backends", () => {
  const rng = new Rng(21);
  for (const [B, L, C] of [[1, 1, 1], [7, 13, 5], [13, 7, 50], [3, 65, 257]]) {
    const inp = randn(rng, B * L * C), dout = randn(rng, B * C), dinp0 = randn(rng, B * L * C);
    for (const p of [0, L - 1]) {
      const wantOut = new Float32Array(B * C), wantD = dinp0.slice();
      for (let b = 0; b < B; b++) {
        for (let c = 0; c < C; c++) {
          wantOut[b * C + c] = inp[(b * L + p) * C + c];
          wantD[(b * L + p) * C + c] += dout[b * C + c];
        }
      }
      for (const name of ["ref", "wasm"] as const) {
        withBackend(name, 1, (be) => {
          const pi = put(be, inp),
            pd = put(be, dout),
            pdi = put(be, dinp0),
            out = be.heap.alloc(B * C);
          gatherRows(be, out, pi, B, L, C, p);
          scatterRowsAdd(be, pdi, pd, B, L, C, p);
          assert.deepEqual(
            be.heap.read(out, B * C),
            wantOut,
            `${name} gather B=${B} L=${L} C=${C}`,
          );
          assert.deepEqual(
            be.heap.read(pdi, B * L * C),
            wantD,
            `${name} scatter B=${B} L=${L} C=${C}`,
          );
        });
      }
    }
  }
});

Deno.test("residual ops reject bad arguments with a UserError", () => {
  withBackend("ref", 1, (be) => {
    assert.throws(() => gatherRows(be, 64, 64, 2, 4, 3, 4), /p = 4/);
    assert.throws(() => scatterRowsAdd(be, 64, 64, 2, 4, 3, -1), UserError);
    assert.throws(() => scaleInPlace(be, 64, 1, NaN), /NaN/);
    assert.throws(() => addForward(be, 64, 64, 64, -1), UserError);
  });
});
