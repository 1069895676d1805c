/**
 * `eval`: metrics of a saved model on a series (the damped sine or a CSV column), with the
 * model's own scaler, next to the naive baselines a forecaster is judged against.
 *
 * @module
 */
import { type FlagSpec, parseFlags } from "./flags.ts";
import { givenFlags, TRAIN_FLAGS } from "./train_cmd.ts";
import type { PosEncoding } from "../model/config.ts";
import { readModelFile } from "../io/model_file.ts";
import { loadDataset } from "../data/dataset.ts";
import { BTSPFormer } from "../model/model.ts";
import { selectDevice } from "../train/device.ts";
import type { DeviceName } from "../train/options.ts";
import { DEFAULT_DATA } from "../train/options.ts";
import { UserError } from "../util/errors.ts";

const DATA_FLAGS = new Set([
  "seq_len",
  "num_samples",
  "csv",
  "column",
  "amplitude",
  "gamma",
  "omega",
  "phi",
  "t_max",
  "noise",
  "split",
  "seed",
  "batch_size",
  "threads",
  "device",
  "quiet",
  "debug",
  "help",
  "heads",
  "pos_encoding",
]);

/** Flags of `eval`. */
export const EVAL_FLAGS: readonly FlagSpec[] = [
  { name: "checkpoint", type: "path", arg: "FILE", help: "Weights file (.safetensors or .pth)." },
  {
    name: "part",
    type: "enum",
    values: ["all", "val", "train"],
    default: "all",
    help: "Which windows: all of them, or one side of the 80/20 split.",
  },
  { name: "raw", type: "bool", default: false, help: "Do not scale (needed for a .pth)." },
  { name: "json", type: "bool", default: false, help: "Print the metrics as JSON on stdout." },
  ...TRAIN_FLAGS.filter((f) => DATA_FLAGS.has(f.name)),
];

/** Run `eval`. Returns the exit code. */
export async function evalCommand(args: string[]): Promise<number> {
  const v = parseFlags(args, EVAL_FLAGS);
  if (v.checkpoint === undefined) {
    throw new UserError(`Flag "--checkpoint" is required (see eval --help)`);
  }
  if ((v.csv === undefined) !== (v.column === undefined)) {
    throw new UserError(`Flags "--csv" and "--column" go together`);
  }
  // A .pth does not store seq_len: it comes from --seq_len (default 50); a .safetensors file
  // knows its own, and an explicit --seq_len must agree with it.
  const given = givenFlags(args);
  const file = await readModelFile(v.checkpoint as string, {
    seqLen: given.has("seq_len") ? v.seq_len as number : undefined,
    defaultSeqLen: v.seq_len as number,
    heads: v.heads as number | undefined,
    posEncoding: v.pos_encoding as PosEncoding | undefined,
  });
  const cfg = file.config;
  if (!v.raw && !file.scaler) {
    throw new UserError(`"${v.checkpoint}" has no scaler (a .pth stores weights only): pass --raw`);
  }
  const data = await loadDataset({
    ...DEFAULT_DATA,
    source: v.csv ? "csv" : "sine",
    csv: v.csv as string | undefined,
    column: v.column as string | undefined,
    numSamples: (v.num_samples as number) ?? DEFAULT_DATA.numSamples,
    seqLen: cfg.seqLen,
    horizon: cfg.horizon,
    amplitude: v.amplitude as number,
    gamma: v.gamma as number,
    omega: v.omega as number,
    phi: v.phi as number,
    tMax: v.t_max as number,
    noise: v.noise as number,
    split: v.split as "chronological" | "random",
    seed: v.seed as number,
    normalize: "none",
  });
  const scaler = v.raw ? { mean: 0, std: 1 } : file.scaler!;
  const L = cfg.seqLen, K = cfg.horizon;
  const parts = v.part === "train"
    ? [[data.trainX, data.trainY]]
    : v.part === "val"
    ? [[data.valX, data.valY]]
    : [[data.trainX, data.trainY], [data.valX, data.valY]];
  const n = parts.reduce((s, p) => s + p[1].length / K, 0);
  const x = new Float32Array(n * L), y = new Float64Array(n * K);
  let off = 0;
  for (const [px, py] of parts) {
    const c = py.length / K;
    for (let i = 0; i < c * L; i++) x[off * L + i] = (px[i] - scaler.mean) / scaler.std;
    for (let i = 0; i < c * K; i++) y[off * K + i] = py[i];
    off += c;
  }
  const device = await selectDevice(v.device as DeviceName);
  let pred: Float32Array;
  try {
    const model = BTSPFormer.create(cfg, {
      backend: device.backend,
      threads: v.threads as number | undefined,
      attention: device.attention,
    });
    try {
      model.loadStateDict(file.weights);
      pred = await model.predictAsync(x, v.batch_size as number);
    } finally {
      model.close();
    }
  } finally {
    device.attention?.close();
  }
  let sq = 0, ab = 0, psq = 0, pab = 0;
  for (let i = 0; i < n; i++) {
    const last = x[i * L + L - 1] * scaler.std + scaler.mean;
    for (let k = 0; k < K; k++) {
      const d = pred[i * K + k] * scaler.std + scaler.mean - y[i * K + k];
      sq += d * d;
      ab += Math.abs(d);
      const dp = last - y[i * K + k];
      psq += dp * dp;
      pab += Math.abs(dp);
    }
  }
  const m = n * K, s = scaler.std;
  const result = {
    checkpoint: v.checkpoint,
    windows: n,
    part: v.part,
    mse: sq / m,
    mae: ab / m,
    rmse: Math.sqrt(sq / m),
    mseNormalized: sq / m / (s * s),
    maeNormalized: ab / m / s,
    rmseNormalized: Math.sqrt(sq / m) / s,
    persistence: { mse: psq / m, mae: pab / m, rmse: Math.sqrt(psq / m) },
  };
  if (v.json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    console.log(
      `${n} windows (${v.part}) of ${data.description}\n` +
        `model:       mse ${result.mse.toPrecision(6)}  mae ${result.mae.toPrecision(6)}  rmse ${
          result.rmse.toPrecision(6)
        }  (original units)\n` +
        `             mse ${result.mseNormalized.toPrecision(6)}  mae ${
          result.maeNormalized.toPrecision(6)
        }  rmse ${result.rmseNormalized.toPrecision(6)}  (normalized)\n` +
        `persistence: mse ${result.persistence.mse.toPrecision(6)}  mae ${
          result.persistence.mae.toPrecision(6)
        }  rmse ${result.persistence.rmse.toPrecision(6)}  (next = last value)`,
    );
  }
  return 0;
}
