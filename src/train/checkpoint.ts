/**
 * Checkpoints and final model files in safetensors. Everything a run needs to continue
 * bit-exactly lives in one file: weights, optimizer moments, best-so-far weights, and in the
 * metadata the config, scaler, scheduler/early-stopping/RNG state, epoch and history.
 *
 * Tensor names: spec §6 names for the weights; `optim.exp_avg.<name>`, `optim.exp_avg_sq.<name>`
 * for the moments; `best.<name>` for the best-so-far weights.
 *
 * @module
 */
import { decodeSafetensors, encodeSafetensors, type NamedTensors } from "../io/safetensors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { type ModelConfig, resolveModelConfig } from "../model/config.ts";
import type { Scaler } from "../data/scaler.ts";
import { UserError } from "../util/errors.ts";

/** Format tag written into every file's metadata. */
export const CHECKPOINT_FORMAT = "btspformer";
/** Bumped when the layout of the metadata changes incompatibly. */
export const FORMAT_VERSION = 1;

/** What a checkpoint or model file holds. */
export interface CheckpointData {
  /** "checkpoint" (resumable) or "model" (final weights only). */
  kind: "checkpoint" | "model";
  config: ModelConfig;
  scaler: Scaler;
  /** Spec §6 name → tensor. */
  weights: NamedTensors;
  /** Present in checkpoints: the trainer's state (JSON-safe). */
  trainState?: Record<string, unknown>;
  /** Present in checkpoints: optimizer moments and best weights by name. */
  expAvg?: NamedTensors;
  expAvgSq?: NamedTensors;
  best?: NamedTensors;
}

/**
 * Serialise to safetensors bytes.
 *
 * @example
 * ```ts
 * import { decodeCheckpoint, encodeCheckpoint } from "./checkpoint.ts";
 * import { DEFAULT_MODEL_CONFIG } from "../model/config.ts";
 * const weights = new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]);
 * const bytes = encodeCheckpoint({
 *   kind: "model", config: { ...DEFAULT_MODEL_CONFIG }, scaler: { mean: 0, std: 1 }, weights,
 * });
 * console.log(decodeCheckpoint(bytes, "x").weights.get("w")?.data[1]); // 2
 * ```
 */
export function encodeCheckpoint(c: CheckpointData): Uint8Array {
  const all: NamedTensors = new Map(c.weights);
  const add = (prefix: string, t?: NamedTensors) => {
    if (t) { for (const [k, v] of t) all.set(prefix + k, v); }
  };
  add("optim.exp_avg.", c.expAvg);
  add("optim.exp_avg_sq.", c.expAvgSq);
  add("best.", c.best);
  const meta: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    format_version: String(FORMAT_VERSION),
    kind: c.kind,
    config: JSON.stringify(c.config),
    scaler: JSON.stringify(c.scaler),
  };
  if (c.trainState) meta.train_state = stringifyState(c.trainState);
  return encodeSafetensors(all, meta);
}

/**
 * Parse safetensors bytes written by {@linkcode encodeCheckpoint}; `source` names the file in
 * error messages.
 *
 * @example
 * ```ts
 * import { decodeCheckpoint } from "./checkpoint.ts";
 * try {
 *   decodeCheckpoint(new Uint8Array([1, 2, 3]), "junk.safetensors");
 * } catch (e) {
 *   console.log((e as Error).name); // UserError
 * }
 * ```
 */
export function decodeCheckpoint(bytes: Uint8Array, source: string): CheckpointData {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new UserError(
      `Cannot load "${source}": not a BTSPFormer file (metadata "format" is ${
        JSON.stringify(metadata.format ?? null)
      })`,
    );
  }
  if (Number(metadata.format_version) > FORMAT_VERSION) {
    throw new UserError(
      `Cannot load "${source}": format version ${metadata.format_version} is newer than ${FORMAT_VERSION}`,
    );
  }
  let config: ModelConfig, scaler: Scaler;
  try {
    config = resolveModelConfig(JSON.parse(metadata.config));
    scaler = JSON.parse(metadata.scaler);
  } catch (e) {
    throw new UserError(`Cannot load "${source}": bad config or scaler metadata (${msg(e)})`);
  }
  if (!Number.isFinite(scaler?.mean) || !(scaler?.std > 0)) {
    throw new UserError(`Cannot load "${source}": bad scaler ${metadata.scaler}`);
  }
  const weights: NamedTensors = new Map(), expAvg: NamedTensors = new Map();
  const expAvgSq: NamedTensors = new Map(), best: NamedTensors = new Map();
  for (const [k, v] of tensors) {
    if (k.startsWith("optim.exp_avg_sq.")) expAvgSq.set(k.slice(17), v);
    else if (k.startsWith("optim.exp_avg.")) expAvg.set(k.slice(14), v);
    else if (k.startsWith("best.")) best.set(k.slice(5), v);
    else weights.set(k, v);
  }
  const out: CheckpointData = {
    kind: metadata.kind === "checkpoint" ? "checkpoint" : "model",
    config,
    scaler,
    weights,
  };
  if (metadata.train_state) {
    try {
      out.trainState = parseState(metadata.train_state);
    } catch (e) {
      throw new UserError(`Cannot load "${source}": bad train_state metadata (${msg(e)})`);
    }
    out.expAvg = expAvg;
    out.expAvgSq = expAvgSq;
    out.best = best;
  }
  return out;
}

/**
 * Write a checkpoint atomically (temp file + rename).
 *
 * @example
 * ```ts ignore
 * import { saveCheckpoint } from "./checkpoint.ts";
 * await saveCheckpoint("runs/checkpoints/last.safetensors", data);
 * ```
 */
export async function saveCheckpoint(path: string, c: CheckpointData): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(c));
}

/**
 * Read and decode a checkpoint or model file; missing or unreadable files are `UserError`s.
 *
 * @example
 * ```ts ignore
 * import { loadCheckpoint } from "./checkpoint.ts";
 * const ck = await loadCheckpoint("runs/btspformer_model.safetensors");
 * console.log(ck.config.modelDim);
 * ```
 */
export async function loadCheckpoint(path: string): Promise<CheckpointData> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UserError(`Cannot load "${path}": no such file`);
    }
    throw new UserError(`Cannot load "${path}": ${msg(e)}`);
  }
  return decodeCheckpoint(bytes, path);
}

// JSON has no Infinity/NaN; best-so-far values start at Infinity.
function stringifyState(s: Record<string, unknown>): string {
  return JSON.stringify(
    s,
    (_k, v) => typeof v === "number" && !Number.isFinite(v) ? { $num: String(v) } : v,
  );
}

function parseState(text: string): Record<string, unknown> {
  return JSON.parse(
    text,
    (_k, v) =>
      v && typeof v === "object" && typeof v.$num === "string" && Object.keys(v).length === 1
        ? Number(v.$num)
        : v,
  );
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
