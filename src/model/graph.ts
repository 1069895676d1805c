/**
 * The forward and backward passes of BTSPFormer over the parameter, gradient and activation
 * arenas (llm.c style: the forward saves what the backward needs; backward ops accumulate, so
 * every scratch gradient is zeroed right before it is accumulated into, unless its first
 * writer is a Linear that overwrites it). Internal to the model.
 *
 * Block (pre-LN, spec §4):  h ← h + out_proj(Attn(LN₁(h)));  h ← h + Drop(W₂·Drop(GELU(W₁·LN₂(h))))
 * Head:                     pred = W₄·Drop(GELU(W₃·h[:, L−1]))
 *
 * Exact saving: only the last position feeds the head, so for btsp/standard the last block
 * computes queries, attention output, out_proj, LN₂ and FFN at that position alone (keys and
 * values still at every position). With CPU attention (`splitQ`) its query and IS projections
 * also run on the last position only: k|v is one (2D, D) Linear over all rows, q and is_proj
 * run over B rows; an attention implementation gets the fused [q | k | v] rows instead. `original` mixes positions in its regrouping, so it never
 * takes this path. Dropout masks are indexed by element, so in training the last block's
 * masks are drawn over its B rows rather than B·L: an equally distributed, different draw
 * (eval-mode outputs and gradients are identical either way).
 *
 * The passes are generators that yield where they need attention, so one copy of the graph runs
 * both on the CPU ({@linkcode _runSync}) and with an asynchronous attention such as WebGPU
 * ({@linkcode _runAsync}).
 *
 * @module
 */
import type { Backend } from "../engine/backend.ts";
import type { ModelConfig } from "./config.ts";
import type { _ParamPtrs } from "./ptrs.ts";
import type { _Acts } from "./acts.ts";
import { linearBackward, linearForward } from "../ops/linear.ts";
import { layernormBackward, layernormForward } from "../ops/layernorm.ts";
import { geluDropoutBackward, geluDropoutForward } from "../ops/gelu.ts";
import { addForward, gatherRows, scatterRowsAdd } from "../ops/residual.ts";
import { dropoutBackward, dropoutForward } from "../ops/dropout.ts";
import { embedBackward, embedForward } from "../ops/embed.ts";
import {
  attentionBackward,
  type AttentionBackwardArgs,
  attentionForward,
  type AttentionForwardArgs,
} from "../ops/attention.ts";
import type { AttentionImpl } from "../webgpu/attention.ts";

/** Everything one pass needs. */
export interface _PassCtx {
  be: Backend;
  cfg: ModelConfig;
  /** Parameter pointers. */
  P: _ParamPtrs;
  /** Gradient pointers (same layout). */
  G: _ParamPtrs;
  A: _Acts;
  /** (L, D) positional encoding, 0 for none. */
  pe: number;
  B: number;
  /** Dropout active (training mode with p > 0). */
  drop: boolean;
  /** Dropout keys: site s uses (keys[2s], keys[2s+1]). Sites: 2n, 2n+1 in block n; 2·layers head. */
  keys: readonly number[];
  /** Use the last-position-only path in the last block (btsp/standard). */
  exactLast: boolean;
  /** In that block, project queries and IS logits at the last position only (CPU attention). */
  splitQ: boolean;
  /** `original` mode's reshape defect (spec §5); false gives per-sample heads. */
  regroup: boolean;
}

/**
 * Number of dropout sites of a model with `layers` blocks (two per FFN, one in the head).
 *
 * @example
 * ```ts
 * import { _dropoutSites } from "./graph.ts";
 * console.log(_dropoutSites(2)); // 5
 * ```
 */
export function _dropoutSites(layers: number): number {
  return 2 * layers + 1;
}

/**
 * Per-site dropout keys derived from the step keys: distinct per site and per step, and the same
 * for the same (key0, key1).
 *
 * @example
 * ```ts
 * import { _siteKeys } from "./graph.ts";
 * const k = _siteKeys(1, 2, 3);
 * console.log(k.length, k[0] !== k[2]); // 6 true
 * ```
 */
export function _siteKeys(key0: number, key1: number, sites: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < sites; s++) {
    out.push(_mix32((key0 >>> 0) ^ _mix32(2 * s + 1)));
    out.push(_mix32(((key1 >>> 0) + Math.imul(s + 1, 0x9e3779b9)) >>> 0));
  }
  return out;
}

function _mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

function _isExact(c: _PassCtx, n: number): boolean {
  return c.exactLast && n === c.cfg.layers - 1 && c.cfg.attention !== "original";
}

function _zero(be: Backend, ptr: number, n: number): void {
  be.heap.f32.fill(0, ptr >> 2, (ptr >> 2) + n);
}

