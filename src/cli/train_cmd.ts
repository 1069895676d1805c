/**
 * `train`: the seed's command line (same flag names and defaults) plus the trainer's, data and
 * model flags. Parsing and printing only; the work is `train()` in src/train/trainer.ts.
 *
 * @module
 */
import { type FlagSpec, type FlagValues, parseFlags } from "./flags.ts";
import { train, type TrainEvent } from "../train/trainer.ts";
import type { TrainOptionsInput } from "../train/options.ts";
import { Progress } from "./progress.ts";
import { UserError } from "../util/errors.ts";

/** Flags of `train`, in --help order. */
export const TRAIN_FLAGS: readonly FlagSpec[] = [
  { name: "seq_len", type: "int", default: 50, min: 1, help: "Window length L." },
  {
    name: "num_samples",
    type: "int",
    default: 10000,
    min: 1,
    help: "Windows generated from the damped sine (time points with --preset original: 5000).",
  },
  { name: "batch_size", type: "int", default: 128, min: 1, help: "Mini-batch size." },
  { name: "epochs", type: "int", default: 100, min: 1, help: "Total epochs (resumed ones count)." },
  { name: "lr", type: "float", default: 1e-3, min: 0, minExclusive: true, help: "Learning rate." },
  {
    name: "use_gpu",
    type: "bool",
    default: false,
    help: "Run attention on WebGPU when a hardware adapter exists, else say so and use Wasm.",
  },
  { name: "model_dim", type: "int", default: 64, min: 2, help: "Model width D (even)." },
  { name: "heads", type: "int", default: 4, min: 1, help: "Attention heads (must divide D)." },
  { name: "layers", type: "int", default: 2, min: 1, help: "Transformer blocks." },
  { name: "horizon", type: "int", default: 1, min: 1, help: "Values predicted per window." },
  {
    name: "attention",
    type: "enum",
    values: ["btsp", "standard", "original"],
    default: "btsp",
    help: "Attention: BTSP (spec §3), plain softmax, or the reference repository's.",
  },
  {
    name: "pos_encoding",
    type: "enum",
    values: ["predictive", "sinusoidal", "none"],
    default: "predictive",
    help: "Positional encoding.",
  },
  { name: "dropout", type: "float", default: 0.1, min: 0, max: 0.99, help: "Dropout rate." },
  {
    name: "optimizer",
    type: "enum",
    values: ["adamw", "adam"],
    default: "adamw",
    help: "Optimizer.",
  },
  {
    name: "weight_decay",
    type: "float",
    min: 0,
    help: "Weight decay (default: 0.01 for adamw, 0 for adam).",
    arg: "X",
  },
  {
    name: "clip",
    type: "float",
    default: 1.0,
    min: 0,
    help: "Global gradient-norm clip (0: off).",
  },
  {
    name: "patience",
    type: "int",
    default: 15,
    min: 0,
    help: "Early-stopping patience in epochs on validation MSE (0: off).",
  },
  { name: "seed", type: "int", default: 42, min: 0, help: "Seed for init, dropout, shuffling." },
  { name: "csv", type: "path", arg: "FILE", help: "Train on a CSV column instead of the sine." },
  { name: "column", type: "string", arg: "NAME", help: "Column of --csv to use." },
  { name: "amplitude", type: "float", default: 1, help: "Damped sine: A." },
  { name: "gamma", type: "float", default: 0.1, min: 0, help: "Damped sine: damping γ." },
  { name: "omega", type: "float", default: 2, help: "Damped sine: angular frequency ω." },
  { name: "phi", type: "float", default: 0, help: "Damped sine: phase φ." },
  {
    name: "t_max",
    type: "float",
    default: 20,
    min: 0,
    minExclusive: true,
    help: "Damped sine: t runs over [0, t_max].",
  },
  { name: "noise", type: "float", default: 0, min: 0, help: "Gaussian noise σ added to the sine." },
  {
    name: "split",
    type: "enum",
    values: ["chronological", "random"],
    default: "chronological",
    help: "80/20 train/validation split.",
  },
  {
    name: "normalize",
    type: "enum",
    values: ["train", "global", "none"],
    default: "train",
    help: "z-score fitted on the training part, the whole series, or none.",
  },
  {
    name: "preset",
    type: "enum",
    values: ["none", "original"],
    default: "none",
    help: "original: the reference repository's semantics (spec §5).",
  },
  { name: "out_dir", type: "path", default: "runs", arg: "DIR", help: "Output folder." },
  {
    name: "threads",
    type: "int",
    min: 1,
    max: 256,
    help: "CPU threads (default: all cores).",
    arg: "N",
  },
  {
    name: "device",
    type: "enum",
    values: ["auto", "wasm", "webgpu", "ref"],
    default: "wasm",
    help: "Where attention runs (auto: WebGPU on a hardware adapter).",
  },
  { name: "resume", type: "path", arg: "FILE", help: "Continue from a checkpoint." },
  {
    name: "loss_scale",
    type: "enum",
    values: ["log", "linear"],
    default: "log",
    help: "Y axis of the loss curve.",
  },
  { name: "quiet", type: "bool", default: false, help: "Print nothing but errors." },
  { name: "debug", type: "bool", default: false, help: "Print stack traces of failures." },
  { name: "help", type: "bool", default: false, help: "Show this help." },
];

