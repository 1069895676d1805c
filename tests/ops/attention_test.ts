import assert from "node:assert/strict";
import { type Backend, createBackend } from "../../src/engine/backend.ts";
import {
  attentionBackward,
  attentionForward,
  type AttentionMode,
  attentionScratchFloats,
} from "../../src/ops/attention.ts";
import { Rng } from "../../src/util/rng.ts";
import { UserError } from "../../src/util/errors.ts";

interface Case {
  mode: AttentionMode;
  B: number;
  L: number;
  H: number;
  Dh: number;
  qStart: number;
  regroup?: boolean;
}

/** Every input of one attention call (float32 values, as they sit in the heap). */
interface Inputs {
  qkv: Float32Array;
  isLogit: Float32Array;
  logTauEt: Float32Array;
  logTauIs: Float32Array;
  eta: Float32Array;
  etGate: Float32Array;
  isGate: Float32Array;
  timeBias: Float32Array;
  dout: Float32Array;
}

/** What a forward + backward produced (gradients minus their initial values). */
interface Result {
  out: Float32Array;
  dqkv: Float32Array;
  disLogit: Float32Array;
  dlogTauEt: Float32Array;
  dlogTauIs: Float32Array;
  deta: Float32Array;
  detGate: Float32Array;
  disGate: Float32Array;
}

const PARAMS = ["qkv", "isLogit", "logTauEt", "logTauIs", "eta", "etGate", "isGate"] as const;
const GRADS = ["dqkv", "disLogit", "dlogTauEt", "dlogTauIs", "deta", "detGate", "disGate"] as const;

function inputs(c: Case, seed: number): Inputs {
  const rng = new Rng(seed);
  const D = c.H * c.Dh;
  const fill = (n: number, f: () => number) => Float32Array.from({ length: n }, f);
  return {
    qkv: fill(c.B * c.L * 3 * D, () => 1.2 * rng.normal()),
    isLogit: fill(c.B * c.L * c.H, () => 1.5 * rng.normal()),
    logTauEt: fill(c.H, () => Math.log(8) + 0.4 * rng.normal()),
    logTauIs: fill(c.H, () => Math.log(2) + 0.4 * rng.normal()),
    eta: fill(c.H, () => 0.8 * rng.normal()),
    etGate: fill(1, () => rng.normal()),
    isGate: fill(1, () => rng.normal()),
    timeBias: fill(500, () => 0).map((_, i) => -1 + (2 * i) / 499),
    dout: fill(c.B * (c.L - c.qStart) * D, () => rng.normal()),
  };
}

/** Forward + backward on `be`; gradient buffers start at `g0` to check that they accumulate. */
function run(be: Backend, c: Case, x: Inputs, g0 = 0.25): Result {
  const h = be.heap, mark = h.mark();
  try {
    const D = c.H * c.Dh, Lq = c.L - c.qStart;
    const btsp = c.mode === "btsp", orig = c.mode === "original";
    const put = (a: Float32Array, use = true) => {
      if (!use) return 0;
      const p = h.alloc(a.length);
      h.write(p, a);
      return p;
    };
    const grad = (n: number, use = true) => {
      if (!use) return 0;
      const p = h.alloc(n);
      h.view(p, n).fill(g0);
      return p;
    };
    const args = {
      mode: c.mode,
      B: c.B,
      L: c.L,
      D,
      H: c.H,
      qStart: c.qStart,
      regroup: c.regroup,
      out: h.alloc(c.B * Lq * D),
      qkv: put(x.qkv),
      isLogit: put(x.isLogit, btsp),
      scratch: h.alloc(attentionScratchFloats(c.mode, c.B, c.L, D, c.H, c.qStart)),
      logTauEt: put(x.logTauEt, btsp),
      logTauIs: put(x.logTauIs, btsp),
      eta: put(x.eta, btsp),
      etGate: put(x.etGate, orig),
      isGate: put(x.isGate, orig),
      timeBias: put(x.timeBias, orig),
    };
    attentionForward(be, args);
    const bw = {
      ...args,
      dout: put(x.dout),
      dqkv: grad(x.qkv.length),
      disLogit: grad(x.isLogit.length, btsp),
      dlogTauEt: grad(c.H, btsp),
      dlogTauIs: grad(c.H, btsp),
      deta: grad(c.H, btsp),
      detGate: grad(1, orig),
      disGate: grad(1, orig),
    };
    attentionBackward(be, bw);
    const get = (p: number, n: number) =>
      p === 0 ? new Float32Array(n) : h.read(p, n).map((v) => v - g0);
    return {
      out: h.read(args.out, c.B * Lq * D),
      dqkv: get(bw.dqkv, x.qkv.length),
      disLogit: get(bw.disLogit, x.isLogit.length),
      dlogTauEt: get(bw.dlogTauEt, c.H),
      dlogTauIs: get(bw.dlogTauIs, c.H),
      deta: get(bw.deta, c.H),
      detGate: get(bw.detGate, 1),
      disGate: get(bw.disGate, 1),
    };
  } finally {
    h.release(mark);
  }
}

