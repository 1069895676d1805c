/**
 * The in-memory form every weight codec reads and writes: named float32 tensors in a stable
 * order (the order is the file's order, so a round trip keeps it).
 *
 * @module
 */

import { UserError } from "../util/errors.ts";

/**
 * Named float32 tensors, row-major, in insertion order.
 *
 * @example
 * ```ts
 * import type { NamedTensors } from "./named_tensors.ts";
 * const t: NamedTensors = new Map([["bias", { shape: [2], data: new Float32Array([1, 2]) }]]);
 * console.log(t.get("bias")?.shape); // [2]
 * ```
 */
export type NamedTensors = Map<string, { shape: number[]; data: Float32Array }>;

/**
 * Number of elements of a shape, after checking that every dimension is a non-negative safe
 * integer. `what` names the tensor in the error.
 *
 * @example
 * ```ts
 * import { _numel } from "./named_tensors.ts";
 * console.log(_numel([2, 3], "w")); // 6
 * ```
 */
export function _numel(shape: readonly unknown[], what: string): number {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw new UserError(
        `Tensor "${what}" has an invalid shape ${
          JSON.stringify(shape)
        }: expected non-negative integers`,
      );
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) {
    throw new UserError(`Tensor "${what}" has shape ${JSON.stringify(shape)}: too many elements`);
  }
  return n;
}

/**
 * Check a tensor handed to an encoder: a real shape whose element count matches the data.
 * A mismatch is a bug in the caller, hence `RangeError` rather than `UserError`.
 *
 * @example
 * ```ts
 * import { _checkTensor } from "./named_tensors.ts";
 * _checkTensor("w", { shape: [2], data: new Float32Array(2) }); // passes
 * ```
 */
export function _checkTensor(name: string, t: { shape: number[]; data: Float32Array }): void {
  if (!Array.isArray(t.shape) || !(t.data instanceof Float32Array)) {
    throw new TypeError(`Tensor "${name}" must be { shape: number[], data: Float32Array }`);
  }
  let n = 1;
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(`Tensor "${name}" has an invalid shape ${JSON.stringify(t.shape)}`);
    }
    n *= d;
  }
  if (n !== t.data.length) {
    throw new RangeError(
      `Tensor "${name}" has shape ${
        JSON.stringify(t.shape)
      } (${n} elements) but ${t.data.length} values`,
    );
  }
}
