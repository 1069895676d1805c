// Softmax attention, forward and backward, for the three modes of the model spec:
// mode 0 `standard` (§3 steps 1, 2, 7), 1 `btsp` (§3), 2 `original` (§5 scores; its regrouping
// defect is the separate permutation kernel attention_regroup_*).
// One task per (sample, head) pair, t = b·H + h; queries i = qStart … L−1, keys j = 0 … L−1.
// Queries and keys/values are found by pointer and row stride (attention_forward's doc), so the
// queries may live apart from the [k | v] rows (src/ops/attention.ts maps both layouts).
// Reference: src/kernels/ref/attention.ts (same names, same arguments, float64 arithmetic).
//
// Per-task scratch (floats, Lp = L rounded up to 4, Lq = L − qStart, Lqp = Lq rounded up to 4):
//   kept by the forward for the backward: A (Lq, Lp) softmax | btsp only: M (Lq, Lp)
//   e₋ = e^(−10(s − 0.1)) | N (Lqp) row normalizers | IS (Lqp) | R (2·Lp) lag window,
//   R[j − i + L − 1] = W(i − j);
//   then work rows: G (Lq, Lp) backward dÂ, then dS | btsp only: Â (Lq, Lp) | per-key factor
//   rows c, e, f (3·Lp) | RE, RI (2·Lp each).
// A call uses only the work rows in the block of its first task t0 (ranges that run at the same
// time are disjoint, so their t0 differ): they stay in cache from one task to the next, and what
// a task computes still depends on the task alone. The forward keeps just two rows of Â there,
// for the context; the backward rebuilds Â from A and e₋ with the forward's arithmetic, which
// keeps the forward's writes to two matrices and reads e₋ back instead of σ₊ and σ₋.
// Rows are padded to Lp so every elementwise pass runs on whole f32x4 vectors; padding lanes are
// masked out of every sum. The backward keeps dS whole so that dK and dV are summed over queries
// in registers (one pass per pair of keys) instead of read-modified-written once per
// (query, key); context, dQ, dK and dV all go through combine2 (two outputs per pass).
//
// A task first loads one float of each row it will read or update (q, k, v, out; in the backward
// also dq, dk, dv, dout) and stores their ORed bits to a scratch float that it writes again
// later (so the loads stay, and scratch does not depend on how tasks were split). The rows of
// one (b, h) lie 3D or D floats apart, a cache line each, and at B = 128 most are not in cache
// when the task begins; touched in one burst their misses are in flight together instead of
// stalling one or two at a time where each row is first used (the worst: adding dQ, dK, dV into
// dq/dkv at the end of combine2). Measured: fwd + bwd 1.15× (btsp) to 1.2× (standard) faster.
//
// Fewer, wider memory accesses (V8 bounds-checks every Wasm load and store, so each costs a compare
// and a branch besides the access; measured fwd + bwd at the training shape B = 128, H = 4, L = 50,
// Dh = 16, 11 alternating rounds: standard 0.77× (1 thread) / 0.78× (2), btsp 0.86× / 0.87× the
// time; same bits): combine2 takes two keys' weights per output with one 8-byte load (contiguous
// weights, or two adjacent weight columns in dK/dV); at Dh = 16 a query row stays in registers
// across its keys (dot4x), and rowDots2 computes two score (or dÂ) rows together, so each key row
// is loaded once per two queries; maxima use pmax (one instruction; f32x4.max is ~8 in V8); the
// standard backward scales dS in the pass that forms it. Binaryen nests each accumulator's FMA
// chain across unrolled keys, so unrolling keeps more vectors live: four keys per combine2
// iteration spilled past the 16 registers and was slower (1.07×); rowDots2 spills a few and still
// wins.
//
// Exponentials use exp4 below (Cephes expf polynomial, ≤ 2 ulp on [−87.3, 88.3], 0 below,
// NaN kept); the test suite holds the kernels to the float64 reference within 2e-6.

const MODE_BTSP: i32 = 1;
const MODE_ORIGINAL: i32 = 2;

// q(s; θ) = (σ((s−θ)/β) − σ(−θ/β)) / (σ((1−θ)/β) − σ(−θ/β)) with β = 0.1:
// q₊ (θ = 0.5) = (σ₊ − σ(−5))·QP_INV, q₋ (θ = 0.1) = (σ₋ − σ(−1))·QM_INV.
const QP_INV: f32 = 1.0135673098126083; // 1 / (σ(5) − σ(−5))
const QP_OFF: f32 = -0.0067836549063042305; // −σ(−5)·QP_INV
const QM_INV: f32 = 1.36811036301968; // 1 / (σ(9) − σ(−1))
const QM_OFF: f32 = -0.36794154562153275; // −σ(−1)·QM_INV

// Constants of the per-element loops. Each loop splats the ones it needs into locals first
// (kc): V8 rebuilds a v128.const at every use inside a loop (three instructions), while a local
// stays in a register or costs one reload (measured: exp alone 1.5× faster). They live in a data
// segment so that Binaryen cannot fold them back into the loops; every instance (one per worker)
// writes the same bytes there.
const K = memory.data<f32>([
  // exp: log2 e, 1.5·2²³ + 127, −ln 2 (high, low part), the polynomial (highest power first)
  1.44269504088896341, 12583039, -0.693359375, 2.12194440e-4, 1.9875691500e-4,
  1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
  // 1, exp underflow, −1/β, e⁴, q₊ = σ₊·QP_INV + QP_OFF, q₋ = σ₋·QM_INV + QM_OFF
  1, -87.3, -10, 54.598150033144236, QP_INV, QP_OFF, QM_INV, QM_OFF,
], 16);
const K_ONE = 10, K_UNDER = 11, K_NBETA = 12, K_E4 = 13, K_QPA = 14, K_QPB = 15, K_QMA = 16;
const K_QMB = 17;

@inline
function ceil4(n: i32): i32 {
  return (n + 3) & ~3;
}

/** Floats of one task's scratch block; mirrored by _attentionTaskFloats in the ref kernels. */
function taskFloats(mode: i32, L: i32, qStart: i32): i32 {
  const Lp = ceil4(L), Lq = L - qStart;
  let n = keptFloats(mode, L, qStart) + Lq * Lp;
  if (mode == MODE_BTSP) n += Lq * Lp + 7 * Lp;
  return (n + 15) & ~15;
}

/** Floats at the start of a task block that the forward keeps for the backward. */
function keptFloats(mode: i32, L: i32, qStart: i32): i32 {
  const Lp = ceil4(L), Lq = L - qStart;
  let n = Lq * Lp;
  if (mode == MODE_BTSP) n += Lq * Lp + 2 * ceil4(Lq) + 2 * Lp;
  return n;
}

@inline
function off(n: i32): usize {
  return <usize>n << 2;
}

// lanes j … j+3 that are real keys (j + k < L): all-ones, else zero
@inline
function lanes(j: i32, L: i32): v128 {
  return i32x4.lt_s(i32x4.add(i32x4.splat(j), i32x4(0, 1, 2, 3)), i32x4.splat(L));
}