/** out = Drop(GELU(x)) with dropout site `site`'s keys; x ← ∂out/∂x for the backward. */
function _geluDrop(c: _PassCtx, out: number, x: number, count: number, site: number): void {
  const [p, k0, k1] = c.drop ? [c.cfg.dropout, c.keys[2 * site], c.keys[2 * site + 1]] : [0, 0, 0];
  geluDropoutForward(c.be, out, x, x, count, p, k0, k1);
}

function _split(c: _PassCtx, n: number): boolean {
  return c.splitQ && _isExact(c, n);
}

function _attnArgs(c: _PassCtx, n: number, qStart: number): AttentionForwardArgs {
  const l = c.A.blocks[n], p = c.P.blocks[n], cfg = c.cfg;
  return {
    q: _split(c, n) ? c.A.lastQ : 0,
    mode: cfg.attention,
    B: c.B,
    L: cfg.seqLen,
    D: cfg.modelDim,
    H: cfg.heads,
    qStart,
    out: l.att,
    qkv: l.qkv,
    isLogit: l.isl,
    scratch: l.scratch,
    logTauEt: p.tauEt,
    logTauIs: p.tauIs,
    eta: p.eta,
    etGate: p.etGate,
    isGate: p.isGate,
    timeBias: p.timeBias,
    regroup: c.regroup,
  };
}

/** Attention a pass needs before it can go on; the driver runs it, then resumes the pass. */
export type _AttnRequest =
  | { kind: "forward"; args: AttentionForwardArgs }
  | { kind: "backward"; args: AttentionBackwardArgs };

/** A pass (or a sequence of passes) that yields its attention calls and returns `T`. */
export type _Pass<T> = Generator<_AttnRequest, T, void>;

/**
 * Drive a pass to its end with the CPU attention ops of `be`.
 *
 * @example
 * ```ts
 * import { _runSync } from "./graph.ts";
 * import { createBackend } from "../engine/backend.ts";
 * function* noAttention() {
 *   return 42;
 * }
 * const be = createBackend("ref");
 * console.log(_runSync(noAttention(), be)); // 42
 * be.close();
 * ```
 */
export function _runSync<T>(pass: _Pass<T>, be: Backend): T {
  for (;;) {
    const r = pass.next();
    if (r.done) return r.value;
    if (r.value.kind === "forward") attentionForward(be, r.value.args);
    else attentionBackward(be, r.value.args);
  }
}

/**
 * Drive a pass to its end, awaiting `impl` for every attention call (one at a time, in order).
 *
 * @example
 * ```ts
 * import { _runAsync } from "./graph.ts";
 * import { createBackend } from "../engine/backend.ts";
 * import type { AttentionImpl } from "../webgpu/attention.ts";
 * const calls: string[] = [];
 * const impl: AttentionImpl = {
 *   name: "log",
 *   forward: async () => void calls.push("forward"),
 *   backward: async () => void calls.push("backward"),
 *   close: () => {},
 * };
 * function* pass(a: any) {
 *   yield { kind: "forward" as const, args: a };
 *   yield { kind: "backward" as const, args: a };
 *   return calls.length;
 * }
 * const be = createBackend("ref");
 * console.log(await _runAsync(pass({}), be, impl), calls); // 2 [ "forward", "backward" ]
 * be.close();
 * ```
 */
export async function _runAsync<T>(pass: _Pass<T>, be: Backend, impl: AttentionImpl): Promise<T> {
  for (;;) {
    const r = pass.next();
    if (r.done) return r.value;
    if (r.value.kind === "forward") await impl.forward(be, r.value.args);
    else await impl.backward(be, r.value.args);
  }
}

/**
 * Run the model on the first `B` windows of the input buffer.
 *
 * @returns the byte offsets of the predictions (B, horizon) and of the head's input (B, D).
 *
 * @example
 * ```ts
 * import { BTSPFormer } from "./model.ts";
 * // The pass is driven by the model class; see BTSPFormer.forward.
 * const m = BTSPFormer.create({ seqLen: 4, modelDim: 4, heads: 2, layers: 1 }, { backend: "ref" });
 * m.setInput([[0, 1, 2, 3]], 1);
 * console.log(typeof m.forward(1, { training: false })); // number
 * m.close();
 * ```
 */
