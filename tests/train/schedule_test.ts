import assert from "node:assert/strict";
import { EarlyStopping, ReduceLROnPlateau } from "../../src/train/schedule.ts";

Deno.test("plateau: halves the LR after patience+1 epochs without relative improvement", () => {
  // Scripted validation MSE: improves, then plateaus (improvements below 1e-4 relative count as
  // none). The expected LRs were recorded with PyTorch 1.13's ReduceLROnPlateau, same options.
  const s = new ReduceLROnPlateau(1e-3, { factor: 0.5, patience: 2, threshold: 1e-4 });
  const losses = [1.0, 0.5, 0.49999, 0.49999, 0.49999, 0.4, 0.4, 0.4, 0.4];
  const lrs = losses.map((l) => (s.step(l), s.lr));
  assert.deepEqual(lrs, [1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 5e-4, 2.5e-4]);
});

Deno.test("plateau: matches PyTorch on a recorded sequence (patience 8, factor 0.5)", () => {
  // Recorded with PyTorch 1.13: ReduceLROnPlateau(opt, factor=0.5, patience=8) stepped with a
  // constant 1.0 twelve times gives lr 1e-3 for the first 9 steps, then 5e-4.
  const s = new ReduceLROnPlateau(1e-3);
  const seen: number[] = [];
  for (let e = 1; e <= 12; e++) {
    s.step(1);
    seen.push(s.lr);
  }
  assert.deepEqual(seen, [...new Array(9).fill(1e-3), 5e-4, 5e-4, 5e-4]);
});

Deno.test("plateau: respects minLr and restores its state", () => {
  const s = new ReduceLROnPlateau(1e-3, { patience: 0, minLr: 4e-4 });
  s.step(1);
  s.step(1);
  assert.equal(s.lr, 5e-4);
  s.step(1);
  assert.equal(s.lr, 4e-4);
  const t = new ReduceLROnPlateau(1);
  t.state = s.state;
  assert.deepEqual(t.state, s.state);
});

Deno.test("early stopping: stops after `patience` epochs without a new best", () => {
  const e = new EarlyStopping(3);
  const vals = [5, 4, 4.5, 4, 3.9, 4, 4, 4];
  const stops = vals.map((v, i) => e.step(v, i + 1));
  assert.deepEqual(stops, [false, false, false, false, false, false, false, true]);
  assert.equal(e.bestEpoch, 5);
  assert.equal(e.best, 3.9);
});

Deno.test("early stopping: patience 0 never stops", () => {
  const e = new EarlyStopping(0);
  for (let i = 1; i <= 50; i++) assert.equal(e.step(1 + i, i), false);
  assert.equal(e.bestEpoch, 1);
});
