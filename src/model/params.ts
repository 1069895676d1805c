/**
 * The parameter arena: every tensor of spec §6 at a fixed float offset, and its initialisation.
 *
 * Layout rules: trainable tensors come first and are contiguous (the optimizer and the gradient
 * norm treat them as one vector); frozen ones (`original` mode's `time_bias`) follow. Inside a
 * block the query, key and value weights are adjacent, forming one (3D, D) matrix, and so are
 * their biases (3D), so that Q, K and V come from a single matrix multiplication.
 *
 * @module
 */
import type { ModelConfig } from "./config.ts";
import { Rng } from "../util/rng.ts";
import { UserError } from "../util/errors.ts";

/** One tensor of the state dict and where it lives in the arena. */
export interface ParamInfo {
  /** Spec §6 name, without PyTorch's `model.` prefix. */
  name: string;
  /** PyTorch shape. */
  shape: number[];
  /** Offset in floats from the start of the arena. */
  offset: number;
  /** Elements (product of the shape). */
  size: number;
  /** Whether the optimizer updates it. */
  trainable: boolean;
}

/** Length of `original` mode's frozen relative-position table. */
const TIME_BIAS_LEN = 500;

/**
 * Every tensor of the model, in arena order.
 *
 * @example
 * ```ts
 * import { paramLayout } from "./params.ts";
 * import { resolveModelConfig } from "./config.ts";
 * const layout = paramLayout(resolveModelConfig({ layers: 1 }));
 * console.log(layout[0].name, layout[0].shape); // input_embedding.weight [ 64, 1 ]
 * ```
 */
export function paramLayout(cfg: ModelConfig): ParamInfo[] {
  const D = cfg.modelDim, H = cfg.heads, F = 4 * D;
  const out: ParamInfo[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], trainable = true): void => {
    const size = shape.reduce((a, b) => a * b, 1);
    out.push({ name, shape, offset, size, trainable });
    offset += size;
  };
  add("input_embedding.weight", [D, 1]);
  add("input_embedding.bias", [D]);
  for (let n = 0; n < cfg.layers; n++) {
    const b = `blocks.${n}`;
    add(`${b}.norm1.weight`, [D]);
    add(`${b}.norm1.bias`, [D]);
    for (const m of ["query", "key", "value"]) add(`${b}.attn.${m}.weight`, [D, D]);
    for (const m of ["query", "key", "value"]) add(`${b}.attn.${m}.bias`, [D]);
    add(`${b}.attn.out_proj.weight`, [D, D]);
    add(`${b}.attn.out_proj.bias`, [D]);
    if (cfg.attention === "btsp") {
      add(`${b}.attn.btsp.is_proj.weight`, [H, D]);
      add(`${b}.attn.btsp.is_proj.bias`, [H]);
      add(`${b}.attn.btsp.log_tau_et`, [H]);
      add(`${b}.attn.btsp.log_tau_is`, [H]);
      add(`${b}.attn.btsp.eta`, [H]);
    } else if (cfg.attention === "original") {
      add(`${b}.attn.et_gate`, [1, 1, 1]);
      add(`${b}.attn.is_gate`, [1, 1, 1]);
    }
    add(`${b}.norm2.weight`, [D]);
    add(`${b}.norm2.bias`, [D]);
    add(`${b}.ffn.0.weight`, [F, D]);
    add(`${b}.ffn.0.bias`, [F]);
    add(`${b}.ffn.3.weight`, [D, F]);
    add(`${b}.ffn.3.bias`, [D]);
  }
  add("output_layer.0.weight", [D / 2, D]);
  add("output_layer.0.bias", [D / 2]);
  add("output_layer.3.weight", [cfg.horizon, D / 2]);
  add("output_layer.3.bias", [cfg.horizon]);
  if (cfg.attention === "original") {
    for (let n = 0; n < cfg.layers; n++) {
      add(`blocks.${n}.attn.time_bias`, [1, 1, TIME_BIAS_LEN], false);
    }
  }
  return out;
}

/**
 * Initialise every tensor as PyTorch does by default:
 * Linear weight and bias U(±1/√in) (in = input features), LayerNorm weight 1 and bias 0;
 * `is_proj` bias 0 (its weight is a Linear weight), `log_tau_et` = ln 8, `log_tau_is` = ln 2,
 * `eta` = 0; `original` mode as the reference repository: `et_gate` and `is_gate` ~ N(0, 1)
 * (`torch.randn(1, 1, 1)`), `time_bias` = linspace(−1, 1, 500).
 * Values are drawn in layout order from one {@linkcode Rng} seeded with `seed`.
 *
 * @example
 * ```ts
 * import { initParams, paramLayout } from "./params.ts";
 * import { resolveModelConfig } from "./config.ts";
 * const cfg = resolveModelConfig({ layers: 1 });
 * const layout = paramLayout(cfg);
 * const last = layout[layout.length - 1];
 * const w = new Float32Array(last.offset + last.size);
 * initParams(cfg, layout, 42, w);
 * console.log(Math.abs(w[0]) <= 1); // true
 * ```
 */
export function initParams(
  cfg: ModelConfig,
  layout: ParamInfo[],
  seed: number,
  out: Float32Array,
): void {
  const rng = new Rng(seed);
  const D = cfg.modelDim;
  const end = layout.reduce((m, p) => Math.max(m, p.offset + p.size), 0);
  if (out.length < end) {
    throw new RangeError(`Cannot initialise ${end} parameters into ${out.length} floats`);
  }
  for (const p of layout) {
    const t = out.subarray(p.offset, p.offset + p.size);
    const leaf = p.name.slice(p.name.lastIndexOf(".") + 1);
    if (/\.norm[12]\./.test(p.name)) {
      t.fill(leaf === "weight" ? 1 : 0);
    } else if (p.name.endsWith("is_proj.bias") || leaf === "eta") {
      t.fill(0);
    } else if (leaf === "log_tau_et") {
      t.fill(Math.log(8));
    } else if (leaf === "log_tau_is") {
      t.fill(Math.log(2));
    } else if (leaf === "et_gate" || leaf === "is_gate") {
      for (let i = 0; i < t.length; i++) t[i] = rng.normal();
    } else if (leaf === "time_bias") {
      for (let i = 0; i < t.length; i++) t[i] = -1 + (2 * i) / (t.length - 1);
    } else if (leaf === "weight" || leaf === "bias") {
      const bound = 1 / Math.sqrt(_fanIn(p.name, layout, D));
      for (let i = 0; i < t.length; i++) t[i] = rng.uniform(-bound, bound);
    } else {
      throw new UserError(`Cannot initialise unknown parameter ${JSON.stringify(p.name)}`);
    }
  }
}

/** Input features of the Linear layer that owns `name` (its weight's second dimension). */
function _fanIn(name: string, layout: ParamInfo[], D: number): number {
  const weight = layout.find((p) => p.name === name.replace(/\.bias$/, ".weight"));
  return weight ? weight.shape[1] : D;
}
