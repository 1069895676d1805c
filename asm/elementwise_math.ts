// f32x4 math shared by the elementwise kernels: exp, erf and the normal CDF Φ, partial-vector
// loads for row tails, and the dropout mask hash (dropout.ts and the fused GELU + dropout of
// gelu.ts). Nothing here is exported from the module (index.ts only re-exports kernels).
//
// erf: |x| < 1 → x + x·P(x²) (P fitted with the 2/√π − 1 term split off, so the big part of the
// result is x itself, exact); 1 ≤ |x| < 6 → erfc(|x|) = exp(R(|x| − 3.5) − x²) with R fitted to
// log(erfc(t)) + t² (weighted for relative erfc accuracy, which keeps Φ accurate in the left tail);
// |x| ≥ 6 → erfc = 0. Both branches run on every lane and a mask picks one (phi4 skips the erfc
// branch when all four lanes are small). Coefficients: weighted least squares fitted in float64
// against mpmath. Max error over a dense grid against a float64 erf: 6.7e-8 absolute, i.e. about
// 1 ulp near erf = 0.84 (tests/ops/gelu_test.ts checks ≤ 2e-7).

// @ts-ignore: decorator
@inline const LOG2E: f32 = 1.4426950408889634;
// Cody–Waite split of ln 2: n·LN2_HI is exact for |n| ≤ 127.
// @ts-ignore: decorator
@inline const LN2_HI: f32 = 0.693359375;
// @ts-ignore: decorator
@inline const LN2_LO: f32 = -2.12194440e-4;
// 1.5·2²³: x + MAGIC rounds x to an integer kept in the low mantissa bits.
// @ts-ignore: decorator
@inline const MAGIC: f32 = 12582912.0;
// @ts-ignore: decorator
@inline const INV_SQRT2: f32 = 0.7071067811865476;
// @ts-ignore: decorator
@inline const INV_SQRT_2PI: f32 = 0.3989422804014327;

// Constants of the per-element loops, read with v128.load32_splat where they are used: V8
// rebuilds a v128.const at every use inside a loop (three instructions), a splat load from a
// fixed address is one (the technique of asm/attention.ts). They live in data segments so that
// Binaryen cannot fold them back into constants; every instance (one per worker) writes the same
// bytes there. The values are the literals used before, so every result keeps its bits.
const KF = memory.data<f32>([
  // 0: exp clamp, log2 e, 1.5·2²³, ln 2 high and low part (subtracted), polynomial, 1
  88.0, -87.0, LOG2E, MAGIC, LN2_HI, LN2_LO,
  1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
  5.0000001201e-1, 1.0,
  // 13: erfSmall's P
  7.680217822780833e-5, -0.000795355997979641, 0.005181223154067993, -0.0268495362251997,
  0.11283460259437561, -0.37612611055374146, 0.12837916612625122,
  // 20: erfcBig: centre 3.5, R (highest power first), cut-off 6
  3.5, 5.651756840308053e-10, 6.032610855299936e-9, -9.332718775567628e-8,
  6.185942424963287e-7, -3.837625172309345e-6, 2.4264616513391957e-5, -0.00014739811012987047,
  0.0008738795877434313, -0.005225576460361481, 0.03324683755636215, -0.26609960198402405,
  -1.86243736743927, 6.0,
  // 34: 1/√2, ½, −½, 1/√(2π), 2⁻²⁴
  INV_SQRT2, 0.5, -0.5, INV_SQRT_2PI, 5.9604644775390625e-8,
], 16);
// 0: 127 (exponent bias), the sign bit, the hash multipliers; 8: lane offsets 0, 1, 2, 3
const KI = memory.data<u32>([
  127, 0x80000000, 0x9e3779b9, 0x85ebca6b, 0xc2b2ae35, 0x7feb352d, 0x846ca68b, 0,
  0, 1, 2, 3,
], 16);

// @ts-ignore: decorator
@inline
function kf(k: i32): v128 {
  return v128.load32_splat(KF + (<usize>k << 2));
}

// @ts-ignore: decorator
@inline
function ki(k: i32): v128 {
  return v128.load32_splat(KI + (<usize>k << 2));
}

/** e^x for every lane; ~1 ulp; x below −87 gives 2^-126·(…) ≈ 0, never a denormal or NaN. */
// @ts-ignore: decorator
@inline
export function exp4(x: v128): v128 {
  x = f32x4.pmax(f32x4.pmin(x, kf(0)), kf(1));
  // Adding 1.5·2²³ rounds x·log2(e) to the nearest integer n and leaves n in the low mantissa
  // bits, from where 2^n is built by integer ops (cheaper than nearest + trunc_sat).
  const k = f32x4.add(f32x4.mul(x, kf(2)), kf(3));
  const n = f32x4.sub(k, kf(3));
  let r = f32x4.relaxed_nmadd(n, kf(4), x);
  r = f32x4.relaxed_nmadd(n, kf(5), r);
  // Cephes expf minimax polynomial on |r| ≤ ln2/2: e^r ≈ 1 + r + r²·P(r).
  let p = kf(6);
  p = f32x4.relaxed_madd(p, r, kf(7));
  p = f32x4.relaxed_madd(p, r, kf(8));
  p = f32x4.relaxed_madd(p, r, kf(9));
  p = f32x4.relaxed_madd(p, r, kf(10));
  p = f32x4.relaxed_madd(p, r, kf(11));
  p = f32x4.relaxed_madd(p, f32x4.mul(r, r), f32x4.add(r, kf(12)));
  const e = i32x4.shl(i32x4.add(k, ki(0)), 23);
  return f32x4.mul(p, e);
}

