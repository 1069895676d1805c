import assert from "node:assert/strict";
import { type ModelConfig, resolveModelConfig } from "../../src/model/config.ts";
import { initParams, type ParamInfo, paramLayout } from "../../src/model/params.ts";

function shapes(cfg: ModelConfig): Map<string, number[]> {
  return new Map(paramLayout(cfg).map((p) => [p.name, p.shape]));
}

/** Spec §6 table for one configuration. */
function specShapes(cfg: ModelConfig): Map<string, number[]> {
  const D = cfg.modelDim, H = cfg.heads;
  const m = new Map<string, number[]>([
    ["input_embedding.weight", [D, 1]],
    ["input_embedding.bias", [D]],
  ]);
  for (let n = 0; n < cfg.layers; n++) {
    const b = `blocks.${n}`;
    for (const ln of ["norm1", "norm2"]) {
      m.set(`${b}.${ln}.weight`, [D]);
      m.set(`${b}.${ln}.bias`, [D]);
    }
    for (const l of ["query", "key", "value", "out_proj"]) {
      m.set(`${b}.attn.${l}.weight`, [D, D]);
      m.set(`${b}.attn.${l}.bias`, [D]);
    }
    m.set(`${b}.ffn.0.weight`, [4 * D, D]);
    m.set(`${b}.ffn.0.bias`, [4 * D]);
    m.set(`${b}.ffn.3.weight`, [D, 4 * D]);
    m.set(`${b}.ffn.3.bias`, [D]);
    if (cfg.attention === "btsp") {
      m.set(`${b}.attn.btsp.is_proj.weight`, [H, D]);
      m.set(`${b}.attn.btsp.is_proj.bias`, [H]);
      m.set(`${b}.attn.btsp.log_tau_et`, [H]);
      m.set(`${b}.attn.btsp.log_tau_is`, [H]);
      m.set(`${b}.attn.btsp.eta`, [H]);
    }
    if (cfg.attention === "original") {
      m.set(`${b}.attn.et_gate`, [1, 1, 1]);
      m.set(`${b}.attn.is_gate`, [1, 1, 1]);
      m.set(`${b}.attn.time_bias`, [1, 1, 500]);
    }
  }
  m.set("output_layer.0.weight", [D / 2, D]);
  m.set("output_layer.0.bias", [D / 2]);
  m.set("output_layer.3.weight", [cfg.horizon, D / 2]);
  m.set("output_layer.3.bias", [cfg.horizon]);
  return m;
}

