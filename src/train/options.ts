/**
 * Everything a training run is configured by, with the defaults of the CLI and the
 * `--preset original` rules of spec §5. The CLI parses flags into a `Partial<TrainOptions>`;
 * library users pass one directly.
 *
 * @module
 */
import type { DataOptions } from "../data/dataset.ts";
import { DEFAULT_MODEL_CONFIG, type ModelConfig, resolveModelConfig } from "../model/config.ts";
import type { OptimizerName } from "./optimizer.ts";
import { UserError } from "../util/errors.ts";

/** Where the attention hot loop runs (the rest of a step always runs on the CPU backend). */
export type DeviceName = "auto" | "wasm" | "webgpu" | "ref";

/** Options of one training run. */
export interface TrainOptions {
  /** The data: a generated damped sine, a CSV column, or (library use) an in-memory series. */
  data: DataOptions;
  /** An in-memory series to train on instead of `data.source` (library use). */
  series?: ArrayLike<number>;
  model: ModelConfig;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: OptimizerName;
  weightDecay: number;
  /** Global gradient-norm clip; 0 disables. */
  clip: number;
  /** Early-stopping patience in epochs; 0 disables. */
  patience: number;
  plateauFactor: number;
  plateauPatience: number;
  plateauThreshold: number;
  seed: number;
  /** CPU threads for the wasm backend (main thread included). */
  threads: number;
  device: DeviceName;
  /** Where files go; undefined writes nothing (library use). */
  outDir?: string;
  /** Checkpoint to continue from. */
  resume?: string;
}

/** Default data options: the damped sine of spec §1. */
export const DEFAULT_DATA: Readonly<DataOptions> = {
  source: "sine",
  numSamples: 10000,
  seqLen: 50,
  horizon: 1,
  amplitude: 1,
  gamma: 0.1,
  omega: 2,
  phi: 0,
  tMax: 20,
  noise: 0,
  split: "chronological",
  normalize: "train",
  seed: 42,
  preset: "none",
};

/** What a caller may set: nested parts partially too. */
export type TrainOptionsInput =
  & Partial<Omit<TrainOptions, "data" | "model">>
  & { data?: Partial<DataOptions>; model?: Partial<ModelConfig> };

/**
 * Fill defaults, apply `preset: "original"` (spec §5) and validate.
 *
 * @example
 * ```ts
 * import { resolveTrainOptions } from "./options.ts";
 * const o = resolveTrainOptions({ epochs: 3, model: { modelDim: 32 } });
 * console.log(o.batchSize, o.model.modelDim, o.weightDecay); // 128 32 0.01
 * ```
 */
export function resolveTrainOptions(input: TrainOptionsInput = {}): TrainOptions {
  const preset = input.data?.preset ?? "none";
  const presetData: Partial<DataOptions> = preset === "original"
    ? { numSamples: 5000, split: "random", normalize: "global", seed: 42 }
    : {};
  const data: DataOptions = { ...DEFAULT_DATA, ...presetData, ...stripUndefined(input.data) };
  const optimizer = input.optimizer ?? "adamw";
  const presetModel: Partial<ModelConfig> = preset === "original"
    ? { attention: "original", posEncoding: "none" }
    : {};
  const model = resolveModelConfig({
    ...DEFAULT_MODEL_CONFIG,
    ...presetModel,
    ...stripUndefined(input.model),
    seqLen: input.model?.seqLen ?? data.seqLen,
    horizon: input.model?.horizon ?? data.horizon,
  });
  data.seqLen = model.seqLen;
  data.horizon = model.horizon;
  const o: TrainOptions = {
    epochs: 100,
    batchSize: 128,
    lr: 1e-3,
    optimizer,
    weightDecay: optimizer === "adamw" ? 0.01 : 0,
    clip: 1.0,
    patience: preset === "original" ? 0 : 15,
    plateauFactor: 0.5,
    plateauPatience: 8,
    plateauThreshold: 1e-4,
    seed: 42,
    threads: Math.max(1, navigator.hardwareConcurrency || 1),
    device: "wasm",
    ...stripUndefined(input),
    data,
    model,
  };
  positiveInt("epochs", o.epochs);
  positiveInt("batchSize", o.batchSize);
  positiveInt("threads", o.threads);
  nonNegativeInt("patience", o.patience);
  nonNegativeInt("plateauPatience", o.plateauPatience);
  nonNegativeInt("seed", o.seed);
  positiveNumber("lr", o.lr);
  nonNegativeNumber("weightDecay", o.weightDecay);
  nonNegativeNumber("clip", o.clip);
  nonNegativeNumber("plateauThreshold", o.plateauThreshold);
  if (!(o.plateauFactor > 0 && o.plateauFactor < 1)) {
    throw new UserError(
      `Invalid option "plateauFactor": expected a number in (0, 1), got ${o.plateauFactor}`,
    );
  }
  if (o.optimizer !== "adamw" && o.optimizer !== "adam") {
    throw new UserError(`Invalid option "optimizer": expected adamw or adam, got "${o.optimizer}"`);
  }
  if (!["auto", "wasm", "webgpu", "ref"].includes(o.device)) {
    throw new UserError(
      `Invalid option "device": expected auto, wasm, webgpu or ref, got "${o.device}"`,
    );
  }
  return o;
}

function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (!o) return out;
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as any)[k] = v;
  return out;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new UserError(`Invalid option "${name}": expected a positive integer, got ${v}`);
  }
}

function nonNegativeInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) {
    throw new UserError(`Invalid option "${name}": expected a non-negative integer, got ${v}`);
  }
}

function positiveNumber(name: string, v: number): void {
  if (!(Number.isFinite(v) && v > 0)) {
    throw new UserError(`Invalid option "${name}": expected a positive number, got ${v}`);
  }
}

function nonNegativeNumber(name: string, v: number): void {
  if (!(Number.isFinite(v) && v >= 0)) {
    throw new UserError(`Invalid option "${name}": expected a non-negative number, got ${v}`);
  }
}
