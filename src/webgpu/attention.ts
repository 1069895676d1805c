/**
 * Attention forward/backward on WebGPU, with the semantics of `attentionForward` /
 * `attentionBackward` in src/ops/attention.ts (all three modes, qStart, the §5 regrouping).
 *
 * Only what must cross between the heap and the GPU does: qkv, isLogit and the attention
 * parameters up and `out` down in the forward; `dout` up and the gradients down in the backward.
 * The GPU path ignores `scratch`: the forward keeps A, Â and the row normalizers in GPU buffers
 * of its call site, identified by (shape, `qkv` pointer, `scratch` pointer). So a backward must
 * follow a forward with the same arguments, and it uses the qkv, isLogit and parameters that
 * forward uploaded (the model does not change them in between). Buffers and pipelines are
 * created on the first call of a call site and reused; the 16 most recently used call sites are
 * kept.
 *
 * Not bit-identical to the CPU backends (float32 on the GPU, GPU `exp`), but deterministic: every
 * float is written by one invocation and every reduction runs in a fixed order.
 *
 * @module
 */
import type { Backend } from "../engine/backend.ts";
import type { AttentionBackwardArgs, AttentionForwardArgs } from "../ops/attention.ts";
import { attentionScratchFloats } from "../ops/attention.ts";
import { UserError } from "../util/errors.ts";
import { compilePipeline, requestGpu, withErrorScope } from "./gpu.ts";
import { gpuLayout, type GpuShape } from "./layout.ts";
import { _CallState, _checkLimits, type GpuPipelines } from "./state.ts";
import { groupsFor } from "./wgsl_common.ts";
import { forwardWgsl } from "./wgsl_forward.ts";
import { backwardWgsl, reduceWgsl } from "./wgsl_backward.ts";

/** An attention implementation the model can call instead of the CPU ops. */
export interface AttentionImpl {
  /** What runs, e.g. "webgpu (llvmpipe (LLVM 15.0.6, 256 bits))". */
  readonly name: string;
  /** Same semantics as `attentionForward`: reads qkv, isLogit, params from `be.heap`, writes `out`. */
  forward(be: Backend, a: AttentionForwardArgs): Promise<void>;
  /**
   * Same semantics as `attentionBackward`: accumulates dqkv, disLogit, dlogTauEt, dlogTauIs,
   * deta, detGate, disGate into `be.heap` (gradient pointers other than dqkv may be 0).
   */
  backward(be: Backend, a: AttentionBackwardArgs): Promise<void>;
  /** Free the GPU buffers and destroy the device. */
  close(): void;
}

/** The outcome of {@linkcode createWebGpuAttention}. */
export type WebGpuAttentionResult =
  | { ok: true; impl: AttentionImpl; adapter: string; hardware: boolean }
  | { ok: false; reason: string };

/**
 * Get a WebGPU device and wrap it as an {@linkcode AttentionImpl}. Never throws for a missing
 * or refused adapter: that is `{ ok: false, reason }`.
 *
 * @param opts.requireHardware refuse software adapters such as llvmpipe.
 *
 * @example Standard attention over two positions
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { createWebGpuAttention } from "./attention.ts";
 * const r = await createWebGpuAttention();
 * if (r.ok) {
 *   const be = createBackend("ref");
 *   const qkv = be.heap.alloc(6), out = be.heap.alloc(2);
 *   be.heap.write(qkv, [0, 0, 1, 0, 0, 3]); // q = k = 0: uniform weights over v = [1, 3]
 *   await r.impl.forward(be, {
 *     mode: "standard", B: 1, L: 2, D: 1, H: 1, qStart: 0, out, qkv, isLogit: 0, scratch: 0,
 *     logTauEt: 0, logTauIs: 0, eta: 0, etGate: 0, isGate: 0, timeBias: 0,
 *   });
 *   console.log(Array.from(be.heap.read(out, 2))); // [2, 2]
 *   r.impl.close();
 *   be.close();
 * }
 * ```
 */
export async function createWebGpuAttention(
  opts: { requireHardware?: boolean } = {},
): Promise<WebGpuAttentionResult> {
  const r = await requestGpu(opts);
  if (!r.ok) return r;
  const { device, adapter, hardware } = r.gpu;
  return { ok: true, impl: new _WebGpuAttention(device, adapter), adapter, hardware };
}

/**
 * Call sites kept with their buffers; more evict the least recently used. A training step needs
 * one per block and batch shape (its forward state must live until its backward), so this bounds
 * the depth of a model trained on WebGPU: 64 covers 21 blocks × 3 batch shapes.
 */
const MAX_CALL_SITES = 64;
const MAP_READ = 0x01; // GPUMapMode.READ