// ---- float64 reference of the whole forward, written from spec §3 and §5 ----

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const qfun = (s: number, th: number) =>
  (sig((s - th) / 0.1) - sig(-th / 0.1)) / (sig((1 - th) / 0.1) - sig(-th / 0.1));

type Inputs64 = Record<keyof Inputs, Float64Array>;

function to64(x: Inputs): Inputs64 {
  const o = {} as Inputs64;
  for (const k of Object.keys(x) as (keyof Inputs)[]) o[k] = Float64Array.from(x[k]);
  return o;
}

/** §5 regrouping by its index formula: slot (b′, t′, d) ← C[h][b][t][k]. */
function regroup64(ctx: (h: number, b: number, t: number, k: number) => number, c: Case) {
  const { B, L, H, Dh } = c, D = H * Dh;
  const out = new Float64Array(B * L * D);
  for (let bp = 0; bp < B; bp++) {
    for (let tp = 0; tp < L; tp++) {
      for (let d = 0; d < D; d++) {
        const j = Math.floor(d / Dh), k = d % Dh, r = (bp * L + tp) * H + j;
        const h = Math.floor(r / (B * L)), b = Math.floor((r % (B * L)) / L), t = r % L;
        out[(bp * L + tp) * D + d] = ctx(h, b, t, k);
      }
    }
  }
  return out;
}

function forward64(c: Case, x: Inputs64): Float64Array {
  const { B, L, H, Dh, qStart } = c, D = H * Dh, Lq = L - qStart;
  const q = (b: number, i: number, h: number, d: number) => x.qkv[(b * L + i) * 3 * D + h * Dh + d];
  const k = (b: number, j: number, h: number, d: number) => q(b, j, h, D + d);
  const v = (b: number, j: number, h: number, d: number) => q(b, j, h, 2 * D + d);
  const ctx = new Float64Array(B * Lq * D); // per-sample, heads concatenated
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = qStart; i < L; i++) {
        const s = new Float64Array(L);
        for (let j = 0; j < L; j++) {
          let dot = 0;
          for (let d = 0; d < Dh; d++) dot += q(b, i, h, d) * k(b, j, h, d);
          s[j] = dot / Math.sqrt(Dh);
          if (c.mode === "original") {
            s[j] += sig(x.etGate[0]) * x.timeBias[Math.min(Math.max(j - i + 250, 0), 499)] +
              x.isGate[0];
          }
        }
        const m = Math.max(...s);
        let a = s.map((z) => Math.exp(z - m));
        const z = a.reduce((p, e) => p + e, 0);
        a = a.map((e) => e / z);
        if (c.mode === "btsp") {
          const is = sig(x.isLogit[(b * L + i) * H + h]);
          const tauE = Math.exp(x.logTauEt[h]), tauI = Math.exp(x.logTauIs[h]);
          const eta = 0.5 * sig(x.eta[h]);
          const at = a.map((aj, j) => {
            const dl = i - j;
            const sv = is * (dl >= 0 ? Math.exp(-dl / tauE) : Math.exp(dl / tauI));
            return aj + eta * (qfun(sv, 0.5) * (1 - aj) - qfun(sv, 0.1) * aj);
          });
          const n = at.reduce((p, e) => p + e, 0);
          a = at.map((e) => e / n);
        }
        for (let d = 0; d < Dh; d++) {
          let cc = 0;
          for (let j = 0; j < L; j++) cc += a[j] * v(b, j, h, d);
          ctx[(b * Lq + i - qStart) * D + h * Dh + d] = cc;
        }
      }
    }
  }
  if (c.mode !== "original" || c.regroup === false) return ctx;
  return regroup64((h, b, t, kk) => ctx[(b * L + t) * D + h * Dh + kk], c);
}

