/**
 * Reference kernels of asm/dropout.ts, bit-identical to them: the same counter-based hash on
 * uint32 (Math.imul, >>> 0) and the same float32 scale.
 *
 * @module
 */
import type { RefKernel } from "../../engine/backend.ts";
import type { Heap } from "../../engine/heap.ts";

/**
 * The mask hash of element i: murmur3 fmix32 of i·φ ^ key0, then Wellons' lowbias32 after
 * mixing in key1. Returns a uint32.
 *
 * @example
 * ```ts
 * import { dropoutHash } from "./dropout.ts";
 * console.log(dropoutHash(1, 2, 3) === dropoutHash(1, 2, 3)); // true
 * ```
 */
export function dropoutHash(key0: number, key1: number, i: number): number {
  let h = Math.imul(i, 0x9e3779b9) ^ key0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  h ^= key1;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Whether element i survives dropout with probability `p` (a float32 value): u ≥ p with u = 24
 * hash bits in [0, 1) (exact in float32).
 *
 * @example
 * ```ts
 * import { _dropoutKeep } from "./dropout.ts";
 * console.log(_dropoutKeep(1, 2, 3, 0)); // true
 * ```
 */
export function _dropoutKeep(key0: number, key1: number, i: number, p: number): boolean {
  return (dropoutHash(key0, key1, i) >>> 8) * 5.9604644775390625e-8 >= p;
}

const keep = _dropoutKeep;

function dropout_forward(
  heap: Heap,
  out: number,
  inp: number,
  n: number,
  p: number,
  key0: number,
  key1: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, o = out >> 2, x = inp >> 2, pf = Math.fround(p);
  const scale = Math.fround(1 / Math.fround(1 - pf));
  const i0 = t0 * chunk, i1 = Math.min(n, t1 * chunk);
  if (pf === 0) {
    if (out !== inp && i1 > i0) f.copyWithin(o + i0, x + i0, x + i1);
    return;
  }
  for (let i = i0; i < i1; i++) f[o + i] = keep(key0, key1, i, pf) ? f[x + i] * scale : 0;
}

function dropout_backward(
  heap: Heap,
  dinp: number,
  dout: number,
  n: number,
  p: number,
  key0: number,
  key1: number,
  chunk: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, d = dinp >> 2, g = dout >> 2, pf = Math.fround(p);
  const scale = Math.fround(1 / Math.fround(1 - pf));
  for (let i = t0 * chunk, i1 = Math.min(n, t1 * chunk); i < i1; i++) {
    if (keep(key0, key1, i, pf)) f[d + i] += Math.fround(f[g + i] * scale);
  }
}

/**
 * `dropout_forward`, `dropout_backward` (task t = elements [t·chunk, (t+1)·chunk)).
 *
 * @example
 * ```ts
 * import { Heap } from "../../engine/heap.ts";
 * import { dropoutRefKernels } from "./dropout.ts";
 * const heap = new Heap();
 * const x = heap.alloc(4);
 * heap.write(x, [1, 1, 1, 1]);
 * dropoutRefKernels.dropout_forward(heap, x, x, 4, 0.5, 7, 9, 4, 0, 1);
 * console.log(heap.read(x, 4).every((v) => v === 0 || v === 2)); // true
 * ```
 */
export const dropoutRefKernels: Record<string, RefKernel> = {
  dropout_forward,
  dropout_backward,
};
