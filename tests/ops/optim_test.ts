import assert from "node:assert/strict";
import type { Backend } from "../../src/engine/backend.ts";
import { type AdamWOptions, adamwStep, gradNorm } from "../../src/ops/optim.ts";
import { UserError } from "../../src/util/errors.ts";
import { Rng } from "../../src/util/rng.ts";
import { put, randn, withBackend } from "../_helpers.ts";

const SIZES = [1, 7, 13, 50, 65, 257];

type Hyper = Omit<AdamWOptions, "step">;

/** Runs adamwStep for steps 1 … grads.length; returns [param, m, v] after every step. */
function steps(be: Backend, p0: Float32Array, grads: Float32Array[], hp: Hyper): Float32Array[][] {
  const n = p0.length,
    p = put(be, p0),
    g = be.heap.alloc(n),
    m = be.heap.alloc(n),
    v = be.heap.alloc(n);
  return grads.map((gs, i) => {
    be.heap.write(g, gs);
    adamwStep(be, p, g, m, v, n, { ...hp, step: i + 1 });
    return [be.heap.read(p, n), be.heap.read(m, n), be.heap.read(v, n)];
  });
}

/** The same steps in float64, written out from the PyTorch formulas (torch.optim.Adam/AdamW). */
function steps64(p0: Float32Array, grads: Float32Array[], hp: Hyper): number[][][] {
  const { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, decoupled } = hp;
  const p = Array.from(p0), m = p.map(() => 0), v = p.map(() => 0);
  return grads.map((gs, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      let g = gs[i];
      if (decoupled) p[i] *= 1 - lr * wd;
      else g += wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps;
      p[i] -= (lr / (1 - b1 ** t)) * (m[i] / denom);
    }
    return [p.slice(), m.slice(), v.slice()];
  });
}

const ADAMW: Hyper = {
  lr: 1e-2,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.1,
  decoupled: true,
};
const ADAM: Hyper = {
  lr: 3e-3,
  beta1: 0.3,
  beta2: 0.99,
  eps: 1e-6,
  weightDecay: 0.05,
  decoupled: false,
};

// Tolerances: p to 5e-7·(1 + |p|) (a step moves p by ~lr); m and v to 1e-5 relative (+2e-8 / 1e-12
// absolute for values that cancel to ~0).
const TOL = [
  (w: number) => 5e-7 * (1 + Math.abs(w)),
  (w: number) => 1e-5 * Math.abs(w) + 2e-8,
  (w: number) => 1e-5 * Math.abs(w) + 1e-12,
];

Deno.test("AdamW and Adam follow a float64 PyTorch sequence of 3 steps", () => {
  const rng = new Rng(60);
  for (const hp of [ADAMW, ADAM]) {
    for (const n of SIZES) {
      const p0 = randn(rng, n), grads = [0, 1, 2].map(() => randn(rng, n, 0.1));
      const want = steps64(p0, grads, hp);
      for (const name of ["ref", "wasm"] as const) {
        const got = withBackend(name, 1, (be) => steps(be, p0, grads, hp));
        got.forEach((state, s) =>
          state.forEach((arr, j) =>
            arr.forEach((x, i) => {
              const w = want[s][j][i];
              const what = `${name} decoupled=${hp.decoupled} n=${n} step ${s + 1} ${
                ["p", "m", "v"][j]
              }[${i}]`;
              assert.ok(Math.abs(x - w) <= TOL[j](w), `${what}: ${x} vs ${w}`);
            })
          )
        );
      }
    }
  }
});

Deno.test("adamwStep: wasm and ref give identical bits, and so do 1 and 2 wasm threads", () => {
  const rng = new Rng(61);
  for (const hp of [ADAMW, ADAM]) {
    for (const n of SIZES) {
      const p0 = randn(rng, n), grads = [0, 1, 2].map(() => randn(rng, n, 0.1));
      assert.deepEqual(
        withBackend("wasm", 1, (be) => steps(be, p0, grads, hp)),
        withBackend("ref", 1, (be) => steps(be, p0, grads, hp)),
      );
    }
    const n = 200_001, p0 = randn(rng, n), grads = [randn(rng, n), randn(rng, n)];
    assert.deepEqual(
      withBackend("wasm", 2, (be) => steps(be, p0, grads, hp)),
      withBackend("wasm", 1, (be) => steps(be, p0, grads, hp)),
    );
  }
});

Deno.test("gradNorm: float64 exact sum of squares (1e-12), identical bits on ref, 1 and 2 wasm threads", () => {
  const rng = new Rng(62);
  for (const n of [...SIZES, 1_000_003]) {
    const g = randn(rng, n, 1e-3);
    const norms = ([["ref", 1], ["wasm", 1], ["wasm", 2]] as const).map(([name, threads]) =>
      withBackend(name, threads, (be) => gradNorm(be, put(be, g), n))
    );
    assert.equal(norms[1], norms[0], `wasm vs ref n=${n}`);
    assert.equal(norms[2], norms[1], `2 vs 1 threads n=${n}`);
    const want = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    assert.ok(Math.abs(norms[0] - want) <= 1e-12 * want, `n=${n}: ${norms[0]} vs ${want}`);
  }
  withBackend("wasm", 1, (be) => assert.equal(gradNorm(be, 64, 0), 0));
});

Deno.test("adamwStep rejects bad hyperparameters with a UserError", () => {
  withBackend("ref", 1, (be) => {
    const ok: AdamWOptions = { ...ADAMW, step: 1 };
    const bad: Partial<AdamWOptions>[] = [
      { lr: -1 },
      { lr: NaN },
      { beta1: 1 },
      { beta2: -0.1 },
      { eps: 0 },
      { weightDecay: Infinity },
      { step: 0 },
      { step: 1.5 },
    ];
    for (const b of bad) {
      assert.throws(
        () => adamwStep(be, 64, 64, 64, 64, 1, { ...ok, ...b }),
        UserError,
        JSON.stringify(b),
      );
    }
    assert.throws(() => adamwStep(be, 64, 64, 64, 64, 1, { ...ok, lr: -1 }), /learning rate -1/);
  });
});
