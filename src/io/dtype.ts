/**
 * Float storage decoding shared by the weight readers: float32, float64, float16 and bfloat16
 * bytes (either byte order) to a fresh Float32Array.
 *
 * @module
 */

/**
 * The float element types a weight file may hold.
 *
 * @example
 * ```ts
 * import type { _FloatDtype } from "./dtype.ts";
 * const d: _FloatDtype = "bf16";
 * console.log(d); // "bf16"
 * ```
 */
export type _FloatDtype = "f32" | "f64" | "f16" | "bf16";

/**
 * Bytes per element of each float type.
 *
 * @example
 * ```ts
 * import { _DTYPE_BYTES } from "./dtype.ts";
 * console.log(_DTYPE_BYTES.f64); // 8
 * ```
 */
export const _DTYPE_BYTES: Readonly<Record<_FloatDtype, number>> = {
  f32: 4,
  f64: 8,
  f16: 2,
  bf16: 2,
};

let halfTable: Float32Array | undefined;

/** All 65536 float16 values, built once: a lookup beats bit twiddling per element. */
function halves(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f, m = h & 0x3ff;
    halfTable[h] = e === 0
      ? sign * m * 2 ** -24
      : e === 31
      ? (m ? NaN : sign * Infinity)
      : sign * (1024 + m) * 2 ** (e - 25);
  }
  return halfTable;
}

/**
 * Decode `bytes` (a whole number of elements of `dtype`) to float32. float64 rounds to
 * nearest; float16 and bfloat16 widen exactly.
 *
 * @example
 * ```ts
 * import { _toFloat32 } from "./dtype.ts";
 * const b = new Uint8Array(new Float64Array([0.5, -2]).buffer);
 * console.log(_toFloat32(b, "f64", true)); // Float32Array(2) [ 0.5, -2 ]
 * ```
 */
export function _toFloat32(
  bytes: Uint8Array,
  dtype: _FloatDtype,
  littleEndian: boolean,
): Float32Array {
  const size = _DTYPE_BYTES[dtype];
  if (bytes.length % size !== 0) {
    throw new RangeError(`${bytes.length} bytes is not a whole number of ${dtype} elements`);
  }
  // A copy gives an aligned, unshared buffer the typed views below can use directly.
  const copy = bytes.slice();
  if (!littleEndian) swapBytes(copy, size);
  const n = copy.length / size;
  switch (dtype) {
    case "f32":
      return new Float32Array(copy.buffer, 0, n);
    case "f64":
      return Float32Array.from(new Float64Array(copy.buffer, 0, n));
    case "f16": {
      const t = halves(), u = new Uint16Array(copy.buffer, 0, n), out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = t[u[i]];
      return out;
    }
    case "bf16": {
      const u = new Uint16Array(copy.buffer, 0, n), out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = u[i] << 16;
      return out;
    }
  }
}

function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) {
    for (let lo = i, hi = i + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
  }
}
