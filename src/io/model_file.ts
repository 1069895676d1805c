/**
 * Open a weights file of either format as a model config + weights (+ scaler when the file
 * has one). `.safetensors` files carry their config; for a PyTorch `.pth` the config is read
 * off the tensor names and shapes, and what they cannot tell (heads, positional encoding,
 * window length) comes from the caller.
 *
 * @module
 */
import { decodePth } from "./pth.ts";
import type { NamedTensors } from "./safetensors.ts";
import { decodeCheckpoint } from "../train/checkpoint.ts";
import { type ModelConfig, type PosEncoding, resolveModelConfig } from "../model/config.ts";
import type { AttentionMode } from "../ops/attention.ts";
import type { Scaler } from "../data/scaler.ts";
import { UserError } from "../util/errors.ts";

/** What the file cannot tell, or what the caller wants to insist on. */
export interface ModelFileHints {
  /** Window length the caller insists on (a .safetensors file must agree). */
  seqLen?: number;
  /** Window length for a .pth when `seqLen` is not given (it is not stored there). */
  defaultSeqLen?: number;
  heads?: number;
  posEncoding?: PosEncoding;
  attention?: AttentionMode;
}

/** A loaded weights file. */
export interface ModelFile {
  format: "safetensors" | "pth";
  config: ModelConfig;
  /** Absent for .pth (PyTorch state dicts carry no scaler). */
  scaler?: Scaler;
  weights: NamedTensors;
}

/**
 * Read `path` (.safetensors or .pth, told apart by content).
 *
 * @example
 * ```ts ignore
 * import { readModelFile } from "./model_file.ts";
 * const f = await readModelFile("runs/btspformer_model.pth", { seqLen: 50, heads: 4 });
 * console.log(f.config.attention);
 * ```
 */
export async function readModelFile(path: string, hints: ModelFileHints = {}): Promise<ModelFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UserError(`Cannot load "${path}": no such file`);
    }
    throw new UserError(`Cannot load "${path}": ${e instanceof Error ? e.message : e}`);
  }
  return parseModelFile(bytes, path, hints);
}

/**
 * Same as {@linkcode readModelFile} on bytes already in memory.
 *
 * @example
 * ```ts
 * import { parseModelFile } from "./model_file.ts";
 * try {
 *   parseModelFile(new Uint8Array(10), "x.pth");
 * } catch (e) {
 *   console.log((e as Error).name); // UserError
 * }
 * ```
 */
export function parseModelFile(
  bytes: Uint8Array,
  path: string,
  hints: ModelFileHints = {},
): ModelFile {
  // A zip (torch.save) starts with "PK"; safetensors with a little-endian header length.
  if (bytes.length >= 2 && bytes[0] === 0x50 && bytes[1] === 0x4b) {
    let tensors: NamedTensors;
    try {
      tensors = decodePth(bytes);
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`Cannot load "${path}": ${e.message}`);
      throw e;
    }
    const weights = stripPrefix(tensors);
    return { format: "pth", config: inferConfig(weights, path, hints), weights };
  }
  let ck;
  try {
    ck = decodeCheckpoint(bytes, path);
  } catch (e) {
    if (e instanceof UserError && !e.message.startsWith("Cannot load")) {
      throw new UserError(`Cannot load "${path}": ${e.message}`);
    }
    throw e;
  }
  if (hints.attention && hints.attention !== ck.config.attention) {
    throw new UserError(
      `Cannot use "--attention ${hints.attention}" with "${path}": it holds a ${ck.config.attention} model`,
    );
  }
  if (hints.seqLen && hints.seqLen !== ck.config.seqLen) {
    throw new UserError(
      `Windows of ${hints.seqLen} values do not fit "${path}": its model takes seq_len ${ck.config.seqLen}`,
    );
  }
  return { format: "safetensors", config: ck.config, scaler: ck.scaler, weights: ck.weights };
}

function stripPrefix(t: NamedTensors): NamedTensors {
  const keys = [...t.keys()];
  if (!keys.length || !keys.every((k) => k.startsWith("model."))) return t;
  return new Map([...t].map(([k, v]) => [k.slice(6), v]));
}

function inferConfig(w: NamedTensors, path: string, hints: ModelFileHints): ModelConfig {
  const need = (name: string) => {
    const t = w.get(name);
    if (!t) {
      throw new UserError(
        `Cannot load "${path}": not a BTSPFormer state dict (no "${name}" among ${w.size} tensors)`,
      );
    }
    return t;
  };
  const emb = need("input_embedding.weight");
  const head = need("output_layer.3.weight");
  let layers = 0;
  for (const k of w.keys()) {
    const m = k.match(/^blocks\.(\d+)\./);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
  }
  if (layers === 0) throw new UserError(`Cannot load "${path}": it has no "blocks.N." tensors`);
  const btsp = w.get("blocks.0.attn.btsp.eta");
  const attention: AttentionMode = btsp
    ? "btsp"
    : w.has("blocks.0.attn.et_gate")
    ? "original"
    : "standard";
  if (hints.attention && hints.attention !== attention) {
    throw new UserError(
      `Cannot use "--attention ${hints.attention}" with "${path}": its tensors are those of ${attention} attention`,
    );
  }
  const heads = btsp ? btsp.shape[0] : hints.heads ?? 4;
  if (btsp && hints.heads && hints.heads !== heads) {
    throw new UserError(
      `Cannot use "--heads ${hints.heads}" with "${path}": its BTSP parameters have ${heads} heads`,
    );
  }
  const seqLen = hints.seqLen ?? hints.defaultSeqLen;
  if (!seqLen) {
    throw new UserError(`Cannot load "${path}": a .pth file does not store seq_len`);
  }
  return resolveModelConfig({
    seqLen,
    modelDim: emb.shape[0],
    heads,
    layers,
    horizon: head.shape[0],
    attention,
    posEncoding: hints.posEncoding ?? (attention === "original" ? "none" : "predictive"),
    dropout: 0.1,
  });
}
