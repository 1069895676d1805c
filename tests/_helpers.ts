// Shared by the op tests: backends that always close, heap uploads, seeded normal noise.
import { type Backend, createBackend } from "../src/engine/backend.ts";
import type { Rng } from "../src/util/rng.ts";

/** Run `fn` on a fresh backend and close it afterwards, whatever happens. */
export function withBackend<T>(name: "ref" | "wasm", threads: number, fn: (be: Backend) => T): T {
  const be = createBackend(name, { threads });
  try {
    return fn(be);
  } finally {
    be.close();
  }
}

/** Copy `a` into a new heap tensor and return its pointer. */
export function put(be: Backend, a: ArrayLike<number>): number {
  const p = be.heap.alloc(a.length);
  be.heap.write(p, a);
  return p;
}

/** `n` normal draws as float32, scaled and shifted. */
export function randn(rng: Rng, n: number, scale = 1, shift = 0): Float32Array {
  return Float32Array.from({ length: n }, () => shift + scale * rng.normal());
}
