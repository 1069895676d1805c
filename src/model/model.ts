/**
 * BTSPFormer: a small pre-LN Transformer that reads a window of values and predicts the next
 * ones (spec /work/shared/spec/btspformer-model.md). Parameters, gradients and activations live
 * in three arenas of the backend's heap; forward and backward run the ops of src/ops.
 *
 * @module
 */
import { type Backend, type BackendName, createBackend } from "../engine/backend.ts";
import { type ModelConfig, resolveModelConfig } from "./config.ts";
import { initParams, type ParamInfo, paramLayout } from "./params.ts";
import { positionalEncoding } from "./posenc.ts";
import { type _ParamPtrs, _paramPtrs } from "./ptrs.ts";
import { type _Acts, _planActs } from "./acts.ts";
import {
  _backwardPass,
  _dropoutSites,
  _forwardPass,
  type _Pass,
  type _PassCtx,
  _runAsync,
  _runSync,
  _siteKeys,
} from "./graph.ts";
import type { AttentionImpl } from "../webgpu/attention.ts";
import { UserError } from "../util/errors.ts";

/** How to run a model. */
export interface ModelOptions {
  /** A backend (shared, not closed by the model) or the name of one to create. Default "wasm". */
  backend?: Backend | BackendName;
  /** Threads for a backend created by name (default: every core). */
  threads?: number;
  /** Seed of the parameter initialisation and of the default dropout keys. Default 0. */
  seed?: number;
  /**
   * Run attention with this implementation (WebGPU, from `selectDevice`) instead of the CPU
   * backend. The model does not own it: the caller closes it after the model is done with it.
   * Only the async methods (`forwardAsync`, `backwardAsync`, `predictAsync`) work then. Models
   * sharing one implementation must not interleave their passes: it pairs a backward with the
   * forward of the same block by shape and `qkv` pointer.
   */
  attention?: AttentionImpl;
}

/** A state dict: spec §6 names to shape and values. */
export type StateDict = Map<string, { shape: number[]; data: Float32Array }>;

/**
 * The model with its arenas.
 *
 * @example Predict, then one training step's gradients
 * ```ts
 * import { BTSPFormer } from "./model.ts";
 * const m = BTSPFormer.create({ seqLen: 4, modelDim: 8, heads: 2, layers: 1 }, { backend: "ref" });
 * console.log(m.predict([[0, 0.1, 0.2, 0.3], [0.3, 0.2, 0.1, 0]]).length); // 2
 * m.setInput([[0, 0.1, 0.2, 0.3]], 1);
 * const pred = m.forward(1, { training: true, key0: 1, key1: 7 });
 * m.backward(1, pred); // d(½·pred²)/dpred = pred
 * m.close();
 * ```
 *
 * @example With an asynchronous attention (WebGPU), use the async methods
 * ```ts
 * import { BTSPFormer } from "./model.ts";
 * import { createWebGpuAttention } from "../webgpu/attention.ts";
 * const gpu = await createWebGpuAttention();
 * const attention = gpu.ok ? gpu.impl : undefined; // undefined: CPU attention
 * const m = BTSPFormer.create({ seqLen: 4, modelDim: 8, heads: 2, layers: 1 }, { attention });
 * console.log((await m.predictAsync([[0, 0.1, 0.2, 0.3]])).length); // 1
 * m.close();
 * attention?.close();
 * ```
 */
export class BTSPFormer {
  /** The resolved configuration. */
  readonly config: ModelConfig;
  /** Where the kernels run. */
  readonly backend: Backend;
  /** Every tensor of the parameter arena, trainable first. */
  readonly layout: readonly ParamInfo[];
  /** Byte offset of the parameter arena. */
  readonly paramsPtr: number;
  /** Byte offset of the gradient arena (same layout). */
  readonly gradsPtr: number;
  /** Trainable floats (a prefix of both arenas). */
  readonly numTrainable: number;
  /** All floats of the parameter arena. */
  readonly numParams: number;
  /** Internal: last-position-only last block (btsp/standard); tests compare with `false`. */
  _exactLast = true;
  /** Internal: `original` mode's head regrouping (spec §5); `false` removes the defect. */
  _regroup = true;
  /**
   * Internal: with the last-position-only last block and CPU attention, compute that block's
   * queries (and IS logits) at the last position only; `false` computes them at every position
   * as an attention implementation needs them (the same values up to float rounding).
   */
  _splitQ = true;

