/**
 * The model's hyper-parameters, their defaults (spec §4) and their validation.
 *
 * @module
 */
import type { AttentionMode } from "../ops/attention.ts";
import { UserError } from "../util/errors.ts";

/** Fixed positional encoding added to the input embedding (spec §2). */
export type PosEncoding = "predictive" | "sinusoidal" | "none";

/** Shape and behaviour of a BTSPFormer. */
export interface ModelConfig {
  /** Window length L (input values per sample). */
  seqLen: number;
  /** Model width D (even: the head is D/2 wide). */
  modelDim: number;
  /** Attention heads H (must divide D). */
  heads: number;
  /** Transformer blocks. */
  layers: number;
  /** Values predicted per window. */
  horizon: number;
  /** Attention variant (spec §3, §5). */
  attention: AttentionMode;
  /** Positional encoding (spec §2). */
  posEncoding: PosEncoding;
  /** Dropout probability used in training, in [0, 1). */
  dropout: number;
}

/**
 * The defaults of the spec: L 50, D 64, 4 heads, 2 blocks, horizon 1, BTSP attention,
 * predictive encoding, dropout 0.1.
 *
 * @example
 * ```ts
 * import { DEFAULT_MODEL_CONFIG } from "./config.ts";
 * console.log(DEFAULT_MODEL_CONFIG.modelDim); // 64
 * ```
 */
export const DEFAULT_MODEL_CONFIG: Readonly<ModelConfig> = Object.freeze({
  seqLen: 50,
  modelDim: 64,
  heads: 4,
  layers: 2,
  horizon: 1,
  attention: "btsp",
  posEncoding: "predictive",
  dropout: 0.1,
});

const ATTENTION_MODES: readonly AttentionMode[] = ["btsp", "standard", "original"];
const POS_ENCODINGS: readonly PosEncoding[] = ["predictive", "sinusoidal", "none"];

/**
 * Fill the missing fields with the defaults and check every field.
 *
 * @throws {UserError} naming the field and quoting the bad value.
 *
 * @example
 * ```ts
 * import { resolveModelConfig } from "./config.ts";
 * const cfg = resolveModelConfig({ heads: 8, attention: "standard" });
 * console.log(cfg.heads, cfg.seqLen); // 8 50
 * try {
 *   resolveModelConfig({ heads: 3 });
 * } catch (e) {
 *   console.log((e as Error).message);
 *   // Invalid model config "heads": expected a positive integer that divides modelDim 64, got 3
 * }
 * ```
 */
export function resolveModelConfig(partial: Partial<ModelConfig> = {}): ModelConfig {
  const known = Object.keys(DEFAULT_MODEL_CONFIG);
  for (const key of Object.keys(partial)) {
    if (!known.includes(key)) {
      throw new UserError(
        `Invalid model config key ${JSON.stringify(key)}: expected one of ${known.join(", ")}`,
      );
    }
  }
  const defined = Object.fromEntries(
    Object.entries(partial).filter(([, v]) => v !== undefined),
  ) as Partial<ModelConfig>;
  const cfg: ModelConfig = { ...DEFAULT_MODEL_CONFIG, ...defined };
  for (const key of ["seqLen", "modelDim", "heads", "layers", "horizon"] as const) {
    if (!isPositiveInt(cfg[key])) bad(key, "a positive integer", cfg[key]);
  }
  if (cfg.modelDim % 2 !== 0) bad("modelDim", "a positive even integer", cfg.modelDim);
  if (cfg.modelDim % cfg.heads !== 0) {
    bad("heads", `a positive integer that divides modelDim ${cfg.modelDim}`, cfg.heads);
  }
  if (typeof cfg.dropout !== "number" || !(cfg.dropout >= 0 && cfg.dropout < 1)) {
    bad("dropout", "a number in [0, 1)", cfg.dropout);
  }
  if (!ATTENTION_MODES.includes(cfg.attention)) {
    bad("attention", `one of ${ATTENTION_MODES.map((m) => `"${m}"`).join(", ")}`, cfg.attention);
  }
  if (!POS_ENCODINGS.includes(cfg.posEncoding)) {
    bad("posEncoding", `one of ${POS_ENCODINGS.map((m) => `"${m}"`).join(", ")}`, cfg.posEncoding);
  }
  return cfg;
}

function isPositiveInt(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v > 0;
}

function bad(key: string, expected: string, got: unknown): never {
  const shown = typeof got === "number" ? String(got) : JSON.stringify(got) ?? String(got);
  throw new UserError(`Invalid model config "${key}": expected ${expected}, got ${shown}`);
}
