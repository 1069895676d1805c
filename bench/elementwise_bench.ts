/**
 * `deno bench` for the elementwise kernels on the model's shapes (6400 rows = batch 100 × 64
 * positions, d_model 64, FFN 256): the `ref` backend and the `wasm` backend on 1 and 2 threads,
 * 1 thread as the baseline of each group.
 *
 * Usage: deno bench -A bench/elementwise_bench.ts
 *
 * @module
 */
import { type Backend, createBackend } from "../src/engine/backend.ts";
import { dropoutBackward, dropoutForward } from "../src/ops/dropout.ts";
import { geluBackward, geluForward } from "../src/ops/gelu.ts";
import { layernormBackward, layernormForward } from "../src/ops/layernorm.ts";
import { adamwStep, gradNorm } from "../src/ops/optim.ts";
import { addForward } from "../src/ops/residual.ts";
import { Rng } from "../src/util/rng.ts";

const N = 6400, D = 64, FFN = 4 * D, PARAMS = 200_000;

const backends: Backend[] = [
  createBackend("ref"),
  createBackend("wasm", { threads: 1 }),
  createBackend("wasm", { threads: 2 }),
];
// The pool's workers would keep the process alive after the last bench.
globalThis.addEventListener("unload", () => backends.forEach((be) => be.close()));

type Op = (be: Backend) => () => void;

/** n floats, uniform in [-2, 2). */
function fill(be: Backend, n: number, rng: Rng): number {
  const p = be.heap.alloc(n), v = be.heap.view(p, n);
  for (let i = 0; i < n; i++) v[i] = rng.uniform(-2, 2);
  return p;
}

const OPS: Record<string, Op> = {
  [`layernorm forward ${N}×${D}`]: (be) => {
    const r = new Rng(1), inp = fill(be, N * D, r), w = fill(be, D, r), b = fill(be, D, r);
    const out = be.heap.alloc(N * D), mean = be.heap.alloc(N), rstd = be.heap.alloc(N);
    return () => layernormForward(be, out, mean, rstd, inp, w, b, N, D);
  },
  [`layernorm backward ${N}×${D}`]: (be) => {
    const r = new Rng(2), inp = fill(be, N * D, r), w = fill(be, D, r), b = fill(be, D, r);
    const out = be.heap.alloc(N * D), mean = be.heap.alloc(N), rstd = be.heap.alloc(N);
    layernormForward(be, out, mean, rstd, inp, w, b, N, D);
    const dout = fill(be, N * D, r), dinp = be.heap.alloc(N * D);
    const dw = be.heap.alloc(D), db = be.heap.alloc(D);
    return () => layernormBackward(be, dinp, dw, db, dout, inp, w, mean, rstd, N, D);
  },
  [`gelu forward ${N}×${FFN}`]: (be) => {
    const x = fill(be, N * FFN, new Rng(3)), y = be.heap.alloc(N * FFN);
    return () => geluForward(be, y, x, N * FFN);
  },
  [`gelu backward ${N}×${FFN}`]: (be) => {
    const r = new Rng(4), x = fill(be, N * FFN, r), g = fill(be, N * FFN, r);
    const d = be.heap.alloc(N * FFN);
    return () => geluBackward(be, d, x, g, N * FFN);
  },
  [`dropout forward+backward ${N}×${FFN}`]: (be) => {
    const r = new Rng(5), x = fill(be, N * FFN, r), y = be.heap.alloc(N * FFN);
    return () => {
      dropoutForward(be, y, x, N * FFN, 0.1, 11, 12);
      dropoutBackward(be, x, y, N * FFN, 0.1, 11, 12);
    };
  },
  [`residual add ${N}×${D}`]: (be) => {
    const r = new Rng(6), a = fill(be, N * D, r), b = fill(be, N * D, r);
    return () => addForward(be, a, a, b, N * D);
  },
  [`adamw step ${PARAMS}`]: (be) => {
    const r = new Rng(7), p = fill(be, PARAMS, r), g = fill(be, PARAMS, r);
    const m = be.heap.alloc(PARAMS), v = be.heap.alloc(PARAMS);
    const opts = {
      lr: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.01,
      decoupled: true,
    };
    let step = 0;
    return () => adamwStep(be, p, g, m, v, PARAMS, { ...opts, step: ++step });
  },
  [`grad norm ${PARAMS}`]: (be) => {
    const g = fill(be, PARAMS, new Rng(8));
    return () => void gradNorm(be, g, PARAMS);
  },
};

for (const [group, op] of Object.entries(OPS)) {
  for (const be of backends) {
    const fn = op(be);
    Deno.bench({
      name: `${group} ${be.name} ${be.threads}t`,
      group,
      baseline: be.name === "wasm" && be.threads === 1,
      // The ref backend is 10–100× slower: a few runs are enough to place it.
      n: be.name === "ref" ? 3 : undefined,
      warmup: be.name === "ref" ? 1 : undefined,
      fn,
    });
  }
}