class _WebGpuAttention implements AttentionImpl {
  readonly name: string;
  readonly #device: GPUDevice;
  readonly #pipes = new Map<string, Promise<GpuPipelines>>();
  readonly #sites = new Map<string, _CallState>();
  #lost: string | undefined;
  #closed = false;
  #busy = false;

  constructor(device: GPUDevice, adapter: string) {
    this.name = `webgpu (${adapter})`;
    this.#device = device;
    device.lost.then((info) => {
      if (!this.#closed) this.#lost = info.message || String(info.reason);
    });
  }

  async forward(be: Backend, a: AttentionForwardArgs): Promise<void> {
    _rejectSplit(a);
    await this.#exclusive(async () => {
      const site = await this.#site(a);
      const { lay, shape } = site;
      const { B, L, D, H } = shape;
      const q = this.#device.queue, f = be.heap.f32;
      const up = (ptr: number, at: number, n: number) => {
        if (n > 0) q.writeBuffer(site.inp, at * 4, _shared(f), ptr >> 2, n);
      };
      up(a.qkv, lay.inp.qkv, B * L * 3 * D);
      if (shape.mode === "btsp") {
        up(a.isLogit, lay.inp.isl, B * L * H);
        up(a.logTauEt, lay.inp.tauEt, H);
        up(a.logTauIs, lay.inp.tauIs, H);
        up(a.eta, lay.inp.eta, H);
      } else if (shape.mode === "original") {
        up(a.etGate, lay.inp.etGate, 1);
        up(a.isGate, lay.inp.isGate, 1);
        up(a.timeBias, lay.inp.timeBias, 500);
      }
      const outFloats = B * lay.Lq * D;
      const pipes = await this.#pipelines(shape);
      site.forwarded = false;
      await this.#submit("running the attention forward", (enc) => {
        const pass = enc.beginComputePass({ label: "attention forward" });
        pass.setPipeline(pipes.forward);
        pass.setBindGroup(0, site.fwdGroup);
        pass.dispatchWorkgroups(...groupsFor(lay.NT));
        pass.end();
        enc.copyBufferToBuffer(site.out, 0, site.outRead, 0, outFloats * 4);
      });
      const got = await this.#readBack(site.outRead, outFloats);
      be.heap.f32.set(got, a.out >> 2);
      site.forwarded = true;
    });
  }

  async backward(be: Backend, a: AttentionBackwardArgs): Promise<void> {
    _rejectSplit(a);
    await this.#exclusive(async () => {
      _checkPointers(a, ["dout", "dqkv"]);
      const site = this.#sites.get(_siteKey(_shapeOf(a), a));
      if (!site?.forwarded) {
        throw new Error(
          `WebGPU attention backward needs a forward with the same arguments first ` +
            `(mode "${a.mode}", B ${a.B}, L ${a.L}, qStart ${a.qStart}, qkv ${a.qkv}); at most ` +
            `${MAX_CALL_SITES} call sites keep their state, so very deep models need --device wasm`,
        );
      }
      const { lay, shape } = site;
      const { B, L, D, H } = shape;
      const outFloats = B * lay.Lq * D;
      this.#device.queue.writeBuffer(site.dout, 0, _shared(be.heap.f32), a.dout >> 2, outFloats);
      const pipes = await this.#pipelines(shape);
      const gradFloats = lay.grads.par + lay.grads.parCount;
      await this.#submit("running the attention backward", (enc) => {
        const pass = enc.beginComputePass({ label: "attention backward" });
        pass.setPipeline(pipes.backward);
        pass.setBindGroup(0, site.bwdGroup);
        pass.dispatchWorkgroups(...groupsFor(lay.NT));
        if (pipes.reduce && site.redGroup) {
          // A separate dispatch in the same pass: WebGPU orders it after the backward's writes.
          pass.setPipeline(pipes.reduce);
          pass.setBindGroup(0, site.redGroup);
          pass.dispatchWorkgroups(1);
        }
        pass.end();
        enc.copyBufferToBuffer(site.grads, 0, site.gradRead, 0, gradFloats * 4);
      });
      const g = await this.#readBack(site.gradRead, gradFloats);
      const f = be.heap.f32;
      const add = (ptr: number, at: number, n: number) => {
        if (ptr === 0) return;
        const o = ptr >> 2;
        for (let k = 0; k < n; k++) f[o + k] += g[at + k];
      };
      add(a.dqkv, lay.grads.qkv, B * L * 3 * D);
      if (shape.mode === "btsp") {
        add(a.disLogit, lay.grads.isl, B * L * H);
        add(a.dlogTauEt, lay.grads.par, H);
        add(a.dlogTauIs, lay.grads.par + H, H);
        add(a.deta, lay.grads.par + 2 * H, H);
      } else if (shape.mode === "original") {
        add(a.detGate, lay.grads.par, 1);
        add(a.disGate, lay.grads.par + 1, 1);
      }
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#sites.values()) s.destroy();
    this.#sites.clear();
    this.#device.destroy();
  }

  /** One call at a time: call sites share readback buffers and the error-scope stack. */
  async #exclusive(fn: () => Promise<void>): Promise<void> {
    if (this.#closed) throw new Error("WebGPU attention was used after close()");
    if (this.#lost !== undefined) {
      throw new Error(`The WebGPU device was lost (${this.#lost}); rerun with --device wasm`);
    }
    if (this.#busy) {
      throw new Error("WebGPU attention was called again before the previous call finished");
    }
    this.#busy = true;
    try {
      await fn();
    } finally {
      this.#busy = false;
    }
  }

  #pipelines(shape: GpuShape): Promise<GpuPipelines> {
    const key = _shapeKey(shape);
    let p = this.#pipes.get(key);
    if (!p) {
      const lay = gpuLayout(shape), d = this.#device;
      p = (async () => {
        const pipes: GpuPipelines = {
          forward: await compilePipeline(d, "attention forward", forwardWgsl(shape, lay)),
          backward: await compilePipeline(d, "attention backward", backwardWgsl(shape, lay)),
          reduce: lay.NP > 0
            ? await compilePipeline(d, "attention reduce", reduceWgsl(shape, lay))
            : undefined,
        };
        return pipes;
      })();
      // A failed compile is not cached, so the error shows again on the next call.
      p.catch(() => this.#pipes.delete(key));
      this.#pipes.set(key, p);
    }
    return p;
  }

  async #site(a: AttentionForwardArgs): Promise<_CallState> {
    const shape = _shapeOf(a);
    // Validates mode and shape with the CPU op's own messages (UserError).
    attentionScratchFloats(a.mode, a.B, a.L, a.D, a.H, a.qStart);
    _checkPointers(a, _NEEDS[a.mode]);
    const key = _siteKey(shape, a);
    let site = this.#sites.get(key);
    if (site) {
      this.#sites.delete(key); // re-inserted below: Map order is the LRU order
    } else {
      _checkLimits(this.#device, shape, gpuLayout(shape));
      const pipes = await this.#pipelines(shape);
      site = await _CallState.create(this.#device, shape, gpuLayout(shape), pipes);
      if (this.#sites.size >= MAX_CALL_SITES) {
        const [oldKey, old] = this.#sites.entries().next().value!;
        old.destroy();
        this.#sites.delete(oldKey);
      }
    }
    this.#sites.set(key, site);
    return site;
  }

  async #submit(what: string, encode: (e: GPUCommandEncoder) => void): Promise<void> {
    const d = this.#device;
    await withErrorScope(d, what, () => {
      const enc = d.createCommandEncoder({ label: what });
      encode(enc);
      d.queue.submit([enc.finish()]);
    });
  }

  async #readBack(buf: GPUBuffer, floats: number): Promise<Float32Array> {
    await buf.mapAsync(MAP_READ, 0, floats * 4);
    try {
      return new Float32Array(buf.getMappedRange(0, floats * 4).slice(0));
    } finally {
      buf.unmap();
    }
  }
}

