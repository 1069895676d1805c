import assert from "node:assert/strict";
import { BTSPFormer, type StateDict } from "../../src/model/model.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { createBackend } from "../../src/engine/backend.ts";
import { UserError } from "../../src/util/errors.ts";
import { Rng } from "../../src/util/rng.ts";

function randomWindows(n: number, L: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: L }, () => rng.uniform(-2, 2)));
}

/** |a − b| ≤ rel·|b| + abs, element by element. */
function assertClose(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  rel: number,
  abs: number,
  what: string,
) {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    assert.ok(
      Math.abs(a[i] - b[i]) <= rel * Math.abs(b[i]) + abs,
      `${what}[${i}]: ${a[i]} vs ${b[i]} (rel ${rel}, abs ${abs})`,
    );
  }
}

// ---- Spec §7 numeric fixture ----------------------------------------------------------------

function section7Model(): BTSPFormer {
  const m = BTSPFormer.create(
    {
      seqLen: 4,
      modelDim: 8,
      heads: 2,
      layers: 1,
      horizon: 1,
      attention: "original",
      posEncoding: "none",
    },
    { backend: "ref" },
  );
  const block = [
    "et_gate",
    "is_gate",
    "time_bias",
    "query.weight",
    "query.bias",
    "key.weight",
    "key.bias",
    "value.weight",
    "value.bias",
    "out_proj.weight",
    "out_proj.bias",
  ].map((n) => `blocks.0.attn.${n}`).concat(
    [
      "norm1.weight",
      "norm1.bias",
      "ffn.0.weight",
      "ffn.0.bias",
      "ffn.3.weight",
      "ffn.3.bias",
      "norm2.weight",
      "norm2.bias",
    ].map((n) => `blocks.0.${n}`),
  );
  const order = [
    "input_embedding.weight",
    "input_embedding.bias",
    ...block,
    "output_layer.0.weight",
    "output_layer.0.bias",
    "output_layer.3.weight",
    "output_layer.3.bias",
  ];
  assert.deepEqual([...order].sort(), m.layout.map((p) => p.name).sort());
  order.forEach((name, j) => {
    if (name.endsWith("time_bias")) return;
    const n = m.getParam(name).length;
    m.setParam(
      name,
      Array.from({ length: n }, (_, k) => 0.25 * Math.sin(0.5 + 0.7 * j + 0.31 * k)),
    );
  });
  return m;
}

const S7_INPUT = [[0.1, -0.2, 0.3, 0.5], [1.0, 0.0, -1.0, 0.25]];

Deno.test("spec §7 fixture (original mode) to 1e-5 relative in float32", () => {
  checkS7(section7Model(), "ref");
  const src = section7Model();
  const w = BTSPFormer.create(src.config, { backend: "wasm", threads: 1 });
  w.loadStateDict(src.stateDict());
  src.close();
  checkS7(w, "wasm");
});

function checkS7(m: BTSPFormer, backend: string): void {
  try {
    assertClose(
      m.predict(S7_INPUT, 2),
      [-0.2354235086, -0.2303986987],
      1e-5,
      0,
      `${backend} batch of 2`,
    );
    assertClose(
      m.predict(S7_INPUT, 1),
      [-0.2376904222, -0.2303986987],
      1e-5,
      0,
      `${backend} alone`,
    );
    m._regroup = false;
    assertClose(
      m.predict(S7_INPUT, 2),
      [-0.2364499510, -0.2291918673],
      1e-5,
      0,
      `${backend} per-sample heads`,
    );
  } finally {
    m.close();
  }
}

// ---- PyTorch golden files -------------------------------------------------------------------

interface Fixture {
  config: Partial<ModelConfig>;
  params: Record<string, { shape: number[]; data: number[] }>;
  input: number[][];
  output: number[][];
  lossWeights: number[];
  grads: Record<string, number[]>;
}