// (v0 + v2) + (v1 + v3): the same order as the transposed reduce of dot4
@inline
function hsum(v: v128): f32 {
  const x = f32x4.add(v, f32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(x, 0) + f32x4.extract_lane(x, 1);
}

// pmax (one instruction; f32x4.max and max<f32> are ~8 in V8 for their NaN and ±0 rules): a NaN
// score may be dropped from the maximum, but it still makes its own exp, and so its row's sum,
// NaN; a −0 maximum instead of +0 leaves every s − max, and so every exp, unchanged
@inline
function hmax(v: v128): f32 {
  const x = f32x4.pmax(v, f32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.pmax(x, f32x4.shuffle(x, x, 1, 0, 3, 2)), 0);
}

// e^x per lane: x = n·ln2 + r, e^r by a degree-7 polynomial, 2^n through the exponent bits
@inline
function exp4(x: v128): v128 {
  const under = f32x4.lt(x, f32x4.splat(-87.3));
  // pmin/pmax (one instruction each) keep a NaN x because x is their first operand
  const v = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.3)), f32x4.splat(88.3));
  // round to nearest by the 1.5·2²³ trick; the low bits of `big` are then n + 127
  const big = f32x4.add(f32x4.mul(v, f32x4.splat(1.44269504088896341)), f32x4.splat(12583039));
  const n = f32x4.sub(big, f32x4.splat(12583039));
  let r = f32x4.relaxed_madd(n, f32x4.splat(-0.693359375), v);
  r = f32x4.relaxed_madd(n, f32x4.splat(2.12194440e-4), r);
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.relaxed_madd(p, r, f32x4.splat(1.3981999507e-3));
  p = f32x4.relaxed_madd(p, r, f32x4.splat(8.3334519073e-3));
  p = f32x4.relaxed_madd(p, r, f32x4.splat(4.1665795894e-2));
  p = f32x4.relaxed_madd(p, r, f32x4.splat(1.6666665459e-1));
  p = f32x4.relaxed_madd(p, r, f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.relaxed_madd(p, f32x4.mul(r, r), r), f32x4.splat(1));
  const pow2 = i32x4.shl(big, 23);
  return v128.andnot(f32x4.mul(y, pow2), under);
}

@inline
function kc(k: i32): v128 {
  return v128.load32_splat(K + off(k));
}

// exp4 without the range handling, constants passed in (x within [−87.3, 88.3] or NaN)
@inline
function expk(
  x: v128, l2e: v128, mg: v128, lh: v128, ll: v128, c0: v128, c1: v128, c2: v128, c3: v128,
  c4: v128, c5: v128, one: v128,
): v128 {
  const big = f32x4.add(f32x4.mul(x, l2e), mg);
  const n = f32x4.sub(big, mg);
  let r = f32x4.relaxed_madd(n, lh, x);
  r = f32x4.relaxed_madd(n, ll, r);
  let p = f32x4.relaxed_madd(c0, r, c1);
  p = f32x4.relaxed_madd(p, r, c2);
  p = f32x4.relaxed_madd(p, r, c3);
  p = f32x4.relaxed_madd(p, r, c4);
  p = f32x4.relaxed_madd(p, r, c5);
  const y = f32x4.add(f32x4.relaxed_madd(p, f32x4.mul(r, r), r), one);
  return f32x4.mul(y, i32x4.shl(big, 23));
}

// Ã = A + η(q₊(1 − A) − q₋A) = A(1 − η(q₊ + q₋)) + ηq₊ from e₋ = e^(−10(s − 0.1)):
// σ₋ = σ(10(s − 0.1)) = 1/(1 + e₋) and σ₊ = σ(10(s − 0.5)) = 1/(1 + e⁴e₋), one division for both:
// σ₊ = (1 + e₋)/((1 + e⁴e₋)(1 + e₋)), σ₋ = (1 + e⁴e₋)/(…). The backward rebuilds Ã with it.
@inline
function plastic(
  em: v128, a: v128, ev: v128, one: v128, e4: v128, qpa: v128, qpb: v128, qma: v128, qmb: v128,
): v128 {
  const ap = f32x4.relaxed_madd(em, e4, one);
  const am = f32x4.add(one, em);
  const rr = f32x4.div(one, f32x4.mul(ap, am));
  const qp = f32x4.relaxed_madd(f32x4.mul(am, rr), qpa, qpb);
  const qm = f32x4.relaxed_madd(f32x4.mul(ap, rr), qma, qmb);
  const coef = f32x4.sub(one, f32x4.mul(ev, f32x4.add(qp, qm)));
  return f32x4.relaxed_madd(a, coef, f32x4.mul(ev, qp));
}

@inline
function sigmoid(x: f32): f32 {
  return <f32>1 / (<f32>1 + Mathf.exp(-x));
}

// a(Dh)·b(Dh), Dh % 4 == 0
@inline
function dotv(a: usize, b: usize, Dh: i32): f32 {
  let acc = f32x4.splat(0);
  for (let d = 0; d < Dh; d += 4) {
    acc = f32x4.relaxed_madd(v128.load(a + off(d)), v128.load(b + off(d)), acc);
  }
  return hsum(acc);
}

// a(Dh)·b(Dh), any Dh
@inline
function dots(a: usize, b: usize, Dh: i32): f32 {
  let acc: f32 = 0;
  for (let d = 0; d < Dh; d++) acc += load<f32>(a + off(d)) * load<f32>(b + off(d));
  return acc;
}

// [a·b0, a·b1, a·b2, a·b3], bk = b + k·rs, Dh % 4 == 0
@inline
function dot4(a: usize, b: usize, rs: usize, Dh: i32): v128 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let d = 0; d < Dh; d += 4) {
    const x = v128.load(a + off(d));
    const p = b + off(d);
    a0 = f32x4.relaxed_madd(x, v128.load(p), a0);
    a1 = f32x4.relaxed_madd(x, v128.load(p + rs), a1);
    a2 = f32x4.relaxed_madd(x, v128.load(p + 2 * rs), a2);
    a3 = f32x4.relaxed_madd(x, v128.load(p + 3 * rs), a3);
  }
  return reduce4(a0, a1, a2, a3);
}

// [Σ a0, Σ a1, Σ a2, Σ a3], each as (lane 0 + lane 2) + (lane 1 + lane 3)
@inline
function reduce4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const x = f32x4.add(f32x4.shuffle(a0, a1, 0, 4, 1, 5), f32x4.shuffle(a0, a1, 2, 6, 3, 7));
  const y = f32x4.add(f32x4.shuffle(a2, a3, 0, 4, 1, 5), f32x4.shuffle(a2, a3, 2, 6, 3, 7));
  return f32x4.add(f32x4.shuffle(x, y, 0, 1, 4, 5), f32x4.shuffle(x, y, 2, 3, 6, 7));
}

