// The model with an asynchronous attention: the async driver (with a CPU stand-in, everywhere)
// and WebGPU against Wasm (where an adapter exists).
import assert from "node:assert/strict";
import { BTSPFormer } from "../../src/model/model.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import type { Backend } from "../../src/engine/backend.ts";
import {
  attentionBackward,
  type AttentionBackwardArgs,
  attentionForward,
  type AttentionForwardArgs,
  attentionScratchFloats,
} from "../../src/ops/attention.ts";
import { Rng } from "../../src/util/rng.ts";
import { type AttentionImpl, createWebGpuAttention } from "../../src/webgpu/attention.ts";

const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
const NO_GPU = !adapter;
const IGNORE_WHY = NO_GPU ? " (ignored: navigator.gpu has no adapter here)" : "";

const MODES = ["btsp", "standard", "original"] as const;
const SYNC_ERROR =
  /this model runs attention on WebGPU: use forwardAsync\/backwardAsync\/predictAsync/;

// Two layers: one full block, and (btsp/standard) the last-position-only last block.
const cfgOf = (attention: ModelConfig["attention"]): Partial<ModelConfig> => ({
  seqLen: 10,
  modelDim: 16,
  heads: 2,
  layers: 2,
  horizon: 2,
  attention,
});

function randomWindows(n: number, L: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: L }, () => rng.uniform(-2, 2)));
}

/** max |a − b| ≤ tol, with the worst element in the message. */
function assertMaxDiff(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) {
  assert.equal(a.length, b.length, `${what}: length`);
  let worst = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) [worst, at] = [d, i];
  }
  assert.ok(worst <= tol, `${what}[${at}]: ${a[at]} vs ${b[at]} (|diff| ${worst} > ${tol})`);
}

/** Predictions of one training-mode forward (fixed dropout keys), then all gradients. */
async function step(
  m: BTSPFormer,
  x: number[][],
): Promise<{ pred: Float32Array; grads: Float32Array }> {
  const B = x.length;
  m.setInput(x, B);
  const ptr = await m.forwardAsync(B, { training: true, key0: 5, key1: 11 });
  const pred = m.backend.heap.read(ptr, B * m.config.horizon);
  await m.backwardAsync(B, ptr); // d(½·pred²)/dpred = pred
  return { pred, grads: m.backend.heap.read(m.gradsPtr, m.numParams) };
}

/**
 * The CPU attention ops behind the async interface, with scratch of its own per call site (the
 * model passes scratch 0 to an attention impl), recording every call.
 */
function cpuStandIn(): AttentionImpl & { calls: string[] } {
  const scratch = new Map<string, number>();
  const siteOf = (be: Backend, a: AttentionForwardArgs) => {
    assert.equal(a.scratch, 0, "the model gives an attention impl no scratch");
    const key = `${a.B}|${a.qStart}|${a.qkv}`;
    let p = scratch.get(key);
    if (p === undefined) {
      p = be.heap.alloc(attentionScratchFloats(a.mode, a.B, a.L, a.D, a.H, a.qStart));
      scratch.set(key, p);
    }
    return { key, ptr: p };
  };
  const calls: string[] = [];
  return {
    name: "cpu stand-in",
    calls,
    async forward(be: Backend, a: AttentionForwardArgs) {
      await Promise.resolve(); // a real await, as on the GPU
      const s = siteOf(be, a);
      calls.push(`forward ${s.key}`);
      attentionForward(be, { ...a, scratch: s.ptr });
    },
    async backward(be: Backend, a: AttentionBackwardArgs) {
      await Promise.resolve();
      const s = siteOf(be, a);
      calls.push(`backward ${s.key}`);
      attentionBackward(be, { ...a, scratch: s.ptr });
    },
    close() {},
  };
}

Deno.test("async methods without an attention impl equal the sync ones bit for bit", async () => {
  for (const attention of MODES) {
    const a = BTSPFormer.create(cfgOf(attention), { backend: "ref", seed: 2 });
    const b = BTSPFormer.create(cfgOf(attention), { backend: "ref", seed: 2 });
    try {
      const x = randomWindows(3, 10, 1);
      b.setInput(x, 3);
      const ptr = b.forward(3, { training: true, key0: 5, key1: 11 });
      const pred = b.backend.heap.read(ptr, 6);
      b.backward(3, ptr);
      const got = await step(a, x);
      assert.deepEqual(got.pred, pred, `${attention} pred`);
      assert.deepEqual(got.grads, b.backend.heap.read(b.gradsPtr, b.numParams), attention);
      assert.deepEqual(await a.predictAsync(x, 2), b.predict(x, 2), `${attention} predict`);
    } finally {
      a.close();
      b.close();
    }
  }
});

