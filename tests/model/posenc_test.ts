import assert from "node:assert/strict";
import { positionalEncoding } from "../../src/model/posenc.ts";
import { UserError } from "../../src/util/errors.ts";

Deno.test("predictive encoding matches spec §2 worked by hand (L 3, D 3)", () => {
  // s = 3/2, τ₁ = 3, τ₂ = 0.75; peaks m = [−1, 0.5, 2]; u = m_k − p.
  // p=0: u = [−1, 0.5, 2]  → [e^(−1/0.75), e^(−0.5/3), e^(−2/3)]
  // p=1: u = [−2, −0.5, 1] → [e^(−2/0.75), e^(−0.5/0.75), e^(−1/3)]
  // p=2: u = [−3, −1.5, 0] → [e^(−3/0.75), e^(−1.5/0.75), 1]
  const want = [
    [Math.exp(-4 / 3), Math.exp(-1 / 6), Math.exp(-2 / 3)],
    [Math.exp(-8 / 3), Math.exp(-2 / 3), Math.exp(-1 / 3)],
    [Math.exp(-4), Math.exp(-2), 1],
  ].flat();
  const pe = positionalEncoding("predictive", 3, 3)!;
  assert.equal(pe.length, 9);
  for (let i = 0; i < 9; i++) assert.equal(pe[i], Math.fround(want[i]), `element ${i}`);
});

Deno.test("predictive encoding clamps both time constants at 0.25", () => {
  // L 1, D 9: s = 1/8, τ₁ = max(0.25, 0.25), τ₂ = max(1/16, 0.25) = 0.25; p = 0.
  const pe = positionalEncoding("predictive", 1, 9)!;
  for (let k = 0; k < 9; k++) {
    const u = k / 8 - 1;
    const want = u >= 0 ? Math.exp(-u / 0.25) : Math.exp(u / 0.25);
    assert.equal(pe[k], Math.fround(want), `cell ${k}`);
  }
});

Deno.test("sinusoidal encoding is Vaswani's, none is null", () => {
  const pe = positionalEncoding("sinusoidal", 5, 6)!;
  for (let p = 0; p < 5; p++) {
    for (let i = 0; i < 3; i++) {
      const a = p / Math.pow(10000, (2 * i) / 6);
      assert.equal(pe[p * 6 + 2 * i], Math.fround(Math.sin(a)));
      assert.equal(pe[p * 6 + 2 * i + 1], Math.fround(Math.cos(a)));
    }
  }
  assert.equal(positionalEncoding("none", 5, 6), null);
});

Deno.test("positionalEncoding matches the PyTorch fixtures' tables to 1e-6", async () => {
  const dir = new URL("../fixtures/", import.meta.url);
  let checked = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !e.name.endsWith(".json")) continue;
    const fx = JSON.parse(await Deno.readTextFile(new URL(e.name, dir)));
    if (!fx.pe || !fx.config) continue;
    const { seqLen, modelDim, posEncoding } = fx.config;
    const pe = positionalEncoding(posEncoding, seqLen, modelDim);
    const want = (fx.pe as number[][]).flat();
    if (pe === null) {
      assert.ok(want.every((v) => v === 0), `${e.name}: none must be all zeros`);
    } else {
      assert.equal(pe.length, want.length);
      for (let i = 0; i < want.length; i++) {
        assert.ok(
          Math.abs(pe[i] - want[i]) <= 1e-6,
          `${e.name} element ${i}: ${pe[i]} vs ${want[i]}`,
        );
      }
    }
    checked++;
  }
  if (checked === 0) console.log("no PyTorch fixtures with a pe table: nothing compared");
});

Deno.test("positionalEncoding rejects bad sizes and kinds", () => {
  assert.throws(() => positionalEncoding("predictive", 0, 4), UserError);
  assert.throws(() => positionalEncoding("predictive", 4, 1), UserError);
  assert.throws(
    () => positionalEncoding("rope" as "none", 4, 4),
    /Unknown positional encoding "rope"/,
  );
});
