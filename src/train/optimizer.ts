/**
 * AdamW / Adam over the model's whole trainable arena in one fused kernel pass, with PyTorch's
 * global-norm gradient clipping. Moments live on the model's heap next to the parameters.
 *
 * @module
 */
import type { BTSPFormer } from "../model/model.ts";
import { adamwStep, gradNorm } from "../ops/optim.ts";
import { scaleInPlace } from "../ops/residual.ts";

/** Which update rule. */
export type OptimizerName = "adamw" | "adam";

/** Optimizer hyper-parameters (PyTorch defaults for betas and eps). */
export interface OptimizerOptions {
  name: OptimizerName;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/**
 * The optimizer state for one model: first and second moments and the step count.
 *
 * @example
 * ```ts ignore
 * import { Optimizer } from "./optimizer.ts";
 * import { BTSPFormer } from "../model/model.ts";
 * const model = BTSPFormer.create({ seqLen: 8, modelDim: 8, heads: 2, layers: 1 });
 * const opt = new Optimizer(model, { name: "adamw", weightDecay: 0.01 });
 * opt.step(1e-3); // after model.backward(...)
 * model.close();
 * ```
 */
export class Optimizer {
  readonly model: BTSPFormer;
  readonly options: Required<OptimizerOptions>;
  /** Byte offsets of the moment arenas (numTrainable floats each). */
  readonly mPtr: number;
  readonly vPtr: number;
  /** Updates done so far (PyTorch's `state["step"]`). */
  steps = 0;

  constructor(model: BTSPFormer, o: OptimizerOptions) {
    this.model = model;
    this.options = { beta1: 0.9, beta2: 0.999, eps: 1e-8, ...o };
    const heap = model.backend.heap;
    this.mPtr = heap.alloc(model.numTrainable);
    this.vPtr = heap.alloc(model.numTrainable);
  }

  /**
   * Clip the gradients to `maxNorm` like `torch.nn.utils.clip_grad_norm_` (0 = no clipping) and
   * return the norm before clipping.
   */
  clip(maxNorm: number): number {
    const m = this.model;
    const norm = gradNorm(m.backend, m.gradsPtr, m.numTrainable);
    if (maxNorm > 0) {
      const coef = maxNorm / (norm + 1e-6);
      if (coef < 1) scaleInPlace(m.backend, m.gradsPtr, m.numTrainable, coef);
    }
    return norm;
  }

  /** One update of every trainable parameter with learning rate `lr`. */
  step(lr: number): void {
    const m = this.model, o = this.options;
    this.steps++;
    adamwStep(m.backend, m.paramsPtr, m.gradsPtr, this.mPtr, this.vPtr, m.numTrainable, {
      lr,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weightDecay: o.weightDecay,
      step: this.steps,
      decoupled: o.name === "adamw",
    });
  }

  /** The moments as copies, for checkpoints. */
  moments(): { m: Float32Array; v: Float32Array } {
    const heap = this.model.backend.heap, n = this.model.numTrainable;
    return { m: heap.read(this.mPtr, n), v: heap.read(this.vPtr, n) };
  }

  /** Restore moments and step count from a checkpoint. */
  restore(m: Float32Array, v: Float32Array, steps: number): void {
    const heap = this.model.backend.heap, n = this.model.numTrainable;
    if (m.length !== n || v.length !== n) {
      throw new RangeError(`Cannot restore optimizer moments of ${m.length} floats into ${n}`);
    }
    heap.write(this.mPtr, m);
    heap.write(this.vPtr, v);
    this.steps = steps;
  }
}
