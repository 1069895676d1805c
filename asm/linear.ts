// Linear-layer matmuls: y = x·Wᵀ + b with W stored (out, in) as PyTorch does, and its backward.
// The 6×8 register tile (12 f32x4 accumulators + 2 B vectors + 1 broadcast = 15 of the 16 xmm
// registers V8 has on x64) was measured fastest on this machine. B operands are packed into
// zero-padded panels of 8 columns so the tile loop never needs a column edge case on loads.

/** Rows of one register tile (and one matmul task). */
const TR: i32 = 6;
/** Columns of one register tile = one packed panel (two f32x4). */
const TC: i32 = 8;
/** Bytes of one row of a dout chunk copied by linear_dweight (6 floats). */
const DP_ROW: usize = <usize>TR << 2;

// wp(⌈OC/8⌉, C, 8) ← weight(OC, C)ᵀ in panels of 8 output columns, zero past OC.
// Task t = panel t.
export function linear_pack_t(wp: usize, weight: usize, OC: i32, C: i32, t0: i32, t1: i32): void {
  const rowBytes = <usize>C << 2;
  for (let t = t0; t < t1; t++) {
    const dst = wp + <usize>t * <usize>C * (<usize>TC << 2);
    for (let i = 0; i < TC; i++) {
      const o = t * TC + i;
      const d = dst + (<usize>i << 2);
      if (o < OC) {
        const src = weight + <usize>o * rowBytes;
        for (let c = 0; c < C; c++) {
          store<f32>(d + (<usize>c << 5), load<f32>(src + (<usize>c << 2)));
        }
      } else {
        for (let c = 0; c < C; c++) store<f32>(d + (<usize>c << 5), 0);
      }
    }
  }
}

// dst(⌈cols/width⌉, rows, width) ← src(rows, cols) in panels of `width` columns, zero past cols.
// Task t = panel t. Packs weight (width 8) for dinp.
export function linear_pack(
  dst: usize,
  src: usize,
  rows: i32,
  cols: i32,
  width: i32,
  t0: i32,
  t1: i32,
): void {
  const rowBytes = <usize>cols << 2;
  const wBytes = <usize>width << 2;
  for (let t = t0; t < t1; t++) {
    let d = dst + <usize>t * <usize>rows * wBytes;
    const c0 = t * width;
    const n = min(width, cols - c0);
    let s = src + (<usize>c0 << 2);
    for (let k = 0; k < rows; k++) {
      for (let i = 0; i < width; i++) {
        store<f32>(d + (<usize>i << 2), i < n ? load<f32>(s + (<usize>i << 2)) : 0);
      }
      d += wBytes;
      s += rowBytes;
    }
  }
}

/** The first `n` (1…8) floats at `p` as two vectors, the rest zero; never reads past p + 4n. */
// @ts-ignore: decorator
@inline function loadLo(p: usize, n: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  if (n > 3) v = f32x4.replace_lane(v, 3, load<f32>(p, 12));
  return v;
}

// @ts-ignore: decorator
@inline function loadHi(p: usize, n: i32): v128 {
  let v = f32x4.splat(0);
  if (n > 4) v = f32x4.replace_lane(v, 0, load<f32>(p, 16));
  if (n > 5) v = f32x4.replace_lane(v, 1, load<f32>(p, 20));
  if (n > 6) v = f32x4.replace_lane(v, 2, load<f32>(p, 24));
  if (n > 7) v = f32x4.replace_lane(v, 3, load<f32>(p, 28));
  return v;
}

/** Bias of a panel (zero when there is none); `n` < 8 only on the last panel. */
// @ts-ignore: decorator
@inline function biasLo(bias: usize, n: i32): v128 {
  if (bias == 0) return f32x4.splat(0);
  return n == TC ? v128.load(bias) : loadLo(bias, n);
}

// @ts-ignore: decorator
@inline function biasHi(bias: usize, n: i32): v128 {
  if (bias == 0) return f32x4.splat(0);
  return n == TC ? v128.load(bias, 16) : loadHi(bias, n);
}

