/**
 * `deno bench` for the Linear matmuls on the model's shapes: forward, dinp and dweight on the
 * Wasm backend with 1 and 2 threads (the 2-thread bench is the baseline's comparison).
 * bench/kernels.ts prints the same figures as GFLOP/s next to the reference backend.
 *
 * Usage: deno bench -A bench/matmul_bench.ts
 *
 * @module
 */
import { type Backend, createBackend } from "../src/engine/backend.ts";
import { linearBackward, linearForward } from "../src/ops/linear.ts";
import { Rng } from "../src/util/rng.ts";
import { type Form, SHAPES } from "./kernels.ts";

const backends: Backend[] = [1, 2].map((threads) => createBackend("wasm", { threads }));
// The pool's workers would keep the process alive after the last bench.
globalThis.addEventListener("unload", () => backends.forEach((be) => be.close()));

/** Tensors of one shape on one backend, allocated once and reused by every iteration. */
function setup(be: Backend, N: number, C: number, OC: number): (form: Form) => void {
  const h = be.heap, rng = new Rng(1);
  const fill = (n: number): number => {
    const p = h.alloc(n);
    const v = h.view(p, n);
    for (let i = 0; i < n; i++) v[i] = rng.uniform(-1, 1);
    return p;
  };
  const inp = fill(N * C), weight = fill(OC * C), bias = fill(OC), dout = fill(N * OC);
  const out = h.alloc(N * OC), dinp = h.alloc(N * C), dweight = h.alloc(OC * C);
  return (form) => {
    if (form === "forward") linearForward(be, out, inp, weight, bias, N, C, OC);
    else if (form === "dinp") linearBackward(be, dinp, 0, 0, dout, inp, weight, N, C, OC);
    else linearBackward(be, 0, dweight, 0, dout, inp, weight, N, C, OC);
  };
}

for (const [N, C, OC] of SHAPES) {
  const calls = backends.map((be) => setup(be, N, C, OC));
  for (const form of ["forward", "dinp", "dweight"] as const) {
    const group = `${form} ${N}×${C}×${OC}`;
    backends.forEach((be, i) => {
      Deno.bench({
        name: `${group} wasm ${be.threads}t`,
        group,
        baseline: be.threads === 1,
        fn: () => calls[i](form),
      });
    });
  }
}
