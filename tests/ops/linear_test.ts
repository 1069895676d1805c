import assert from "node:assert/strict";
import { type Backend, createBackend } from "../../src/engine/backend.ts";
import { linearBackward, linearForward } from "../../src/ops/linear.ts";
import { UserError } from "../../src/util/errors.ts";
import { Rng } from "../../src/util/rng.ts";

/** Unit roundoff of float32. */
const U = 2 ** -24;
/** Written after every output tensor; must survive the kernels. */
const GUARD = 12345.5;
const ODD = [1, 7, 13, 50, 65, 257];
/** The model's N×C×OC shapes with N cut from 6400 (and not always a multiple of the tile). */
const MODEL: [number, number, number][] = [
  [100, 64, 64],
  [96, 64, 192],
  [97, 64, 256],
  [90, 256, 64],
];

interface Problem {
  N: number;
  C: number;
  OC: number;
  inp: Float32Array;
  weight: Float32Array;
  bias: Float32Array | null;
  dout: Float32Array;
}

interface Grads {
  out: Float32Array;
  dinp: Float32Array;
  dweight: Float32Array;
  dbias: Float32Array;
}

function problem(seed: number, N: number, C: number, OC: number, withBias = true): Problem {
  const rng = new Rng(seed);
  const rand = (n: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
    return a;
  };
  return {
    N,
    C,
    OC,
    inp: rand(N * C),
    weight: rand(OC * C),
    bias: withBias ? rand(OC) : null,
    dout: rand(N * OC),
  };
}

/**
 * Forward then backward `times` times on `be`. Tensors start `shift` floats into their
 * allocation (so kernels also see pointers that are not 16-byte aligned) and are followed by
 * guard values; outputs start as NaN (forward must overwrite) and gradients as 0.
 */
function run(be: Backend, p: Problem, times = 1, shift = 0): Grads {
  const { N, C, OC } = p;
  const h = be.heap, mark = h.mark();
  try {
    const tensor = (n: number, init: ArrayLike<number> | number): number => {
      const ptr = h.alloc(n + shift + 16) + 4 * shift;
      if (typeof init === "number") h.view(ptr, n).fill(init);
      else h.write(ptr, init);
      h.view(ptr + 4 * n, 16).fill(GUARD);
      return ptr;
    };
    const inp = tensor(N * C, p.inp), weight = tensor(OC * C, p.weight);
    const bias = p.bias ? tensor(OC, p.bias) : 0, dout = tensor(N * OC, p.dout);
    const out = tensor(N * OC, NaN);
    const dinp = tensor(N * C, 0), dweight = tensor(OC * C, 0), dbias = tensor(OC, 0);
    linearForward(be, out, inp, weight, bias, N, C, OC);
    for (let i = 0; i < times; i++) {
      linearBackward(be, dinp, dweight, dbias, dout, inp, weight, N, C, OC);
    }
    for (const [ptr, n] of [[out, N * OC], [dinp, N * C], [dweight, OC * C], [dbias, OC]]) {
      assert.deepEqual(Array.from(h.read(ptr + 4 * n, 16)), new Array(16).fill(GUARD));
    }
    return {
      out: h.read(out, N * OC),
      dinp: h.read(dinp, N * C),
      dweight: h.read(dweight, OC * C),
      dbias: h.read(dbias, OC),
    };
  } finally {
    h.release(mark);
  }
}

/** Float64 results, each with Σ|terms| and the number of roundings for its error bound. */
function exact(p: Problem): Record<keyof Grads, { v: Float64Array; abs: Float64Array; k: number }> {
  const { N, C, OC, inp, weight, bias, dout } = p;
  const out = new Float64Array(N * OC), outAbs = new Float64Array(N * OC);
  const dinp = new Float64Array(N * C), dinpAbs = new Float64Array(N * C);
  const dw = new Float64Array(OC * C), dwAbs = new Float64Array(OC * C);
  const db = new Float64Array(OC), dbAbs = new Float64Array(OC);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      let s = bias ? bias[o] : 0, a = Math.abs(s);
      const g = dout[n * OC + o];
      for (let c = 0; c < C; c++) {
        const x = inp[n * C + c], w = weight[o * C + c];
        s += x * w;
        a += Math.abs(x * w);
        dinp[n * C + c] += g * w;
        dinpAbs[n * C + c] += Math.abs(g * w);
        dw[o * C + c] += g * x;
        dwAbs[o * C + c] += Math.abs(g * x);
      }
      out[n * OC + o] = s;
      outAbs[n * OC + o] = a;
      db[o] += g;
      dbAbs[o] += Math.abs(g);
    }
  }
  return {
    out: { v: out, abs: outAbs, k: C + 1 },
    dinp: { v: dinp, abs: dinpAbs, k: OC },
    dweight: { v: dw, abs: dwAbs, k: N },
    dbias: { v: db, abs: dbAbs, k: N },
  };
}