function loss64(c: Case, x: Inputs64): number {
  const out = forward64(c, x);
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i] * x.dout[i];
  return s;
}

/** max |a − b| / max(1, max |b|): the tolerance measure used throughout. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, m = 1;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  assert.ok(Number.isFinite(d), "non-finite values");
  return d / m;
}

function withBackends(fn: (bes: Record<string, Backend>) => void): void {
  const bes: Record<string, Backend> = {};
  try {
    bes.ref = createBackend("ref");
    bes.wasm1 = createBackend("wasm", { threads: 1 });
    bes.wasm2 = createBackend("wasm", { threads: 2 });
    fn(bes);
  } finally {
    for (const be of Object.values(bes)) be.close();
  }
}

const name = (c: Case) =>
  `${c.mode} B=${c.B} L=${c.L} H=${c.H} Dh=${c.Dh} qStart=${c.qStart}` +
  (c.regroup === false ? " no-regroup" : "");

Deno.test("attention: forward matches the float64 reference (ref 1e-6, wasm 2e-6)", () => {
  withBackends(({ ref, wasm1 }) => {
    const cases: Case[] = [];
    for (const mode of ["btsp", "standard", "original"] as const) {
      for (const [B, L, H, Dh] of [[2, 7, 2, 3], [1, 13, 4, 16], [3, 5, 1, 1]]) {
        cases.push({ mode, B, L, H, Dh, qStart: 0 });
        if (mode !== "original") cases.push({ mode, B, L, H, Dh, qStart: L - 2 });
        else cases.push({ mode, B, L, H, Dh, qStart: 0, regroup: false });
      }
    }
    for (const c of cases) {
      const x = inputs(c, 11);
      const want = forward64(c, to64(x));
      // float32 storage of the outputs: about 1e-7; the wasm exp/sigmoid add a few ulp (seen:
      // at most 2.6e-7)
      assert.ok(relErr(run(ref, c, x).out, want) < 1e-6, `ref ${name(c)}`);
      assert.ok(relErr(run(wasm1, c, x).out, want) < 2e-6, `wasm ${name(c)}`);
    }
  });
});

Deno.test("attention: backward matches central differences of the float64 forward", () => {
  withBackends(({ ref, wasm1 }) => {
    const cases: Case[] = [];
    for (const [B, L, H, Dh] of [[2, 6, 2, 3], [2, 5, 2, 4], [1, 9, 2, 16]]) {
      cases.push({ mode: "btsp", B, L, H, Dh, qStart: 0 });
      cases.push({ mode: "btsp", B, L, H, Dh, qStart: 3 });
      cases.push({ mode: "standard", B, L, H, Dh, qStart: 2 });
      cases.push({ mode: "original", B, L, H, Dh, qStart: 0 });
      cases.push({ mode: "original", B, L, H, Dh, qStart: 0, regroup: false });
    }
    const eps = 1e-5;
    for (const c of cases) {
      const x = inputs(c, 5);
      const x64 = to64(x);
      const got = { ref: run(ref, c, x), wasm: run(wasm1, c, x) };
      const used = c.mode === "btsp"
        ? PARAMS.slice(0, 5)
        : c.mode === "original"
        ? ["qkv", "etGate", "isGate"] as const
        : ["qkv"] as const;
      for (const p of used) {
        const fd = new Float64Array(x64[p].length);
        for (let e = 0; e < fd.length; e++) {
          const v = x64[p][e];
          x64[p][e] = v + eps;
          const up = loss64(c, x64);
          x64[p][e] = v - eps;
          const dn = loss64(c, x64);
          x64[p][e] = v;
          fd[e] = (up - dn) / (2 * eps);
        }
        const g = GRADS[PARAMS.indexOf(p)];
        for (const [be, r] of Object.entries(got)) {
          // float32 kernels (seen: at most 9e-7) against an O(eps²) ≈ 1e-10 accurate derivative
          const err = relErr(r[g], fd);
          assert.ok(err < 1e-5, `${be} ${name(c)} ${g}: error ${err.toExponential(2)}`);
        }
      }
    }
  });
});

Deno.test("attention: wasm matches ref on odd shapes (forward 5e-6, backward 2e-5)", () => {
  withBackends(({ ref, wasm1 }) => {
    let n = 0;
    for (const mode of ["btsp", "standard", "original"] as const) {
      for (const L of [1, 7, 13, 50]) {
        for (const H of [1, 2, 4]) {
          for (const Dh of [1, 3, 16]) {
            for (const B of [1, 3]) {
              for (const qStart of mode === "original" ? [0] : [0, L - 1]) {
                const c: Case = { mode, B, L, H, Dh, qStart };
                const x = inputs(c, 100 + n++);
                const a = run(ref, c, x), b = run(wasm1, c, x);
                // seen: at most 9e-7 (out) and 6e-6 (gradients)
                assert.ok(relErr(b.out, a.out) < 5e-6, `out ${name(c)}`);
                for (const g of GRADS) {
                  const err = relErr(b[g], a[g]);
                  assert.ok(err < 2e-5, `${g} ${name(c)}: ${err.toExponential(2)}`);
                }
              }
            }
          }
        }
      }
    }
  });
});

Deno.test("attention: qStart = L−1 gives exactly the last row of the full computation", () => {
  withBackends((bes) => {
    for (const mode of ["btsp", "standard"] as const) {
      for (const [B, L, H, Dh] of [[2, 9, 2, 16], [3, 6, 2, 3]]) {
        const full: Case = { mode, B, L, H, Dh, qStart: 0 };
        const last: Case = { ...full, qStart: L - 1 };
        const D = H * Dh;
        const x = inputs(full, 21);
        // the full backward sees the same upstream gradient: zero except on the last row
        const xl = { ...x, dout: new Float32Array(B * D) };
        const xf = { ...x, dout: new Float32Array(B * L * D) };
        for (let b = 0; b < B; b++) {
          const row = x.dout.subarray(((b + 1) * L - 1) * D, (b + 1) * L * D);
          xl.dout.set(row, b * D);
          xf.dout.set(row, ((b + 1) * L - 1) * D);
        }
        for (const [be, backend] of Object.entries(bes)) {
          const f = run(backend, full, xf), l = run(backend, last, xl);
          for (let b = 0; b < B; b++) {
            const want = f.out.subarray(((b + 1) * L - 1) * D, (b + 1) * L * D);
            assert.deepEqual(l.out.subarray(b * D, (b + 1) * D), want, `${be} ${name(last)}`);
          }
          // bitwise except for the sign of zero (adding the zero rows' +0/−0 terms)
          for (const g of GRADS) {
            const same = f[g].every((v, i) => v === l[g][i]);
            assert.ok(same, `${be} ${name(last)} ${g}`);
          }
        }
      }
    }
  });
});

/**
 * The split layout of {@linkcode run}'s case: queries qStart … L−1 apart (B, Lq, D), k|v rows
 * (B, L, 2D), isLogit (B, Lq, H); forward + backward, gradients mapped back to the fused layout.
 */
