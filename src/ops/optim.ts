/**
 * Adam / AdamW with PyTorch's semantics (`torch.optim.AdamW` when decoupled, `torch.optim.Adam`
 * with L2 weight decay otherwise), as one fused pass over a whole parameter arena, and the
 * deterministic global gradient norm used for clipping (callers clip with `scaleInPlace`).
 *
 * @module
 */
import type { Backend } from "../engine/backend.ts";
import { UserError } from "../util/errors.ts";

/** Elements per task (a multiple of 4). */
const CHUNK = 8192;

/** Hyperparameters of one {@linkcode adamwStep}. */
export interface AdamWOptions {
  /** Learning rate (≥ 0). */
  lr: number;
  /** First-moment decay, 0 ≤ β1 < 1 (PyTorch default 0.9). */
  beta1: number;
  /** Second-moment decay, 0 ≤ β2 < 1 (PyTorch default 0.999). */
  beta2: number;
  /** Added to the denominator (> 0; PyTorch default 1e-8). */
  eps: number;
  /** Weight decay (≥ 0): decoupled (AdamW) or added to the gradient (Adam). */
  weightDecay: number;
  /** 1-based step number t, for the bias corrections 1 − β^t. */
  step: number;
  /** true: AdamW (p ← p·(1 − lr·wd) first); false: Adam (g ← g + wd·p). */
  decoupled: boolean;
}

/**
 * One optimizer step over param, grad, m (first moment), v (second moment), all (n), in place:
 * g ← g + wd·p (Adam) or p ← p·(1 − lr·wd) (AdamW); m ← β1·m + (1 − β1)·g;
 * v ← β2·v + (1 − β2)·g²; p ← p − lr/(1 − β1^t) · m/(√v/√(1 − β2^t) + eps).
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { adamwStep } from "./optim.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const h = be.heap;
 * const p = h.alloc(1), g = h.alloc(1), m = h.alloc(1), v = h.alloc(1);
 * h.write(p, [1]);
 * h.write(g, [0.5]);
 * adamwStep(be, p, g, m, v, 1, {
 *   lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1, decoupled: true,
 * });
 * console.log(h.read(p, 1)[0].toFixed(4)); // 0.9000
 * be.close();
 * ```
 */
export function adamwStep(
  be: Backend,
  param: number,
  grad: number,
  m: number,
  v: number,
  n: number,
  opts: AdamWOptions,
): void {
  checkCount(n);
  checkOptions(opts);
  const { lr, beta1, beta2, eps, weightDecay: wd, step, decoupled } = opts;
  // Python floats in PyTorch's step: float64 here, rounded to float32 by the kernel call.
  const decay = decoupled ? 1 - lr * wd : 1;
  const l2 = decoupled ? 0 : wd;
  const stepSize = lr / (1 - beta1 ** step);
  const bc2sqrt = Math.sqrt(1 - beta2 ** step);
  be.run(
    "adamw_step",
    Math.ceil(n / CHUNK),
    [param, grad, m, v, n, decay, l2, 1 - beta1, beta2, 1 - beta2, stepSize, bc2sqrt, eps, CHUNK],
    16 * CHUNK,
  );
}

/**
 * The L2 norm of grad(n), summed in float64 over fixed chunks added in chunk order: the same
 * bits for any thread count, and on both backends.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { gradNorm } from "./optim.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const g = be.heap.alloc(2);
 * be.heap.write(g, [3, 4]);
 * console.log(gradNorm(be, g, 2)); // 5
 * be.close();
 * ```
 */
export function gradNorm(be: Backend, grad: number, n: number): number {
  checkCount(n);
  if (n === 0) return 0;
  const heap = be.heap, mark = heap.mark();
  try {
    const tasks = Math.ceil(n / CHUNK);
    const part = heap.alloc(2 * tasks);
    be.run("grad_norm_partial", tasks, [part, grad, n, CHUNK], 3 * CHUNK);
    let s = 0;
    const f64 = heap.f64, p0 = part >> 3;
    for (let t = 0; t < tasks; t++) s += f64[p0 + t];
    return Math.sqrt(s);
  } finally {
    heap.release(mark);
  }
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new UserError(`Cannot update n = ${n} parameters: expected an integer ≥ 0`);
  }
}

function checkOptions(o: AdamWOptions): void {
  const bad = (what: string, v: unknown, want: string): never => {
    throw new UserError(`Cannot use ${what} ${v}: expected ${want}`);
  };
  if (!(Number.isFinite(o.lr) && o.lr >= 0)) bad("learning rate", o.lr, "a finite number ≥ 0");
  if (!(o.beta1 >= 0 && o.beta1 < 1)) bad("beta1", o.beta1, "0 ≤ beta1 < 1");
  if (!(o.beta2 >= 0 && o.beta2 < 1)) bad("beta2", o.beta2, "0 ≤ beta2 < 1");
  if (!(Number.isFinite(o.eps) && o.eps > 0)) bad("eps", o.eps, "a finite number > 0");
  if (!(Number.isFinite(o.weightDecay) && o.weightDecay >= 0)) {
    bad("weight decay", o.weightDecay, "a finite number ≥ 0");
  }
  if (!(Number.isInteger(o.step) && o.step >= 1)) bad("step", o.step, "an integer ≥ 1");
}
