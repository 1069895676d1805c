// Input embedding of a scalar series: a Linear(1 → D) plus an optional fixed positional table.
// No fused multiply-add, so src/kernels/ref/embed.ts reproduces the bits.

/**
 * x (B,L), weight (D,1), bias (D), pe (L,D) or 0 → out (B,L,D). Task r = row r = b·L + p.
 * out[b,p,:] = x[b,p]·weight[:,0] + bias + pe[p,:].
 */
export function embed_forward(
  out: usize,
  x: usize,
  weight: usize,
  bias: usize,
  pe: usize,
  B: i32,
  L: i32,
  D: i32,
  t0: i32,
  t1: i32,
): void {
  const D4 = D & ~3;
  for (let r = t0; r < t1; r++) {
    const xs = load<f32>(x + (<usize>r << 2));
    const xv = f32x4.splat(xs);
    const y = out + (<usize>(r * D) << 2);
    const q = pe + (<usize>((r % L) * D) << 2);
    for (let d = 0; d < D4; d += 4) {
      const o = <usize>d << 2;
      let v = f32x4.add(f32x4.mul(xv, v128.load(weight + o)), v128.load(bias + o));
      if (pe) v = f32x4.add(v, v128.load(q + o));
      v128.store(y + o, v);
    }
    for (let d = D4; d < D; d++) {
      const o = <usize>d << 2;
      let v = xs * load<f32>(weight + o) + load<f32>(bias + o);
      if (pe) v += load<f32>(q + o);
      store<f32>(y + o, v);
    }
  }
}

/**
 * dout (N,D), x (N) → dwpart, dbpart (tasks, D) = this task's share of dweight (D,1), dbias (D),
 * summed later by sum_partials in task order. Task t = rows [t·rows, min(N, (t+1)·rows)).
 * Forward: out[r,:] = x[r]·weight[:,0] + bias (+ pe).
 * dweight[:,0] += Σ_r dout[r,:]·x[r]; dbias += Σ_r dout[r,:].
 */
export function embed_backward_partial(
  dwpart: usize,
  dbpart: usize,
  dout: usize,
  x: usize,
  N: i32,
  D: i32,
  rows: i32,
  t0: i32,
  t1: i32,
): void {
  const D4 = D & ~3;
  for (let t = t0; t < t1; t++) {
    const dw = dwpart + (<usize>(t * D) << 2);
    const db = dbpart + (<usize>(t * D) << 2);
    memory.fill(dw, 0, <usize>D << 2);
    memory.fill(db, 0, <usize>D << 2);
    const r1 = min(N, t * rows + rows);
    for (let r = t * rows; r < r1; r++) {
      const xs = load<f32>(x + (<usize>r << 2));
      const xv = f32x4.splat(xs);
      const g = dout + (<usize>(r * D) << 2);
      for (let d = 0; d < D4; d += 4) {
        const o = <usize>d << 2;
        const gv = v128.load(g + o);
        v128.store(dw + o, f32x4.add(v128.load(dw + o), f32x4.mul(gv, xv)));
        v128.store(db + o, f32x4.add(v128.load(db + o), gv));
      }
      for (let d = D4; d < D; d++) {
        const o = <usize>d << 2;
        const gs = load<f32>(g + o);
        store<f32>(dw + o, load<f32>(dw + o) + gs * xs);
        store<f32>(db + o, load<f32>(db + o) + gs);
      }
    }
  }
}
