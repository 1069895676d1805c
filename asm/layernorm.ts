// LayerNorm over the last axis, eps 1e-5, biased variance (PyTorch nn.LayerNorm). Row sums use
// four f32 lanes, folded as (l0 + l1) + (l2 + l3), then the C mod 4 tail in order; no fused
// multiply-add anywhere, so src/kernels/ref/layernorm.ts reproduces the bits exactly.

// @ts-ignore: decorator
@inline const EPS: f32 = 1e-5;

// @ts-ignore: decorator
@inline
function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * inp (N,C), weight (C), bias (C) → out (N,C), mean (N), rstd (N). Task n = row n.
 * out = (x − mean)·rstd·w + b with rstd = 1/√(var + eps).
 */
export function layernorm_forward(
  out: usize,
  mean: usize,
  rstd: usize,
  inp: usize,
  weight: usize,
  bias: usize,
  N: i32,
  C: i32,
  t0: i32,
  t1: i32,
): void {
  const C4 = C & ~3;
  const fc = <f32>C;
  for (let n = t0; n < t1; n++) {
    const x = inp + (<usize>(n * C) << 2);
    const y = out + (<usize>(n * C) << 2);
    let acc = f32x4.splat(0.0);
    for (let c = 0; c < C4; c += 4) acc = f32x4.add(acc, v128.load(x + (<usize>c << 2)));
    let s = hsum(acc);
    for (let c = C4; c < C; c++) s += load<f32>(x + (<usize>c << 2));
    const m = s / fc;
    const mv = f32x4.splat(m);
    acc = f32x4.splat(0.0);
    for (let c = 0; c < C4; c += 4) {
      const d = f32x4.sub(v128.load(x + (<usize>c << 2)), mv);
      acc = f32x4.add(acc, f32x4.mul(d, d));
    }
    s = hsum(acc);
    for (let c = C4; c < C; c++) {
      const d = load<f32>(x + (<usize>c << 2)) - m;
      s += d * d;
    }
    const r = <f32>1.0 / Mathf.sqrt(s / fc + EPS);
    const rv = f32x4.splat(r);
    for (let c = 0; c < C4; c += 4) {
      const o = <usize>c << 2;
      const nv = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
      v128.store(y + o, f32x4.add(f32x4.mul(nv, v128.load(weight + o)), v128.load(bias + o)));
    }
    for (let c = C4; c < C; c++) {
      const o = <usize>c << 2;
      const nv = (load<f32>(x + o) - m) * r;
      store<f32>(y + o, nv * load<f32>(weight + o) + load<f32>(bias + o));
    }
    store<f32>(mean + (<usize>n << 2), m);
    store<f32>(rstd + (<usize>n << 2), r);
  }
}

/**
 * dout, inp (N,C), weight (C), mean, rstd (N) → dinp (N,C) +=; dwpart, dbpart (tasks, C) =
 * this task's share of dweight, dbias (summed later by sum_partials in task order).
 * Task t = rows [t·rows, min(N, (t+1)·rows)).
 * Forward: norm = (x − mean)·rstd; out = norm·w + b.
 * dbias += dout; dweight += norm·dout;
 * dinp += (w·dout − mean_c(w·dout) − norm·mean_c(w·dout·norm))·rstd.
 */
export function layernorm_backward(
  dinp: usize,
  dwpart: usize,
  dbpart: usize,
  dout: usize,
  inp: usize,
  weight: usize,
  mean: usize,
  rstd: usize,
  N: i32,
  C: i32,
  rows: i32,
  t0: i32,
  t1: i32,
): void {
  const C4 = C & ~3;
  const fc = <f32>C;
  for (let t = t0; t < t1; t++) {
    const dw = dwpart + (<usize>(t * C) << 2);
    const db = dbpart + (<usize>(t * C) << 2);
    memory.fill(dw, 0, <usize>C << 2);
    memory.fill(db, 0, <usize>C << 2);
    const n1 = min(N, t * rows + rows);
    for (let n = t * rows; n < n1; n++) {
      const x = inp + (<usize>(n * C) << 2);
      const g = dout + (<usize>(n * C) << 2);
      const dx = dinp + (<usize>(n * C) << 2);
      const m = load<f32>(mean + (<usize>n << 2));
      const r = load<f32>(rstd + (<usize>n << 2));
      const mv = f32x4.splat(m), rv = f32x4.splat(r);
      let a1 = f32x4.splat(0.0), a2 = f32x4.splat(0.0);
      for (let c = 0; c < C4; c += 4) {
        const o = <usize>c << 2;
        const nv = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
        const dn = f32x4.mul(v128.load(weight + o), v128.load(g + o));
        a1 = f32x4.add(a1, dn);
        a2 = f32x4.add(a2, f32x4.mul(dn, nv));
      }
      let s1 = hsum(a1), s2 = hsum(a2);
      for (let c = C4; c < C; c++) {
        const o = <usize>c << 2;
        const nv = (load<f32>(x + o) - m) * r;
        const dn = load<f32>(weight + o) * load<f32>(g + o);
        s1 += dn;
        s2 += dn * nv;
      }
      const m1 = s1 / fc, m2 = s2 / fc;
      const m1v = f32x4.splat(m1), m2v = f32x4.splat(m2);
      for (let c = 0; c < C4; c += 4) {
        const o = <usize>c << 2;
        const gv = v128.load(g + o);
        const nv = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
        v128.store(db + o, f32x4.add(v128.load(db + o), gv));
        v128.store(dw + o, f32x4.add(v128.load(dw + o), f32x4.mul(nv, gv)));
        const dn = f32x4.mul(v128.load(weight + o), gv);
        const v = f32x4.mul(f32x4.sub(f32x4.sub(dn, m1v), f32x4.mul(nv, m2v)), rv);
        v128.store(dx + o, f32x4.add(v128.load(dx + o), v));
      }
      for (let c = C4; c < C; c++) {
        const o = <usize>c << 2;
        const gs = load<f32>(g + o);
        const nv = (load<f32>(x + o) - m) * r;
        store<f32>(db + o, load<f32>(db + o) + gs);
        store<f32>(dw + o, load<f32>(dw + o) + nv * gs);
        const dn = load<f32>(weight + o) * gs;
        store<f32>(dx + o, load<f32>(dx + o) + ((dn - m1) - nv * m2) * r);
      }
    }
  }
}