/**
 * Tolerance: the worst-case float32 summation bound (k + 1)·u·Σ|terms| (k roundings of the sum,
 * one for the store), times `factor` (2 when comparing two float32 results).
 */
function assertClose(
  what: string,
  got: Float32Array,
  want: ArrayLike<number>,
  abs: Float64Array,
  k: number,
  factor = 1,
): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const tol = factor * (k + 1) * U * abs[i];
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol)) {
      assert.fail(
        `${what}[${i}]: got ${got[i]}, want ${want[i]} (error ${err} > tolerance ${tol})`,
      );
    }
  }
}

function withBackends(fn: (ref: Backend, w1: Backend, w2: Backend) => void): void {
  const ref = createBackend("ref");
  const w1 = createBackend("wasm", { threads: 1 });
  const w2 = createBackend("wasm", { threads: 2 });
  try {
    fn(ref, w1, w2);
  } finally {
    ref.close();
    w1.close();
    w2.close();
  }
}

function checkShape(ref: Backend, w1: Backend, p: Problem, shift: number): void {
  const tag = `${p.N}×${p.C}×${p.OC}${p.bias ? "" : " no bias"}`;
  const want = exact(p);
  const r = run(ref, p, 1, shift), w = run(w1, p, 1, shift);
  for (const key of ["out", "dinp", "dweight", "dbias"] as const) {
    const { v, abs, k } = want[key];
    assertClose(`ref ${key} ${tag}`, r[key], v, abs, k);
    assertClose(`wasm ${key} ${tag}`, w[key], v, abs, k);
    assertClose(`wasm vs ref ${key} ${tag}`, w[key], r[key], abs, k, 2);
  }
}

Deno.test("linear: wasm and ref match float64 on odd shapes, within the f32 summation bound", () => {
  withBackends((ref, w1) => {
    let seed = 0;
    for (const N of ODD) {
      for (const C of ODD) {
        for (const OC of ODD) {
          seed++;
          checkShape(ref, w1, problem(seed, N, C, OC, seed % 3 !== 0), seed % 4 === 1 ? 1 : 0);
        }
      }
    }
  });
});

Deno.test("linear: wasm and ref match float64 on the model's shapes at small N", () => {
  withBackends((ref, w1) => {
    for (const [i, [N, C, OC]] of MODEL.entries()) {
      checkShape(ref, w1, problem(100 + i, N, C, OC), 0);
    }
  });
});

Deno.test("linear: backward matches central differences of a float64 scalar loss", () => {
  // L = Σ dout ⊙ (inp·weightᵀ + bias), so ∂L/∂θ is what backward computes for this dout.
  const p = problem(7, 4, 9, 3);
  const loss = (inp: Float64Array, w: Float64Array, b: Float64Array): number => {
    let l = 0;
    for (let n = 0; n < p.N; n++) {
      for (let o = 0; o < p.OC; o++) {
        let s = b[o];
        for (let c = 0; c < p.C; c++) s += inp[n * p.C + c] * w[o * p.C + c];
        l += p.dout[n * p.OC + o] * s;
      }
    }
    return l;
  };
  const params = [
    Float64Array.from(p.inp),
    Float64Array.from(p.weight),
    Float64Array.from(p.bias!),
  ];
  const fd = params.map((theta) =>
    Array.from(theta, (_, i) => {
      const h = 1e-3, x = theta[i];
      theta[i] = x + h;
      const up = loss(params[0], params[1], params[2]);
      theta[i] = x - h;
      const down = loss(params[0], params[1], params[2]);
      theta[i] = x;
      return (up - down) / (2 * h);
    })
  );
  for (const name of ["ref", "wasm"] as const) {
    const be = createBackend(name, { threads: 1 });
    try {
      const g = run(be, p);
      for (const [i, got] of [g.dinp, g.dweight, g.dbias].entries()) {
        for (let j = 0; j < got.length; j++) {
          // float32 gradients of ≤ 9 terms of size ≤ 1 against an exact-to-1e-12 difference.
          assert.ok(
            Math.abs(got[j] - fd[i][j]) <= 1e-5,
            `${name} grad ${i}[${j}]: ${got[j]} vs finite difference ${fd[i][j]}`,
          );
        }
      }
    } finally {
      be.close();
    }
  }
});

