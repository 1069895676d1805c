// Inverted dropout with a counter-based mask: element i is kept iff u ≥ p, u = (h >>> 8)·2⁻²⁴ and
// h = hash(key0, key1, i) (murmur3 fmix32, then Wellons' lowbias32 after mixing in key1). The
// mask depends only on the keys and i, so it is the same for any task split or thread count, and
// src/kernels/ref/dropout.ts (Math.imul, >>> 0) reproduces it bit for bit. Tasks are fixed chunks
// of elements [t·chunk, min(n, (t+1)·chunk)), chunk a multiple of 4.

// @ts-ignore: decorator
@inline
function hash(k0: u32, k1: u32, i: u32): u32 {
  let h = (i * 0x9e3779b9) ^ k0;
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  h ^= h >>> 16;
  h ^= k1;
  h ^= h >>> 16;
  h *= 0x7feb352d;
  h ^= h >>> 15;
  h *= 0x846ca68b;
  h ^= h >>> 16;
  return h;
}

// @ts-ignore: decorator
@inline
function xorShr(h: v128, s: i32): v128 {
  return v128.xor(h, i32x4.shr_u(h, s));
}

/** All-ones lanes where element i … i+3 is kept. */
// @ts-ignore: decorator
@inline
function keep4(k0: v128, k1: v128, i: i32, pv: v128): v128 {
  let h = i32x4.add(i32x4.splat(i), i32x4(0, 1, 2, 3));
  h = v128.xor(i32x4.mul(h, i32x4.splat(0x9e3779b9)), k0);
  h = i32x4.mul(xorShr(h, 16), i32x4.splat(0x85ebca6b));
  h = i32x4.mul(xorShr(h, 13), i32x4.splat(0xc2b2ae35));
  h = v128.xor(xorShr(h, 16), k1);
  h = i32x4.mul(xorShr(h, 16), i32x4.splat(0x7feb352d));
  h = i32x4.mul(xorShr(h, 15), i32x4.splat(0x846ca68b));
  h = xorShr(h, 16);
  const bits24 = f32x4.convert_i32x4_s(i32x4.shr_u(h, 8));
  const u = f32x4.mul(bits24, f32x4.splat(5.9604644775390625e-8));
  return f32x4.ge(u, pv);
}

// @ts-ignore: decorator
@inline
function keep1(k0: u32, k1: u32, i: i32, p: f32): bool {
  return <f32>(hash(k0, k1, <u32>i) >>> 8) * <f32>5.9604644775390625e-8 >= p;
}

/** inp (n) → out (n) = inp·mask/(1 − p); in place allowed; p = 0 copies. */
export function dropout_forward(
  out: usize,
  inp: usize,
  n: i32,
  p: f32,
  key0: u32,
  key1: u32,
  chunk: i32,
  t0: i32,
  t1: i32,
): void {
  const scale: f32 = <f32>1.0 / (<f32>1.0 - p);
  const sv = f32x4.splat(scale), pv = f32x4.splat(p);
  const k0 = i32x4.splat(key0), k1 = i32x4.splat(key1);
  for (let t = t0; t < t1; t++) {
    const i1 = min(n, t * chunk + chunk);
    let i = t * chunk;
    if (p == 0) {
      if (out != inp && i1 > i) {
        memory.copy(out + (<usize>i << 2), inp + (<usize>i << 2), <usize>(i1 - i) << 2);
      }
      continue;
    }
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      const y = f32x4.mul(v128.load(inp + o), sv);
      v128.store(out + o, v128.and(y, keep4(k0, k1, i, pv)));
    }
    for (; i < i1; i++) {
      const o = <usize>i << 2;
      store<f32>(out + o, keep1(key0, key1, i, p) ? load<f32>(inp + o) * scale : 0);
    }
  }
}

/** dinp (n) += dout·mask/(1 − p), the same mask as dropout_forward with these keys. */
export function dropout_backward(
  dinp: usize,
  dout: usize,
  n: i32,
  p: f32,
  key0: u32,
  key1: u32,
  chunk: i32,
  t0: i32,
  t1: i32,
): void {
  const scale: f32 = <f32>1.0 / (<f32>1.0 - p);
  const sv = f32x4.splat(scale), pv = f32x4.splat(p);
  const k0 = i32x4.splat(key0), k1 = i32x4.splat(key1);
  for (let t = t0; t < t1; t++) {
    const i1 = min(n, t * chunk + chunk);
    let i = t * chunk;
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      const y = v128.and(f32x4.mul(v128.load(dout + o), sv), keep4(k0, k1, i, pv));
      v128.store(dinp + o, f32x4.add(v128.load(dinp + o), y));
    }
    for (; i < i1; i++) {
      const o = <usize>i << 2;
      if (keep1(key0, key1, i, p)) {
        store<f32>(dinp + o, load<f32>(dinp + o) + load<f32>(dout + o) * scale);
      }
    }
  }
}
