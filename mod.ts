/**
 * BTSPFormer for Deno: a Transformer for time-series prediction whose attention and positional
 * encoding follow behavioural-timescale synaptic plasticity, with Wasm SIMD + threads kernels.
 *
 * Library use:
 * ```ts
 * import { BTSPFormer, train } from "./mod.ts";
 * const series = Array.from({ length: 400 }, (_, i) => Math.exp(-i / 200) * Math.cos(i / 4));
 * let model: BTSPFormer | undefined;
 * await train(
 *   { series, epochs: 2, threads: 1, data: { seqLen: 16 }, model: { modelDim: 16, heads: 2, layers: 1 } },
 *   { keepModel: (m) => (model = m) },
 * );
 * console.log(model!.predict([series.slice(0, 16)]).length); // 1
 * model!.close();
 * ```
 *
 * Command line: `deno run -A mod.ts train` (see `--help`).
 *
 * @module
 */
export { BTSPFormer, type ModelOptions } from "./src/model/model.ts";
export type { AttentionMode } from "./src/ops/attention.ts";
export {
  DEFAULT_MODEL_CONFIG,
  type ModelConfig,
  type PosEncoding,
  resolveModelConfig,
} from "./src/model/config.ts";
export { positionalEncoding } from "./src/model/posenc.ts";
export {
  evaluate,
  train,
  type TrainControls,
  type TrainEvent,
  type TrainResult,
} from "./src/train/trainer.ts";
export {
  DEFAULT_DATA,
  resolveTrainOptions,
  type TrainOptions,
  type TrainOptionsInput,
} from "./src/train/options.ts";
export { loadCheckpoint, saveCheckpoint } from "./src/train/checkpoint.ts";
export { readModelFile } from "./src/io/model_file.ts";
export { decodeSafetensors, encodeSafetensors } from "./src/io/safetensors.ts";
export { decodePth, encodePth } from "./src/io/pth.ts";
export { type Backend, type BackendName, createBackend } from "./src/engine/backend.ts";
export { UserError } from "./src/util/errors.ts";
export { main, VERSION } from "./src/cli/main.ts";

import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
