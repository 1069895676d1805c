// Deterministic reductions: every task writes its own partial, a second pass adds the partials in
// task order. f64 partial sums are kept in two f64x2 accumulators (lanes 0,1 and 2,3 of each f32x4
// block), folded as (a0 + a1) + (b0 + b1), then the tail in order; the squares of f32 values are
// exact in f64, so src/kernels/ref/reduce.ts reproduces the bits.

/**
 * part (parts, C) → dst (C) += Σ_k part[k, :], k in order. Task t = columns [64t, 64t + 64).
 */
export function sum_partials(
  dst: usize,
  part: usize,
  parts: i32,
  C: i32,
  t0: i32,
  t1: i32,
): void {
  for (let t = t0; t < t1; t++) {
    const c1 = min(C, t * 64 + 64);
    for (let c = t * 64; c < c1; c++) {
      let s: f32 = 0;
      for (let k = 0; k < parts; k++) s += load<f32>(part + (<usize>(k * C + c) << 2));
      const o = dst + (<usize>c << 2);
      store<f32>(o, load<f32>(o) + s);
    }
  }
}

// @ts-ignore: decorator
@inline
function hi(v: v128): v128 {
  return v128.shuffle<f32>(v, v, 2, 3, 2, 3);
}

// @ts-ignore: decorator
@inline
function fold(a: v128, b: v128): f64 {
  return (f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1)) +
    (f64x2.extract_lane(b, 0) + f64x2.extract_lane(b, 1));
}

/** grad (n) → part (tasks) f64: part[t] = Σ g² over elements [t·chunk, min(n, (t+1)·chunk)). */
export function grad_norm_partial(
  part: usize,
  grad: usize,
  n: i32,
  chunk: i32,
  t0: i32,
  t1: i32,
): void {
  for (let t = t0; t < t1; t++) {
    const i1 = min(n, t * chunk + chunk);
    let i = t * chunk;
    let a = f64x2.splat(0), b = f64x2.splat(0);
    for (; i + 4 <= i1; i += 4) {
      const g = v128.load(grad + (<usize>i << 2));
      const lo = f64x2.promote_low_f32x4(g), h = f64x2.promote_low_f32x4(hi(g));
      a = f64x2.add(a, f64x2.mul(lo, lo));
      b = f64x2.add(b, f64x2.mul(h, h));
    }
    let s = fold(a, b);
    for (; i < i1; i++) {
      const g = <f64>load<f32>(grad + (<usize>i << 2));
      s += g * g;
    }
    store<f64>(part + (<usize>t << 3), s);
  }
}

/**
 * pred, target (n) → part (tasks, 2) f64: [Σ d², Σ |d|] with d = pred − target (f32) over elements
 * [t·chunk, min(n, (t+1)·chunk)); and dpred (n) = scale·d when dpred ≠ 0 (overwrite).
 */
export function mse_partial(
  part: usize,
  dpred: usize,
  pred: usize,
  target: usize,
  n: i32,
  scale: f32,
  chunk: i32,
  t0: i32,
  t1: i32,
): void {
  const sv = f32x4.splat(scale);
  for (let t = t0; t < t1; t++) {
    const i1 = min(n, t * chunk + chunk);
    let i = t * chunk;
    let a = f64x2.splat(0), b = f64x2.splat(0), c = f64x2.splat(0), e = f64x2.splat(0);
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      const d = f32x4.sub(v128.load(pred + o), v128.load(target + o));
      if (dpred) v128.store(dpred + o, f32x4.mul(d, sv));
      const lo = f64x2.promote_low_f32x4(d), h = f64x2.promote_low_f32x4(hi(d));
      a = f64x2.add(a, f64x2.mul(lo, lo));
      b = f64x2.add(b, f64x2.mul(h, h));
      c = f64x2.add(c, f64x2.abs(lo));
      e = f64x2.add(e, f64x2.abs(h));
    }
    let sq = fold(a, b), ab = fold(c, e);
    for (; i < i1; i++) {
      const o = <usize>i << 2;
      const d = load<f32>(pred + o) - load<f32>(target + o);
      if (dpred) store<f32>(dpred + o, d * scale);
      const dd = <f64>d;
      sq += dd * dd;
      ab += Math.abs(dd);
    }
    store<f64>(part + (<usize>t << 4), sq);
    store<f64>(part + (<usize>t << 4), ab, 8);
  }
}
