/**
 * Softmax attention (spec §3 and §5): scores, BTSP plasticity, context, and their gradients,
 * on either backend. One kernel task per (sample, head); the `original` regrouping defect of
 * §5 is a separate permutation of the per-sample contexts.
 *
 * @module
 */
import type { Backend } from "../engine/backend.ts";
import { _attentionTaskFloats } from "../kernels/ref/attention.ts";
import { UserError } from "../util/errors.ts";

/** `btsp`: spec §3 (default); `standard`: §3 steps 1, 2, 7; `original`: the reference code, §5. */
export type AttentionMode = "btsp" | "standard" | "original";

/** Pointers (byte offsets, 0 = absent) and shapes of one attention forward. */
export interface AttentionForwardArgs {
  /** Which attention. */
  mode: AttentionMode;
  /** Batch size. */
  B: number;
  /** Sequence length (keys and values use all L positions). */
  L: number;
  /** Model width; head width is D/H. */
  D: number;
  /** Heads. */
  H: number;
  /** First query computed; queries qStart … L−1 (`original` needs 0). */
  qStart: number;
  /** (B, L−qStart, D) context, heads concatenated in head order (before out_proj). */
  out: number;
  /**
   * (B, L, 3D) rows [q | k | v]; head h owns features h·Dh … h·Dh+Dh−1 of each. With `q` set:
   * (B, L, 2D) rows [k | v].
   */
  qkv: number;
  /**
   * Separate queries, (B, L−qStart, D): the rows of positions qStart … L−1 only (a model
   * block that needs only the last query computes no others). 0 or absent (default): the q
   * part of `qkv`. CPU attention only: the WebGPU attention reads the fused layout.
   */
  q?: number;
  /** btsp: (B, L, H) logits z·uᵀ+a, IS = σ(logit), or (B, L−qStart, H) with `q` set; else 0. */
  isLogit: number;
  /** {@linkcode attentionScratchFloats} floats the forward fills and the backward reads. */
  scratch: number;
  /** btsp: (H) log τ_ET; 0 otherwise. */
  logTauEt: number;
  /** btsp: (H) log τ_IS; 0 otherwise. */
  logTauIs: number;
  /** btsp: (H), η = 0.5·σ(eta); 0 otherwise. */
  eta: number;
  /** original: (1) et_gate; 0 otherwise. */
  etGate: number;
  /** original: (1) is_gate; 0 otherwise. */
  isGate: number;
  /** original: (500) time_bias (frozen); 0 otherwise. */
  timeBias: number;
  /** original only: apply the §5 regrouping (default true); false = correct per-head concat. */
  regroup?: boolean;
}

/** A forward's arguments plus the gradients; every gradient accumulates (`+=`). */
export interface AttentionBackwardArgs extends AttentionForwardArgs {
  /** (B, L−qStart, D) gradient of `out`. */
  dout: number;
  /** Gradient of `qkv`, laid out as `qkv`. */
  dqkv: number;
  /** Gradient of `q` when `q` is set (required then), laid out as `q`. */
  dq?: number;
  /** btsp: gradient of `isLogit`, laid out as `isLogit`. */
  disLogit: number;
  /** btsp: (H). */
  dlogTauEt: number;
  /** btsp: (H). */
  dlogTauIs: number;
  /** btsp: (H). */
  deta: number;
  /** original: (1). */
  detGate: number;
  /** original: (1). */
  disGate: number;
}

const MODE_ID: Record<AttentionMode, number> = { standard: 0, btsp: 1, original: 2 };
/** Per-task parameter-gradient partials written by the backward kernel. */
const PARTIALS: Record<AttentionMode, number> = { standard: 0, btsp: 3, original: 2 };

function modeId(mode: unknown): number {
  if (typeof mode !== "string" || !Object.hasOwn(MODE_ID, mode)) {
    throw new UserError(
      `Unknown attention mode "${String(mode)}": expected "btsp", "standard" or "original"`,
    );
  }
  return MODE_ID[mode as AttentionMode];
}

function checkShape(mode: AttentionMode, B: number, L: number, D: number, H: number, q: number) {
  for (const [name, v] of [["B", B], ["L", L], ["D", D], ["H", H]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new UserError(`Cannot run attention with ${name} = ${v}: expected a positive integer`);
    }
  }
  if (D % H !== 0) {
    throw new UserError(`Cannot split model width ${D} into ${H} heads: ${D} is not a multiple`);
  }
  if (!Number.isInteger(q) || q < 0 || q >= L) {
    throw new UserError(
      `Cannot start queries at qStart = ${q}: expected an integer in 0 … ${L - 1}`,
    );
  }
  if (mode === "original" && q !== 0) {
    throw new UserError(`Cannot use qStart = ${q} with "original" attention: it needs qStart = 0`);
  }
}