/** Write (or add, when `acc`) the first `n` columns of one tile row held in lo|hi. */
// @ts-ignore: decorator
@inline function storeRow(p: usize, lo: v128, hi: v128, n: i32, acc: bool): void {
  if (n == TC) {
    if (acc) {
      lo = f32x4.add(v128.load(p), lo);
      hi = f32x4.add(v128.load(p, 16), hi);
    }
    v128.store(p, lo);
    v128.store(p, hi, 16);
  } else {
    if (acc) {
      lo = f32x4.add(loadLo(p, n), lo);
      hi = f32x4.add(loadHi(p, n), hi);
    }
    store<f32>(p, f32x4.extract_lane(lo, 0));
    if (n > 1) store<f32>(p, f32x4.extract_lane(lo, 1), 4);
    if (n > 2) store<f32>(p, f32x4.extract_lane(lo, 2), 8);
    if (n > 3) store<f32>(p, f32x4.extract_lane(lo, 3), 12);
    if (n > 4) store<f32>(p, f32x4.extract_lane(hi, 0), 16);
    if (n > 5) store<f32>(p, f32x4.extract_lane(hi, 1), 20);
    if (n > 6) store<f32>(p, f32x4.extract_lane(hi, 2), 24);
    if (n > 7) store<f32>(p, f32x4.extract_lane(hi, 3), 28);
  }
}

