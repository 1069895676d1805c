import assert from "node:assert/strict";
import type { Backend } from "../../src/engine/backend.ts";
import {
  erfForward,
  geluBackward,
  geluDropoutBackward,
  geluDropoutForward,
  geluForward,
} from "../../src/ops/gelu.ts";
import { dropoutForward } from "../../src/ops/dropout.ts";
import { UserError } from "../../src/util/errors.ts";
import { erf64, erfc64, normalCdf64 } from "../../src/kernels/ref/erf.ts";
import { Rng } from "../../src/util/rng.ts";
import { withBackend } from "../_helpers.ts";

const SIZES = [1, 7, 13, 50, 65, 257];

function gelu64(x: number): number {
  return x * normalCdf64(x);
}

function randn(rng: Rng, n: number, scale: number): number[] {
  return Array.from({ length: n }, () => scale * rng.normal());
}

/** Runs fn on a fresh backend and always closes it. */

function forward(be: Backend, xs: number[]): Float32Array {
  const x = be.heap.alloc(xs.length), y = be.heap.alloc(xs.length);
  be.heap.write(x, xs);
  geluForward(be, y, x, xs.length);
  return be.heap.read(y, xs.length);
}

/** dinp after geluBackward with the given dout, starting from dinp = init. */
function backward(be: Backend, xs: number[], dout: number[], init: number[]): Float32Array {
  const n = xs.length, h = be.heap;
  const x = h.alloc(n), g = h.alloc(n), d = h.alloc(n);
  h.write(x, xs);
  h.write(g, dout);
  h.write(d, init);
  geluBackward(be, d, x, g, n);
  return h.read(d, n);
}

Deno.test("erf64 matches known values to 1e-15", () => {
  // Values from mpmath at 30 digits.
  const known: [number, number][] = [
    [0.1, 0.1124629160182849],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [3, 0.9999779095030014],
  ];
  for (const [x, v] of known) {
    assert(Math.abs(erf64(x) - v) <= 1e-15, `erf64(${x}) = ${erf64(x)}, want ${v}`);
    assert(Math.abs(erf64(-x) + v) <= 1e-15, `erf64(${-x})`);
  }
  // erfc keeps relative accuracy in the tail: erfc(5) = 1.5374597944280349e-12.
  assert(Math.abs(erfc64(5) / 1.5374597944280349e-12 - 1) <= 1e-12);
});

Deno.test("wasm erf is within 2e-7 of a float64 erf on a dense grid over [-8, 8]", () => {
  withBackend("wasm", 1, (be) => {
    const n = 160_001, x = be.heap.alloc(n), y = be.heap.alloc(n);
    const xs = be.heap.view(x, n);
    for (let i = 0; i < n; i++) xs[i] = -8 + i * 1e-4;
    erfForward(be, y, x, n);
    const ys = be.heap.view(y, n), xv = be.heap.view(x, n);
    let worst = 0, at = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.abs(ys[i] - erf64(xv[i]));
      if (e > worst) [worst, at] = [e, xv[i]];
    }
    assert(worst <= 2e-7, `max |erf error| ${worst} at x = ${at}`);
  });
});

Deno.test("gelu forward: wasm within 2e-7·(1 + |x|) of the float64 ref, odd sizes", () => {
  const rng = new Rng(1);
  for (const n of SIZES) {
    const xs = randn(rng, n, 3);
    const r = withBackend("ref", 1, (be) => forward(be, xs));
    const w = withBackend("wasm", 1, (be) => forward(be, xs));
    for (let i = 0; i < n; i++) {
      const x = Math.fround(xs[i]);
      assert(Math.abs(r[i] - Math.fround(gelu64(x))) === 0, `ref gelu(${x})`);
      const tol = 2e-7 * (1 + Math.abs(x));
      assert(Math.abs(w[i] - r[i]) <= tol, `n=${n} gelu(${x}): wasm ${w[i]} ref ${r[i]}`);
    }
  }
});

Deno.test("gelu forward: relative error ≤ 1e-5 down to x = -8.4, absolute ≤ 1e-15 beyond", () => {
  const xs = [-8.4, -7.5, -6, -5, -4, -3, -2, -0.5, 0.5, 2, 4, 6, 9];
  const w = withBackend("wasm", 1, (be) => forward(be, xs));
  xs.forEach((x, i) => {
    const want = gelu64(x);
    assert(Math.abs(w[i] - want) <= 1e-5 * Math.abs(want), `gelu(${x}) = ${w[i]}, want ${want}`);
  });
  // Past x ≈ −8.49 the kernel's erfc is 0: GELU is exactly 0, |true value| < 2e-16.
  const far = [-8.6, -9, -20, -1e30];
  const wf = withBackend("wasm", 1, (be) => forward(be, far));
  far.forEach((x, i) => assert(Math.abs(wf[i] - gelu64(x)) <= 1e-15, `gelu(${x}) = ${wf[i]}`));
  assert.deepEqual(Array.from(withBackend("wasm", 1, (be) => forward(be, [0]))), [0]);
});

