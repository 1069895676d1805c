/**
 * Training and inference throughput of the default config (L=50, D=64, H=4, 2 layers, batch
 * 128, 8000 training windows of the damped sine), for 1 and 2 threads.
 *
 * Usage: deno run -A bench/train_throughput.ts [--json] [--steps 20] [--threads 1,2]
 *        [--attention btsp,standard] [--epoch]
 *
 * A "step" is what the trainer does per batch: forward, MSE, backward, clip, AdamW. `--epoch`
 * also times one whole epoch through `train()` (validation included).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { BTSPFormer } from "../src/model/model.ts";
import { Optimizer } from "../src/train/optimizer.ts";
import { mseLoss } from "../src/ops/loss.ts";
import { buildDataset } from "../src/data/dataset.ts";
import { DEFAULT_DATA } from "../src/train/options.ts";
import { dampedSine } from "../src/data/series.ts";
import { train } from "../src/train/trainer.ts";
import type { AttentionMode } from "../src/ops/attention.ts";

/** One measured configuration. */
export interface ThroughputResult {
  attention: AttentionMode;
  threads: number;
  trainSamplesPerSec: number;
  stepMs: number;
  inferenceSamplesPerSec: number;
  epochSeconds?: number;
}

const B = 128, L = 50, TRAIN_WINDOWS = 8000;

function dataset() {
  const d = { ...DEFAULT_DATA, numSamples: 10000 };
  const { x } = dampedSine({
    numPoints: d.numSamples + L,
    amplitude: 1,
    gamma: 0.1,
    omega: 2,
    phi: 0,
    tMax: 20,
    noise: 0,
    seed: 42,
  });
  return buildDataset(d, x);
}

/** Time `steps` training steps and an inference pass over the training windows. */
export function measure(
  attention: AttentionMode,
  threads: number,
  steps: number,
): ThroughputResult {
  const ds = dataset();
  const model = BTSPFormer.create({ attention }, { threads, seed: 1 });
  try {
    const be = model.backend, heap = be.heap;
    const opt = new Optimizer(model, { name: "adamw", weightDecay: 0.01 });
    const target = heap.alloc(B), dpred = heap.alloc(B);
    const step = (s: number) => {
      const lo = (s * B) % (TRAIN_WINDOWS - B);
      model.setInput(ds.trainX.subarray(lo * L, (lo + B) * L), B);
      heap.write(target, ds.trainY.subarray(lo, lo + B));
      const pred = model.forward(B, { training: true, key0: 42, key1: s });
      mseLoss(be, dpred, pred, target, B);
      model.backward(B, dpred);
      opt.clip(1);
      opt.step(1e-3);
    };
    for (let s = 0; s < 3; s++) step(s); // warm-up: JIT, memory growth
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) step(s + 3);
    const ms = (performance.now() - t0) / steps;
    const inf = ds.trainX.subarray(0, TRAIN_WINDOWS * L);
    model.predict(inf.subarray(0, 4 * B * L), B);
    const t1 = performance.now();
    model.predict(inf, B);
    const infSec = (performance.now() - t1) / 1000;
    return {
      attention,
      threads,
      trainSamplesPerSec: (B * 1000) / ms,
      stepMs: ms,
      inferenceSamplesPerSec: TRAIN_WINDOWS / infSec,
    };
  } finally {
    model.close();
  }
}

/** One whole epoch through the trainer (8000 training windows + validation). */
export async function epochSeconds(attention: AttentionMode, threads: number): Promise<number> {
  const r = await train({ epochs: 1, threads, model: { attention } });
  return r.history[0].seconds;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      json: { type: "boolean", default: false },
      epoch: { type: "boolean", default: false },
      steps: { type: "string", default: "20" },
      threads: { type: "string", default: "1,2" },
      attention: { type: "string", default: "btsp,standard" },
    },
  });
  const results: ThroughputResult[] = [];
  for (const attention of values.attention.split(",") as AttentionMode[]) {
    for (const threads of values.threads.split(",").map(Number)) {
      const r = measure(attention, threads, Number(values.steps));
      if (values.epoch) r.epochSeconds = await epochSeconds(attention, threads);
      results.push(r);
      if (!values.json) {
        console.log(
          `${attention.padEnd(8)} threads ${threads}: train ${
            r.trainSamplesPerSec.toFixed(0)
          } samples/s (${r.stepMs.toFixed(1)} ms/step), inference ${
            r.inferenceSamplesPerSec.toFixed(0)
          } samples/s` + (r.epochSeconds ? `, epoch ${r.epochSeconds.toFixed(1)} s` : ""),
        );
      }
    }
  }
  if (values.json) {
    console.log(JSON.stringify({ config: { B, L, D: 64, H: 4, layers: 2 }, results }));
  }
}