function runSplit(be: Backend, c: Case, x: Inputs, g0 = 0.25): Result {
  const h = be.heap, mark = h.mark();
  try {
    const D = c.H * c.Dh, Lq = c.L - c.qStart, btsp = c.mode === "btsp";
    const q = new Float32Array(c.B * Lq * D), kv = new Float32Array(c.B * c.L * 2 * D);
    const isl = new Float32Array(c.B * Lq * c.H);
    for (let b = 0; b < c.B; b++) {
      for (let i = 0; i < c.L; i++) {
        const row = x.qkv.subarray((b * c.L + i) * 3 * D, (b * c.L + i + 1) * 3 * D);
        kv.set(row.subarray(D), (b * c.L + i) * 2 * D);
        if (i < c.qStart) continue;
        const r = b * Lq + i - c.qStart;
        q.set(row.subarray(0, D), r * D);
        isl.set(x.isLogit.subarray((b * c.L + i) * c.H, (b * c.L + i + 1) * c.H), r * c.H);
      }
    }
    const put = (a: Float32Array) => {
      const p = h.alloc(a.length);
      h.write(p, a);
      return p;
    };
    const grad = (n: number) => {
      const p = h.alloc(n);
      h.view(p, n).fill(g0);
      return p;
    };
    const args = {
      mode: c.mode,
      B: c.B,
      L: c.L,
      D,
      H: c.H,
      qStart: c.qStart,
      out: h.alloc(c.B * Lq * D),
      qkv: put(kv),
      q: put(q),
      isLogit: btsp ? put(isl) : 0,
      scratch: h.alloc(attentionScratchFloats(c.mode, c.B, c.L, D, c.H, c.qStart)),
      logTauEt: btsp ? put(x.logTauEt) : 0,
      logTauIs: btsp ? put(x.logTauIs) : 0,
      eta: btsp ? put(x.eta) : 0,
      etGate: 0,
      isGate: 0,
      timeBias: 0,
    };
    attentionForward(be, args);
    const bw = {
      ...args,
      dout: put(x.dout),
      dqkv: grad(kv.length),
      dq: grad(q.length),
      disLogit: btsp ? grad(isl.length) : 0,
      dlogTauEt: btsp ? grad(c.H) : 0,
      dlogTauIs: btsp ? grad(c.H) : 0,
      deta: btsp ? grad(c.H) : 0,
      detGate: 0,
      disGate: 0,
    };
    attentionBackward(be, bw);
    const get = (p: number, n: number) =>
      p === 0 ? new Float32Array(n) : h.read(p, n).map((v) => v - g0);
    const dkv = get(bw.dqkv, kv.length), dq = get(bw.dq, q.length);
    const disl = get(bw.disLogit, isl.length);
    const dqkv = new Float32Array(x.qkv.length), disLogit = new Float32Array(x.isLogit.length);
    for (let b = 0; b < c.B; b++) {
      for (let i = 0; i < c.L; i++) {
        dqkv.set(
          dkv.subarray((b * c.L + i) * 2 * D, (b * c.L + i + 1) * 2 * D),
          (b * c.L + i) * 3 * D + D,
        );
        if (i < c.qStart) continue;
        const r = b * Lq + i - c.qStart;
        dqkv.set(dq.subarray(r * D, (r + 1) * D), (b * c.L + i) * 3 * D);
        disLogit.set(disl.subarray(r * c.H, (r + 1) * c.H), (b * c.L + i) * c.H);
      }
    }
    return {
      out: h.read(args.out, c.B * Lq * D),
      dqkv,
      disLogit: btsp ? disLogit : new Float32Array(0),
      dlogTauEt: get(bw.dlogTauEt, c.H),
      dlogTauIs: get(bw.dlogTauIs, c.H),
      deta: get(bw.deta, c.H),
      detGate: new Float32Array(1),
      disGate: new Float32Array(1),
    };
  } finally {
    h.release(mark);
  }
}