Deno.test("gelu backward: ref and wasm match central differences of float64 GELU", () => {
  const rng = new Rng(2);
  for (const n of SIZES) {
    const xs = randn(rng, n, 2.5).map(Math.fround), dout = randn(rng, n, 1);
    const init = randn(rng, n, 1);
    for (const name of ["ref", "wasm"] as const) {
      const d = withBackend(name, 1, (be) => backward(be, xs, dout, init));
      for (let i = 0; i < n; i++) {
        const h = 1e-4;
        const fd = (gelu64(xs[i] + h) - gelu64(xs[i] - h)) / (2 * h);
        const want = Math.fround(init[i]) + Math.fround(dout[i]) * fd;
        const tol = 1e-6 * (1 + Math.abs(want));
        assert(Math.abs(d[i] - want) <= tol, `${name} n=${n} x=${xs[i]}: ${d[i]} vs ${want}`);
      }
    }
  }
});

Deno.test("gelu forward and backward: 1 and 2 wasm threads give identical bits", () => {
  const rng = new Rng(3);
  const n = 50_001, xs = randn(rng, n, 3), dout = randn(rng, n, 1), init = randn(rng, n, 1);
  const run = (threads: number) =>
    withBackend("wasm", threads, (be) => [forward(be, xs), backward(be, xs, dout, init)]);
  const [f1, b1] = run(1), [f2, b2] = run(2);
  assert.deepEqual(f1, f2);
  assert.deepEqual(b1, b2);
});

/** [out, grad] of geluDropoutForward, and dx·grad from geluDropoutBackward. */
function fused(be: Backend, xs: number[], dx: number[], p: number): Float32Array[] {
  const n = xs.length, h = be.heap;
  const x = h.alloc(n), y = h.alloc(n), d = h.alloc(n);
  h.write(x, xs);
  h.write(d, dx);
  geluDropoutForward(be, y, x, x, n, p, 77, 5);
  const grad = h.read(x, n);
  geluDropoutBackward(be, d, x, n);
  return [h.read(y, n), grad, h.read(d, n)];
}

/** GELU then dropout, the two-kernel path geluDropoutForward replaces. */
function separate(be: Backend, xs: number[], p: number): Float32Array {
  const n = xs.length, h = be.heap;
  const x = h.alloc(n), y = h.alloc(n);
  h.write(x, xs);
  geluForward(be, y, x, n);
  dropoutForward(be, y, y, n, p, 77, 5);
  return h.read(y, n);
}

Deno.test("gelu + dropout fused: out has the bits of gelu then dropout (ref and wasm)", () => {
  const rng = new Rng(4);
  for (const n of [...SIZES, 4099]) {
    const xs = randn(rng, n, 2.5);
    for (const p of [0, 0.3]) {
      for (const name of ["ref", "wasm"] as const) {
        const [out] = withBackend(name, 1, (be) => fused(be, xs, xs, p));
        const want = withBackend(name, 1, (be) => separate(be, xs, p));
        assert.deepEqual(out, want, `${name} n=${n} p=${p}`);
      }
    }
  }
});

Deno.test("gelu + dropout fused: grad = mask·GELU′/(1 − p) within 1e-6·(1 + |g|), backward = dx·grad", () => {
  const rng = new Rng(5);
  for (const n of SIZES) {
    const xs = randn(rng, n, 2.5).map(Math.fround), dx = randn(rng, n, 1).map(Math.fround);
    for (const p of [0, 0.3]) {
      // the mask, read off the dropout op applied to ones
      const mask = withBackend("ref", 1, (be) => separate(be, xs.map(() => 10), p));
      for (const name of ["ref", "wasm"] as const) {
        const [, grad, d] = withBackend(name, 1, (be) => fused(be, xs, dx, p));
        for (let i = 0; i < n; i++) {
          const h = 1e-4;
          const fd = (gelu64(xs[i] + h) - gelu64(xs[i] - h)) / (2 * h);
          const want = mask[i] === 0 ? 0 : fd / (1 - Math.fround(p));
          const tol = 1e-6 * (1 + Math.abs(want));
          assert(
            Math.abs(grad[i] - want) <= tol,
            `${name} p=${p} x=${xs[i]}: ${grad[i]} vs ${want}`,
          );
          assert.equal(d[i], Math.fround(dx[i] * grad[i]), `${name} backward ${i}`);
        }
      }
    }
  }
});

Deno.test("gelu + dropout fused: 1 and 2 wasm threads give identical bits; bad calls throw", () => {
  const rng = new Rng(6);
  const n = 50_001, xs = randn(rng, n, 3), dx = randn(rng, n, 1);
  const run = (threads: number) => withBackend("wasm", threads, (be) => fused(be, xs, dx, 0.1));
  assert.deepEqual(run(2), run(1));
  withBackend("ref", 1, (be) => {
    const x = be.heap.alloc(4), y = be.heap.alloc(4);
    assert.throws(() => geluDropoutForward(be, x, y, x, 4, 0, 0, 0), UserError);
    assert.throws(() => geluDropoutForward(be, y, x, x, 4, 1, 0, 0), /probability 1/);
    assert.throws(() => geluDropoutBackward(be, x, y, -1), /n = -1/);
  });
});
