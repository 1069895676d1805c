/**
 * Where a training step spends its time: wraps the backend's `run` to time every kernel call,
 * then prints the share of each kernel over `--steps` steps of the default config, and the
 * GFLOP/s the matmul kernels reach inside the step next to their own best rate on the same
 * backend (one 6400×64×256 forward matmul, warm, best of 20 calls).
 *
 * Usage: deno run -A bench/profile_step.ts [--threads 1] [--attention btsp] [--steps 10] [--json]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { BTSPFormer } from "../src/model/model.ts";
import { Optimizer } from "../src/train/optimizer.ts";
import { mseLoss } from "../src/ops/loss.ts";
import { linearForward } from "../src/ops/linear.ts";
import type { AttentionMode } from "../src/ops/attention.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    threads: { type: "string", default: "1" },
    attention: { type: "string", default: "btsp" },
    steps: { type: "string", default: "10" },
    json: { type: "boolean", default: false },
  },
});
const B = 128, L = 50;
const model = BTSPFormer.create({ attention: values.attention as AttentionMode }, {
  threads: Number(values.threads),
});
const be = model.backend;
const stats = new Map<string, { ms: number; calls: number; flops: number }>();
/** Multiply-adds ×2 of a matmul call, from its argument list (asm/linear.ts). */
function matmulFlops(kernel: string, args: readonly number[]): number {
  if (kernel === "linear_matmul") return 2 * args[4] * args[5] * args[6];
  if (kernel === "linear_dweight") return 2 * args[6] * args[7] * args[8];
  return 0;
}
const run = be.run.bind(be);
let on = false;
be.run = (kernel, tasks, args, flops) => {
  if (!on) return run(kernel, tasks, args, flops);
  const t = performance.now();
  run(kernel, tasks, args, flops);
  const s = stats.get(kernel) ?? { ms: 0, calls: 0, flops: 0 };
  s.ms += performance.now() - t;
  s.calls++;
  s.flops += matmulFlops(kernel, args);
  stats.set(kernel, s);
};
const opt = new Optimizer(model, { name: "adamw", weightDecay: 0.01 });
const x = new Float32Array(B * L).map((_, i) => Math.sin(i / 7));
const target = be.heap.alloc(B), dpred = be.heap.alloc(B);
const steps = Number(values.steps);
let total = 0;
for (let s = 0; s < steps + 2; s++) {
  on = s >= 2;
  const t = performance.now();
  model.setInput(x, B);
  const pred = model.forward(B, { training: true, key0: 1, key1: s });
  mseLoss(be, dpred, pred, target, B);
  model.backward(B, dpred);
  opt.clip(1);
  opt.step(1e-3);
  if (on) total += performance.now() - t;
}
on = false;
// The kernel's own rate on this backend: warm inputs, nothing else running in between.
const own = (() => {
  const N = 6400, C = 64, OC = 256, mark = be.heap.mark();
  const inp = be.heap.alloc(N * C), w = be.heap.alloc(OC * C), out = be.heap.alloc(N * OC);
  let best = Infinity;
  for (let i = 0; i < 21; i++) {
    const t = performance.now();
    linearForward(be, out, inp, w, 0, N, C, OC);
    if (i > 0) best = Math.min(best, performance.now() - t);
  }
  be.heap.release(mark);
  return (2 * N * C * OC) / best / 1e6;
})();
model.close();
const matmul = [...stats.values()].reduce(
  (a, s) => s.flops > 0 ? { ms: a.ms + s.ms, flops: a.flops + s.flops } : a,
  { ms: 0, flops: 0 },
);
const matmulGflops = matmul.flops / matmul.ms / 1e6;
const kernelMs = [...stats.values()].reduce((a, s) => a + s.ms, 0);
const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms).map(([k, s]) => ({
  kernel: k,
  msPerStep: s.ms / steps,
  share: s.ms / total,
  callsPerStep: s.calls / steps,
  ...(s.flops > 0 ? { gflops: s.flops / s.ms / 1e6 } : {}),
}));
if (values.json) {
  console.log(
    JSON.stringify({
      msPerStep: total / steps,
      kernelMsPerStep: kernelMs / steps,
      matmulGflopsInStep: matmulGflops,
      matmulGflopsOwn: own,
      rows,
    }),
  );
} else {
  console.log(
    `${(total / steps).toFixed(1)} ms/step, kernels ${(kernelMs / steps).toFixed(1)} ms ` +
      `(${((100 * kernelMs) / total).toFixed(0)}%), threads ${values.threads}, ${values.attention}`,
  );
  for (const r of rows) {
    console.log(
      `${r.kernel.padEnd(28)} ${r.msPerStep.toFixed(2).padStart(7)} ms ${
        (100 * r.share).toFixed(1).padStart(5)
      }%  ${r.callsPerStep} calls${r.gflops ? `  ${r.gflops.toFixed(1)} GFLOP/s` : ""}`,
    );
  }
  console.log(
    `matmuls in the step: ${matmulGflops.toFixed(1)} GFLOP/s, ${
      (100 * matmulGflops / own).toFixed(0)
    }% of the kernel's own ${own.toFixed(1)} GFLOP/s (6400×64×256 forward, best of 20)`,
  );
}