Deno.test("linear: backward accumulates, so two calls give exactly twice the gradients", () => {
  withBackends((ref, w1, w2) => {
    for (const be of [ref, w1, w2]) {
      for (const [N, C, OC] of [[65, 13, 50], [300, 64, 64]]) {
        const p = problem(N, N, C, OC);
        const once = run(be, p, 1), twice = run(be, p, 2);
        for (const key of ["dinp", "dweight", "dbias"] as const) {
          assert.deepEqual(twice[key], once[key].map((x) => 2 * x), `${be.name} ${key}`);
        }
      }
    }
  });
});

Deno.test("linear: wasm on 1 and 2 threads is bit-identical", () => {
  withBackends((_ref, w1, w2) => {
    for (const [N, C, OC] of [[257, 65, 50], [640, 64, 192], [301, 256, 64], [13, 7, 257]]) {
      const p = problem(N * OC, N, C, OC);
      const a = run(w1, p), b = run(w2, p, 1, 1);
      for (const key of ["out", "dinp", "dweight", "dbias"] as const) {
        assert.deepEqual(a[key], b[key], `${N}×${C}×${OC} ${key}`);
      }
    }
  });
});

Deno.test("linear: a zero gradient pointer skips that gradient", () => {
  const be = createBackend("wasm", { threads: 1 });
  try {
    const p = problem(3, 20, 9, 10), full = run(be, p);
    const h = be.heap, mark = h.mark();
    const inp = h.alloc(20 * 9), weight = h.alloc(10 * 9), dout = h.alloc(20 * 10);
    const dweight = h.alloc(10 * 9);
    h.write(inp, p.inp);
    h.write(weight, p.weight);
    h.write(dout, p.dout);
    linearBackward(be, 0, dweight, 0, dout, inp, weight, 20, 9, 10);
    assert.deepEqual(h.read(dweight, 90), full.dweight);
    // dbias alone takes linear_dbias rather than the pass fused into linear_dweight: same bits
    const dbias = h.alloc(10);
    linearBackward(be, 0, 0, dbias, dout, inp, weight, 20, 9, 10);
    assert.deepEqual(h.read(dbias, 10), full.dbias);
    h.release(mark);
  } finally {
    be.close();
  }
});

Deno.test("linear: overwriteDinp replaces what dinp held with the same bits as 0 + backward", () => {
  withBackends((ref, w1, w2) => {
    for (const be of [ref, w1, w2]) {
      for (const [N, C, OC] of [[65, 13, 50], [300, 64, 64]]) {
        const p = problem(N + C, N, C, OC), want = run(be, p);
        const h = be.heap, mark = h.mark();
        try {
          const inp = h.alloc(N * C), weight = h.alloc(OC * C), dout = h.alloc(N * OC);
          const dinp = h.alloc(N * C);
          h.write(inp, p.inp);
          h.write(weight, p.weight);
          h.write(dout, p.dout);
          h.view(dinp, N * C).fill(NaN);
          linearBackward(be, dinp, 0, 0, dout, inp, weight, N, C, OC, true);
          assert.deepEqual(h.read(dinp, N * C), want.dinp, `${be.name} ${N}×${C}×${OC}`);
        } finally {
          h.release(mark);
        }
      }
    }
  });
});

Deno.test("linear: bad shapes and pointers throw a UserError naming the value", () => {
  const be = createBackend("ref");
  try {
    const p = be.heap.alloc(64);
    assert.throws(() => linearForward(be, p, p, p, 0, -1, 4, 4), UserError);
    assert.throws(() => linearForward(be, p, p, p, 0, 2, 0, 4), /C = 0/);
    assert.throws(() => linearForward(be, p, p, p, 0, 2, 4, 1.5), /OC = 1.5/);
    assert.throws(() => linearForward(be, 0, p, p, 0, 2, 4, 4), /out = 0/);
    assert.throws(() => linearBackward(be, 6, p, 0, p, p, p, 2, 4, 4), /dinp = 6/);
  } finally {
    be.close();
  }
});
