import assert from "node:assert/strict";
import { DEFAULT_MODEL_CONFIG, resolveModelConfig } from "../../src/model/config.ts";
import { UserError } from "../../src/util/errors.ts";

Deno.test("resolveModelConfig fills the spec defaults", () => {
  assert.deepEqual(resolveModelConfig({}), {
    seqLen: 50,
    modelDim: 64,
    heads: 4,
    layers: 2,
    horizon: 1,
    attention: "btsp",
    posEncoding: "predictive",
    dropout: 0.1,
  });
  assert.deepEqual(resolveModelConfig({ heads: undefined }), { ...DEFAULT_MODEL_CONFIG });
  const cfg = resolveModelConfig({ modelDim: 12, heads: 3, attention: "original", dropout: 0 });
  assert.equal(cfg.heads, 3);
  assert.equal(cfg.attention, "original");
  assert.equal(cfg.dropout, 0);
  assert.throws(() => {
    (DEFAULT_MODEL_CONFIG as { heads: number }).heads = 2;
  }, TypeError);
});

Deno.test("resolveModelConfig rejects bad values with a message that quotes them", () => {
  const cases: [Record<string, unknown>, string][] = [
    [
      { heads: 3 },
      'Invalid model config "heads": expected a positive integer that divides modelDim 64, got 3',
    ],
    [{ heads: 0 }, 'Invalid model config "heads": expected a positive integer, got 0'],
    [
      { modelDim: 7, heads: 1 },
      'Invalid model config "modelDim": expected a positive even integer, got 7',
    ],
    [{ seqLen: 2.5 }, 'Invalid model config "seqLen": expected a positive integer, got 2.5'],
    [{ layers: -1 }, 'Invalid model config "layers": expected a positive integer, got -1'],
    [{ horizon: NaN }, 'Invalid model config "horizon": expected a positive integer, got NaN'],
    [{ horizon: "2" }, 'Invalid model config "horizon": expected a positive integer, got "2"'],
    [{ dropout: 1 }, 'Invalid model config "dropout": expected a number in [0, 1), got 1'],
    [{ dropout: -0.1 }, 'Invalid model config "dropout": expected a number in [0, 1), got -0.1'],
    [
      { attention: "linear" },
      'Invalid model config "attention": expected one of "btsp", "standard", "original", got "linear"',
    ],
    [
      { posEncoding: "rope" },
      'Invalid model config "posEncoding": expected one of "predictive", "sinusoidal", "none", got "rope"',
    ],
    [
      { head: 4 },
      'Invalid model config key "head": expected one of seqLen, modelDim, heads, layers, horizon, attention, posEncoding, dropout',
    ],
  ];
  for (const [partial, message] of cases) {
    assert.throws(() => resolveModelConfig(partial), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.equal(e.message, message);
      return true;
    });
  }
});
