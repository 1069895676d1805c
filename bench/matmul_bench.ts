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
import { prepare, SHAPES } from "./kernels.ts";

const backends: Backend[] = [1, 2].map((threads) => createBackend("wasm", { threads }));
// The pool's workers would keep the process alive after the last bench.
globalThis.addEventListener("unload", () => backends.forEach((be) => be.close()));

for (const [N, C, OC] of SHAPES) {
  const prepared = backends.map((be) => prepare(be, N, C, OC));
  for (const form of ["forward", "dinp", "dweight"] as const) {
    const group = `${form} ${N}×${C}×${OC}`;
    backends.forEach((be, i) => {
      Deno.bench({
        name: `${group} wasm ${be.threads}t`,
        group,
        baseline: be.threads === 1,
        fn: () => prepared[i].call(form),
      });
    });
  }
}
