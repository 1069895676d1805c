// Inverted dropout with a counter-based mask: element i is kept iff u ≥ p, u = (h >>> 8)·2⁻²⁴ and
// h = hash(key0, key1, i) (murmur3 fmix32, then Wellons' lowbias32 after mixing in key1). The
// mask depends only on the keys and i, so it is the same for any task split or thread count, and
// src/kernels/ref/dropout.ts (Math.imul, >>> 0) reproduces it bit for bit. Tasks are fixed chunks
// of elements [t·chunk, min(n, (t+1)·chunk)), chunk a multiple of 4. The hash lives in
// elementwise_math.ts, shared with the fused GELU + dropout of gelu.ts.
import { keep1, keep4 } from "./elementwise_math";

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