/** Scratch regions: per-task blocks, then the parameter partials, then the regroup buffer. */
function layout(mode: AttentionMode, B: number, L: number, D: number, H: number, qStart: number) {
  const blocks = B * H * _attentionTaskFloats(MODE_ID[mode], L, qStart);
  const partials = blocks;
  const ctx = partials + ((B * H * PARTIALS[mode] + 15) & ~15);
  const total = ctx + (mode === "original" ? B * L * D : 0);
  return { partials, ctx, total };
}

/**
 * Floats of scratch one attention forward/backward pair needs.
 *
 * @example
 * ```ts
 * import { attentionScratchFloats } from "./attention.ts";
 * console.log(attentionScratchFloats("btsp", 2, 8, 16, 4, 0) > 0); // true
 * ```
 */
export function attentionScratchFloats(
  mode: AttentionMode,
  B: number,
  L: number,
  D: number,
  H: number,
  qStart: number,
): number {
  modeId(mode);
  checkShape(mode, B, L, D, H, qStart);
  return layout(mode, B, L, D, H, qStart).total;
}

function need(a: AttentionForwardArgs, names: readonly string[]): void {
  const r = a as unknown as Record<string, unknown>;
  for (const n of names) {
    const v = r[n];
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0 || v % 4 !== 0) {
      throw new UserError(
        `Cannot run "${a.mode}" attention with ${n} = ${String(v)}: expected a tensor pointer`,
      );
    }
  }
}

const FORWARD_NEEDS: Record<AttentionMode, readonly string[]> = {
  standard: ["out", "qkv", "scratch"],
  btsp: ["out", "qkv", "scratch", "isLogit", "logTauEt", "logTauIs", "eta"],
  original: ["out", "qkv", "scratch", "etGate", "isGate", "timeBias"],
};

function prepare(a: AttentionForwardArgs) {
  const id = modeId(a.mode);
  checkShape(a.mode, a.B, a.L, a.D, a.H, a.qStart);
  need(a, FORWARD_NEEDS[a.mode]);
  if (a.q !== undefined && a.q !== 0) need(a, ["q"]);
  const lay = layout(a.mode, a.B, a.L, a.D, a.H, a.qStart);
  const regroup = a.mode === "original" && a.regroup !== false;
  const Lq = a.L - a.qStart, Dh = a.D / a.H;
  const pairs = Lq * a.L;
  const extra = a.mode === "btsp" ? 90 : a.mode === "original" ? 25 : 20;
  return {
    id,
    regroup,
    ctx: a.scratch + lay.ctx * 4,
    partials: a.scratch + lay.partials * 4,
    fwdFlops: pairs * (4 * Dh + extra),
    bwdFlops: pairs * (8 * Dh + 2 * extra),
  };
}

/**
 * Attention forward: `out` ← contexts of queries qStart … L−1; fills `scratch` for the backward.
 *
 * @example Standard attention, one sample, one head, two positions
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { attentionForward, attentionScratchFloats } from "./attention.ts";
 * const be = createBackend("ref");
 * const [B, L, D, H] = [1, 2, 1, 1];
 * const qkv = be.heap.alloc(B * L * 3 * D), out = be.heap.alloc(B * L * D);
 * be.heap.write(qkv, [0, 0, 1, 0, 0, 3]); // q = k = 0: uniform attention over v = [1, 3]
 * const scratch = be.heap.alloc(attentionScratchFloats("standard", B, L, D, H, 0));
 * attentionForward(be, {
 *   mode: "standard", B, L, D, H, qStart: 0, out, qkv, isLogit: 0, scratch,
 *   logTauEt: 0, logTauIs: 0, eta: 0, etGate: 0, isGate: 0, timeBias: 0,
 * });
 * console.log(Array.from(be.heap.read(out, 2))); // [2, 2]
 * be.close();
 * ```
 */
export function attentionForward(be: Backend, a: AttentionForwardArgs): void {
  const p = prepare(a);
  const dst = p.regroup ? p.ctx : a.out;
  const io = rows(a, a.qkv, a.isLogit, a.q ?? 0);
  be.run("attention_forward", a.B * a.H, [
    p.id,
    dst,
    io.q,
    io.qs,
    io.qRows,
    io.kv,
    io.kvs,
    a.scratch,
    a.B,
    a.L,
    a.D,
    a.H,
    a.qStart,
    io.isl,
    a.logTauEt,
    a.logTauIs,
    a.eta,
    a.etGate,
    a.isGate,
    a.timeBias,
  ], p.fwdFlops);
  if (p.regroup) {
    be.run("attention_regroup_forward", a.B * a.L, [a.out, p.ctx, a.B, a.L, a.D, a.H], a.D);
  }
}