  readonly #ownsBackend: boolean;
  readonly #seed: number;
  readonly #P: _ParamPtrs;
  readonly #G: _ParamPtrs;
  readonly #pe: number;
  readonly #start: number;
  #acts: _Acts | undefined;
  #actsStart = 0;
  #actsEnd = 0;
  #inputRows = 0;
  #steps = 0;
  #last: { ctx: _PassCtx; headIn: number } | undefined;
  #closed = false;
  #attn: AttentionImpl | undefined;
  /** An async pass is in flight: the arenas are in use across awaits. */
  #busy = false;

  private constructor(
    cfg: ModelConfig,
    be: Backend,
    owns: boolean,
    seed: number,
    attn: AttentionImpl | undefined,
  ) {
    this.config = cfg;
    this.backend = be;
    this.#ownsBackend = owns;
    this.#seed = seed;
    this.#attn = attn;
    const layout = paramLayout(cfg);
    this.layout = layout;
    this.numParams = layout.reduce((s, p) => s + p.size, 0);
    this.numTrainable = layout.reduce((s, p) => s + (p.trainable ? p.size : 0), 0);
    const heap = be.heap;
    this.#start = heap.mark();
    this.paramsPtr = heap.alloc(this.numParams);
    this.gradsPtr = heap.alloc(this.numParams);
    const pe = positionalEncoding(cfg.posEncoding, cfg.seqLen, cfg.modelDim);
    this.#pe = pe ? heap.alloc(pe.length) : 0;
    if (pe) heap.write(this.#pe, pe);
    const init = new Float32Array(this.numParams);
    initParams(cfg, layout, seed, init);
    heap.write(this.paramsPtr, init);
    this.#P = _paramPtrs(layout, this.paramsPtr, cfg.layers);
    this.#G = _paramPtrs(layout, this.gradsPtr, cfg.layers);
    this.#actsStart = this.#actsEnd = heap.mark();
  }

  /**
   * Make a model with freshly initialised parameters.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ layers: 1 }, { backend: "ref", seed: 3 });
   * console.log(m.config.modelDim, m.numParams > 0); // 64 true
   * m.close();
   * ```
   */
  static create(config: Partial<ModelConfig> = {}, opts: ModelOptions = {}): BTSPFormer {
    const cfg = resolveModelConfig(config);
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new UserError(`Invalid model seed ${seed}: expected an integer in [0, 4294967295]`);
    }
    const b = opts.backend ?? "wasm";
    if (typeof b === "string") {
      if (b !== "ref" && b !== "wasm") {
        throw new UserError(`Unknown backend ${JSON.stringify(b)}: expected "ref" or "wasm"`);
      }
      const t = opts.threads;
      if (t !== undefined && (!Number.isInteger(t) || t < 1)) {
        throw new UserError(`Invalid thread count ${t}: expected a positive integer`);
      }
      return new BTSPFormer(cfg, createBackend(b, { threads: t }), true, seed, opts.attention);
    }
    return new BTSPFormer(cfg, b, false, seed, opts.attention);
  }

  /**
   * Where attention runs: the name of the attention implementation, or of the CPU backend.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ layers: 1 }, { backend: "ref" });
   * console.log(m.attentionDevice); // ref
   * m.close();
   * ```
   */
  get attentionDevice(): string {
    return this.#attn ? this.#attn.name : this.backend.name;
  }

