// Residual-stream kernels: elementwise add / accumulate / scale over fixed chunks (task t does
// elements [t·chunk, min(n, (t+1)·chunk)), chunk a multiple of 4), and row gather/scatter (task b
// = sample b). Plain IEEE adds and multiplies: the scalar tail gives the same bits as the lanes.

/** out(n) = a(n) + b(n); out may alias a or b. */
export function add_forward(
  out: usize,
  a: usize,
  b: usize,
  n: i32,
  chunk: i32,
  t0: i32,
  t1: i32,
): void {
  for (let t = t0; t < t1; t++) {
    const i1 = min(n, t * chunk + chunk);
    let i = t * chunk;
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
    }
    for (; i < i1; i++) {
      const o = <usize>i << 2;
      store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
    }
  }
}

/** dst(n) += src(n). */
export function accumulate(dst: usize, src: usize, n: i32, chunk: i32, t0: i32, t1: i32): void {
  add_forward(dst, dst, src, n, chunk, t0, t1);
}

/** x(n) *= s. */
export function scale_inplace(x: usize, n: i32, s: f32, chunk: i32, t0: i32, t1: i32): void {
  const sv = f32x4.splat(s);
  for (let t = t0; t < t1; t++) {
    const i1 = min(n, t * chunk + chunk);
    let i = t * chunk;
    for (; i + 4 <= i1; i += 4) {
      const o = <usize>i << 2;
      v128.store(x + o, f32x4.mul(v128.load(x + o), sv));
    }
    for (; i < i1; i++) {
      const o = <usize>i << 2;
      store<f32>(x + o, load<f32>(x + o) * s);
    }
  }
}

/** out(B,C) = inp(B,L,C)[:, p, :]. */
export function gather_rows(
  out: usize,
  inp: usize,
  B: i32,
  L: i32,
  C: i32,
  p: i32,
  t0: i32,
  t1: i32,
): void {
  for (let b = t0; b < t1; b++) {
    memory.copy(out + (<usize>(b * C) << 2), inp + (<usize>((b * L + p) * C) << 2), <usize>C << 2);
  }
}

/** dinp(B,L,C)[:, p, :] += dout(B,C); backward of out[b,:] = inp[b,p,:]. */
export function scatter_rows_add(
  dinp: usize,
  dout: usize,
  B: i32,
  L: i32,
  C: i32,
  p: i32,
  t0: i32,
  t1: i32,
): void {
  for (let b = t0; b < t1; b++) {
    const d = dinp + (<usize>((b * L + p) * C) << 2);
    const s = dout + (<usize>(b * C) << 2);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      v128.store(d + o, f32x4.add(v128.load(d + o), v128.load(s + o)));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o));
    }
  }
}