// out(M, Nn) = a(M, K) · b(K, Nn) + bias(Nn)   (accumulate = 0; bias 0 = none)
// out(M, Nn) += a(M, K) · b(K, Nn)             (accumulate = 1; the sum starts from 0, so adding
//                                                the same product twice doubles exactly)
// b comes packed: bp(⌈Nn/8⌉, K, 8). Forward: a = inp, b = weightᵀ (linear_pack_t). Backward of
// out = inp·weightᵀ: a = dout, b = weight (linear_pack), accumulating into dinp.
// Task t = rows 6t … 6t+5 (fewer in the last task), so the 6-row tile or the row-at-a-time
// edge path is picked from t alone.
export function linear_matmul(
  out: usize,
  a: usize,
  bp: usize,
  bias: usize,
  M: i32,
  K: i32,
  Nn: i32,
  accumulate: i32,
  t0: i32,
  t1: i32,
): void {
  const acc = accumulate != 0;
  const sa = <usize>K << 2;
  const so = <usize>Nn << 2;
  const panelBytes = <usize>K << 5;
  const panels = (Nn + TC - 1) / TC;
  const K4 = K & ~3;
  for (let t = t0; t < t1; t++) {
    const m0 = t * TR;
    const rows = min(TR, M - m0);
    const arow = a + <usize>m0 * sa;
    const orow = out + <usize>m0 * so;
    for (let j = 0; j < panels; j++) {
      const n = min(TC, Nn - j * TC);
      const pbias = bias == 0 ? 0 : bias + (<usize>(j * TC) << 2);
      const i0 = acc ? f32x4.splat(0) : biasLo(pbias, n);
      const i1 = acc ? f32x4.splat(0) : biasHi(pbias, n);
      const pb0 = bp + <usize>j * panelBytes;
      const po = orow + (<usize>(j * TC) << 2);
      if (rows == TR) {
        let c00 = i0, c01 = i1, c10 = i0, c11 = i1, c20 = i0, c21 = i1;
        let c30 = i0, c31 = i1, c40 = i0, c41 = i1, c50 = i0, c51 = i1;
        let p0 = arow, p1 = p0 + sa, p2 = p1 + sa, p3 = p2 + sa, p4 = p3 + sa, p5 = p4 + sa;
        let pb = pb0;
        let k = 0;
        // Unrolled by 4 so the A loads use immediate offsets and the pointers move once.
        for (; k < K4; k += 4) {
          let b0 = v128.load(pb), b1 = v128.load(pb, 16);
          let x = v128.load32_splat(p0);
          c00 = f32x4.relaxed_madd(x, b0, c00);
          c01 = f32x4.relaxed_madd(x, b1, c01);
          x = v128.load32_splat(p1);
          c10 = f32x4.relaxed_madd(x, b0, c10);
          c11 = f32x4.relaxed_madd(x, b1, c11);
          x = v128.load32_splat(p2);
          c20 = f32x4.relaxed_madd(x, b0, c20);
          c21 = f32x4.relaxed_madd(x, b1, c21);
          x = v128.load32_splat(p3);
          c30 = f32x4.relaxed_madd(x, b0, c30);
          c31 = f32x4.relaxed_madd(x, b1, c31);
          x = v128.load32_splat(p4);
          c40 = f32x4.relaxed_madd(x, b0, c40);
          c41 = f32x4.relaxed_madd(x, b1, c41);
          x = v128.load32_splat(p5);
          c50 = f32x4.relaxed_madd(x, b0, c50);
          c51 = f32x4.relaxed_madd(x, b1, c51);

          b0 = v128.load(pb, 32);
          b1 = v128.load(pb, 48);
          x = v128.load32_splat(p0, 4);
          c00 = f32x4.relaxed_madd(x, b0, c00);
          c01 = f32x4.relaxed_madd(x, b1, c01);
          x = v128.load32_splat(p1, 4);
          c10 = f32x4.relaxed_madd(x, b0, c10);
          c11 = f32x4.relaxed_madd(x, b1, c11);
          x = v128.load32_splat(p2, 4);
          c20 = f32x4.relaxed_madd(x, b0, c20);
          c21 = f32x4.relaxed_madd(x, b1, c21);
          x = v128.load32_splat(p3, 4);
          c30 = f32x4.relaxed_madd(x, b0, c30);
          c31 = f32x4.relaxed_madd(x, b1, c31);
          x = v128.load32_splat(p4, 4);
          c40 = f32x4.relaxed_madd(x, b0, c40);
          c41 = f32x4.relaxed_madd(x, b1, c41);
          x = v128.load32_splat(p5, 4);
          c50 = f32x4.relaxed_madd(x, b0, c50);
          c51 = f32x4.relaxed_madd(x, b1, c51);

          b0 = v128.load(pb, 64);
          b1 = v128.load(pb, 80);
          x = v128.load32_splat(p0, 8);
          c00 = f32x4.relaxed_madd(x, b0, c00);
          c01 = f32x4.relaxed_madd(x, b1, c01);
          x = v128.load32_splat(p1, 8);
          c10 = f32x4.relaxed_madd(x, b0, c10);
          c11 = f32x4.relaxed_madd(x, b1, c11);
          x = v128.load32_splat(p2, 8);
          c20 = f32x4.relaxed_madd(x, b0, c20);
          c21 = f32x4.relaxed_madd(x, b1, c21);
          x = v128.load32_splat(p3, 8);
          c30 = f32x4.relaxed_madd(x, b0, c30);
          c31 = f32x4.relaxed_madd(x, b1, c31);
          x = v128.load32_splat(p4, 8);
          c40 = f32x4.relaxed_madd(x, b0, c40);
          c41 = f32x4.relaxed_madd(x, b1, c41);
          x = v128.load32_splat(p5, 8);
          c50 = f32x4.relaxed_madd(x, b0, c50);
          c51 = f32x4.relaxed_madd(x, b1, c51);

          b0 = v128.load(pb, 96);
          b1 = v128.load(pb, 112);
          x = v128.load32_splat(p0, 12);
          c00 = f32x4.relaxed_madd(x, b0, c00);
          c01 = f32x4.relaxed_madd(x, b1, c01);
          x = v128.load32_splat(p1, 12);
          c10 = f32x4.relaxed_madd(x, b0, c10);
          c11 = f32x4.relaxed_madd(x, b1, c11);
          x = v128.load32_splat(p2, 12);
          c20 = f32x4.relaxed_madd(x, b0, c20);
          c21 = f32x4.relaxed_madd(x, b1, c21);
          x = v128.load32_splat(p3, 12);
          c30 = f32x4.relaxed_madd(x, b0, c30);
          c31 = f32x4.relaxed_madd(x, b1, c31);
          x = v128.load32_splat(p4, 12);
          c40 = f32x4.relaxed_madd(x, b0, c40);
          c41 = f32x4.relaxed_madd(x, b1, c41);
          x = v128.load32_splat(p5, 12);
          c50 = f32x4.relaxed_madd(x, b0, c50);
          c51 = f32x4.relaxed_madd(x, b1, c51);

          p0 += 16;
          p1 += 16;
          p2 += 16;
          p3 += 16;
          p4 += 16;
          p5 += 16;
          pb += 128;
        }
        for (; k < K; k++) {
          const b0 = v128.load(pb), b1 = v128.load(pb, 16);
          let x = v128.load32_splat(p0);
          c00 = f32x4.relaxed_madd(x, b0, c00);
          c01 = f32x4.relaxed_madd(x, b1, c01);
          x = v128.load32_splat(p1);
          c10 = f32x4.relaxed_madd(x, b0, c10);
          c11 = f32x4.relaxed_madd(x, b1, c11);
          x = v128.load32_splat(p2);
          c20 = f32x4.relaxed_madd(x, b0, c20);
          c21 = f32x4.relaxed_madd(x, b1, c21);
          x = v128.load32_splat(p3);
          c30 = f32x4.relaxed_madd(x, b0, c30);
          c31 = f32x4.relaxed_madd(x, b1, c31);
          x = v128.load32_splat(p4);
          c40 = f32x4.relaxed_madd(x, b0, c40);
          c41 = f32x4.relaxed_madd(x, b1, c41);
          x = v128.load32_splat(p5);
          c50 = f32x4.relaxed_madd(x, b0, c50);
          c51 = f32x4.relaxed_madd(x, b1, c51);
          p0 += 4;
          p1 += 4;
          p2 += 4;
          p3 += 4;
          p4 += 4;
          p5 += 4;
          pb += 32;
        }
        storeRow(po, c00, c01, n, acc);
        storeRow(po + so, c10, c11, n, acc);
        storeRow(po + 2 * so, c20, c21, n, acc);
        storeRow(po + 3 * so, c30, c31, n, acc);
        storeRow(po + 4 * so, c40, c41, n, acc);
        storeRow(po + 5 * so, c50, c51, n, acc);
      } else {
        // Edge rows (M % 6 of them, last task only): one row at a time, same summation order.
        for (let r = 0; r < rows; r++) {
          let c0 = i0, c1 = i1;
          let p = arow + <usize>r * sa;
          let pb = pb0;
          for (let k = 0; k < K; k++) {
            const x = v128.load32_splat(p);
            c0 = f32x4.relaxed_madd(x, v128.load(pb), c0);
            c1 = f32x4.relaxed_madd(x, v128.load(pb, 16), c1);
            p += 4;
            pb += 32;
          }
          storeRow(po + <usize>r * so, c0, c1, n, acc);
        }
      }
    }
  }
}