/**
 * Attention backward after {@linkcode attentionForward} with the same arguments: accumulates
 * into `dqkv`, and per mode into `disLogit`, `dlogTauEt`, `dlogTauIs`, `deta` (btsp) or
 * `detGate`, `disGate` (original). `time_bias` is frozen (no gradient). Gradient pointers other
 * than `dqkv` may be 0 to skip them.
 *
 * @example Gradient of the sum of a standard attention output
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { attentionBackward, attentionForward, attentionScratchFloats } from "./attention.ts";
 * const be = createBackend("ref");
 * const [B, L, D, H] = [1, 2, 1, 1];
 * const h = be.heap;
 * const qkv = h.alloc(6), out = h.alloc(2), dout = h.alloc(2), dqkv = h.alloc(6);
 * h.write(qkv, [0, 0, 1, 0, 0, 3]);
 * h.write(dout, [1, 1]);
 * const scratch = h.alloc(attentionScratchFloats("standard", B, L, D, H, 0));
 * const args = {
 *   mode: "standard" as const, B, L, D, H, qStart: 0, out, qkv, isLogit: 0, scratch,
 *   logTauEt: 0, logTauIs: 0, eta: 0, etGate: 0, isGate: 0, timeBias: 0,
 * };
 * attentionForward(be, args);
 * attentionBackward(be, {
 *   ...args, dout, dqkv, disLogit: 0, dlogTauEt: 0, dlogTauIs: 0, deta: 0, detGate: 0, disGate: 0,
 * });
 * console.log(Array.from(h.read(dqkv, 6))); // [0, 0, 1, 0, 0, 1]
 * be.close();
 * ```
 */
export function attentionBackward(be: Backend, a: AttentionBackwardArgs): void {
  const p = prepare(a);
  const split = (a.q ?? 0) !== 0;
  need(a, split ? ["dout", "dqkv", "dq"] : ["dout", "dqkv"]);
  let dout = a.dout;
  if (p.regroup) {
    be.run("attention_regroup_backward", a.B * a.L, [p.ctx, a.dout, a.B, a.L, a.D, a.H], a.D);
    dout = p.ctx;
  }
  const io = rows(a, a.qkv, a.isLogit, a.q ?? 0);
  const dio = rows(a, a.dqkv, a.mode === "btsp" ? a.disLogit : 0, split ? a.dq ?? 0 : 0);
  be.run("attention_backward", a.B * a.H, [
    p.id,
    dio.q,
    dio.kv,
    dio.isl,
    p.partials,
    dout,
    io.q,
    io.qs,
    io.qRows,
    io.kv,
    io.kvs,
    a.scratch,
    a.B,
    a.L,
    a.D,
    a.H,
    a.qStart,
    a.logTauEt,
    a.logTauIs,
    a.eta,
    a.etGate,
    a.timeBias,
  ], p.bwdFlops);
  const grads = a.mode === "btsp"
    ? [a.dlogTauEt, a.dlogTauIs, a.deta]
    : a.mode === "original"
    ? [a.detGate, a.disGate, 0]
    : [0, 0, 0];
  if (grads.some((g) => g !== 0)) {
    be.run("attention_reduce_params", 1, [p.id, p.partials, a.B, a.H, ...grads], 0);
  }
}

/**
 * Where the kernels find query qStart of sample 0 (`q`, rows `qs` floats apart, `qRows` rows per
 * sample), key 0 of sample 0 (`kv`, rows `kvs` apart, values D floats after the keys) and the
 * isLogit row of query qStart, for the fused layout (`q` = 0) or the split one. The same
 * arithmetic places the gradients.
 */
function rows(a: AttentionForwardArgs, qkv: number, isl: number, q: number) {
  const { L, D, H, qStart } = a;
  if (q !== 0) return { q, qs: D, qRows: L - qStart, kv: qkv, kvs: 2 * D, isl };
  return {
    q: qkv + qStart * 3 * D * 4,
    qs: 3 * D,
    qRows: L,
    kv: qkv + D * 4,
    kvs: 3 * D,
    isl: isl === 0 ? 0 : isl + qStart * H * 4,
  };
}
