/**
 * What the running engine supports, for reports and checks.
 *
 * @module
 */

// (module (func (result v128) v128.const i32x4 0 0 0 0))
const SIMD_PROBE = new Uint8Array([
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  5,
  1,
  96,
  0,
  1,
  123,
  3,
  2,
  1,
  0,
  10,
  22,
  1,
  20,
  0,
  253,
  12,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  11,
]);

/**
 * Whether this runtime validates WebAssembly SIMD (the kernels need it).
 *
 * @example
 * ```ts
 * import { simdSupported } from "./features.ts";
 * console.log(simdSupported()); // true on Deno 2
 * ```
 */
export function simdSupported(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}