/** Turn parsed flags into trainer options (explicit flags only, so presets can fill the rest). */
export function trainOptionsFromFlags(v: FlagValues, given: Set<string>): TrainOptionsInput {
  const pick = <T>(name: string): T | undefined => (given.has(name) ? (v[name] as T) : undefined);
  if ((v.csv === undefined) !== (v.column === undefined)) {
    throw new UserError(
      v.csv === undefined
        ? `Flag "--column" needs "--csv FILE" too`
        : `Flag "--csv" needs "--column NAME" too (the header name of the series)`,
    );
  }
  let device = v.device as TrainOptionsInput["device"];
  if (v.use_gpu && !given.has("device")) device = "auto";
  return {
    data: {
      source: v.csv ? "csv" : "sine",
      csv: v.csv as string | undefined,
      column: v.column as string | undefined,
      numSamples: pick("num_samples"),
      seqLen: v.seq_len as number,
      horizon: v.horizon as number,
      amplitude: v.amplitude as number,
      gamma: v.gamma as number,
      omega: v.omega as number,
      phi: v.phi as number,
      tMax: v.t_max as number,
      noise: v.noise as number,
      split: pick("split"),
      normalize: pick("normalize"),
      seed: pick("seed"),
      preset: v.preset as "none" | "original",
    },
    model: {
      seqLen: v.seq_len as number,
      horizon: v.horizon as number,
      modelDim: v.model_dim as number,
      heads: v.heads as number,
      layers: v.layers as number,
      attention: pick("attention"),
      posEncoding: pick("pos_encoding"),
      dropout: v.dropout as number,
    },
    epochs: v.epochs as number,
    batchSize: v.batch_size as number,
    lr: v.lr as number,
    optimizer: v.optimizer as "adamw" | "adam",
    weightDecay: v.weight_decay as number | undefined,
    clip: v.clip as number,
    patience: pick("patience"),
    seed: v.seed as number,
    threads: v.threads as number | undefined,
    device,
    outDir: v.out_dir as string,
    resume: v.resume as string | undefined,
  };
}

/** Names of the flags present in `args` (so defaults don't override presets). */
export function givenFlags(args: string[]): Set<string> {
  const s = new Set<string>();
  for (const a of args) if (a.startsWith("--")) s.add(a.slice(2).split("=")[0]);
  return s;
}

/** Run `train`. Returns the exit code. */
export async function trainCommand(args: string[], signal: AbortSignal): Promise<number> {
  const v = parseFlags(args, TRAIN_FLAGS);
  const given = givenFlags(args);
  const input = trainOptionsFromFlags(v, given);
  const progress = new Progress(Boolean(v.quiet));
  const result = await train(input, {
    signal,
    onEvent: (e: TrainEvent) => progress.event(e),
    lossScale: v.loss_scale as "log" | "linear",
  });
  if (result.stopReason === "interrupted") {
    progress.notice(
      `Interrupted: ${v.out_dir}/checkpoints/last.safetensors holds epoch ${result.epochs}; ` +
        `continue with --resume ${v.out_dir}/checkpoints/last.safetensors`,
    );
    return 130;
  }
  return 0;
}