Deno.test("attention: queries apart (q, [k | v] rows) give the fused layout's bits", () => {
  withBackends((bes) => {
    for (const mode of ["btsp", "standard"] as const) {
      for (const [B, L, H, Dh] of [[2, 9, 2, 16], [3, 6, 2, 3], [2, 50, 4, 16]]) {
        for (const qStart of [0, 3, L - 1]) {
          const c: Case = { mode, B, L, H, Dh, qStart };
          const x = inputs(c, 31);
          for (const [be, backend] of Object.entries(bes)) {
            const f = run(backend, c, x), s = runSplit(backend, c, x);
            assert.deepEqual(s.out, f.out, `${be} ${name(c)} out`);
            for (const g of GRADS) {
              if (f[g].length === 0 || mode === "standard" && g === "disLogit") continue;
              assert.deepEqual(s[g], f[g], `${be} ${name(c)} ${g}`);
            }
          }
        }
      }
    }
  });
});

Deno.test("attention: original regrouping follows the §5 index formula (B = 2 mixes samples)", () => {
  withBackends((bes) => {
    const c: Case = { mode: "original", B: 2, L: 5, H: 2, Dh: 3, qStart: 0 };
    const D = c.H * c.Dh;
    const x = inputs(c, 3);
    for (const [be, backend] of Object.entries(bes)) {
      const plain = run(backend, { ...c, regroup: false }, x).out;
      const got = run(backend, c, x).out;
      const want = regroup64((h, b, t, k) => plain[(b * c.L + t) * D + h * c.Dh + k], c);
      assert.deepEqual(Array.from(got), Array.from(want), be);
      // a real permutation, and one that moves rows of sample 1 into sample 0
      assert.notDeepEqual(Array.from(got), Array.from(plain));
      assert.deepEqual(Array.from(got).sort(), Array.from(plain).sort());
      const half = c.L * D;
      const fromOther = Array.from(got.subarray(0, half)).filter((v) =>
        plain.subarray(half).includes(v) && !plain.subarray(0, half).includes(v)
      );
      assert.ok(fromOther.length > 0, `${be}: sample 0 reads sample 1`);
    }
  });
});

