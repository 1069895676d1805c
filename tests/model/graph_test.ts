import assert from "node:assert/strict";
import { BTSPFormer } from "../../src/model/model.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { Rng } from "../../src/util/rng.ts";

const MODES = ["btsp", "standard", "original"] as const;
const ENCODINGS = ["predictive", "sinusoidal", "none"] as const;

/** Move every parameter off its special init values (LN 1/0, eta 0, …) so no term vanishes. */
function jitter(m: BTSPFormer, seed: number): void {
  const rng = new Rng(seed);
  for (const p of m.layout) {
    if (!p.trainable) continue;
    const v = m.getParam(p.name);
    const leaf = p.name.split(".").pop()!;
    for (let i = 0; i < v.length; i++) {
      if (p.name.includes(".norm") && leaf === "weight") v[i] = 1 + rng.uniform(-0.3, 0.3);
      else if (p.name.includes(".norm") || leaf === "eta") v[i] = rng.uniform(-0.5, 0.5);
      else if (p.name.endsWith("is_proj.bias") || leaf.endsWith("gate")) v[i] = rng.uniform(-1, 1);
      else if (leaf.startsWith("log_tau")) v[i] += rng.uniform(-0.3, 0.3);
      else v[i] *= 1.5;
    }
    m.setParam(p.name, v);
  }
}

interface Setup {
  m: BTSPFormer;
  B: number;
  w: Float64Array;
  dpred: number;
  forward: () => Float32Array;
}

function setup(cfg: Partial<ModelConfig>, B: number, training: boolean, seed = 5): Setup {
  const m = BTSPFormer.create(cfg, { backend: "ref", seed });
  jitter(m, seed + 1);
  const rng = new Rng(seed + 2);
  const L = m.config.seqLen, K = m.config.horizon;
  m.setInput(Float32Array.from({ length: B * L }, () => rng.uniform(-1.5, 1.5)), B);
  const w = Float64Array.from({ length: B * K }, () => rng.uniform(-1, 1));
  const dpred = m.backend.heap.alloc(B * K);
  m.backend.heap.write(dpred, w);
  const forward = (): Float32Array => {
    const ptr = m.forward(B, { training, key0: 11, key1: 3 });
    return m.backend.heap.read(ptr, B * K);
  };
  return { m, B, w, dpred, forward };
}

function loss(s: Setup): number {
  const y = s.forward();
  let l = 0;
  for (let i = 0; i < y.length; i++) l += y[i] * s.w[i];
  return l;
}

/**
 * Central differences (eps 1e-2, in float32) against backward for every element of every
 * trainable tensor. Per tensor: max |num − ana| ≤ GRAD_ATOL + GRAD_RTOL·max |ana| (2e-4 + 2e-3·max |ana|).
 */
function gradCheck(cfg: Partial<ModelConfig>, training = false): void {
  const s = setup(cfg, 2, training);
  const { m } = s;
  try {
    s.forward();
    m.backward(s.B, s.dpred);
    const grads = m.backend.heap.read(m.gradsPtr, m.numParams);
    const eps = 1e-2;
    const base = m.paramsPtr >> 2;
    let worst = 0;
    for (const p of m.layout) {
      if (!p.trainable) continue;
      let maxAna = 0, maxErr = 0;
      for (let i = 0; i < p.size; i++) {
        const f32 = m.backend.heap.f32, k = base + p.offset + i, v = f32[k];
        f32[k] = v + eps;
        const lp = loss(s);
        m.backend.heap.f32[k] = v - eps;
        const lm = loss(s);
        m.backend.heap.f32[k] = v;
        const num = (lp - lm) / (2 * eps);
        const ana = grads[p.offset + i];
        maxAna = Math.max(maxAna, Math.abs(ana));
        maxErr = Math.max(maxErr, Math.abs(num - ana));
      }
      const tol = GRAD_ATOL + GRAD_RTOL * maxAna;
      worst = Math.max(worst, maxErr / tol);
      assert.ok(
        maxErr <= tol,
        `${JSON.stringify(cfg)} ${p.name}: max |num − ana| ${maxErr.toExponential(2)} > ${
          tol.toExponential(2)
        } (max |ana| ${maxAna.toExponential(2)})`,
      );
      if (
        p.name.endsWith("is_gate") || p.name.endsWith("key.bias") ||
        p.name === `blocks.${m.config.layers - 1}.attn.btsp.log_tau_is`
      ) {
        // Structurally zero: a constant added to every score of a query (is_gate; q·b_k for the
        // key bias) cancels in the softmax, which is all BTSP's plasticity sees; and the last
        // block only feeds its last query, whose lags i − j are all ≥ 0, so τ_IS never acts.
        assert.ok(maxAna <= 1e-5, `${p.name} gradient ${maxAna} should vanish`);
      } else {
        assert.ok(maxAna > 1e-6, `${p.name}: gradient is all zero`);
      }
    }
    if (Deno.env.get("GRADCHECK_VERBOSE")) console.log(JSON.stringify(cfg), "worst err/tol", worst);
  } finally {
    m.close();
  }
}

/** Absolute and relative tolerance of {@linkcode gradCheck} (float32 forward, eps 1e-2). */
const GRAD_ATOL = 2e-4, GRAD_RTOL = 2e-3;

const TINY = { seqLen: 5, modelDim: 4, heads: 2, layers: 2, horizon: 2 };

for (const attention of MODES) {
  for (const posEncoding of ENCODINGS) {
    Deno.test(`gradient check: ${attention} attention, ${posEncoding} encoding`, () => {
      gradCheck({ ...TINY, attention, posEncoding });
    });
  }
}

Deno.test("gradient check with dropout active (fixed keys make the masks part of f)", () => {
  gradCheck({ ...TINY, attention: "btsp", posEncoding: "predictive", dropout: 0.3 }, true);
});

function runBoth(s: Setup): { pred: Float32Array; grads: Float32Array } {
  const pred = s.forward();
  s.m.backward(s.B, s.dpred);
  return { pred, grads: s.m.backend.heap.read(s.m.gradsPtr, s.m.numParams) };
}

Deno.test("exact saving gives the full computation's predictions and gradients", () => {
  for (const attention of ["btsp", "standard"] as const) {
    for (const layers of [1, 2]) {
      // Eval mode: in training the last block draws its dropout masks over B rows instead of
      // B·L, an equally distributed but different draw, so only eval can match bit for bit.
      {
        const training = false;
        const cfg = { seqLen: 7, modelDim: 8, heads: 2, layers, horizon: 3, attention };
        const s = setup({ ...cfg, dropout: 0.2 }, 3, training);
        try {
          const exact = runBoth(s);
          s.m._exactLast = false;
          const full = runBoth(s);
          // Tolerance: 1e-6 relative to the largest value (same kernels, rows computed alone).
          const cmp = (a: Float32Array, b: Float32Array, what: string): void => {
            const scale = Math.max(1e-3, ...Array.from(b, Math.abs));
            for (let i = 0; i < a.length; i++) {
              assert.ok(
                Math.abs(a[i] - b[i]) <= 1e-6 * scale,
                `${attention} layers ${layers} training ${training} ${what}[${i}]: ${a[i]} vs ${
                  b[i]
                }`,
              );
            }
          };
          cmp(exact.pred, full.pred, "pred");
          cmp(exact.grads, full.grads, "grad");
        } finally {
          s.m.close();
        }
      }
    }
  }
});