// dot4 for Dh = 16 with a = [x0 | x1 | x2 | x3] held in registers across calls (a quarter of
// dot4's loads, each with its bounds check, go); the same FMA order, so the same bits
@inline
function dot4x(x0: v128, x1: v128, x2: v128, x3: v128, b: usize, rs: usize): v128 {
  const z = f32x4.splat(0);
  const b1 = b + rs, b2 = b1 + rs, b3 = b2 + rs;
  let a0 = f32x4.relaxed_madd(x0, v128.load(b), z);
  let a1 = f32x4.relaxed_madd(x0, v128.load(b1), z);
  let a2 = f32x4.relaxed_madd(x0, v128.load(b2), z);
  let a3 = f32x4.relaxed_madd(x0, v128.load(b3), z);
  a0 = f32x4.relaxed_madd(x1, v128.load(b, 16), a0);
  a1 = f32x4.relaxed_madd(x1, v128.load(b1, 16), a1);
  a2 = f32x4.relaxed_madd(x1, v128.load(b2, 16), a2);
  a3 = f32x4.relaxed_madd(x1, v128.load(b3, 16), a3);
  a0 = f32x4.relaxed_madd(x2, v128.load(b, 32), a0);
  a1 = f32x4.relaxed_madd(x2, v128.load(b1, 32), a1);
  a2 = f32x4.relaxed_madd(x2, v128.load(b2, 32), a2);
  a3 = f32x4.relaxed_madd(x2, v128.load(b3, 32), a3);
  a0 = f32x4.relaxed_madd(x3, v128.load(b, 48), a0);
  a1 = f32x4.relaxed_madd(x3, v128.load(b1, 48), a1);
  a2 = f32x4.relaxed_madd(x3, v128.load(b2, 48), a2);
  a3 = f32x4.relaxed_madd(x3, v128.load(b3, 48), a3);
  return reduce4(a0, a1, a2, a3);
}

// Dh = 16: dst0/dst1 (Lp): dstR[j] = sc·(xR·rows[j]) for j < L, rows[j] = base + j·rs;
// dstR[L … Lp) = pad. Two rows share each key load (half the loads and bounds checks of two
// rowDots), two keys at a time (8 + 4 vectors live: V8 spills past 16); every dot sums in
// dot4's order, so the bits are rowDots' (sc = 1 is exact).
function rowDots2(
  dst0: usize, dst1: usize, x0: usize, x1: usize, base: usize, rs: usize, L: i32, Lp: i32,
  sc: f32, pad: f32,
): void {
  const u0 = v128.load(x0), u1 = v128.load(x0, 16), u2 = v128.load(x0, 32);
  const u3 = v128.load(x0, 48);
  const w0 = v128.load(x1), w1 = v128.load(x1, 16), w2 = v128.load(x1, 32);
  const w3 = v128.load(x1, 48);
  const z = f32x4.splat(0), sv = f32x4.splat(sc);
  let j = 0;
  for (; j + 2 <= L; j += 2) {
    const b0 = base + <usize>j * rs, b1 = b0 + rs;
    let k = v128.load(b0);
    let a00 = f32x4.relaxed_madd(u0, k, z), a10 = f32x4.relaxed_madd(w0, k, z);
    k = v128.load(b1);
    let a01 = f32x4.relaxed_madd(u0, k, z), a11 = f32x4.relaxed_madd(w0, k, z);
    k = v128.load(b0, 16);
    a00 = f32x4.relaxed_madd(u1, k, a00);
    a10 = f32x4.relaxed_madd(w1, k, a10);
    k = v128.load(b1, 16);
    a01 = f32x4.relaxed_madd(u1, k, a01);
    a11 = f32x4.relaxed_madd(w1, k, a11);
    k = v128.load(b0, 32);
    a00 = f32x4.relaxed_madd(u2, k, a00);
    a10 = f32x4.relaxed_madd(w2, k, a10);
    k = v128.load(b1, 32);
    a01 = f32x4.relaxed_madd(u2, k, a01);
    a11 = f32x4.relaxed_madd(w2, k, a11);
    k = v128.load(b0, 48);
    a00 = f32x4.relaxed_madd(u3, k, a00);
    a10 = f32x4.relaxed_madd(w3, k, a10);
    k = v128.load(b1, 48);
    a01 = f32x4.relaxed_madd(u3, k, a01);
    a11 = f32x4.relaxed_madd(w3, k, a11);
    // [x0·k_j, x0·k_j+1, x1·k_j, x1·k_j+1]
    const v = f32x4.mul(reduce4(a00, a01, a10, a11), sv);
    v128.store64_lane(dst0 + off(j), v, 0);
    v128.store64_lane(dst1 + off(j), v, 1);
  }
  if (j < L) {
    const b = base + <usize>j * rs;
    store<f32>(dst0 + off(j), dotv(x0, b, 16) * sc);
    store<f32>(dst1 + off(j), dotv(x1, b, 16) * sc);
    j++;
  }
  for (; j < Lp; j++) {
    store<f32>(dst0 + off(j), pad);
    store<f32>(dst1 + off(j), pad);
  }
}

// dst(Lp): dst[j] = x(Dh)·rows[j](Dh) for j < L, rows[j] = base + j·rs; dst[L … Lp) = pad
function rowDots(
  dst: usize, x: usize, base: usize, rs: usize, L: i32, Lp: i32, Dh: i32, pad: f32,
): void {
  let j = 0;
  if (Dh == 16) {
    const x0 = v128.load(x), x1 = v128.load(x, 16), x2 = v128.load(x, 32);
    const x3 = v128.load(x, 48);
    for (; j + 4 <= L; j += 4) {
      v128.store(dst + off(j), dot4x(x0, x1, x2, x3, base + <usize>j * rs, rs));
    }
    for (; j < L; j++) store<f32>(dst + off(j), dotv(x, base + <usize>j * rs, Dh));
  } else if ((Dh & 3) == 0) {
    for (; j + 4 <= L; j += 4) v128.store(dst + off(j), dot4(x, base + <usize>j * rs, rs, Dh));
    for (; j < L; j++) store<f32>(dst + off(j), dotv(x, base + <usize>j * rs, Dh));
  } else {
    for (; j < L; j++) store<f32>(dst + off(j), dots(x, base + <usize>j * rs, Dh));
  }
  for (; j < Lp; j++) store<f32>(dst + off(j), pad);
}

// out(Dh) = Σ_j w[j·ws]·rows[j](Dh) (add: out += …), rows[j] = base + j·rs, j < n
function combine(
  out: usize, w: usize, ws: usize, base: usize, rs: usize, n: i32, Dh: i32, add: bool,
): void {
  if ((Dh & 3) == 0) {
    let d = 0;
    for (; d + 16 <= Dh; d += 16) {
      let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
      for (let j = 0; j < n; j++) {
        const s = f32x4.splat(load<f32>(w + <usize>j * ws));
        const p = base + <usize>j * rs + off(d);
        c0 = f32x4.relaxed_madd(s, v128.load(p), c0);
        c1 = f32x4.relaxed_madd(s, v128.load(p, 16), c1);
        c2 = f32x4.relaxed_madd(s, v128.load(p, 32), c2);
        c3 = f32x4.relaxed_madd(s, v128.load(p, 48), c3);
      }
      const o = out + off(d);
      if (add) {
        c0 = f32x4.add(v128.load(o), c0);
        c1 = f32x4.add(v128.load(o, 16), c1);
        c2 = f32x4.add(v128.load(o, 32), c2);
        c3 = f32x4.add(v128.load(o, 48), c3);
      }
      v128.store(o, c0);
      v128.store(o, c1, 16);
      v128.store(o, c2, 32);
      v128.store(o, c3, 48);
    }
    for (; d < Dh; d += 4) {
      let c = f32x4.splat(0);
      for (let j = 0; j < n; j++) {
        const s = f32x4.splat(load<f32>(w + <usize>j * ws));
        c = f32x4.relaxed_madd(s, v128.load(base + <usize>j * rs + off(d)), c);
      }
      const o = out + off(d);
      v128.store(o, add ? f32x4.add(v128.load(o), c) : c);
    }
  } else {
    for (let d = 0; d < Dh; d++) {
      let c: f32 = 0;
      for (let j = 0; j < n; j++) {
        c += load<f32>(w + <usize>j * ws) * load<f32>(base + <usize>j * rs + off(d));
      }
      const o = out + off(d);
      store<f32>(o, add ? load<f32>(o) + c : c);
    }
  }
}