function sorted(m: Map<string, number[]>): [string, number[]][] {
  return [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

Deno.test("paramLayout has exactly the spec §6 names and shapes in every mode", () => {
  for (const attention of ["btsp", "standard", "original"] as const) {
    const cfg = resolveModelConfig({ modelDim: 12, heads: 3, layers: 3, horizon: 2, attention });
    assert.deepEqual(sorted(shapes(cfg)), sorted(specShapes(cfg)), attention);
  }
});

Deno.test("paramLayout packs trainable tensors first, contiguous, then frozen ones", () => {
  for (const attention of ["btsp", "standard", "original"] as const) {
    const layout = paramLayout(resolveModelConfig({ attention }));
    let offset = 0, frozenSeen = false;
    for (const p of layout) {
      assert.equal(p.offset, offset, p.name);
      assert.equal(p.size, p.shape.reduce((a, b) => a * b, 1), p.name);
      if (!p.trainable) frozenSeen = true;
      assert.ok(!(frozenSeen && p.trainable), `${p.name}: trainable after a frozen tensor`);
      offset += p.size;
    }
    const frozen = layout.filter((p) => !p.trainable).map((p) => p.name);
    assert.deepEqual(
      frozen,
      attention === "original" ? ["blocks.0.attn.time_bias", "blocks.1.attn.time_bias"] : [],
    );
  }
});

Deno.test("paramLayout keeps query/key/value weights and biases adjacent", () => {
  const D = 64;
  const layout = paramLayout(resolveModelConfig({}));
  const at = (n: string): number => layout.find((p) => p.name === n)!.offset;
  for (const b of ["blocks.0", "blocks.1"]) {
    assert.equal(at(`${b}.attn.key.weight`), at(`${b}.attn.query.weight`) + D * D);
    assert.equal(at(`${b}.attn.value.weight`), at(`${b}.attn.query.weight`) + 2 * D * D);
    assert.equal(at(`${b}.attn.key.bias`), at(`${b}.attn.query.bias`) + D);
    assert.equal(at(`${b}.attn.value.bias`), at(`${b}.attn.query.bias`) + 2 * D);
  }
});

function init(cfg: ModelConfig, seed: number): { layout: ParamInfo[]; w: Float32Array } {
  const layout = paramLayout(cfg);
  const last = layout[layout.length - 1];
  const w = new Float32Array(last.offset + last.size);
  initParams(cfg, layout, seed, w);
  return { layout, w };
}

Deno.test("initParams follows PyTorch defaults and the spec's BTSP constants", () => {
  for (const attention of ["btsp", "standard", "original"] as const) {
    const cfg = resolveModelConfig({ attention, horizon: 3 });
    const { layout, w } = init(cfg, 7);
    for (const p of layout) {
      const t = w.subarray(p.offset, p.offset + p.size);
      const leaf = p.name.split(".").pop()!;
      const eq = (v: number): void => {
        assert.ok(t.every((x) => x === Math.fround(v)), `${p.name} should all be ${v}`);
      };
      if (p.name.includes(".norm")) eq(leaf === "weight" ? 1 : 0);
      else if (p.name.endsWith("is_proj.bias") || leaf === "eta") eq(0);
      else if (leaf === "log_tau_et") eq(Math.log(8));
      else if (leaf === "log_tau_is") eq(Math.log(2));
      else if (leaf === "time_bias") {
        assert.equal(t[0], -1);
        assert.equal(t[499], 1);
        assert.equal(t[250], Math.fround(-1 + 500 / 499));
      } else if (leaf === "et_gate" || leaf === "is_gate") {
        // torch.randn(1, 1, 1): finite, and |x| < 6 with overwhelming probability.
        assert.ok(Number.isFinite(t[0]) && Math.abs(t[0]) < 6 && t[0] !== 0, p.name);
      } else {
        const fanIn = layout.find((q) => q.name === p.name.replace(/bias$/, "weight"))!.shape[1];
        const bound = 1 / Math.sqrt(fanIn);
        assert.ok(t.every((x) => Math.abs(x) <= bound), `${p.name} within ±1/√${fanIn}`);
        if (t.length >= 1000) {
          // U(±b): mean 0 (std b/√(3n)), variance b²/3; 5σ / 10 % bands.
          const mean = t.reduce((a, x) => a + x, 0) / t.length;
          const varc = t.reduce((a, x) => a + x * x, 0) / t.length;
          assert.ok(
            Math.abs(mean) < (5 * bound) / Math.sqrt(3 * t.length),
            `${p.name} mean ${mean}`,
          );
          assert.ok(Math.abs(varc / (bound * bound / 3) - 1) < 0.1, `${p.name} var ${varc}`);
          // The extremes reach near the bound.
          assert.ok(Math.max(...t) > 0.95 * bound && Math.min(...t) < -0.95 * bound, p.name);
        }
      }
    }
  }
});

Deno.test("initParams is reproducible per seed and differs between seeds", () => {
  const cfg = resolveModelConfig({ attention: "original" });
  const a = init(cfg, 1).w, b = init(cfg, 1).w, c = init(cfg, 2).w;
  assert.deepEqual(a, b);
  const differ = a.filter((x, i) => x !== c[i]).length;
  assert.ok(differ > a.length / 2, `only ${differ} of ${a.length} values differ`);
});

Deno.test("initParams refuses a too small output", () => {
  const cfg = resolveModelConfig({ layers: 1 });
  assert.throws(() => initParams(cfg, paramLayout(cfg), 0, new Float32Array(10)), RangeError);
});
