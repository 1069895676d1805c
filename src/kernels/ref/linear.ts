/**
 * Reference kernels of asm/linear.ts: the same names, arguments, packing layout and task split,
 * in plain TypeScript. Sums run in float64 and are rounded to float32 once, then added to the
 * destination (so, like the Wasm kernels, accumulating the same gradient twice doubles it
 * exactly).
 *
 * @module
 */
import type { RefKernel } from "../../engine/backend.ts";
import type { Heap } from "../../engine/heap.ts";

/** Rows per matmul task / dweight task (the Wasm register tile height). */
const TR = 6;
/** Columns per packed panel (the Wasm register tile width). */
const TC = 8;

/** wp(⌈OC/8⌉, C, 8) ← weight(OC, C)ᵀ in panels of 8 output columns, zero past OC. */
function linear_pack_t(
  heap: Heap,
  wp: number,
  weight: number,
  OC: number,
  C: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, d0 = wp >> 2, w0 = weight >> 2;
  for (let t = t0; t < t1; t++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < TC; i++) {
        const o = t * TC + i;
        f[d0 + (t * C + c) * TC + i] = o < OC ? f[w0 + o * C + c] : 0;
      }
    }
  }
}

/** dst(⌈cols/width⌉, rows, width) ← src(rows, cols) in panels of `width` columns, zero past cols. */
function linear_pack(
  heap: Heap,
  dst: number,
  src: number,
  rows: number,
  cols: number,
  width: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, d0 = dst >> 2, s0 = src >> 2;
  for (let t = t0; t < t1; t++) {
    for (let k = 0; k < rows; k++) {
      for (let i = 0; i < width; i++) {
        const c = t * width + i;
        f[d0 + (t * rows + k) * width + i] = c < cols ? f[s0 + k * cols + c] : 0;
      }
    }
  }
}

/**
 * out(M, Nn) = a(M, K)·b(K, Nn) + bias (accumulate 0), or out += a·b (accumulate 1), with b
 * packed as bp(⌈Nn/8⌉, K, 8). Task t = rows 6t … 6t+5.
 */
function linear_matmul(
  heap: Heap,
  out: number,
  a: number,
  bp: number,
  bias: number,
  M: number,
  K: number,
  Nn: number,
  accumulate: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, o0 = out >> 2, a0 = a >> 2, b0 = bp >> 2, bi0 = bias >> 2;
  const acc = accumulate !== 0;
  for (let t = t0; t < t1; t++) {
    const mEnd = Math.min(M, (t + 1) * TR);
    for (let m = t * TR; m < mEnd; m++) {
      for (let j = 0; j < Nn; j++) {
        const p = b0 + ((j >> 3) * K) * TC + (j & 7);
        let s = 0;
        for (let k = 0; k < K; k++) s += f[a0 + m * K + k] * f[p + k * TC];
        const o = o0 + m * Nn + j;
        if (acc) f[o] += Math.fround(s);
        else f[o] = bias === 0 ? s : s + f[bi0 + j];
      }
    }
  }
}

/**
 * dweight(OC, C) += dout(N, OC)ᵀ·inp(N, C), and dbias(OC) += Σₙ dout[n] unless dbias is 0 (by
 * column block 0 of each row tile). Task t = dweight rows 6·⌊t/cb⌋ … +5, column block
 * t % cb (whole panels of 8, the last block also takes the columns past the last full panel).
 * `part`, `dbuf` and `chunk` are the Wasm kernel's scratch and cache blocking; here the sums
 * stay local.
 */
function linear_dweight(
  heap: Heap,
  dweight: number,
  dbias: number,
  _part: number,
  _dbuf: number,
  dout: number,
  inp: number,
  N: number,
  C: number,
  OC: number,
  _chunk: number,
  cb: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, w0 = dweight >> 2, d0 = dout >> 2, i0 = inp >> 2;
  const full = Math.floor(C / TC);
  for (let t = t0; t < t1; t++) {
    const tile = Math.floor(t / cb), block = t % cb;
    const cBegin = Math.floor((block * full) / cb) * TC;
    const cEnd = block === cb - 1 ? C : Math.floor(((block + 1) * full) / cb) * TC;
    const oEnd = Math.min(OC, (tile + 1) * TR);
    if (dbias !== 0 && block === 0) {
      for (let o = tile * TR; o < oEnd; o++) {
        let s = 0;
        for (let n = 0; n < N; n++) s += f[d0 + n * OC + o];
        f[(dbias >> 2) + o] += Math.fround(s);
      }
    }
    for (let o = tile * TR; o < oEnd; o++) {
      for (let c = cBegin; c < cEnd; c++) {
        let s = 0;
        for (let n = 0; n < N; n++) s += f[d0 + n * OC + o] * f[i0 + n * C + c];
        f[w0 + o * C + c] += Math.fround(s);
      }
    }
  }
}

/** dbias(OC) += Σₙ dout(N, OC)[n]. Task t = columns 8t … 8t+7. */
function linear_dbias(
  heap: Heap,
  dbias: number,
  dout: number,
  N: number,
  OC: number,
  t0: number,
  t1: number,
): void {
  const f = heap.f32, b0 = dbias >> 2, d0 = dout >> 2;
  for (let t = t0; t < t1; t++) {
    const cEnd = Math.min(OC, (t + 1) * TC);
    for (let c = t * TC; c < cEnd; c++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += f[d0 + n * OC + c];
      f[b0 + c] += Math.fround(s);
    }
  }
}

/** Reference kernels of asm/linear.ts. */
export const linearKernels: Record<string, RefKernel> = {
  linear_pack_t,
  linear_pack,
  linear_matmul,
  linear_dweight,
  linear_dbias,
};