export function* _forwardPass(c: _PassCtx): _Pass<{ pred: number; headIn: number }> {
  const { be, cfg, P, A, B } = c;
  const L = cfg.seqLen, D = cfg.modelDim, H = cfg.heads, F = 4 * D, D2 = D / 2;
  const BL = B * L;
  const p = cfg.dropout;
  embedForward(be, A.resid[0], A.x, P.embW, P.embB, c.pe, B, L, D);
  for (let n = 0; n < cfg.layers; n++) {
    const l = A.blocks[n], w = P.blocks[n], hin = A.resid[n];
    const exact = _isExact(c, n);
    const qStart = exact ? L - 1 : 0;
    const R = B * (L - qStart);
    layernormForward(be, l.ln1, l.mean1, l.rstd1, hin, w.ln1w, w.ln1b, BL, D);
    if (_split(c, n)) {
      // qkv holds (B, L, 2D) rows [k | v]; W_k, W_v (and b_k, b_v) follow W_q (b_q) in memory
      linearForward(be, l.qkv, l.ln1, w.wqkv + 4 * D * D, w.bqkv + 4 * D, BL, D, 2 * D);
      gatherRows(be, A.lastLn, l.ln1, B, L, D, L - 1);
      linearForward(be, A.lastQ, A.lastLn, w.wqkv, w.bqkv, B, D, D);
      if (l.isl) linearForward(be, l.isl, A.lastLn, w.isw, w.isb, B, D, H);
    } else {
      linearForward(be, l.qkv, l.ln1, w.wqkv, w.bqkv, BL, D, 3 * D);
      if (l.isl) linearForward(be, l.isl, l.ln1, w.isw, w.isb, BL, D, H);
    }
    yield { kind: "forward", args: _attnArgs(c, n, qStart) };
    linearForward(be, A.tmp, l.att, w.wo, w.bo, R, D, D);
    let base = hin;
    if (exact) {
      gatherRows(be, A.lastIn, hin, B, L, D, L - 1);
      base = A.lastIn;
    }
    addForward(be, l.hmid, base, A.tmp, R * D);
    layernormForward(be, l.ln2, l.mean2, l.rstd2, l.hmid, w.ln2w, w.ln2b, R, D);
    linearForward(be, l.fc1, l.ln2, w.w1, w.b1, R, D, F);
    // gd = Drop(GELU(fc1)); fc1 becomes ∂gd/∂fc1, all that the backward needs of it
    _geluDrop(c, l.gd, l.fc1, R * F, 2 * n);
    linearForward(be, A.tmp, l.gd, w.w2, w.b2, R, F, D);
    if (c.drop) dropoutForward(be, A.tmp, A.tmp, R * D, p, c.keys[4 * n + 2], c.keys[4 * n + 3]);
    addForward(be, A.resid[n + 1], l.hmid, A.tmp, R * D);
  }
  const N = cfg.layers;
  let headIn = A.resid[N];
  if (!_isExact(c, N - 1)) {
    gatherRows(be, A.headIn, A.resid[N], B, L, D, L - 1);
    headIn = A.headIn;
  }
  linearForward(be, A.o1, headIn, P.h0w, P.h0b, B, D, D2);
  // o1g = Drop(GELU(o1)); o1 becomes ∂o1g/∂o1
  _geluDrop(c, A.o1g, A.o1, B * D2, 2 * N);
  linearForward(be, A.pred, A.o1g, P.h3w, P.h3b, B, D2, cfg.horizon);
  return { pred: A.pred, headIn };
}

/**
 * Backpropagate `dpred` (B, horizon) through the activations the last {@linkcode _forwardPass}
 * saved (same context), accumulating into the gradient arena (zeroed by the caller).
 *
 * @example
 * ```ts
 * import { BTSPFormer } from "./model.ts";
 * // The pass is driven by the model class; see BTSPFormer.backward.
 * const m = BTSPFormer.create({ seqLen: 4, modelDim: 4, heads: 2, layers: 1 }, { backend: "ref" });
 * m.setInput([[0, 1, 2, 3]], 1);
 * const pred = m.forward(1, { training: false });
 * m.backward(1, pred);
 * console.log(m.numTrainable > 0); // true
 * m.close();
 * ```
 */
