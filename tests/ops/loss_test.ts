import assert from "node:assert/strict";
import type { Backend } from "../../src/engine/backend.ts";
import { lossMetrics, mseLoss } from "../../src/ops/loss.ts";
import { UserError } from "../../src/util/errors.ts";
import { Rng } from "../../src/util/rng.ts";
import { put, randn, withBackend } from "../_helpers.ts";

const SIZES = [1, 7, 13, 50, 65, 257];

/** [mse, mae, mse again without dpred, dpred]. */
function run(
  be: Backend,
  pred: Float32Array,
  target: Float32Array,
): [number, number, number, Float32Array] {
  const n = pred.length, p = put(be, pred), t = put(be, target), d = be.heap.alloc(n);
  be.heap.view(d, n).fill(123); // overwritten, not accumulated
  const mse = mseLoss(be, d, p, t, n);
  const m = lossMetrics(be, p, t, n);
  assert.equal(m.mse, mse);
  return [mse, m.mae, mseLoss(be, 0, p, t, n), be.heap.read(d, n)];
}

Deno.test("mseLoss and lossMetrics: wasm and ref give identical bits; float64 sums to 1e-12", () => {
  const rng = new Rng(50);
  for (const n of [...SIZES, 100_003]) {
    const pred = randn(rng, n), target = randn(rng, n);
    const r = withBackend("ref", 1, (be) => run(be, pred, target));
    const w = withBackend("wasm", 1, (be) => run(be, pred, target));
    assert.deepEqual(w, r, `n=${n}`);
    let sq = 0, ab = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.fround(pred[i] - target[i]);
      sq += d * d;
      ab += Math.abs(d);
    }
    assert.ok(Math.abs(r[0] - sq / n) <= 1e-12 * (sq / n), `mse n=${n}`);
    assert.ok(Math.abs(r[1] - ab / n) <= 1e-12 * (ab / n), `mae n=${n}`);
    assert.equal(r[2], r[0]);
  }
});

Deno.test("mseLoss gradient matches central differences of the float64 mean (tol 1e-6·(1 + |g|))", () => {
  const rng = new Rng(51);
  for (const n of SIZES) {
    const pred = randn(rng, n), target = randn(rng, n);
    const [, , , dpred] = withBackend("wasm", 1, (be) => run(be, pred, target));
    const p = Float64Array.from(pred), h = 1e-4;
    const mse = () => p.reduce((s, v, i) => s + (v - target[i]) ** 2, 0) / n;
    for (let i = 0; i < n; i++) {
      const p0 = p[i];
      p[i] = p0 + h;
      const up = mse();
      p[i] = p0 - h;
      const dn = mse();
      p[i] = p0;
      const want = (up - dn) / (2 * h);
      assert.ok(
        Math.abs(dpred[i] - want) <= 1e-6 * (1 + Math.abs(want)),
        `n=${n} [${i}]: ${dpred[i]} vs ${want}`,
      );
    }
  }
});

Deno.test("mseLoss: 1 and 2 wasm threads give identical bits", () => {
  const rng = new Rng(52);
  const pred = randn(rng, 300_001), target = randn(rng, 300_001);
  assert.deepEqual(
    withBackend("wasm", 2, (be) => run(be, pred, target)),
    withBackend("wasm", 1, (be) => run(be, pred, target)),
  );
});

Deno.test("a loss over no values is a UserError", () => {
  withBackend("ref", 1, (be) => {
    assert.throws(() => mseLoss(be, 0, 64, 64, 0), UserError);
    assert.throws(() => lossMetrics(be, 64, 64, 0), /n = 0/);
  });
});