  /**
   * Stop using the attention implementation given to {@linkcode BTSPFormer.create}: attention
   * runs on the CPU backend from now on, and the sync methods work again (the caller may close
   * the implementation afterwards). The input buffer and the last forward pass are dropped.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * import { createWebGpuAttention } from "../webgpu/attention.ts";
   * const gpu = await createWebGpuAttention();
   * const attention = gpu.ok ? gpu.impl : undefined;
   * const m = BTSPFormer.create({ seqLen: 2, modelDim: 4, heads: 1, layers: 1 }, { attention });
   * m.useCpuAttention();
   * attention?.close();
   * console.log(m.predict([[1, 2]]).length); // 1
   * m.close();
   * ```
   */
  useCpuAttention(): void {
    this.#alive();
    if (!this.#attn) return;
    this.#attn = undefined;
    // The activations were planned without attention scratch: plan them again on next use.
    this.#acts = undefined;
    this.#inputRows = 0;
    this.#last = undefined;
  }

  /**
   * Write `B` windows of `seqLen` values into the input buffer, growing the activation arena
   * when `B` exceeds its capacity.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ seqLen: 2, modelDim: 4, heads: 1, layers: 1 }, { backend: "ref" });
   * m.setInput(new Float32Array([1, 2, 3, 4]), 2);
   * m.close();
   * ```
   */
  setInput(x: Float32Array | number[][], B: number): void {
    this.#alive();
    this.#setInput(x, B);
  }

  #setInput(x: Float32Array | number[][], B: number): void {
    const L = this.config.seqLen;
    if (!Number.isInteger(B) || B < 1) {
      throw new UserError(`Invalid batch size ${B}: expected a positive integer`);
    }
    let flat: Float32Array;
    if (x instanceof Float32Array) {
      if (x.length !== B * L) {
        throw new UserError(
          `Invalid input: expected ${B} windows of ${L} values (${B * L} floats), got ${x.length}`,
        );
      }
      flat = x;
    } else {
      if (x.length !== B) {
        throw new UserError(`Invalid input: expected ${B} windows, got ${x.length}`);
      }
      flat = new Float32Array(B * L);
      x.forEach((row, b) => {
        if (row.length !== L) {
          throw new UserError(`Invalid input window ${b}: expected ${L} values, got ${row.length}`);
        }
        flat.set(row, b * L);
      });
    }
    for (let i = 0; i < flat.length; i++) {
      if (!Number.isFinite(flat[i])) {
        throw new UserError(
          `Invalid input window ${Math.floor(i / L)}: value ${flat[i]} at position ${
            i % L
          } is not finite`,
        );
      }
    }
    const acts = this.#ensureCapacity(B);
    this.backend.heap.write(acts.x, flat);
    this.#inputRows = B;
    this.#last = undefined;
  }