// out0(Dh) = Σ_j w0[j·ws]·rows[j](Dh), out1 likewise with w1 (add: out += …), j < n. Two outputs
// share each row load and give 8 independent FMA chains, where one output alone is bound by the
// latency of 4; every element sums in the same order as combine, so the bits are the same.
function combine2(
  out0: usize, out1: usize, w0: usize, w1: usize, ws: usize, base: usize, rs: usize, n: i32,
  Dh: i32, add: bool,
): void {
  if ((Dh & 3) != 0) {
    combine(out0, w0, ws, base, rs, n, Dh, add);
    combine(out1, w1, ws, base, rs, n, Dh, add);
    return;
  }
  let d = 0;
  for (; d + 16 <= Dh; d += 16) {
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    let p = base + off(d), p0 = w0, p1 = w1;
    let j = 0;
    // two keys per iteration, their weights by one 8-byte load per output, lanes splat by
    // shuffles (Binaryen nests each accumulator's FMAs across the unrolled keys, so more keys
    // per iteration keep more vectors live and V8 spills them)
    if (ws == 4) {
      for (; j + 2 <= n; j += 2) {
        const u = v128.load64_zero(p0), v = v128.load64_zero(p1);
        p0 += 8;
        p1 += 8;
        let s0 = i32x4.shuffle(u, u, 0, 0, 0, 0);
        let s1 = i32x4.shuffle(v, v, 0, 0, 0, 0);
        let x = v128.load(p);
        a0 = f32x4.relaxed_madd(s0, x, a0);
        b0 = f32x4.relaxed_madd(s1, x, b0);
        x = v128.load(p, 16);
        a1 = f32x4.relaxed_madd(s0, x, a1);
        b1 = f32x4.relaxed_madd(s1, x, b1);
        x = v128.load(p, 32);
        a2 = f32x4.relaxed_madd(s0, x, a2);
        b2 = f32x4.relaxed_madd(s1, x, b2);
        x = v128.load(p, 48);
        a3 = f32x4.relaxed_madd(s0, x, a3);
        b3 = f32x4.relaxed_madd(s1, x, b3);
        p += rs;
        s0 = i32x4.shuffle(u, u, 1, 1, 1, 1);
        s1 = i32x4.shuffle(v, v, 1, 1, 1, 1);
        x = v128.load(p);
        a0 = f32x4.relaxed_madd(s0, x, a0);
        b0 = f32x4.relaxed_madd(s1, x, b0);
        x = v128.load(p, 16);
        a1 = f32x4.relaxed_madd(s0, x, a1);
        b1 = f32x4.relaxed_madd(s1, x, b1);
        x = v128.load(p, 32);
        a2 = f32x4.relaxed_madd(s0, x, a2);
        b2 = f32x4.relaxed_madd(s1, x, b2);
        x = v128.load(p, 48);
        a3 = f32x4.relaxed_madd(s0, x, a3);
        b3 = f32x4.relaxed_madd(s1, x, b3);
        p += rs;
      }
    } else if (w1 == w0 + 4) {
      // adjacent weight columns: one load per query brings both weights
      for (; j + 2 <= n; j += 2) {
        const u = v128.load64_zero(p0), v = v128.load64_zero(p0 + ws);
        p0 += ws << 1;
        let s0 = i32x4.shuffle(u, u, 0, 0, 0, 0);
        let s1 = i32x4.shuffle(u, u, 1, 1, 1, 1);
        let x = v128.load(p);
        a0 = f32x4.relaxed_madd(s0, x, a0);
        b0 = f32x4.relaxed_madd(s1, x, b0);
        x = v128.load(p, 16);
        a1 = f32x4.relaxed_madd(s0, x, a1);
        b1 = f32x4.relaxed_madd(s1, x, b1);
        x = v128.load(p, 32);
        a2 = f32x4.relaxed_madd(s0, x, a2);
        b2 = f32x4.relaxed_madd(s1, x, b2);
        x = v128.load(p, 48);
        a3 = f32x4.relaxed_madd(s0, x, a3);
        b3 = f32x4.relaxed_madd(s1, x, b3);
        p += rs;
        s0 = i32x4.shuffle(v, v, 0, 0, 0, 0);
        s1 = i32x4.shuffle(v, v, 1, 1, 1, 1);
        x = v128.load(p);
        a0 = f32x4.relaxed_madd(s0, x, a0);
        b0 = f32x4.relaxed_madd(s1, x, b0);
        x = v128.load(p, 16);
        a1 = f32x4.relaxed_madd(s0, x, a1);
        b1 = f32x4.relaxed_madd(s1, x, b1);
        x = v128.load(p, 32);
        a2 = f32x4.relaxed_madd(s0, x, a2);
        b2 = f32x4.relaxed_madd(s1, x, b2);
        x = v128.load(p, 48);
        a3 = f32x4.relaxed_madd(s0, x, a3);
        b3 = f32x4.relaxed_madd(s1, x, b3);
        p += rs;
      }
      p1 = p0 + 4;
    }
    for (; j < n; j++) {
      const s0 = v128.load32_splat(p0);
      const s1 = v128.load32_splat(p1);
      const x0 = v128.load(p), x1 = v128.load(p, 16), x2 = v128.load(p, 32);
      const x3 = v128.load(p, 48);
      p += rs;
      p0 += ws;
      p1 += ws;
      a0 = f32x4.relaxed_madd(s0, x0, a0);
      a1 = f32x4.relaxed_madd(s0, x1, a1);
      a2 = f32x4.relaxed_madd(s0, x2, a2);
      a3 = f32x4.relaxed_madd(s0, x3, a3);
      b0 = f32x4.relaxed_madd(s1, x0, b0);
      b1 = f32x4.relaxed_madd(s1, x1, b1);
      b2 = f32x4.relaxed_madd(s1, x2, b2);
      b3 = f32x4.relaxed_madd(s1, x3, b3);
    }
    const o0 = out0 + off(d), o1 = out1 + off(d);
    if (add) {
      a0 = f32x4.add(v128.load(o0), a0);
      a1 = f32x4.add(v128.load(o0, 16), a1);
      a2 = f32x4.add(v128.load(o0, 32), a2);
      a3 = f32x4.add(v128.load(o0, 48), a3);
      b0 = f32x4.add(v128.load(o1), b0);
      b1 = f32x4.add(v128.load(o1, 16), b1);
      b2 = f32x4.add(v128.load(o1, 32), b2);
      b3 = f32x4.add(v128.load(o1, 48), b3);
    }
    v128.store(o0, a0);
    v128.store(o0, a1, 16);
    v128.store(o0, a2, 32);
    v128.store(o0, a3, 48);
    v128.store(o1, b0);
    v128.store(o1, b1, 16);
    v128.store(o1, b2, 32);
    v128.store(o1, b3, 48);
  }
  for (; d < Dh; d += 4) {
    let a = f32x4.splat(0), c = f32x4.splat(0);
    for (let j = 0; j < n; j++) {
      const x = v128.load(base + <usize>j * rs + off(d));
      a = f32x4.relaxed_madd(v128.load32_splat(w0 + <usize>j * ws), x, a);
      c = f32x4.relaxed_madd(v128.load32_splat(w1 + <usize>j * ws), x, c);
    }
    const o0 = out0 + off(d), o1 = out1 + off(d);
    v128.store(o0, add ? f32x4.add(v128.load(o0), a) : a);
    v128.store(o1, add ? f32x4.add(v128.load(o1), c) : c);
  }
}