async function fixtures(): Promise<[string, Fixture][]> {
  const dir = new URL("../fixtures/", import.meta.url);
  const out: [string, Fixture][] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".json")) {
        const fx = JSON.parse(await Deno.readTextFile(new URL(e.name, dir)));
        if (fx.params && fx.grads && fx.lossWeights) out.push([e.name, fx]);
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

const FIXTURES = await fixtures();

Deno.test({
  name: "PyTorch fixtures: outputs to 1e-5 and gradients to 1e-4 relative (ref backend)",
  ignore: FIXTURES.length === 0,
  fn() {
    for (const [file, fx] of FIXTURES) {
      const m = BTSPFormer.create(fx.config, { backend: "ref" });
      try {
        const sd: StateDict = new Map();
        for (const [name, t] of Object.entries(fx.params)) {
          sd.set(name.replace(/^model\./, ""), {
            shape: t.shape,
            data: Float32Array.from(t.data.flat(3)),
          });
        }
        m.loadStateDict(sd);
        const B = fx.input.length;
        m.setInput(fx.input.map((r) => r.flat()), B);
        const ptr = m.forward(B, { training: false });
        const want = fx.output.flat();
        // 1e-5 relative per element, with a floor of 1e-6 of the largest output near zero.
        const outScale = Math.max(...want.map(Math.abs));
        const got = m.backend.heap.read(ptr, want.length);
        assertClose(got, want, 1e-5, 1e-6 * outScale, `${file} output`);
        const dpred = m.backend.heap.alloc(want.length);
        m.backend.heap.write(dpred, fx.lossWeights);
        m.backward(B, dpred);
        const globalScale = Math.max(
          ...Object.values(fx.grads).flatMap((g) => g.flat(3).map(Math.abs)),
        );
        for (const [name, g] of Object.entries(fx.grads)) {
          const p = m.layout.find((q) => q.name === name.replace(/^model\./, ""));
          assert.ok(p, `${file}: unknown gradient ${name}`);
          const got = m.backend.heap.read(m.gradsPtr + 4 * p.offset, p.size);
          const flat = g.flat(3) as number[];
          // Relative to the tensor's largest gradient, so tiny entries do not demand 1e-4 of
          // themselves; plus 1e-6 of the largest gradient overall for structurally zero tensors
          // (key biases, is_gate), which are float32 round-off on either side.
          const scale = Math.max(...flat.map(Math.abs));
          assertClose(got, flat, 1e-4, 1e-4 * scale + 1e-6 * globalScale, `${file} grad ${name}`);
        }
        const covered = new Set(Object.keys(fx.grads).map((n) => n.replace(/^model\./, "")));
        for (const p of m.layout) {
          if (p.trainable) assert.ok(covered.has(p.name), `${file}: no gradient for ${p.name}`);
        }
      } finally {
        m.close();
      }
    }
  },
});

// ---- Backends -------------------------------------------------------------------------------

function stepResult(m: BTSPFormer, windows: number[][], training: boolean) {
  const B = windows.length, K = m.config.horizon;
  m.setInput(windows, B);
  const ptr = m.forward(B, { training, key0: 9, key1: 4 });
  const pred = m.backend.heap.read(ptr, B * K);
  m.backward(B, ptr);
  return { pred, grads: m.backend.heap.read(m.gradsPtr, m.numParams) };
}

Deno.test("wasm predictions and gradients match ref (1e-5 of the largest value per tensor)", () => {
  for (const attention of ["btsp", "standard", "original"] as const) {
    const cfg = { seqLen: 20, modelDim: 32, heads: 4, horizon: 2, attention };
    const r = BTSPFormer.create(cfg, { backend: "ref", seed: 3 });
    const w = BTSPFormer.create(cfg, { backend: "wasm", threads: 2, seed: 3 });
    try {
      const x = randomWindows(6, cfg.seqLen, 1);
      const a = stepResult(r, x, true), b = stepResult(w, x, true);
      const ps = Math.max(...Array.from(a.pred, Math.abs));
      assertClose(b.pred, a.pred, 0, 1e-5 * ps, `${attention} pred`);
      const global = Math.max(...Array.from(a.grads, Math.abs));
      for (const p of r.layout) {
        const ga = a.grads.subarray(p.offset, p.offset + p.size);
        const gb = b.grads.subarray(p.offset, p.offset + p.size);
        // 1e-5 of the tensor's largest gradient, plus 1e-6 of the overall largest for the
        // structurally zero ones (key biases, is_gate, the last block's log_tau_is).
        const gs = Math.max(...Array.from(ga, Math.abs));
        assertClose(gb, ga, 0, 1e-5 * gs + 1e-6 * global, `${attention} grad ${p.name}`);
      }
    } finally {
      r.close();
      w.close();
    }
  }
});

Deno.test("wasm with 1 and 2 threads is bit-identical (forward and backward)", () => {
  for (const attention of ["btsp", "original"] as const) {
    const cfg = { seqLen: 50, modelDim: 64, heads: 4, attention };
    const x = randomWindows(16, 50, 2);
    const one = BTSPFormer.create(cfg, { backend: "wasm", threads: 1, seed: 4 });
    const two = BTSPFormer.create(cfg, { backend: "wasm", threads: 2, seed: 4 });
    try {
      const a = stepResult(one, x, true), b = stepResult(two, x, true);
      assert.deepEqual(b.pred, a.pred);
      assert.deepEqual(b.grads, a.grads);
    } finally {
      one.close();
      two.close();
    }
  }
});

// ---- API ------------------------------------------------------------------------------------

Deno.test("predict returns batches in order and grows the activation arena", () => {
  const cfg = { seqLen: 6, modelDim: 8, heads: 2, layers: 2, horizon: 2 };
  const m = BTSPFormer.create(cfg, { backend: "ref", seed: 1 });
  try {
    const x = randomWindows(7, 6, 3);
    const alone = x.flatMap((w) => Array.from(m.predict([w], 1)));
    // btsp rows are independent of each other: any batching gives the same numbers.
    for (const bs of [3, 7, 256]) assertClose(m.predict(x, bs), alone, 1e-6, 1e-7, `batch ${bs}`);
    assertClose(m.predict(Float32Array.from(x.flat()), 2), alone, 1e-6, 1e-7, "Float32Array");
    assert.equal(m.predict([], 4).length, 0);
  } finally {
    m.close();
  }
  const o = BTSPFormer.create({ ...cfg, attention: "original" }, { backend: "ref", seed: 1 });
  try {
    // original mixes the samples of a batch: predict must batch exactly as asked, in order.
    const x = randomWindows(5, 6, 4);
    const got = o.predict(x, 2);
    const want = [
      ...o.predict(x.slice(0, 2), 2),
      ...o.predict(x.slice(2, 4), 2),
      ...o.predict(x.slice(4), 2),
    ];
    assert.deepEqual(Array.from(got), want);
    const whole = o.predict(x, 5);
    assert.ok(whole.some((v, i) => v !== got[i]), "original mode should depend on the batching");
  } finally {
    o.close();
  }
});

Deno.test("dropout masks are reproducible per keys and off in eval mode", () => {
  const m = BTSPFormer.create({ seqLen: 6, modelDim: 16, heads: 2, dropout: 0.5 }, {
    backend: "ref",
  });
  try {
    const x = randomWindows(4, 6, 5);
    m.setInput(x, 4);
    const run = (training: boolean, key0?: number, key1?: number) =>
      m.backend.heap.read(m.forward(4, { training, key0, key1 }), 4);
    const eval1 = run(false), eval2 = run(false);
    assert.deepEqual(eval1, eval2);
    const a = run(true, 1, 2), b = run(true, 1, 2), c = run(true, 1, 3), d = run(true, 2, 2);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.notDeepEqual(a, d);
    assert.notDeepEqual(a, eval1);
    // Without keys, successive training steps draw fresh masks.
    assert.notDeepEqual(run(true), run(true));
  } finally {
    m.close();
  }
  const z = BTSPFormer.create({ seqLen: 6, modelDim: 16, heads: 2, dropout: 0 }, {
    backend: "ref",
  });
  try {
    const x = randomWindows(2, 6, 6);
    z.setInput(x, 2);
    const t = z.backend.heap.read(z.forward(2, { training: true }), 2);
    assert.deepEqual(t, z.backend.heap.read(z.forward(2, { training: false }), 2));
  } finally {
    z.close();
  }
});

Deno.test("setInput, forward and backward reject bad calls with UserError", () => {
  const m = BTSPFormer.create({ seqLen: 3, modelDim: 4, heads: 2, layers: 1 }, { backend: "ref" });
  try {
    assert.throws(() => m.forward(1, { training: false }), UserError);
    assert.throws(() => m.setInput([[1, 2]], 1), /window 0: expected 3 values, got 2/);
    assert.throws(() => m.setInput([[1, 2, 3]], 2), /expected 2 windows, got 1/);
    assert.throws(() => m.setInput(new Float32Array(5), 2), /\(6 floats\), got 5/);
    assert.throws(
      () => m.setInput([[1, NaN, 3]], 1),
      /window 0: value NaN at position 1 is not finite/,
    );
    assert.throws(() => m.setInput([[1, 2, 3]], 0), /Invalid batch size 0/);
    m.setInput([[1, 2, 3], [4, 5, 6]], 2);
    assert.throws(() => m.forward(3, { training: false }), /setInput holds 2 windows/);
    const p = m.forward(2, { training: false });
    assert.throws(() => m.backward(1, p), /last forward pass was on 2 windows/);
    assert.throws(() => m.predict([[1, 2, 3]], 0), /Invalid batch size 0/);
    assert.throws(() => m.predict(new Float32Array(4)), /not a whole number of 3-value windows/);
  } finally {
    m.close();
  }
  assert.throws(() => BTSPFormer.create({ heads: 3 }), /divides modelDim 64, got 3/);
  assert.throws(() => BTSPFormer.create({}, { backend: "gpu" as "ref" }), /Unknown backend "gpu"/);
  assert.throws(() => BTSPFormer.create({}, { seed: -1 }), /Invalid model seed -1/);
  assert.throws(
    () => BTSPFormer.create({}, { backend: "wasm", threads: 0 }),
    /Invalid thread count 0/,
  );
});

Deno.test("getParam, setParam and state dicts round-trip and validate", () => {
  const cfg = { seqLen: 4, modelDim: 8, heads: 2, layers: 1, attention: "original" as const };
  const a = BTSPFormer.create(cfg, { backend: "ref", seed: 1 });
  const b = BTSPFormer.create(cfg, { backend: "ref", seed: 2 });
  try {
    const x = randomWindows(3, 4, 7);
    assert.notDeepEqual(a.predict(x), b.predict(x));
    const sd = a.stateDict();
    assert.deepEqual([...sd.keys()], a.layout.map((p) => p.name));
    assert.deepEqual(sd.get("blocks.0.attn.et_gate")!.shape, [1, 1, 1]);
    b.loadStateDict(sd);
    assert.deepEqual(a.predict(x), b.predict(x));
    sd.get("output_layer.3.bias")!.data[0] = 100; // a copy: the model is unchanged
    assert.notEqual(a.getParam("output_layer.3.bias")[0], 100);

    assert.throws(() => a.getParam("nope"), /Unknown parameter "nope"/);
    assert.throws(() => a.setParam("output_layer.3.bias", [1, 2]), /expected 1 values, got 2/);
    assert.throws(() => a.setParam("output_layer.3.bias", [Infinity]), /element 0 is Infinity/);
    const missing = a.stateDict();
    missing.delete("blocks.0.norm1.bias");
    assert.throws(() => b.loadStateDict(missing), /missing tensor "blocks.0.norm1.bias"/);
    const extra = a.stateDict();
    extra.set("blocks.1.norm1.bias", { shape: [8], data: new Float32Array(8) });
    assert.throws(() => b.loadStateDict(extra), /unexpected tensor "blocks.1.norm1.bias"/);
    const shaped = a.stateDict();
    shaped.get("input_embedding.weight")!.shape = [1, 8];
    assert.throws(() => b.loadStateDict(shaped), /"input_embedding.weight" has shape \[1, 8\]/);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("models on a shared backend free their arenas on close; closed models refuse use", () => {
  const be = createBackend("ref");
  try {
    const used = be.heap.used;
    const m = BTSPFormer.create({ seqLen: 4, modelDim: 8, heads: 2, layers: 1 }, { backend: be });
    m.predict(randomWindows(3, 4, 8));
    assert.ok(be.heap.used > used);
    m.close();
    m.close();
    assert.equal(be.heap.used, used);
    assert.throws(() => m.predict([[1, 2, 3, 4]]), /closed BTSPFormer/);
  } finally {
    be.close();
  }
});