Deno.test("attention: wasm 1, 2 and 3 threads are bit-identical, parameter gradients included", () => {
  // Each call keeps its work rows in the scratch block of its first task, so the task ranges of
  // 2 and 3 threads (first tasks 0, 6 and 0, 4, 8 of 12 in the first case) must not change a bit.
  const wasm3 = createBackend("wasm", { threads: 3 });
  try {
    withBackends(({ wasm1, wasm2 }) => {
      for (const mode of ["btsp", "standard", "original"] as const) {
        for (
          const c of [
            { mode, B: 3, L: 50, H: 4, Dh: 16, qStart: 0 },
            { mode, B: 3, L: 13, H: 2, Dh: 3, qStart: 0 },
            { mode, B: 12, L: 50, H: 2, Dh: 16, qStart: mode === "original" ? 0 : 49 },
          ]
        ) {
          const x = inputs(c, 8);
          const a = run(wasm1, c, x);
          for (
            const [be, r] of [["wasm2", run(wasm2, c, x)], ["wasm3", run(wasm3, c, x)]] as const
          ) {
            for (const k of ["out", ...GRADS] as const) {
              assert.deepEqual(r[k], a[k], `${be} ${k} ${name(c)}`);
            }
          }
        }
      }
    });
  } finally {
    wasm3.close();
  }
});

Deno.test("attention: refuses bad modes and shapes with a UserError", () => {
  assert.throws(() => attentionScratchFloats("fast" as AttentionMode, 1, 4, 8, 2, 0), UserError);
  assert.throws(() => attentionScratchFloats("btsp", 1, 4, 9, 2, 0), /9 is not a multiple/);
  assert.throws(() => attentionScratchFloats("btsp", 1, 4, 8, 2, 4), /qStart = 4/);
  assert.throws(() => attentionScratchFloats("original", 1, 4, 8, 2, 1), /needs qStart = 0/);
  assert.throws(() => attentionScratchFloats("standard", 0, 4, 8, 2, 0), /B = 0/);
  const be = createBackend("ref");
  try {
    const base = {
      B: 1,
      L: 2,
      D: 2,
      H: 1,
      qStart: 0,
      out: 64,
      qkv: 128,
      scratch: 256,
      isLogit: 0,
      logTauEt: 0,
      logTauIs: 0,
      eta: 0,
      etGate: 0,
      isGate: 0,
      timeBias: 0,
    };
    assert.throws(
      () => attentionForward(be, { ...base, mode: "btsp" }),
      /"btsp" attention with isLogit = 0/,
    );
    assert.throws(
      () => attentionForward(be, { ...base, mode: "original" }),
      /"original" attention with etGate = 0/,
    );
  } finally {
    be.close();
  }
});
