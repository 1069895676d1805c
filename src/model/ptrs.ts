/**
 * Byte pointers of every tensor in a parameter (or gradient) arena, grouped the way the forward
 * and backward passes use them. Internal to the model.
 *
 * @module
 */
import type { ParamInfo } from "./params.ts";

/** Pointers of one block; 0 for tensors the attention mode does not have. */
export interface _BlockPtrs {
  ln1w: number;
  ln1b: number;
  /** (3D, D): query, key, value weights stacked. */
  wqkv: number;
  /** (3D): query, key, value biases stacked. */
  bqkv: number;
  wo: number;
  bo: number;
  isw: number;
  isb: number;
  tauEt: number;
  tauIs: number;
  eta: number;
  etGate: number;
  isGate: number;
  timeBias: number;
  ln2w: number;
  ln2b: number;
  w1: number;
  b1: number;
  w2: number;
  b2: number;
}

/** Pointers of the whole model. */
export interface _ParamPtrs {
  embW: number;
  embB: number;
  blocks: _BlockPtrs[];
  h0w: number;
  h0b: number;
  h3w: number;
  h3b: number;
}

/**
 * Resolve the layout against an arena starting at byte `base`.
 *
 * @example
 * ```ts
 * import { _paramPtrs } from "./ptrs.ts";
 * import { paramLayout } from "./params.ts";
 * import { resolveModelConfig } from "./config.ts";
 * const cfg = resolveModelConfig({ modelDim: 8, heads: 2, layers: 1 });
 * const p = _paramPtrs(paramLayout(cfg), 1024, 1);
 * console.log(p.embW, p.embB); // 1024 1056
 * ```
 */
export function _paramPtrs(layout: readonly ParamInfo[], base: number, layers: number): _ParamPtrs {
  const at = new Map(layout.map((p) => [p.name, base + 4 * p.offset]));
  const get = (name: string): number => at.get(name) ?? 0;
  const need = (name: string): number => {
    const p = at.get(name);
    if (p === undefined) throw new Error(`Parameter "${name}" is missing from the layout`);
    return p;
  };
  const blocks: _BlockPtrs[] = [];
  for (let n = 0; n < layers; n++) {
    const b = `blocks.${n}`;
    const q = need(`${b}.attn.query.weight`), qb = need(`${b}.attn.query.bias`);
    const D2 = need(`${b}.attn.key.weight`) - q;
    if (need(`${b}.attn.value.weight`) - q !== 2 * D2) {
      throw new Error(`Query, key and value weights of block ${n} are not adjacent`);
    }
    const Db = need(`${b}.attn.key.bias`) - qb;
    if (need(`${b}.attn.value.bias`) - qb !== 2 * Db) {
      throw new Error(`Query, key and value biases of block ${n} are not adjacent`);
    }
    blocks.push({
      ln1w: need(`${b}.norm1.weight`),
      ln1b: need(`${b}.norm1.bias`),
      wqkv: q,
      bqkv: qb,
      wo: need(`${b}.attn.out_proj.weight`),
      bo: need(`${b}.attn.out_proj.bias`),
      isw: get(`${b}.attn.btsp.is_proj.weight`),
      isb: get(`${b}.attn.btsp.is_proj.bias`),
      tauEt: get(`${b}.attn.btsp.log_tau_et`),
      tauIs: get(`${b}.attn.btsp.log_tau_is`),
      eta: get(`${b}.attn.btsp.eta`),
      etGate: get(`${b}.attn.et_gate`),
      isGate: get(`${b}.attn.is_gate`),
      timeBias: get(`${b}.attn.time_bias`),
      ln2w: need(`${b}.norm2.weight`),
      ln2b: need(`${b}.norm2.bias`),
      w1: need(`${b}.ffn.0.weight`),
      b1: need(`${b}.ffn.0.bias`),
      w2: need(`${b}.ffn.3.weight`),
      b2: need(`${b}.ffn.3.bias`),
    });
  }
  return {
    embW: need("input_embedding.weight"),
    embB: need("input_embedding.bias"),
    blocks,
    h0w: need("output_layer.0.weight"),
    h0b: need("output_layer.0.bias"),
    h3w: need("output_layer.3.weight"),
    h3b: need("output_layer.3.bias"),
  };
}