  /**
   * Run the model on the first `B` windows of the input. In training mode dropout is active,
   * with masks derived per site from (`key0`, `key1`) (default: the seed and a step counter).
   *
   * @returns the byte offset of the predictions, B·horizon floats.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ seqLen: 3, modelDim: 4, heads: 2, layers: 1 }, { backend: "ref" });
   * m.setInput([[1, 2, 3]], 1);
   * const ptr = m.forward(1, { training: false });
   * console.log(Number.isFinite(m.backend.heap.read(ptr, 1)[0])); // true
   * m.close();
   * ```
   */
  forward(B: number, opts: { training: boolean; key0?: number; key1?: number }): number {
    this.#alive();
    this.#cpuOnly();
    return _runSync(this.#forwardPass(B, opts), this.backend);
  }

  /**
   * {@linkcode BTSPFormer.forward} that also works with an asynchronous attention (WebGPU). With
   * CPU attention it is the same computation, to the bit.
   *
   * @returns the byte offset of the predictions, B·horizon floats.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ seqLen: 3, modelDim: 4, heads: 2, layers: 1 }, { backend: "ref" });
   * m.setInput([[1, 2, 3]], 1);
   * const ptr = await m.forwardAsync(1, { training: false });
   * console.log(ptr === m.forward(1, { training: false })); // true
   * m.close();
   * ```
   */
  forwardAsync(
    B: number,
    opts: { training: boolean; key0?: number; key1?: number },
  ): Promise<number> {
    return this.#drive(() => this.#forwardPass(B, opts));
  }

  /**
   * Zero the gradient arena, then backpropagate `dpred` (byte offset, B·horizon floats) through
   * the last forward pass, which must have been on the same `B`.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ seqLen: 3, modelDim: 4, heads: 2, layers: 1 }, { backend: "ref" });
   * m.setInput([[1, 2, 3]], 1);
   * const pred = m.forward(1, { training: true });
   * m.backward(1, pred);
   * console.log(m.backend.heap.read(m.gradsPtr, m.numTrainable).some((g) => g !== 0)); // true
   * m.close();
   * ```
   */
  backward(B: number, dpredPtr: number): void {
    this.#alive();
    this.#cpuOnly();
    _runSync(this.#backwardPass(B, dpredPtr), this.backend);
  }

  /**
   * {@linkcode BTSPFormer.backward} that also works with an asynchronous attention (WebGPU); the
   * last forward pass must have been a `forwardAsync` then.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ seqLen: 3, modelDim: 4, heads: 2, layers: 1 }, { backend: "ref" });
   * m.setInput([[1, 2, 3]], 1);
   * const pred = await m.forwardAsync(1, { training: true });
   * await m.backwardAsync(1, pred);
   * console.log(m.backend.heap.read(m.gradsPtr, m.numTrainable).some((g) => g !== 0)); // true
   * m.close();
   * ```
   */
  backwardAsync(B: number, dpredPtr: number): Promise<void> {
    return this.#drive(() => this.#backwardPass(B, dpredPtr));
  }

  /**
   * Eval-mode predictions for every window, `batchSize` windows per forward pass, in order.
   * In `original` mode the outputs depend on how windows are batched (spec §5).
   * Overwrites the input buffer.
   *
   * @returns n·horizon floats, window by window.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ seqLen: 2, modelDim: 4, heads: 2, layers: 1 }, { backend: "ref" });
   * console.log(m.predict([[0, 1], [1, 0], [0, 0]], 2).length); // 3
   * m.close();
   * ```
   */
  predict(windows: Float32Array | number[][], batchSize = 256): Float32Array {
    this.#alive();
    this.#cpuOnly();
    return _runSync(this.#predictPass(windows, batchSize), this.backend);
  }

  /**
   * {@linkcode BTSPFormer.predict} that also works with an asynchronous attention (WebGPU).
   *
   * @returns n·horizon floats, window by window.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ seqLen: 2, modelDim: 4, heads: 2, layers: 1 }, { backend: "ref" });
   * console.log((await m.predictAsync([[0, 1], [1, 0], [0, 0]], 2)).length); // 3
   * m.close();
   * ```
   */
  predictAsync(windows: Float32Array | number[][], batchSize = 256): Promise<Float32Array> {
    return this.#drive(() => this.#predictPass(windows, batchSize));
  }

  *#forwardPass(
    B: number,
    opts: { training: boolean; key0?: number; key1?: number },
  ): _Pass<number> {
    if (!this.#acts || !Number.isInteger(B) || B < 1 || B > this.#inputRows) {
      throw new UserError(
        `Cannot run forward on ${B} windows: setInput holds ${this.#inputRows} windows`,
      );
    }
    const drop = opts.training && this.config.dropout > 0;
    const key0 = opts.key0 ?? this.#seed, key1 = opts.key1 ?? this.#steps;
    if (opts.training) this.#steps++;
    const ctx: _PassCtx = {
      be: this.backend,
      cfg: this.config,
      P: this.#P,
      G: this.#G,
      A: this.#acts,
      pe: this.#pe,
      B,
      drop,
      keys: drop ? _siteKeys(key0, key1, _dropoutSites(this.config.layers)) : [],
      exactLast: this._exactLast,
      splitQ: this._splitQ && !this.#attn,
      regroup: this._regroup,
    };
    // A pass that fails half way leaves nothing a backward could use.
    this.#last = undefined;
    const { pred, headIn } = yield* _forwardPass(ctx);
    this.#last = { ctx, headIn };
    return pred;
  }

  *#backwardPass(B: number, dpredPtr: number): _Pass<void> {
    const last = this.#last;
    if (!last || last.ctx.B !== B) {
      throw new UserError(
        `Cannot run backward on ${B} windows: the last forward pass was on ${
          last ? last.ctx.B : "no"
        } windows`,
      );
    }
    this.backend.heap.f32.fill(0, this.gradsPtr >> 2, (this.gradsPtr >> 2) + this.numParams);
    yield* _backwardPass(last.ctx, last.headIn, dpredPtr);
  }

  *#predictPass(windows: Float32Array | number[][], batchSize: number): _Pass<Float32Array> {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new UserError(`Invalid batch size ${batchSize}: expected a positive integer`);
    }
    const L = this.config.seqLen, K = this.config.horizon;
    const n = windows instanceof Float32Array ? windows.length / L : windows.length;
    if (!Number.isInteger(n)) {
      throw new UserError(
        `Invalid input: ${windows.length} floats is not a whole number of ${L}-value windows`,
      );
    }
    const out = new Float32Array(n * K);
    for (let s = 0; s < n; s += batchSize) {
      const b = Math.min(batchSize, n - s);
      const part = windows instanceof Float32Array
        ? windows.subarray(s * L, (s + b) * L)
        : windows.slice(s, s + b);
      this.#setInput(part, b);
      const ptr = yield* this.#forwardPass(b, { training: false });
      out.set(this.backend.heap.read(ptr, b * K), s * K);
    }
    return out;
  }

  /** Run a pass with the attention implementation, or on the CPU when there is none. */
  async #drive<T>(pass: () => _Pass<T>): Promise<T> {
    this.#alive();
    const impl = this.#attn;
    if (!impl) return _runSync(pass(), this.backend);
    this.#busy = true;
    try {
      return await _runAsync(pass(), this.backend, impl);
    } finally {
      this.#busy = false;
    }
  }

  #cpuOnly(): void {
    if (this.#attn) {
      throw new Error(
        "this model runs attention on WebGPU: use forwardAsync/backwardAsync/predictAsync",
      );
    }
  }

  /**
   * A copy of one parameter tensor.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ layers: 1 }, { backend: "ref" });
   * console.log(m.getParam("blocks.0.attn.btsp.eta")); // Float32Array(4) [ 0, 0, 0, 0 ]
   * m.close();
   * ```
   */
  getParam(name: string): Float32Array {
    this.#alive();
    const p = this.#info(name);
    return this.backend.heap.read(this.paramsPtr + 4 * p.offset, p.size);
  }

  /**
   * Overwrite one parameter tensor (flat, row-major).
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ layers: 1 }, { backend: "ref" });
   * m.setParam("blocks.0.attn.btsp.eta", [1, 2, 3, 4]);
   * console.log(m.getParam("blocks.0.attn.btsp.eta")[3]); // 4
   * m.close();
   * ```
   */
  setParam(name: string, data: ArrayLike<number>): void {
    this.#alive();
    const p = this.#info(name);
    if (data.length !== p.size) {
      throw new UserError(
        `Invalid value for parameter "${name}": expected ${p.size} values, got ${data.length}`,
      );
    }
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new UserError(
          `Invalid value for parameter "${name}": element ${i} is ${data[i]}, not a finite number`,
        );
      }
    }
    this.backend.heap.write(this.paramsPtr + 4 * p.offset, data);
  }

  /**
   * Copies of every tensor (frozen ones included), in layout order.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ layers: 1, attention: "original" }, { backend: "ref" });
   * console.log(m.stateDict().get("blocks.0.attn.time_bias")?.shape); // [ 1, 1, 500 ]
   * m.close();
   * ```
   */
  stateDict(): StateDict {
    this.#alive();
    const sd: StateDict = new Map();
    for (const p of this.layout) {
      sd.set(p.name, { shape: [...p.shape], data: this.getParam(p.name) });
    }
    return sd;
  }

  /**
   * Replace every tensor. Names and shapes must match the model exactly.
   *
   * @throws {UserError} on a missing, unexpected or misshapen tensor (nothing is written then).
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const a = BTSPFormer.create({ layers: 1 }, { backend: "ref", seed: 1 });
   * const b = BTSPFormer.create({ layers: 1 }, { backend: "ref", seed: 2 });
   * b.loadStateDict(a.stateDict());
   * console.log(b.getParam("output_layer.3.bias")[0] === a.getParam("output_layer.3.bias")[0]); // true
   * a.close();
   * b.close();
   * ```
   */
  loadStateDict(sd: StateDict): void {
    this.#alive();
    const want = new Set(this.layout.map((p) => p.name));
    for (const name of sd.keys()) {
      if (!want.has(name)) {
        throw new UserError(`Cannot load state dict: unexpected tensor "${name}"`);
      }
    }
    for (const p of this.layout) {
      const t = sd.get(p.name);
      if (!t) throw new UserError(`Cannot load state dict: missing tensor "${p.name}"`);
      const same = t.shape.length === p.shape.length && t.shape.every((d, i) => d === p.shape[i]);
      if (!same || t.data.length !== p.size) {
        throw new UserError(
          `Cannot load state dict: tensor "${p.name}" has shape [${
            t.shape.join(", ")
          }] (${t.data.length} values), expected [${p.shape.join(", ")}]`,
        );
      }
      const bad = t.data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) {
        throw new UserError(
          `Cannot load state dict: tensor "${p.name}" element ${bad} is ${t.data[bad]}`,
        );
      }
    }
    for (const p of this.layout) {
      this.backend.heap.write(this.paramsPtr + 4 * p.offset, sd.get(p.name)!.data);
    }
  }

  /**
   * Release the model: stops the backend it created, or frees its arenas of a shared backend
   * when nothing was allocated after them. Calling it twice is harmless.
   *
   * @example
   * ```ts
   * import { BTSPFormer } from "./model.ts";
   * const m = BTSPFormer.create({ layers: 1 }, { backend: "ref" });
   * m.close();
   * ```
   */
  close(): void {
    if (this.#closed) return;
    if (this.#busy) {
      throw new Error("Cannot close a BTSPFormer while one of its async passes is running");
    }
    this.#closed = true;
    this.#last = undefined;
    if (this.#ownsBackend) {
      this.backend.close();
    } else if (this.backend.heap.mark() === this.#actsEnd) {
      this.backend.heap.release(this.#start);
    }
  }

  #alive(): void {
    if (this.#closed) throw new Error("Cannot use a closed BTSPFormer");
    // Its arenas hold the pass's activations across awaits.
    if (this.#busy) {
      throw new Error("Cannot use a BTSPFormer while one of its async passes is running");
    }
  }

  #info(name: string): ParamInfo {
    const p = this.layout.find((q) => q.name === name);
    if (!p) throw new UserError(`Unknown parameter ${JSON.stringify(name)}`);
    return p;
  }

  /** Activation arena for at least B windows; re-planned on growth, reusing the space on top. */
  #ensureCapacity(B: number): _Acts {
    if (this.#acts && this.#acts.cap >= B) return this.#acts;
    const heap = this.backend.heap;
    // Only the top of the bump allocator can be handed back; otherwise the old space is left.
    if (heap.mark() === this.#actsEnd) heap.release(this.#actsStart);
    this.#actsStart = heap.mark();
    this.#acts = _planActs(heap, this.config, B, { attentionScratch: !this.#attn });
    this.#actsEnd = heap.mark();
    this.#last = undefined;
    return this.#acts;
  }
}
