import assert from "node:assert/strict";
import type { Backend } from "../../src/engine/backend.ts";
import { layernormBackward, layernormForward } from "../../src/ops/layernorm.ts";
import { UserError } from "../../src/util/errors.ts";
import { Rng } from "../../src/util/rng.ts";
import { randn, withBackend } from "../_helpers.ts";

/** (N, C) pairs covering the odd sizes 1, 7, 13, 50, 65, 257 on both axes. */
const SHAPES: [number, number][] = [[1, 65], [7, 257], [13, 1], [50, 7], [65, 13], [257, 50]];

interface Case {
  N: number;
  C: number;
  inp: Float32Array;
  w: Float32Array;
  b: Float32Array;
  dout: Float32Array;
  /** Initial gradient contents (backward accumulates into them). */
  dinp0: Float32Array;
  dw0: Float32Array;
  db0: Float32Array;
}

function makeCase(rng: Rng, N: number, C: number): Case {
  return {
    N,
    C,
    inp: randn(rng, N * C, 2, 0.5),
    w: randn(rng, C, 0.5, 1),
    b: randn(rng, C, 0.5),
    dout: randn(rng, N * C),
    dinp0: randn(rng, N * C),
    dw0: randn(rng, C),
    db0: randn(rng, C),
  };
}

interface Result {
  out: Float32Array;
  mean: Float32Array;
  rstd: Float32Array;
  dinp: Float32Array;
  dw: Float32Array;
  db: Float32Array;
}

function run(be: Backend, k: Case): Result {
  const h = be.heap, { N, C } = k;
  const put = (a: Float32Array): number => {
    const p = h.alloc(a.length);
    h.write(p, a);
    return p;
  };
  const inp = put(k.inp), w = put(k.w), b = put(k.b), dout = put(k.dout);
  const dinp = put(k.dinp0), dw = put(k.dw0), db = put(k.db0);
  const out = h.alloc(N * C), mean = h.alloc(N), rstd = h.alloc(N);
  layernormForward(be, out, mean, rstd, inp, w, b, N, C);
  layernormBackward(be, dinp, dw, db, dout, inp, w, mean, rstd, N, C);
  return {
    out: h.read(out, N * C),
    mean: h.read(mean, N),
    rstd: h.read(rstd, N),
    dinp: h.read(dinp, N * C),
    dw: h.read(dw, C),
    db: h.read(db, C),
  };
}

/** Row n of LayerNorm in float64 (biased variance, eps 1e-5). */
function lnRow64(
  x: ArrayLike<number>,
  o: number,
  C: number,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
): number[] {
  let m = 0;
  for (let c = 0; c < C; c++) m += x[o + c];
  m /= C;
  let v = 0;
  for (let c = 0; c < C; c++) v += (x[o + c] - m) ** 2;
  const r = 1 / Math.sqrt(v / C + 1e-5);
  return Array.from({ length: C }, (_, c) => (x[o + c] - m) * r * w[c] + b[c]);
}

/** Σ dout·LN(x) over rows n0 … n1−1, float64. */
function loss64(
  k: Case,
  x: Float64Array,
  w: Float64Array,
  b: Float64Array,
  n0: number,
  n1: number,
): number {
  let s = 0;
  for (let n = n0; n < n1; n++) {
    const y = lnRow64(x, n * k.C, k.C, w, b);
    for (let c = 0; c < k.C; c++) s += k.dout[n * k.C + c] * y[c];
  }
  return s;
}

Deno.test("layernorm forward and backward: wasm and ref give identical bits on odd sizes", () => {
  const rng = new Rng(10);
  for (const [N, C] of SHAPES) {
    const k = makeCase(rng, N, C);
    const r = withBackend("ref", 1, (be) => run(be, k));
    const w = withBackend("wasm", 1, (be) => run(be, k));
    assert.deepEqual(w, r, `N=${N} C=${C}`);
  }
});

Deno.test("layernorm forward is within 2e-6·(1 + |y|) of a float64 LayerNorm", () => {
  const rng = new Rng(11);
  for (const [N, C] of SHAPES) {
    const k = makeCase(rng, N, C);
    const r = withBackend("wasm", 1, (be) => run(be, k));
    for (let n = 0; n < N; n++) {
      const y = lnRow64(k.inp, n * C, C, k.w, k.b);
      for (let c = 0; c < C; c++) {
        const got = r.out[n * C + c];
        assert.ok(Math.abs(got - y[c]) <= 2e-6 * (1 + Math.abs(y[c])), `N=${N} C=${C} [${n},${c}]`);
      }
    }
  }
});

Deno.test("layernorm backward accumulates central differences of float64 LayerNorm (tol 2e-5·(1 + |g|))", () => {
  const rng = new Rng(12);
  const h = 1e-4;
  for (const [N, C] of SHAPES) {
    const k = makeCase(rng, N, C);
    const got = withBackend("wasm", 1, (be) => run(be, k));
    const x = Float64Array.from(k.inp), w = Float64Array.from(k.w), b = Float64Array.from(k.b);
    const check = (what: string, g: number, init: number, fd: number) => {
      const want = init + fd;
      assert.ok(
        Math.abs(g - want) <= 2e-5 * (1 + Math.abs(want)),
        `${what} N=${N} C=${C}: ${g} vs ${want}`,
      );
    };
    for (let i = 0; i < N * C; i++) {
      const n = Math.floor(i / C), x0 = x[i];
      x[i] = x0 + h;
      const up = loss64(k, x, w, b, n, n + 1);
      x[i] = x0 - h;
      const dn = loss64(k, x, w, b, n, n + 1);
      x[i] = x0;
      check(`dinp[${i}]`, got.dinp[i], k.dinp0[i], (up - dn) / (2 * h));
    }
    for (
      const [name, p, g, init] of [["dweight", w, got.dw, k.dw0], [
        "dbias",
        b,
        got.db,
        k.db0,
      ]] as const
    ) {
      for (let c = 0; c < C; c++) {
        const p0 = p[c];
        p[c] = p0 + h;
        const up = loss64(k, x, w, b, 0, N);
        p[c] = p0 - h;
        const dn = loss64(k, x, w, b, 0, N);
        p[c] = p0;
        check(`${name}[${c}]`, g[c], init[c], (up - dn) / (2 * h));
      }
    }
  }
});

Deno.test("layernorm backward: 1 and 2 wasm threads give identical bits", () => {
  const k = makeCase(new Rng(13), 1000, 64);
  const one = withBackend("wasm", 1, (be) => run(be, k));
  const two = withBackend("wasm", 2, (be) => run(be, k));
  assert.deepEqual(two, one);
});

Deno.test("layernorm rejects a bad shape with a UserError", () => {
  withBackend("ref", 1, (be) => {
    assert.throws(() => layernormForward(be, 64, 64, 64, 64, 64, 64, 2, 0), UserError);
    assert.throws(() => layernormBackward(be, 64, 64, 64, 64, 64, 64, 64, 64, 1.5, 4), UserError);
  });
});
