import assert from "node:assert/strict";
import { _toFloat32 } from "../../src/io/dtype.ts";

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

Deno.test("dtype: f32 and f64 decode bit-exactly (f64 rounds to nearest f32)", () => {
  const f32 = new Float32Array([0, -0, 1.5, 3.4028234663852886e38, 1e-45, -Infinity]);
  assert.deepEqual(_toFloat32(bytesOf(f32), "f32", true), f32);
  const f64 = new Float64Array([0.1, -2 / 3, 1e300, 1e-300, 123456789.123]);
  assert.deepEqual(_toFloat32(bytesOf(f64), "f64", true), Float32Array.from(f64));
});

Deno.test("dtype: float16 specials widen exactly", () => {
  // 0, -0, 1, -2.5, 65504 (max), 2^-14 (min normal), 2^-24 (min subnormal), inf, NaN
  const h = new Uint16Array([
    0x0000,
    0x8000,
    0x3c00,
    0xc100,
    0x7bff,
    0x0400,
    0x0001,
    0x7c00,
    0x7e00,
  ]);
  const out = _toFloat32(bytesOf(h), "f16", true);
  assert.deepEqual([...out.slice(0, 8)], [0, -0, 1, -2.5, 65504, 2 ** -14, 2 ** -24, Infinity]);
  assert.ok(Object.is(out[1], -0));
  assert.ok(Number.isNaN(out[8]));
});

Deno.test("dtype: bfloat16 is the top half of a float32", () => {
  const f = new Float32Array([1, -3.140625, 2 ** -126, 2 ** 100]);
  const u = new Uint32Array(f.buffer);
  const bf = Uint16Array.from(u, (x) => x >>> 16);
  assert.deepEqual(_toFloat32(bytesOf(bf), "bf16", true), f);
});

Deno.test("dtype: big-endian input is byte-swapped; unaligned input is fine", () => {
  const v = [1.25, -7, 0.1];
  const be = new Uint8Array(1 + 8 * v.length);
  const dv = new DataView(be.buffer);
  v.forEach((x, i) => dv.setFloat64(1 + 8 * i, x, false));
  assert.deepEqual(_toFloat32(be.subarray(1), "f64", false), Float32Array.from(v));
  const be32 = new Uint8Array(4);
  new DataView(be32.buffer).setFloat32(0, 0.1, false);
  assert.deepEqual(_toFloat32(be32, "f32", false), new Float32Array([0.1]));
});

Deno.test("dtype: a partial element is refused", () => {
  assert.throws(() => _toFloat32(new Uint8Array(6), "f32", true), RangeError);
});
