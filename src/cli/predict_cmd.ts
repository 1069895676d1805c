/**
 * `predict`: windows in (one per CSV line), predictions out (one line per window, `horizon`
 * values), in batches of `--batch_size` in file order.
 *
 * @module
 */
import { type FlagSpec, parseFlags } from "./flags.ts";
import { readModelFile } from "../io/model_file.ts";
import { readWindowsCsv } from "../io/windows_csv.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { BTSPFormer } from "../model/model.ts";
import { selectDevice } from "../train/device.ts";
import type { DeviceName } from "../train/options.ts";
import type { PosEncoding } from "../model/config.ts";
import type { AttentionMode } from "../ops/attention.ts";
import { UserError } from "../util/errors.ts";

/** Flags of `predict`. */
export const PREDICT_FLAGS: readonly FlagSpec[] = [
  {
    name: "checkpoint",
    type: "path",
    arg: "FILE",
    help: "Weights: .safetensors (ours) or .pth (torch.save state dict).",
  },
  { name: "input", type: "path", arg: "FILE", help: "CSV, one window of seq_len values per line." },
  {
    name: "output",
    type: "path",
    arg: "FILE",
    help: "CSV written: one line of predictions per window.",
  },
  { name: "batch_size", type: "int", default: 128, min: 1, help: "Windows per batch." },
  { name: "raw", type: "bool", default: false, help: "Values are model units: no scaler." },
  {
    name: "heads",
    type: "int",
    min: 1,
    help: "Heads, for a .pth without BTSP tensors (default: 4).",
  },
  {
    name: "pos_encoding",
    type: "enum",
    values: ["predictive", "sinusoidal", "none"],
    help: "Positional encoding of a .pth (default: predictive; none for original).",
  },
  {
    name: "attention",
    type: "enum",
    values: ["btsp", "standard", "original"],
    help: "Expected attention mode (read from the tensors; a mismatch is an error).",
  },
  {
    name: "device",
    type: "enum",
    values: ["auto", "wasm", "webgpu", "ref"],
    default: "wasm",
    help: "Where attention runs.",
  },
  { name: "threads", type: "int", min: 1, max: 256, help: "CPU threads (default: all cores)." },
  { name: "quiet", type: "bool", default: false, help: "Print nothing but errors." },
  { name: "debug", type: "bool", default: false, help: "Print stack traces of failures." },
  { name: "help", type: "bool", default: false, help: "Show this help." },
];

/** Run `predict`. Returns the exit code. */
export async function predictCommand(args: string[]): Promise<number> {
  const v = parseFlags(args, PREDICT_FLAGS);
  for (const f of ["checkpoint", "input", "output"]) {
    if (v[f] === undefined) throw new UserError(`Flag "--${f}" is required (see predict --help)`);
  }
  const windows = await readWindowsCsv(v.input as string);
  const file = await readModelFile(v.checkpoint as string, {
    seqLen: windows.width,
    heads: v.heads as number | undefined,
    posEncoding: v.pos_encoding as PosEncoding | undefined,
    attention: v.attention as AttentionMode | undefined,
  });
  if (!v.raw && !file.scaler) {
    throw new UserError(
      `"${v.checkpoint}" has no scaler (a .pth stores weights only): pass --raw to feed values as the model sees them`,
    );
  }
  const x = windows.values;
  if (!v.raw) {
    const { mean, std } = file.scaler!;
    for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean) / std;
  }
  const device = await selectDevice(v.device as DeviceName);
  let pred: Float32Array;
  try {
    const model = BTSPFormer.create(file.config, {
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
  const K = file.config.horizon;
  const lines: string[] = [];
  for (let i = 0; i < windows.count; i++) {
    const row: string[] = [];
    for (let k = 0; k < K; k++) {
      let y = pred[i * K + k];
      if (!v.raw) y = y * file.scaler!.std + file.scaler!.mean;
      row.push(String(y));
    }
    lines.push(row.join(","));
  }
  await writeFileAtomic(v.output as string, lines.join("\n") + "\n");
  if (!v.quiet) {
    console.error(
      `Wrote ${windows.count} prediction(s) of ${K} value(s) to ${v.output} ` +
        `(${file.config.attention} model from ${file.format}, device ${device.name})`,
    );
  }
  return 0;
}