// arow(Lp) = e^(S_ij − max_j S_ij), S_ij = scale·q_i·k_j (+ g·T[i][j] + ig in `original`),
// T[i][j] = timeBias[clamp(j − i + 250, 0, 499)]; padding lanes get 0. Returns 1/Σ_j, so that
// arow·(returned value) is the softmax; the caller scales (btsp does it in its own pass).
// pre: arow holds scale·q_i·k_j already, padded with −∞ (rowDots2).
function expRow(
  arow: usize, qi: usize, kB: usize, rs: usize, L: i32, Lp: i32, Dh: i32, scale: f32,
  original: bool, g: f32, ig: f32, timeBias: usize, i: i32, pre: bool,
): f32 {
  const sv = f32x4.splat(scale);
  let mv = f32x4.splat(-Infinity);
  let j = 0, jv = 0;
  if (pre) {
    j = Lp;
  } else if (Dh == 16) {
    const x0 = v128.load(qi), x1 = v128.load(qi, 16), x2 = v128.load(qi, 32);
    const x3 = v128.load(qi, 48);
    for (; j + 4 <= L; j += 4) {
      const x = f32x4.mul(dot4x(x0, x1, x2, x3, kB + <usize>j * rs, rs), sv);
      mv = f32x4.pmax(mv, x);
      v128.store(arow + off(j), x);
    }
    jv = j;
    for (; j < L; j++) store<f32>(arow + off(j), dotv(qi, kB + <usize>j * rs, Dh) * scale);
  } else if ((Dh & 3) == 0) {
    for (; j + 4 <= L; j += 4) {
      const x = f32x4.mul(dot4(qi, kB + <usize>j * rs, rs, Dh), sv);
      mv = f32x4.pmax(mv, x);
      v128.store(arow + off(j), x);
    }
    // keys before jv are in mv already
    jv = j;
    for (; j < L; j++) store<f32>(arow + off(j), dotv(qi, kB + <usize>j * rs, Dh) * scale);
  } else {
    for (; j < L; j++) store<f32>(arow + off(j), dots(qi, kB + <usize>j * rs, Dh) * scale);
  }
  for (; j < Lp; j++) store<f32>(arow + off(j), -Infinity);
  if (original) {
    for (j = 0; j < L; j++) {
      const tb = load<f32>(timeBias + off(min(max(j - i + 250, 0), 499)));
      store<f32>(arow + off(j), (load<f32>(arow + off(j)) + g * tb) + ig);
    }
    mv = f32x4.splat(-Infinity);
    for (j = 0; j < Lp; j += 4) mv = f32x4.pmax(mv, v128.load(arow + off(j)));
  } else {
    for (j = jv; j < Lp; j += 4) mv = f32x4.pmax(mv, v128.load(arow + off(j)));
  }
  const m = f32x4.splat(hmax(mv));
  let sum = f32x4.splat(0);
  const l2e = kc(0), mg = kc(1), lh = kc(2), ll = kc(3), c0 = kc(4), c1 = kc(5), c2 = kc(6);
  const c3 = kc(7), c4 = kc(8), c5 = kc(9), one = kc(K_ONE), lo = kc(K_UNDER);
  for (j = 0; j < Lp; j += 4) {
    // x ≤ 0 (or NaN): only the underflow side needs care
    const x = f32x4.sub(v128.load(arow + off(j)), m);
    const y = expk(f32x4.pmax(x, lo), l2e, mg, lh, ll, c0, c1, c2, c3, c4, c5, one);
    const e = v128.andnot(y, f32x4.lt(x, lo));
    sum = f32x4.add(sum, e);
    v128.store(arow + off(j), e);
  }
  return <f32>1 / hsum(sum);
}

/**
 * Attention forward, one task per (b, h): out (B, L−qStart, D) ← contexts of queries
 * qStart … L−1 (heads concatenated). Query r of sample b is the row q + (b·qRows + r)·qs
 * (floats; head h at + h·Dh); key j is the row kv + (b·L + j)·kvs, its value D floats further.
 * btsp: isLogit row (b·qRows + r)·H, logTauEt/logTauIs/eta (H); original: etGate (1),
 * isGate (1), timeBias (500). Fills scratch.
 */
