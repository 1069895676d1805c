/**
 * The activation arena: what the forward pass saves for the backward pass, plus the scratch
 * buffers of the backward pass, all sized for a batch capacity. Internal to the model.
 *
 * Every block's buffers are sized for all B·L rows even when the last block only computes the
 * last position, so the exact-saving switch can change without re-planning.
 *
 * @module
 */
import type { Heap } from "../engine/heap.ts";
import type { ModelConfig } from "./config.ts";
import { attentionScratchFloats } from "../ops/attention.ts";

/** Saved activations of one block. */
export interface _BlockActs {
  /** (B, L, D) LN₁ output, with its per-row mean and rstd (B·L). */
  ln1: number;
  mean1: number;
  rstd1: number;
  /** (B, L, 3D) rows [q | k | v]. */
  qkv: number;
  /** (B, L, H) is_proj logits (btsp only, else 0). */
  isl: number;
  /** Attention's own saved state. */
  scratch: number;
  /** (B, Lq, D) attention output before out_proj. */
  att: number;
  /** (B, Lq, D) residual stream after attention. */
  hmid: number;
  /** (B, Lq, D) LN₂ output, mean, rstd. */
  ln2: number;
  mean2: number;
  rstd2: number;
  /** (B, Lq, 4D) first FFN Linear output, then (forward's end) ∂gd/∂fc1. */
  fc1: number;
  /** (B, Lq, 4D) dropout(GELU(fc1)): the second FFN Linear's input. */
  gd: number;
}

/** Every buffer of one batch capacity. */
export interface _Acts {
  /** Batch capacity. */
  cap: number;
  /** (B, L) input values. */
  x: number;
  /** resid[n] (B, L, D) is the input of block n; resid[layers] the last block's output. */
  resid: number[];
  blocks: _BlockActs[];
  /** (B, D) the last block's input at the last position (exact saving). */
  lastIn: number;
  /** (B, D) the head's input when gathered from a full-length stream. */
  headIn: number;
  /** (B, D) the last block's LN₁ output at the last position, and its queries (split q). */
  lastLn: number;
  lastQ: number;
  /** (B, D/2) head Linear output (then ∂o1g/∂o1), and dropout(GELU(·)) of it. */
  o1: number;
  o1g: number;
  /** (B, horizon) predictions. */
  pred: number;
  /** (B, L, D) forward temporary (out_proj and second FFN Linear outputs). */
  tmp: number;
  // Backward scratch.
  dres: number;
  dtmp: number;
  dln: number;
  datt: number;
  dqkv: number;
  /** (B, D) gradients of lastQ and lastLn. */
  dq: number;
  dlastLn: number;
  disl: number;
  dbig: number;
  dlast: number;
  dh1: number;
}

/**
 * Allocate every activation buffer for `cap` windows on `heap` (zero-filled).
 *
 * `attentionScratch: false` leaves every block's `scratch` at 0, for an attention that keeps its
 * saved state itself (WebGPU keeps it on the GPU, keyed by the distinct `qkv` of each block).
 *
 * @example
 * ```ts
 * import { _planActs } from "./acts.ts";
 * import { Heap } from "../engine/heap.ts";
 * import { resolveModelConfig } from "./config.ts";
 * const heap = new Heap();
 * const acts = _planActs(heap, resolveModelConfig({ seqLen: 8, modelDim: 8, heads: 2 }), 4);
 * console.log(acts.cap, acts.resid.length); // 4 3
 * const gpu = _planActs(heap, resolveModelConfig({ seqLen: 8, modelDim: 8, heads: 2 }), 4, {
 *   attentionScratch: false,
 * });
 * console.log(gpu.blocks[0].scratch); // 0
 * ```
 */
export function _planActs(
  heap: Heap,
  cfg: ModelConfig,
  cap: number,
  opts: { attentionScratch?: boolean } = {},
): _Acts {
  const L = cfg.seqLen, D = cfg.modelDim, H = cfg.heads, F = 4 * D;
  const BL = cap * L;
  const btsp = cfg.attention === "btsp";
  const scratchFloats = opts.attentionScratch === false ? 0 : Math.max(
    attentionScratchFloats(cfg.attention, cap, L, D, H, 0),
    cfg.attention === "original" ? 0 : attentionScratchFloats(cfg.attention, cap, L, D, H, L - 1),
  );
  const a = (n: number): number => heap.alloc(n);
  const x = a(BL);
  const resid: number[] = [];
  for (let n = 0; n <= cfg.layers; n++) resid.push(a(BL * D));
  const blocks: _BlockActs[] = [];
  for (let n = 0; n < cfg.layers; n++) {
    blocks.push({
      ln1: a(BL * D),
      mean1: a(BL),
      rstd1: a(BL),
      qkv: a(BL * 3 * D),
      isl: btsp ? a(BL * H) : 0,
      scratch: scratchFloats > 0 ? a(scratchFloats) : 0,
      att: a(BL * D),
      hmid: a(BL * D),
      ln2: a(BL * D),
      mean2: a(BL),
      rstd2: a(BL),
      fc1: a(BL * F),
      gd: a(BL * F),
    });
  }
  return {
    cap,
    x,
    resid,
    blocks,
    lastIn: a(cap * D),
    headIn: a(cap * D),
    lastLn: a(cap * D),
    lastQ: a(cap * D),
    o1: a(cap * (D / 2)),
    o1g: a(cap * (D / 2)),
    pred: a(cap * cfg.horizon),
    tmp: a(BL * D),
    dres: a(BL * D),
    dtmp: a(BL * D),
    dln: a(BL * D),
    datt: a(BL * D),
    dqkv: a(BL * 3 * D),
    dq: a(cap * D),
    dlastLn: a(cap * D),
    disl: btsp ? a(BL * H) : 0,
    dbig: a(BL * F),
    dlast: a(cap * D),
    dh1: a(cap * (D / 2)),
  };
}
