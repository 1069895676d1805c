// Adam / AdamW, one fused elementwise pass over a parameter arena, in PyTorch's operation order
// (torch/optim/adam.py, single-tensor path). Scalars are prepared in f64 by src/ops/optim.ts:
// decay = 1 − lr·wd (AdamW) or 1, l2 = wd (Adam) or 0, stepSize = lr/(1 − β1^t),
// bc2sqrt = √(1 − β2^t). No fused multiply-add, so src/kernels/ref/optim.ts reproduces the bits.
// Tasks are fixed chunks of elements [t·chunk, min(n, (t+1)·chunk)), chunk a multiple of 4.

/**
 * param, grad, m, v (n): one step in place.
 * g ← g + l2·p; p ← p·decay; m ← lerp(m, g, 1 − β1); v ← v·β2 + (1 − β2)·g·g;
 * p ← p − stepSize·m/(√v/bc2sqrt + eps).
 */
export function adamw_step(
  param: usize,
  grad: usize,
  m: usize,
  v: usize,
  n: i32,
  decay: f32,
  l2: f32,
  omb1: f32,
  beta2: f32,
  omb2: f32,
  stepSize: f32,
  bc2sqrt: f32,
  eps: f32,
  chunk: i32,
  t0: i32,
  t1: i32,
): void {
  // torch.lerp switches formula at weight 0.5; follow it so the bits match PyTorch's.
  const low = omb1 < 0.5;
  const w1: f32 = <f32>1.0 - omb1;
  const decayV = f32x4.splat(decay), l2V = f32x4.splat(l2), omb1V = f32x4.splat(omb1);
  const w1V = f32x4.splat(w1), b2V = f32x4.splat(beta2), omb2V = f32x4.splat(omb2);
  const ssV = f32x4.splat(-stepSize), bcV = f32x4.splat(bc2sqrt), epsV = f32x4.splat(eps);
  for (let t = t0; t < t1; t++) {
    const i1 = min(n, t * chunk + chunk);
    let i = t * chunk;
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      let p = v128.load(param + o), g = v128.load(grad + o);
      let mv = v128.load(m + o), vv = v128.load(v + o);
      if (l2 != 0) g = f32x4.add(g, f32x4.mul(l2V, p));
      if (decay != 1) p = f32x4.mul(p, decayV);
      mv = low
        ? f32x4.add(mv, f32x4.mul(omb1V, f32x4.sub(g, mv)))
        : f32x4.sub(g, f32x4.mul(f32x4.sub(g, mv), w1V));
      vv = f32x4.add(f32x4.mul(vv, b2V), f32x4.mul(f32x4.mul(omb2V, g), g));
      const den = f32x4.add(f32x4.div(f32x4.sqrt(vv), bcV), epsV);
      p = f32x4.add(p, f32x4.mul(ssV, f32x4.div(mv, den)));
      v128.store(param + o, p);
      v128.store(m + o, mv);
      v128.store(v + o, vv);
    }
    for (; i < i1; i++) {
      const o = <usize>i << 2;
      let p = load<f32>(param + o), g = load<f32>(grad + o);
      let mv = load<f32>(m + o), vv = load<f32>(v + o);
      if (l2 != 0) g = g + l2 * p;
      if (decay != 1) p = p * decay;
      mv = low ? mv + omb1 * (g - mv) : g - (g - mv) * w1;
      vv = vv * beta2 + (omb2 * g) * g;
      const den = Mathf.sqrt(vv) / bc2sqrt + eps;
      p = p + -stepSize * (mv / den);
      store<f32>(param + o, p);
      store<f32>(m + o, mv);
      store<f32>(v + o, vv);
    }
  }
}