export function attention_forward(
  mode: i32, out: usize, q: usize, qs: i32, qRows: i32, kv: usize, kvs: i32, scratch: usize,
  B: i32, L: i32, D: i32, H: i32, qStart: i32, isLogit: usize, logTauEt: usize,
  logTauIs: usize, eta: usize, etGate: usize, isGate: usize, timeBias: usize, t0: i32, t1: i32,
): void {
  const Dh = D / H, Lq = L - qStart, Lp = ceil4(L), Lqp = ceil4(Lq);
  const qrs = off(qs), rs = off(kvs), mat = off(Lq * Lp);
  const stride = off(taskFloats(mode, L, qStart));
  const scale = <f32>(1.0 / Math.sqrt(<f64>Dh));
  const btsp = mode == MODE_BTSP, original = mode == MODE_ORIGINAL;
  const g: f32 = original ? sigmoid(load<f32>(etGate)) : 0;
  const ig: f32 = original ? load<f32>(isGate) : 0;
  // work rows of this call: in the block of task t0 (see the header)
  const ahW = scratch + <usize>t0 * stride + off(keptFloats(mode, L, qStart));
  for (let t = t0; t < t1; t++) {
    const b = t / H, h = t - (t / H) * H;
    const base = scratch + <usize>t * stride;
    const qB = q + <usize>(b * qRows) * qrs + off(h * Dh);
    const kB = kv + <usize>(b * L) * rs + off(h * Dh), vB = kB + off(D);
    const islB = isLogit + off(b * qRows * H + h);
    const emB = base + mat, nB = emB + mat, isB = nB + off(Lqp), rB = isB + off(Lqp);
    const oB = out + off(b * Lq * D + h * Dh);
    // touch the task's rows first (see the header); row 0 writes A[0][0] again
    let tch: i32 = 0;
    for (let r = 0; r < Lq; r++) {
      tch |= load<i32>(qB + <usize>r * qrs) | load<i32>(oB + off(r * D));
    }
    for (let j = 0; j < L; j++) {
      tch |= load<i32>(kB + <usize>j * rs) | load<i32>(vB + <usize>j * rs);
    }
    store<i32>(base, tch);
    let ev = f32x4.splat(0);
    if (btsp) {
      // R[m] = W(Δ), Δ = L − 1 − m: exp(−Δ/τ_ET) for Δ ≥ 0, exp(Δ/τ_IS) for Δ < 0; 0 past 2L − 2
      const invTe = f32x4.splat(Mathf.exp(-load<f32>(logTauEt + off(h))));
      const invTi = f32x4.splat(Mathf.exp(-load<f32>(logTauIs + off(h))));
      for (let m = 0; m < 2 * Lp; m += 4) {
        const mv = i32x4.add(i32x4.splat(m), i32x4(0, 1, 2, 3));
        const dl = f32x4.convert_i32x4_s(i32x4.sub(i32x4.splat(L - 1), mv));
        const x = v128.bitselect(
          f32x4.mul(f32x4.neg(dl), invTe),
          f32x4.mul(dl, invTi),
          f32x4.ge(dl, f32x4.splat(0)),
        );
        v128.store(rB + off(m), v128.and(exp4(x), i32x4.lt_s(mv, i32x4.splat(2 * L - 1))));
      }
      ev = f32x4.splat(<f32>0.5 * sigmoid(load<f32>(eta + off(h))));
    }
    for (let r = 0; r < Lq; r++) {
      const i = qStart + r;
      const arow = base + off(r * Lp);
      // Dh = 16: the scores of rows r, r + 1 together (rowDots2), a last odd row alone
      const qi = qB + <usize>r * qrs;
      const pre = Dh == 16 && (r | 1) < Lq;
      if (pre && (r & 1) == 0) {
        rowDots2(arow, arow + off(Lp), qi, qi + qrs, kB, rs, L, Lp, scale, -Infinity);
      }
      const inv = f32x4.splat(
        expRow(arow, qi, kB, rs, L, Lp, Dh, scale, original, g, ig, timeBias, i, pre),
      );
      if (!btsp) {
        for (let j = 0; j < Lp; j += 4) {
          v128.store(arow + off(j), f32x4.mul(v128.load(arow + off(j)), inv));
        }
        if (r & 1) {
          combine2(
            oB + off((r - 1) * D), oB + off(r * D), arow - off(Lp), arow, 4, vB, rs, L, Dh, false,
          );
        }
        continue;
      }
      const is = sigmoid(load<f32>(islB + off(r * H)));
      const isv = f32x4.splat(is);
      const rrow = rB + off(L - 1 - i), emRow = emB + off(r * Lp);
      // Â rows go to a two-row ring: only combine2 reads them (the backward rebuilds Â)
      const ahRow = ahW + off((r & 1) * Lp);
      const l2e = kc(0), mg = kc(1), lh = kc(2), ll = kc(3), c0 = kc(4), c1 = kc(5);
      const c2 = kc(6), c3 = kc(7), c4 = kc(8), c5 = kc(9), one = kc(K_ONE), nb = kc(K_NBETA);
      const e4 = kc(K_E4), qpa = kc(K_QPA), qpb = kc(K_QPB), qma = kc(K_QMA), qmb = kc(K_QMB);
      const L4 = L & ~3;
      let nacc = f32x4.splat(0);
      for (let j = 0; j < Lp; j += 4) {
        const s = f32x4.mul(isv, v128.load(rrow + off(j)));
        // e₋ = e^(−10(s − 0.1)); s ∈ [0, 1] keeps it within [e⁻⁹, e]
        const em = expk(
          f32x4.relaxed_madd(s, nb, one), l2e, mg, lh, ll, c0, c1, c2, c3, c4, c5, one,
        );
        v128.store(emRow + off(j), em);
        const a = f32x4.mul(v128.load(arow + off(j)), inv);
        v128.store(arow + off(j), a);
        let at = plastic(em, a, ev, one, e4, qpa, qpb, qma, qmb);
        if (j >= L4) at = v128.and(at, lanes(j, L));
        nacc = f32x4.add(nacc, at);
        v128.store(ahRow + off(j), at);
      }
      const n = hsum(nacc);
      const invN = f32x4.splat(<f32>1 / n);
      for (let j = 0; j < Lp; j += 4) {
        v128.store(ahRow + off(j), f32x4.mul(v128.load(ahRow + off(j)), invN));
      }
      store<f32>(nB + off(r), n);
      store<f32>(isB + off(r), is);
      if (r & 1) {
        const o = oB + off((r - 1) * D);
        combine2(o, o + off(D), ahW, ahW + off(Lp), 4, vB, rs, L, Dh, false);
      }
    }
    if (Lq & 1) {
      const w = btsp ? ahW : base + off((Lq - 1) * Lp);
      combine(oB + off((Lq - 1) * D), w, 4, vB, rs, L, Dh, false);
    }
  }
}

/**
 * Attention backward, one task per (b, h), after attention_forward filled scratch (the same
 * layout arguments): dq, dkv += ∂/∂q, ∂/∂kv (dq and dkv rows laid out as q and kv);
 * btsp: disLogit (laid out as isLogit) += ∂/∂isLogit (skipped when 0);
 * partials (B·H, P) ← this task's share of the per-head parameter gradients
 * (btsp P = 3: logTauEt, logTauIs, eta; original P = 2: etGate, isGate; standard P = 0).
 */