Deno.test("an async attention impl runs the same graph: CPU stand-in equals the sync model bit for bit", async () => {
  for (const attention of MODES) {
    const impl = cpuStandIn();
    const a = BTSPFormer.create(cfgOf(attention), { backend: "ref", seed: 4, attention: impl });
    const b = BTSPFormer.create(cfgOf(attention), { backend: "ref", seed: 4 });
    // An impl gets the fused [q | k | v] rows; the CPU path computes the last block's queries
    // apart unless told not to (the same values up to float rounding, not the same bits).
    b._splitQ = false;
    try {
      assert.equal(a.attentionDevice, "cpu stand-in");
      const x = randomWindows(3, 10, 7);
      const got = await step(a, x);
      // Forwards block 0 → 1, backwards 1 → 0, each after the forward of its own call site.
      const fwd = impl.calls.slice(0, 2), bwd = impl.calls.slice(2);
      assert.equal(impl.calls.length, 4, impl.calls.join("; "));
      assert.deepEqual(bwd, fwd.reverse().map((c) => c.replace("forward", "backward")));
      if (attention !== "original") assert.match(impl.calls[1], /^forward 3\|9\|/);
      b.setInput(x, 3);
      const ptr = b.forward(3, { training: true, key0: 5, key1: 11 });
      assert.deepEqual(got.pred, b.backend.heap.read(ptr, 6), `${attention} pred`);
      b.backward(3, ptr);
      assert.deepEqual(got.grads, b.backend.heap.read(b.gradsPtr, b.numParams), attention);
      const y = randomWindows(5, 10, 8);
      assert.deepEqual(await a.predictAsync(y, 2), b.predict(y, 2), `${attention} predict`);
    } finally {
      a.close();
      b.close();
    }
  }
});

Deno.test("with an attention impl the sync methods throw, useCpuAttention brings them back", async () => {
  const impl = cpuStandIn();
  const m = BTSPFormer.create(cfgOf("btsp"), { backend: "ref", seed: 1, attention: impl });
  try {
    const x = randomWindows(2, 10, 3);
    m.setInput(x, 2);
    assert.throws(() => m.forward(2, { training: false }), SYNC_ERROR);
    assert.throws(() => m.backward(2, m.paramsPtr), SYNC_ERROR);
    assert.throws(() => m.predict(x), SYNC_ERROR);
    const viaImpl = await m.predictAsync(x);
    m.useCpuAttention();
    assert.equal(m.attentionDevice, "ref");
    assert.deepEqual(m.predict(x), viaImpl);
    assert.deepEqual(await m.predictAsync(x), viaImpl);
  } finally {
    m.close();
  }
});

Deno.test("the model refuses use and close while an async pass is in flight", async () => {
  const m = BTSPFormer.create(cfgOf("standard"), { backend: "ref", attention: cpuStandIn() });
  try {
    const x = randomWindows(2, 10, 3);
    const pending = m.predictAsync(x);
    assert.throws(() => m.setInput(x, 2), /while one of its async passes is running/);
    assert.throws(() => m.close(), /while one of its async passes is running/);
    await assert.rejects(m.forwardAsync(2, { training: false }), /async passes is running/);
    assert.equal((await pending).length, 4);
    m.setInput(x, 2); // usable again once the pass is done
  } finally {
    m.close();
  }
});

for (const attention of MODES) {
  Deno.test({
    name:
      `webgpu ${attention}: predictions within 1e-4 of wasm, gradients within 1e-4·max${IGNORE_WHY}`,
    ignore: NO_GPU,
    async fn() {
      const r = await createWebGpuAttention();
      assert.ok(r.ok, r.ok ? "" : r.reason);
      const opts = { backend: "wasm" as const, threads: 1, seed: 6 };
      const g = BTSPFormer.create(cfgOf(attention), { ...opts, attention: r.impl });
      const w = BTSPFormer.create(cfgOf(attention), opts);
      try {
        assert.match(g.attentionDevice, /^webgpu/);
        assert.throws(() => g.predict(randomWindows(1, 10, 1)), SYNC_ERROR);
        // 6 windows: batches 4 + 2 (a partial last batch) and 2 + 2 + 2. Only two batch sizes,
        // since every shape compiles its own pipelines.
        const x = randomWindows(6, 10, 9);
        for (const bs of [4, 2]) {
          assertMaxDiff(
            await g.predictAsync(x, bs),
            w.predict(x, bs),
            1e-4,
            `${attention} bs ${bs}`,
          );
        }
        const a = await step(g, x.slice(0, 4)), b = await step(w, x.slice(0, 4));
        assertMaxDiff(a.pred, b.pred, 1e-4, `${attention} training pred`);
        const global = Math.max(...Array.from(b.grads, Math.abs));
        for (const p of w.layout) {
          if (!p.trainable) continue;
          const ga = a.grads.subarray(p.offset, p.offset + p.size);
          const gb = b.grads.subarray(p.offset, p.offset + p.size);
          // 1e-4 of the tensor's largest gradient, plus 1e-6 of the overall largest for the
          // structurally zero ones (key biases, the last block's log_tau_is), which are
          // round-off on either side.
          const tol = 1e-4 * Math.max(...Array.from(gb, Math.abs)) + 1e-6 * global;
          assertMaxDiff(ga, gb, tol, `${attention} grad ${p.name}`);
        }
      } finally {
        g.close();
        w.close();
        r.impl.close();
      }
    },
  });
}