export function* _backwardPass(c: _PassCtx, headIn: number, dpred: number): _Pass<void> {
  const { be, cfg, P, G, A, B } = c;
  const L = cfg.seqLen, D = cfg.modelDim, H = cfg.heads, F = 4 * D, D2 = D / 2;
  const BL = B * L, N = cfg.layers;
  const p = cfg.dropout;

  // pred = W₄·o1g + b₄
  linearBackward(be, A.dh1, G.h3w, G.h3b, dpred, A.o1g, P.h3w, B, D2, cfg.horizon, true);
  // o1g = Drop(GELU(o1)), and the forward left ∂o1g/∂o1 in o1
  geluDropoutBackward(be, A.dh1, A.o1, B * D2);
  // o1 = W₃·h[:, L−1] + b₃
  linearBackward(be, A.dlast, G.h0w, G.h0b, A.dh1, headIn, P.h0w, B, D, D2, true);
  // dcur: gradient of the current block's output (R rows), then of its h_mid, then of its input.
  let dcur = A.dlast;
  if (!_isExact(c, N - 1)) {
    _zero(be, A.dres, BL * D);
    scatterRowsAdd(be, A.dres, A.dlast, B, L, D, L - 1);
    dcur = A.dres;
  }

  for (let n = N - 1; n >= 0; n--) {
    const l = A.blocks[n], w = P.blocks[n], g = G.blocks[n], hin = A.resid[n];
    const exact = _isExact(c, n);
    const qStart = exact ? L - 1 : 0;
    const R = B * (L - qStart);
    // h_out = h_mid + Drop(W₂·gd + b₂): dcur already is d h_mid's residual part.
    let dfc2 = dcur;
    if (c.drop) {
      _zero(be, A.dtmp, R * D);
      dropoutBackward(be, A.dtmp, dcur, R * D, p, c.keys[4 * n + 2], c.keys[4 * n + 3]);
      dfc2 = A.dtmp;
    }
    linearBackward(be, A.dbig, g.w2, g.b2, dfc2, l.gd, w.w2, R, F, D, true);
    // gd = Drop(GELU(fc1)), and the forward left ∂gd/∂fc1 in fc1
    geluDropoutBackward(be, A.dbig, l.fc1, R * F);
    // fc1 = W₁·ln2 + b₁
    linearBackward(be, A.dln, g.w1, g.b1, A.dbig, l.ln2, w.w1, R, D, F, true);
    // ln2 = LN₂(h_mid)
    layernormBackward(be, dcur, g.ln2w, g.ln2b, A.dln, l.hmid, w.ln2w, l.mean2, l.rstd2, R, D);
    // h_mid = h_in + W_o·att + b_o
    linearBackward(be, A.datt, g.wo, g.bo, dcur, l.att, w.wo, R, D, D, true);
    // att = Attn(qkv, isLogit)
    const split = _split(c, n);
    _zero(be, A.dqkv, BL * (split ? 2 : 3) * D);
    if (split) _zero(be, A.dq, B * D);
    if (A.disl) _zero(be, A.disl, (split ? B : BL) * H);
    const args: AttentionBackwardArgs = {
      ..._attnArgs(c, n, qStart),
      dout: A.datt,
      dqkv: A.dqkv,
      dq: split ? A.dq : 0,
      disLogit: A.disl,
      dlogTauEt: g.tauEt,
      dlogTauIs: g.tauIs,
      deta: g.eta,
      detGate: g.etGate,
      disGate: g.isGate,
    };
    yield { kind: "backward", args };
    // isLogit = ln1·is_projᵀ + a;  qkv = ln1·W_qkvᵀ + b_qkv
    // (the first layer to write dln / dlastLn overwrites it: no zeroing pass)
    if (split) {
      // [k | v] = ln1·W_kvᵀ + b_kv;  q, isLogit = f(ln1[:, L−1])
      const kw = 4 * D * D, kb = 4 * D, wkv = w.wqkv + kw;
      linearBackward(be, A.dln, g.wqkv + kw, g.bqkv + kb, A.dqkv, l.ln1, wkv, BL, D, 2 * D, true);
      if (A.disl) {
        linearBackward(be, A.dlastLn, g.isw, g.isb, A.disl, A.lastLn, w.isw, B, D, H, true);
      }
      linearBackward(be, A.dlastLn, g.wqkv, g.bqkv, A.dq, A.lastLn, w.wqkv, B, D, D, !A.disl);
      scatterRowsAdd(be, A.dln, A.dlastLn, B, L, D, L - 1);
    } else {
      if (A.disl) linearBackward(be, A.dln, g.isw, g.isb, A.disl, l.ln1, w.isw, BL, D, H, true);
      linearBackward(be, A.dln, g.wqkv, g.bqkv, A.dqkv, l.ln1, w.wqkv, BL, D, 3 * D, !A.disl);
    }
    if (exact) {
      // h_mid = h_in[:, L−1] + …: the residual reaches the last row only.
      _zero(be, A.dres, BL * D);
      scatterRowsAdd(be, A.dres, dcur, B, L, D, L - 1);
      dcur = A.dres;
    }
    // ln1 = LN₁(h_in)
    layernormBackward(be, dcur, g.ln1w, g.ln1b, A.dln, hin, w.ln1w, l.mean1, l.rstd1, BL, D);
  }
  // e[b, p] = x[b, p]·W_in + b_in + P[p]
  embedBackward(be, G.embW, G.embB, dcur, A.x, B, L, D);
}