export function attention_backward(
  mode: i32, dq: usize, dkv: usize, disLogit: usize, partials: usize, dout: usize, q: usize,
  qs: i32, qRows: i32, kv: usize, kvs: i32, scratch: usize, B: i32, L: i32, D: i32, H: i32,
  qStart: i32, logTauEt: usize, logTauIs: usize, eta: usize, etGate: usize, timeBias: usize,
  t0: i32, t1: i32,
): void {
  const Dh = D / H, Lq = L - qStart, Lp = ceil4(L), Lqp = ceil4(Lq);
  const qrs = off(qs), rs = off(kvs), mat = off(Lq * Lp);
  const stride = off(taskFloats(mode, L, qStart));
  const scale = f32x4.splat(<f32>(1.0 / Math.sqrt(<f64>Dh)));
  const btsp = mode == MODE_BTSP, original = mode == MODE_ORIGINAL;
  const zero = f32x4.splat(0);
  // work rows of this call, in the block of task t0 (see the header): G (Lq, Lp) dÂ then dS |
  // btsp: Â (Lq, Lp) | coefficient rows c, e, f (3·Lp) | RE, RI (2·Lp each)
  const gW = scratch + <usize>t0 * stride + off(keptFloats(mode, L, qStart));
  const ahW = gW + mat, cW = ahW + mat, eW = cW + off(Lp), fW = eW + off(Lp);
  const reW = fW + off(Lp), riW = reW + off(2 * Lp);
  for (let t = t0; t < t1; t++) {
    const b = t / H, h = t - (t / H) * H;
    const base = scratch + <usize>t * stride;
    const qOff = <usize>(b * qRows) * qrs + off(h * Dh);
    const kOff = <usize>(b * L) * rs + off(h * Dh);
    const qB = q + qOff, kB = kv + kOff, vB = kB + off(D);
    const dqB = dq + qOff, dkB = dkv + kOff, dvB = dkB + off(D);
    const dcB = dout + off(b * Lq * D + h * Dh);
    const emB = base + mat, nB = emB + mat, isB = nB + off(Lqp), rB = isB + off(Lqp);
    let ev = zero;
    let eta0: f32 = 0;
    if (btsp) {
      eta0 = sigmoid(load<f32>(eta + off(h)));
      ev = f32x4.splat(<f32>0.5 * eta0);
      // RE[m] = W·max(Δ, 0), RI[m] = W·max(−Δ, 0), Δ = L − 1 − m: ∂W/∂λ = W·|Δ|/τ on each side
      for (let m = 0; m < 2 * Lp; m += 4) {
        const mv = i32x4.add(i32x4.splat(m), i32x4(0, 1, 2, 3));
        const dl = f32x4.convert_i32x4_s(i32x4.sub(i32x4.splat(L - 1), mv));
        const w = v128.load(rB + off(m));
        v128.store(reW + off(m), f32x4.mul(w, f32x4.pmax(dl, zero)));
        v128.store(riW + off(m), f32x4.mul(w, f32x4.pmax(f32x4.neg(dl), zero)));
      }
    }
    // touch the task's rows first (see the header); row 0 writes G[0][0] again
    let tch: i32 = 0;
    for (let r = 0; r < Lq; r++) {
      const o = <usize>r * qrs;
      tch |= load<i32>(qB + o) | load<i32>(dqB + o) | load<i32>(dcB + off(r * D));
    }
    for (let j = 0; j < L; j++) {
      const o = <usize>j * rs;
      tch |= load<i32>(kB + o) | load<i32>(vB + o) | load<i32>(dkB + o) | load<i32>(dvB + o);
    }
    store<i32>(gW, tch);
    let accE = zero, accI = zero, accEta = zero;
    let gT: f32 = 0, gI: f32 = 0;
    for (let r = 0; r < Lq; r++) {
      const i = qStart + r;
      const arow = base + off(r * Lp), grow = gW + off(r * Lp);
      const dc = dcB + off(r * D);
      // dÂ_ij = dC_i·V_j (btsp); dA_ij for the other modes; Dh = 16: rows r, r + 1 together
      if (Dh == 16 && (r | 1) < Lq) {
        if ((r & 1) == 0) rowDots2(grow, grow + off(Lp), dc, dc + off(D), vB, rs, L, Lp, 1, 0);
      } else {
        rowDots(grow, dc, vB, rs, L, Lp, Dh, 0);
      }
      if (btsp) {
        const is = load<f32>(isB + off(r));
        const invN = f32x4.splat(<f32>1 / load<f32>(nB + off(r)));
        const emRow = emB + off(r * Lp), ahRow = ahW + off(r * Lp);
        const roff = off(L - 1 - i);
        const one = kc(K_ONE), e4 = kc(K_E4), qpa = kc(K_QPA), qpb = kc(K_QPB);
        const qma = kc(K_QMA), qmb = kc(K_QMB);
        const L4 = L & ~3;
        // Â again, with the forward's arithmetic, ρ = Σ_j Â_ij·dÂ_ij (padding: Â = 0), and the
        // per-key factors of the gradient into the rows c = ∂Ã/∂A, e = ∂Ã/∂η, f = ∂Ã/∂s
        const dpa = f32x4.mul(f32x4.mul(qpa, f32x4.splat(10)), ev);
        const dma = f32x4.mul(f32x4.mul(qma, f32x4.splat(10)), ev);
        let rho = zero;
        for (let j = 0; j < Lp; j += 4) {
          const em = v128.load(emRow + off(j)), a = v128.load(arow + off(j));
          let at = plastic(em, a, ev, one, e4, qpa, qpb, qma, qmb);
          if (j >= L4) at = v128.and(at, lanes(j, L));
          const ah = f32x4.mul(at, invN);
          v128.store(ahRow + off(j), ah);
          rho = f32x4.relaxed_madd(ah, v128.load(grow + off(j)), rho);
          // the pieces of plastic() (the compilers share them)
          const ap = f32x4.relaxed_madd(em, e4, one);
          const am = f32x4.add(one, em);
          const rr = f32x4.div(one, f32x4.mul(ap, am));
          const sp = f32x4.mul(am, rr), sm = f32x4.mul(ap, rr);
          const qp = f32x4.relaxed_madd(sp, qpa, qpb);
          const qm = f32x4.relaxed_madd(sm, qma, qmb);
          const qq = f32x4.add(qp, qm);
          // Ã = A(1 − η(q₊ + q₋)) + ηq₊
          v128.store(cW + off(j), f32x4.sub(one, f32x4.mul(ev, qq)));
          // ∂Ã/∂η = q₊(1 − A) − q₋A
          v128.store(eW + off(j), f32x4.sub(qp, f32x4.mul(a, qq)));
          // ∂Ã/∂s = η(q₊'(1 − A) − q₋'A), q'(s) = σ(x)(1 − σ(x))/β / (σ((1−θ)/β) − σ(−θ/β))
          const dqp = f32x4.mul(f32x4.mul(sp, f32x4.sub(one, sp)), dpa);
          const dqm = f32x4.mul(f32x4.mul(sm, f32x4.sub(one, sm)), dma);
          v128.store(fW + off(j), f32x4.sub(dqp, f32x4.mul(a, f32x4.add(dqp, dqm))));
        }
        const rhov = f32x4.splat(hsum(rho));
        let rho2 = zero, dis = zero, rE = zero, rI = zero;
        for (let j = 0; j < Lp; j += 4) {
          // Â = Ã/N: dÃ_j = (dÂ_j − Σ_k Â_k·dÂ_k)/N
          let dat = f32x4.mul(f32x4.sub(v128.load(grow + off(j)), rhov), invN);
          if (j >= L4) dat = v128.and(dat, lanes(j, L));
          const da = f32x4.mul(dat, v128.load(cW + off(j)));
          v128.store(grow + off(j), da);
          rho2 = f32x4.relaxed_madd(v128.load(arow + off(j)), da, rho2);
          accEta = f32x4.relaxed_madd(dat, v128.load(eW + off(j)), accEta);
          const ds = f32x4.mul(dat, v128.load(fW + off(j)));
          // s = IS_i·W(i − j)
          const m = roff + off(j);
          dis = f32x4.relaxed_madd(ds, v128.load(rB + m), dis);
          rE = f32x4.relaxed_madd(ds, v128.load(reW + m), rE);
          rI = f32x4.relaxed_madd(ds, v128.load(riW + m), rI);
        }
        const isv = f32x4.splat(is);
        accE = f32x4.relaxed_madd(rE, isv, accE);
        accI = f32x4.relaxed_madd(rI, isv, accI);
        if (disLogit != 0) {
          // IS = σ(isLogit)
          const p = disLogit + off((b * qRows + r) * H + h);
          store<f32>(p, load<f32>(p) + hsum(dis) * (is * (<f32>1 - is)));
        }
        // A = softmax(S): dS_j = A_j(dA_j − Σ_k A_k·dA_k), scaled for S = scale·Q_i·K_j
        const rv = f32x4.splat(hsum(rho2));
        for (let j = 0; j < Lp; j += 4) {
          const a = v128.load(arow + off(j));
          const gs = f32x4.mul(a, f32x4.sub(v128.load(grow + off(j)), rv));
          v128.store(grow + off(j), f32x4.mul(gs, scale));
        }
      } else {
        let rho = zero;
        for (let j = 0; j < Lp; j += 4) {
          rho = f32x4.relaxed_madd(v128.load(arow + off(j)), v128.load(grow + off(j)), rho);
        }
        const rv = f32x4.splat(hsum(rho));
        // A = softmax(S): dS_j = A_j(dA_j − Σ_k A_k·dA_k), scaled in the same pass unless
        // `original` needs it unscaled first
        const sc = original ? kc(K_ONE) : scale;
        for (let j = 0; j < Lp; j += 4) {
          const a = v128.load(arow + off(j));
          const gs = f32x4.mul(a, f32x4.sub(v128.load(grow + off(j)), rv));
          v128.store(grow + off(j), f32x4.mul(gs, sc));
        }
        if (original) {
          // S = scale·q·k + σ(etGate)·T + isGate
          for (let j = 0; j < L; j++) {
            const ds = load<f32>(grow + off(j));
            gT += ds * load<f32>(timeBias + off(min(max(j - i + 250, 0), 499)));
            gI += ds;
          }
          for (let j = 0; j < Lp; j += 4) {
            v128.store(grow + off(j), f32x4.mul(v128.load(grow + off(j)), scale));
          }
        }
      }
    }
    // S = scale·Q_i·K_j: dQ_i += Σ_j (scale·dS_ij)·K_j, two queries at a time
    let r = 0;
    for (; r + 2 <= Lq; r += 2) {
      combine2(
        dqB + <usize>r * qrs, dqB + <usize>(r + 1) * qrs, gW + off(r * Lp), gW + off((r + 1) * Lp),
        4, kB, rs, L, Dh, true,
      );
    }
    if (r < Lq) combine(dqB + <usize>r * qrs, gW + off(r * Lp), 4, kB, rs, L, Dh, true);
    // dK_j += Σ_i (scale·dS_ij)·Q_i; C_i = Σ_j w_ij·V_j: dV_j += Σ_i w_ij·dC_i; two keys at a time
    const w = btsp ? ahW : base;
    const lp4 = off(Lp), dcs = off(D);
    let j = 0;
    for (; j + 2 <= L; j += 2) {
      const k0 = <usize>j * rs, k1 = <usize>(j + 1) * rs;
      combine2(dkB + k0, dkB + k1, gW + off(j), gW + off(j + 1), lp4, qB, qrs, Lq, Dh, true);
      combine2(dvB + k0, dvB + k1, w + off(j), w + off(j + 1), lp4, dcB, dcs, Lq, Dh, true);
    }
    if (j < L) {
      combine(dkB + <usize>j * rs, gW + off(j), lp4, qB, qrs, Lq, Dh, true);
      combine(dvB + <usize>j * rs, w + off(j), lp4, dcB, dcs, Lq, Dh, true);
    }
    if (btsp) {
      const p = partials + off(t * 3);
      store<f32>(p, hsum(accE) * Mathf.exp(-load<f32>(logTauEt + off(h))));
      store<f32>(p + 4, hsum(accI) * Mathf.exp(-load<f32>(logTauIs + off(h))));
      // η = 0.5·σ(eta)
      store<f32>(p + 8, hsum(accEta) * (<f32>0.5 * eta0 * (<f32>1 - eta0)));
    } else if (original) {
      // σ(etGate)·T
      const g = sigmoid(load<f32>(etGate));
      const p = partials + off(t * 2);
      store<f32>(p, gT * (g * (<f32>1 - g)));
      store<f32>(p + 4, gI);
    }
  }
}