/** erf(t)/t − 1 … as t + t·P(t²) for 0 ≤ t < 1: returns erf(t). */
// @ts-ignore: decorator
@inline
function erfSmall(t: v128): v128 {
  const s = f32x4.mul(t, t);
  let p = kf(13);
  p = f32x4.relaxed_madd(p, s, kf(14));
  p = f32x4.relaxed_madd(p, s, kf(15));
  p = f32x4.relaxed_madd(p, s, kf(16));
  p = f32x4.relaxed_madd(p, s, kf(17));
  p = f32x4.relaxed_madd(p, s, kf(18));
  p = f32x4.relaxed_madd(p, s, kf(19));
  return f32x4.relaxed_madd(p, t, t);
}

/** erfc(t) for 1 ≤ t < 6 (any t ≥ 0 computes, but only that range is accurate). */
// @ts-ignore: decorator
@inline
function erfcBig(t: v128): v128 {
  const u = f32x4.sub(t, kf(20));
  let r = kf(21);
  r = f32x4.relaxed_madd(r, u, kf(22));
  r = f32x4.relaxed_madd(r, u, kf(23));
  r = f32x4.relaxed_madd(r, u, kf(24));
  r = f32x4.relaxed_madd(r, u, kf(25));
  r = f32x4.relaxed_madd(r, u, kf(26));
  r = f32x4.relaxed_madd(r, u, kf(27));
  r = f32x4.relaxed_madd(r, u, kf(28));
  r = f32x4.relaxed_madd(r, u, kf(29));
  r = f32x4.relaxed_madd(r, u, kf(30));
  r = f32x4.relaxed_madd(r, u, kf(31));
  r = f32x4.relaxed_madd(r, u, kf(32));
  const c = exp4(f32x4.relaxed_nmadd(t, t, r));
  return v128.and(c, f32x4.lt(t, kf(33)));
}

// @ts-ignore: decorator
@inline
function signBits(x: v128): v128 {
  return v128.and(x, ki(1));
}

/** erf(x) for every lane. */
// @ts-ignore: decorator
@inline
export function erf4(x: v128): v128 {
  const t = f32x4.abs(x);
  const small = erfSmall(t);
  const big = f32x4.sub(kf(12), erfcBig(t));
  const mag = v128.bitselect(small, big, f32x4.lt(t, kf(12)));
  return v128.or(mag, signBits(x));
}

/**
 * Φ(x) = ½(1 + erf(x/√2)), the standard normal CDF. For x < 0 in the erfc branch it is ½·erfc
 * directly (no 1 − erf cancellation), so GELU keeps relative accuracy in the left tail.
 */
// @ts-ignore: decorator
@inline
export function phi4(x: v128): v128 {
  const t = f32x4.mul(f32x4.abs(x), kf(34));
  const half = kf(35);
  const small = f32x4.add(half, v128.or(f32x4.mul(half, erfSmall(t)), signBits(x)));
  const isSmall = f32x4.lt(t, kf(12));
  // Most activations are small: skip the erfc branch when no lane needs it (same bits).
  if (i32x4.all_true(isSmall)) return small;
  const hc = f32x4.mul(half, erfcBig(t));
  const big = v128.bitselect(hc, f32x4.sub(kf(12), hc), f32x4.lt(x, f32x4.splat(0.0)));
  return v128.bitselect(small, big, isSmall);
}

/** φ(x) = e^(−x²/2)/√(2π), the standard normal density. */
// @ts-ignore: decorator
@inline
export function pdf4(x: v128): v128 {
  const h = f32x4.mul(f32x4.mul(x, x), kf(36));
  return f32x4.mul(exp4(h), kf(37));
}

/** The first k (1…3) floats at p in lanes 0…k−1, zeros elsewhere; never reads past p + 4k. */
// @ts-ignore: decorator
@inline
export function loadPartial(p: usize, k: i32): v128 {
  let v = f32x4.splat(0.0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (k > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (k > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Store lanes 0…k−1 (k = 1…3) of v at p. */
// @ts-ignore: decorator
@inline
export function storePartial(p: usize, v: v128, k: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (k > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (k > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

// Dropout mask (see dropout.ts): element i is kept iff (hash(key0, key1, i) >>> 8)·2⁻²⁴ ≥ p.
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
export function keep4(k0: v128, k1: v128, i: i32, pv: v128): v128 {
  let h = i32x4.add(i32x4.splat(i), v128.load(KI, 32));
  h = v128.xor(i32x4.mul(h, ki(2)), k0);
  h = i32x4.mul(xorShr(h, 16), ki(3));
  h = i32x4.mul(xorShr(h, 13), ki(4));
  h = v128.xor(xorShr(h, 16), k1);
  h = i32x4.mul(xorShr(h, 16), ki(5));
  h = i32x4.mul(xorShr(h, 15), ki(6));
  h = xorShr(h, 16);
  const bits24 = f32x4.convert_i32x4_s(i32x4.shr_u(h, 8));
  const u = f32x4.mul(bits24, kf(38));
  return f32x4.ge(u, pv);
}

// @ts-ignore: decorator
@inline
export function keep1(k0: u32, k1: u32, i: i32, p: f32): bool {
  return <f32>(hash(k0, k1, <u32>i) >>> 8) * <f32>5.9604644775390625e-8 >= p;
}
