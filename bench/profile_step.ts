/**
 * Where a training step spends its time: wraps the backend's `run` to time every kernel call,
 * then prints the share of each kernel over `--steps` steps of the default config.
 *
 * Usage: deno run -A bench/profile_step.ts [--threads 1] [--attention btsp] [--steps 10] [--json]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { BTSPFormer } from "../src/model/model.ts";
import { Optimizer } from "../src/train/optimizer.ts";
import { mseLoss } from "../src/ops/loss.ts";
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
const stats = new Map<string, { ms: number; calls: number }>();
const run = be.run.bind(be);
let on = false;
be.run = (kernel, tasks, args, flops) => {
  if (!on) return run(kernel, tasks, args, flops);
  const t = performance.now();
  run(kernel, tasks, args, flops);
  const s = stats.get(kernel) ?? { ms: 0, calls: 0 };
  s.ms += performance.now() - t;
  s.calls++;
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
model.close();
const kernelMs = [...stats.values()].reduce((a, s) => a + s.ms, 0);
const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms).map(([k, s]) => ({
  kernel: k,
  msPerStep: s.ms / steps,
  share: s.ms / total,
  callsPerStep: s.calls / steps,
}));
if (values.json) {
  console.log(
    JSON.stringify({ msPerStep: total / steps, kernelMsPerStep: kernelMs / steps, rows }),
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
      }%  ${r.callsPerStep} calls`,
    );
  }
}