/**
 * The heap is a SharedArrayBuffer; `writeBuffer` accepts shared views (WebGPU's
 * AllowSharedBufferSource, and Deno takes them), only the TypeScript DOM types say otherwise.
 * Passing the view avoids copying the tensors once more.
 */
function _shared(f: Float32Array): Float32Array<ArrayBuffer> {
  return f as unknown as Float32Array<ArrayBuffer>;
}

const _NEEDS: Record<AttentionForwardArgs["mode"], readonly string[]> = {
  standard: ["out", "qkv"],
  btsp: ["out", "qkv", "isLogit", "logTauEt", "logTauIs", "eta"],
  original: ["out", "qkv", "etGate", "isGate", "timeBias"],
};

function _checkPointers(a: AttentionForwardArgs, names: readonly string[]): void {
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

/** The GPU kernels read queries from `qkv` only; a split `q` would be silently ignored. */
function _rejectSplit(a: AttentionForwardArgs): void {
  if (a.q !== undefined && a.q !== 0) {
    throw new Error(
      `WebGPU attention cannot read queries apart from qkv (q = ${a.q}): it needs the fused ` +
        `(B, L, 3D) layout with q = 0`,
    );
  }
}

function _shapeOf(a: AttentionForwardArgs): GpuShape {
  const { mode, B, L, D, H, qStart } = a;
  return { mode, B, L, D, H, qStart, regroup: mode === "original" && a.regroup !== false };
}

function _shapeKey(s: GpuShape): string {
  return `${s.mode}|${s.B}|${s.L}|${s.D}|${s.H}|${s.qStart}|${s.regroup}`;
}

function _siteKey(s: GpuShape, a: AttentionForwardArgs): string {
  return `${_shapeKey(s)}|${a.qkv}|${a.scratch}`;
}