// dweight(OC, C) += dout(N, OC)ᵀ · inp(N, C)
// backward of: out[n][o] = bias[o] + Σ_c inp[n][c] · weight[o][c]
// Task t = dweight rows 6·⌊t/cb⌋ … +5 and column block t % cb of cb (whole panels of 8; the
// last block also owns the columns past the last full panel). Each element sums over
// n = 0 … N-1 in order inside its task, so no reduction crosses tasks. The range walks n in
// chunks of `chunk` rows, all its tasks per chunk, so the chunk of inp is loaded once per
// thread; running sums wait in the scratch part(OC, C) between chunks (an f32 store and reload
// is exact, so neither the chunk size nor the task range changes a bit). Each chunk's 6 dout
// columns are first copied to the task's slot of the scratch dbuf(tasks, chunk, 6), zero past
// OC: walking down dout's columns in place thrashes L1 when OC·4 is a power of two.
// dbias(OC) += Σ_n dout[n] rides on that copy (dbias 0: none): column block 0 of each row tile
// sums its 6 columns over n in order, exactly as linear_dbias does, its running sums waiting in
// part + OC·C (6·⌈OC/6⌉ floats) between chunks; one pass over dout instead of two.
export function linear_dweight(
  dweight: usize,
  dbias: usize,
  part: usize,
  dbuf: usize,
  dout: usize,
  inp: usize,
  N: i32,
  C: i32,
  OC: i32,
  chunk: i32,
  cb: i32,
  t0: i32,
  t1: i32,
): void {
  const si = <usize>C << 2;
  const sd = <usize>OC << 2;
  const full = C / TC;
  // Chunks outside the task loop: the thread's tasks share the chunk of inp while it is cached.
  for (let n0 = 0; n0 < N; n0 += chunk) {
    const n1 = min(N, n0 + chunk);
    const first = n0 == 0, last = n1 == N;
    for (let t = t0; t < t1; t++) {
      const tile = t / cb, block = t % cb;
      const j0 = (block * full) / cb, j1 = ((block + 1) * full) / cb;
      const sums = dbias != 0 && block == 0;
      if (j1 == j0 && !sums) continue;
      const o0 = tile * TR;
      const rows = min(TR, OC - o0);
      const rowOff = <usize>o0 * si;
      const buf = dbuf + <usize>t * <usize>chunk * DP_ROW;
      let src = dout + <usize>n0 * sd + (<usize>o0 << 2);
      let dst = buf;
      if (rows == TR) {
        if (sums) {
          const ps = part + <usize>OC * si + (<usize>o0 << 2);
          let lo = first ? f32x4.splat(0) : v128.load(ps);
          let hi = first ? f32x4.splat(0) : v128.load64_zero(ps, 16);
          for (let i = n0; i < n1; i++) {
            const a = v128.load(src), b = v128.load64_zero(src, 16);
            v128.store(dst, a);
            v128.store64_lane(dst, b, 0, 16);
            lo = f32x4.add(lo, a);
            hi = f32x4.add(hi, b);
            src += sd;
            dst += DP_ROW;
          }
          if (last) {
            storeRow(dbias + (<usize>o0 << 2), lo, hi, TR, true);
          } else {
            v128.store(ps, lo);
            v128.store64_lane(ps, hi, 0, 16);
          }
        } else {
          for (let i = n0; i < n1; i++) {
            v128.store(dst, v128.load(src));
            store<u64>(dst, load<u64>(src, 16), 16);
            src += sd;
            dst += DP_ROW;
          }
        }
      } else {
        for (let i = n0; i < n1; i++) {
          for (let r = 0; r < TR; r++) {
            store<f32>(dst + (<usize>r << 2), r < rows ? load<f32>(src + (<usize>r << 2)) : 0);
          }
          src += sd;
          dst += DP_ROW;
        }
        if (sums) {
          // the same per-column order over n as the full-tile path, one column at a time
          const ps = part + <usize>OC * si + (<usize>o0 << 2);
          for (let r = 0; r < rows; r++) {
            let s: f32 = first ? 0 : load<f32>(ps + (<usize>r << 2));
            let pd = buf + (<usize>r << 2);
            for (let i = n0; i < n1; i++) {
              s += load<f32>(pd);
              pd += DP_ROW;
            }
            if (last) {
              const pb = dbias + (<usize>(o0 + r) << 2);
              store<f32>(pb, load<f32>(pb) + s);
            } else {
              store<f32>(ps + (<usize>r << 2), s);
            }
          }
        }
      }
      for (let j = j0; j < j1; j++) {
        const colOff = <usize>(j * TC) << 2;
        const pp = part + rowOff + colOff;
        let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        let c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        if (!first) {
          c00 = v128.load(pp);
          c01 = v128.load(pp, 16);
          if (rows > 1) {
            c10 = v128.load(pp + si);
            c11 = v128.load(pp + si, 16);
          }
          if (rows > 2) {
            c20 = v128.load(pp + 2 * si);
            c21 = v128.load(pp + 2 * si, 16);
          }
          if (rows > 3) {
            c30 = v128.load(pp + 3 * si);
            c31 = v128.load(pp + 3 * si, 16);
          }
          if (rows > 4) {
            c40 = v128.load(pp + 4 * si);
            c41 = v128.load(pp + 4 * si, 16);
          }
          if (rows > 5) {
            c50 = v128.load(pp + 5 * si);
            c51 = v128.load(pp + 5 * si, 16);
          }
        }
        let pd = buf;
        let pi = inp + <usize>n0 * si + colOff;
        for (let i = n0; i < n1; i++) {
          const b0 = v128.load(pi), b1 = v128.load(pi, 16);
          let x = v128.load32_splat(pd);
          c00 = f32x4.relaxed_madd(x, b0, c00);
          c01 = f32x4.relaxed_madd(x, b1, c01);
          x = v128.load32_splat(pd, 4);
          c10 = f32x4.relaxed_madd(x, b0, c10);
          c11 = f32x4.relaxed_madd(x, b1, c11);
          x = v128.load32_splat(pd, 8);
          c20 = f32x4.relaxed_madd(x, b0, c20);
          c21 = f32x4.relaxed_madd(x, b1, c21);
          x = v128.load32_splat(pd, 12);
          c30 = f32x4.relaxed_madd(x, b0, c30);
          c31 = f32x4.relaxed_madd(x, b1, c31);
          x = v128.load32_splat(pd, 16);
          c40 = f32x4.relaxed_madd(x, b0, c40);
          c41 = f32x4.relaxed_madd(x, b1, c41);
          x = v128.load32_splat(pd, 20);
          c50 = f32x4.relaxed_madd(x, b0, c50);
          c51 = f32x4.relaxed_madd(x, b1, c51);
          pd += DP_ROW;
          pi += si;
        }
        // Sums reach dweight in one add, as in the matmul, so adding a gradient twice doubles.
        const dst = last ? dweight + rowOff + colOff : pp;
        storeRow(dst, c00, c01, TC, last);
        if (rows > 1) storeRow(dst + si, c10, c11, TC, last);
        if (rows > 2) storeRow(dst + 2 * si, c20, c21, TC, last);
        if (rows > 3) storeRow(dst + 3 * si, c30, c31, TC, last);
        if (rows > 4) storeRow(dst + 4 * si, c40, c41, TC, last);
        if (rows > 5) storeRow(dst + 5 * si, c50, c51, TC, last);
      }
    }
  }
  // Columns past the last full panel: the last column block's, all n at once.
  for (let t = t0; t < t1; t++) {
    if (t % cb != cb - 1) continue;
    const o0 = (t / cb) * TR;
    const rows = min(TR, OC - o0);
    for (let r = 0; r < rows; r++) {
      for (let c = full * TC; c < C; c++) {
        let s: f32 = 0;
        let pd = dout + (<usize>(o0 + r) << 2);
        let pi = inp + (<usize>c << 2);
        for (let i = 0; i < N; i++) {
          s += load<f32>(pd) * load<f32>(pi);
          pd += sd;
          pi += si;
        }
        const p = dweight + <usize>(o0 + r) * si + (<usize>c << 2);
        store<f32>(p, load<f32>(p) + s);
      }
    }
  }
}

// dbias(OC) += Σ_n dout(N, OC)[n]
// backward of: out[n][o] = bias[o] + Σ_c inp[n][c] · weight[o][c]
// Task t = columns 8t … 8t+7, each summed over n in order inside the task.
export function linear_dbias(dbias: usize, dout: usize, N: i32, OC: i32, t0: i32, t1: i32): void {
  const sd = <usize>OC << 2;
  for (let t = t0; t < t1; t++) {
    const c0 = t * TC;
    const n = min(TC, OC - c0);
    let lo = f32x4.splat(0), hi = f32x4.splat(0);
    let p = dout + (<usize>c0 << 2);
    if (n == TC) {
      for (let i = 0; i < N; i++) {
        lo = f32x4.add(lo, v128.load(p));
        hi = f32x4.add(hi, v128.load(p, 16));
        p += sd;
      }
    } else {
      for (let i = 0; i < N; i++) {
        lo = f32x4.add(lo, loadLo(p, n));
        hi = f32x4.add(hi, loadHi(p, n));
        p += sd;
      }
    }
    storeRow(dbias + (<usize>c0 << 2), lo, hi, n, true);
  }
}