/**
 * Adds the per-task partials of attention_backward to the parameter gradients, summing tasks in
 * order (one task). btsp: g0/g1/g2 (H) = logTauEt/logTauIs/eta; original: g0/g1 (1) =
 * etGate/isGate. A zero pointer skips that gradient.
 */
export function attention_reduce_params(
  mode: i32, partials: usize, B: i32, H: i32, g0: usize, g1: usize, g2: usize, t0: i32, t1: i32,
): void {
  if (t0 > 0 || t1 < 1) return;
  const btsp = mode == MODE_BTSP;
  if (!btsp && mode != MODE_ORIGINAL) return;
  const P = btsp ? 3 : 2;
  const heads = btsp ? H : 1;
  const per = btsp ? 1 : H;
  for (let p = 0; p < P; p++) {
    const g = p == 0 ? g0 : p == 1 ? g1 : g2;
    if (g == 0) continue;
    for (let h = 0; h < heads; h++) {
      let s: f32 = 0;
      // btsp: tasks b·H + h for b = 0 … B−1; original: every task in order
      for (let b = 0; b < B; b++) {
        for (let k = 0; k < per; k++) s += load<f32>(partials + off(((b * H + h + k) * P) + p));
      }
      store<f32>(g + off(h), load<f32>(g + off(h)) + s);
    }
  }
}

// Output slot (b′, t′, j·Dh + k) of the §5 regrouping reads the per-sample context
// (b, t, h·Dh + k), with r = (b′·L + t′)·H + j, h = ⌊r/(B·L)⌋, b = ⌊(r mod B·L)/L⌋, t = r mod L.

/** out (B, L, D) ← regrouped ctx (B, L, D); one task per output row b′·L + t′. */
export function attention_regroup_forward(
  out: usize, ctx: usize, B: i32, L: i32, D: i32, H: i32, t0: i32, t1: i32,
): void {
  const Dh = D / H, BL = B * L;
  for (let row = t0; row < t1; row++) {
    for (let j = 0; j < H; j++) {
      const r = row * H + j;
      const h = r / BL, rem = r - h * BL;
      const src = ctx + off(rem * D + h * Dh), dst = out + off(row * D + j * Dh);
      for (let k = 0; k < Dh; k++) store<f32>(dst + off(k), load<f32>(src + off(k)));
    }
  }
}

/** dctx (B, L, D) ← inverse regrouping of dout (B, L, D) (overwrites); one task per dout row. */
export function attention_regroup_backward(
  dctx: usize, dout: usize, B: i32, L: i32, D: i32, H: i32, t0: i32, t1: i32,
): void {
  const Dh = D / H, BL = B * L;
  for (let row = t0; row < t1; row++) {
    for (let j = 0; j < H; j++) {
      // forward: out[row, j·Dh + k] = ctx[rem, h·Dh + k]
      const r = row * H + j;
      const h = r / BL, rem = r - h * BL;
      const dst = dctx + off(rem * D + h * Dh), src = dout + off(row * D + j * Dh);
      for (let k = 0; k < Dh; k++) store<f32>(dst + off(k), load<f32>(src + off(k)));
    }
  }
}
