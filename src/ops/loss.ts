/**
 * Mean squared error (the training loss, PyTorch `nn.MSELoss()` with mean reduction) and the
 * evaluation metrics. Sums run in float64 over fixed chunks whose partials are added in chunk
 * order, so the result does not depend on the thread count (and equals the `ref` backend's).
 *
 * @module
 */
import type { Backend } from "../engine/backend.ts";
import { UserError } from "../util/errors.ts";

/** Elements per task (a multiple of 4). */
const CHUNK = 8192;

/** Mean squared and mean absolute error of a prediction. */
export interface LossMetrics {
  /** mean((pred − target)²) */
  mse: number;
  /** mean(|pred − target|) */
  mae: number;
}

/**
 * Returns mean((pred(n) − target(n))²); when `dpred` ≠ 0 also writes (overwrites)
 * dpred(n) = 2·(pred − target)/n, the gradient of that mean.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { mseLoss } from "./loss.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const h = be.heap;
 * const pred = h.alloc(2), target = h.alloc(2), dpred = h.alloc(2);
 * h.write(pred, [1, 3]);
 * h.write(target, [0, 0]);
 * console.log(mseLoss(be, dpred, pred, target, 2), Array.from(h.read(dpred, 2))); // 5 [1, 3]
 * be.close();
 * ```
 */
export function mseLoss(
  be: Backend,
  dpred: number,
  pred: number,
  target: number,
  n: number,
): number {
  return sums(be, dpred, pred, target, n)[0] / n;
}

/**
 * MSE and MAE of pred(n) against target(n), in float64.
 *
 * @example
 * ```ts
 * import { createBackend } from "../engine/backend.ts";
 * import { lossMetrics } from "./loss.ts";
 * const be = createBackend("ref");
 * const h = be.heap;
 * const pred = h.alloc(2), target = h.alloc(2);
 * h.write(pred, [1, -3]);
 * console.log(lossMetrics(be, pred, target, 2)); // { mse: 5, mae: 2 }
 * be.close();
 * ```
 */
export function lossMetrics(be: Backend, pred: number, target: number, n: number): LossMetrics {
  const [sq, ab] = sums(be, 0, pred, target, n);
  return { mse: sq / n, mae: ab / n };
}

/** [Σ d², Σ |d|] with d = pred − target, writing dpred = (2/n)·d when dpred ≠ 0. */
function sums(
  be: Backend,
  dpred: number,
  pred: number,
  target: number,
  n: number,
): [number, number] {
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError(`Cannot compute a loss over n = ${n} values: expected an integer ≥ 1`);
  }
  const heap = be.heap, mark = heap.mark();
  try {
    const tasks = Math.ceil(n / CHUNK);
    const part = heap.alloc(4 * tasks);
    be.run("mse_partial", tasks, [part, dpred, pred, target, n, 2 / n, CHUNK], 6 * CHUNK);
    let sq = 0, ab = 0;
    const f64 = heap.f64, p0 = part >> 3;
    for (let t = 0; t < tasks; t++) {
      sq += f64[p0 + 2 * t];
      ab += f64[p0 + 2 * t + 1];
    }
    return [sq, ab];
  } finally {
    heap.release(mark);
  }
}
