import assert from "node:assert/strict";
import { buildDataset, type DataOptions, loadDataset } from "../../src/data/dataset.ts";
import { linearArBaseline, persistenceBaseline } from "../../src/train/baselines.ts";
import { UserError } from "../../src/util/errors.ts";

const SINE: DataOptions = {
  source: "sine",
  numSamples: 2000,
  seqLen: 8,
  horizon: 1,
  amplitude: 1,
  gamma: 0.1,
  omega: 2,
  phi: 0,
  tMax: 20,
  noise: 0,
  split: "chronological",
  normalize: "train",
  seed: 7,
  preset: "none",
};

function near(actual: number, expected: number, rel: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= rel * Math.abs(expected),
    `${what}: ${actual} vs ${expected} (rel tol ${rel})`,
  );
}

/** Deterministic noise in [−0.5, 0.5) without depending on the library's Rng. */
function lcgNoise(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

Deno.test("linear AR recovers the noiseless damped sine (an order-2 linear recurrence)", async () => {
  for (const horizon of [1, 3]) {
    const ds = await loadDataset({ ...SINE, horizon });
    const ar = linearArBaseline(ds), pe = persistenceBaseline(ds);
    // Tolerance: MSE < 1e-12 (observed ~1e-16); persistence must be far worse on the same windows.
    assert.ok(ar.mse < 1e-12, `horizon ${horizon}: linear AR mse ${ar.mse}`);
    assert.ok(pe.mse > 1e-6, `horizon ${horizon}: persistence mse ${pe.mse}`);
    assert.equal(ar.rmse, Math.sqrt(ar.mse));
  }
});

Deno.test("persistence on a constant-slope series: mse = slope² (horizon 1), Σ(k·slope)²/K (horizon 3)", () => {
  const slope = -0.37;
  const series = Float64Array.from({ length: 300 }, (_, i) => 12 + slope * i);
  const h1 = persistenceBaseline(buildDataset({ ...SINE, seqLen: 5, horizon: 1 }, series));
  near(h1.mse, slope * slope, 1e-12, "mse, horizon 1");
  near(h1.mae, Math.abs(slope), 1e-12, "mae, horizon 1");
  near(h1.rmse, Math.abs(slope), 1e-12, "rmse, horizon 1");
  const h3 = persistenceBaseline(buildDataset({ ...SINE, seqLen: 5, horizon: 3 }, series));
  near(h3.mse, (slope * slope * (1 + 4 + 9)) / 3, 1e-12, "mse, horizon 3");
  near(h3.mae, Math.abs(slope) * 2, 1e-12, "mae, horizon 3");
  // A ramp is linear in its window at every horizon step. Tolerance 1e-10 (observed ~1e-14): the
  // centred windows are all collinear, so the 1e-8 ridge is what bounds the error.
  const ar = linearArBaseline(buildDataset({ ...SINE, seqLen: 5, horizon: 3 }, series));
  assert.ok(ar.mse < 1e-10, `linear AR on a ramp: mse ${ar.mse}`);
});

Deno.test("linear AR with horizon 4 matches an independent least-squares solve per step", () => {
  const n = 400, L = 6, K = 4;
  const noise = lcgNoise(n, 11);
  const series = Float64Array.from({ length: n }, (_, i) => 3 + Math.sin(0.21 * i) + noise[i]);
  const ds = buildDataset({ ...SINE, seqLen: L, horizon: K }, series);

  // Reference: the (L+1)-column design [window | 1], normal equations by Gauss–Jordan with
  // partial pivoting, no centring, no ridge; one solve per horizon step.
  let sq = 0, ab = 0;
  for (let k = 0; k < K; k++) {
    const m = L + 1;
    const a = Array.from({ length: m }, () => new Float64Array(m + 1));
    for (const st of ds.trainIndex) {
      const row = [...series.subarray(st, st + L), 1];
      const y = series[st + L + k];
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) a[i][j] += row[i] * row[j];
        a[i][m] += row[i] * y;
      }
    }
    for (let c = 0; c < m; c++) {
      let piv = c;
      for (let r = c + 1; r < m; r++) if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) piv = r;
      [a[c], a[piv]] = [a[piv], a[c]];
      for (let r = 0; r < m; r++) {
        if (r === c) continue;
        const f = a[r][c] / a[c][c];
        for (let j = c; j <= m; j++) a[r][j] -= f * a[c][j];
      }
    }
    const w = a.map((row, i) => row[m] / row[i]);
    for (const st of ds.valIndex) {
      let p = w[L];
      for (let j = 0; j < L; j++) p += w[j] * series[st + j];
      const d = p - series[st + L + k];
      sq += d * d;
      ab += Math.abs(d);
    }
  }
  const count = ds.nVal * K;
  const ar = linearArBaseline(ds);
  // Tolerance 1e-7 relative: the only differences are the 1e-8 ridge and rounding.
  near(ar.mse, sq / count, 1e-7, "mse");
  near(ar.mae, ab / count, 1e-7, "mae");
  assert.ok(ar.mse < persistenceBaseline(ds).mse, "AR beats persistence on a smooth noisy sine");
});

Deno.test("baselines are in original units: same as the trainer's valY·std + mean definition", () => {
  const n = 500, L = 10, K = 2;
  const noise = lcgNoise(n, 5);
  const series = Float64Array.from({ length: n }, (_, i) => 400 + 5 * Math.cos(0.1 * i) + noise[i]);
  const dsTrain = buildDataset({ ...SINE, seqLen: L, horizon: K, normalize: "train" }, series);
  const dsNone = buildDataset({ ...SINE, seqLen: L, horizon: K, normalize: "none" }, series);
  // Normalization only changes the model's units, not the baselines' (tolerance 1e-9 relative).
  near(persistenceBaseline(dsTrain).mse, persistenceBaseline(dsNone).mse, 1e-9, "persistence");
  near(linearArBaseline(dsTrain).mse, linearArBaseline(dsNone).mse, 1e-9, "linear AR");

  // Persistence recomputed from the float32 windows the trainer scores against (tolerance 1e-4
  // relative: float32 rounding of values near 400).
  const { mean, std } = dsTrain.scaler;
  let sq = 0;
  for (let i = 0; i < dsTrain.nVal; i++) {
    const last = dsTrain.valX[i * L + L - 1] * std + mean;
    for (let k = 0; k < K; k++) {
      const d = last - (dsTrain.valY[i * K + k] * std + mean);
      sq += d * d;
    }
  }
  near(persistenceBaseline(dsTrain).mse, sq / (dsTrain.nVal * K), 1e-4, "persistence vs float32");

  // Scaling the series by 10 scales every MSE by 100 (tolerance 1e-9 relative).
  const ds10 = buildDataset({ ...SINE, seqLen: L, horizon: K }, series.map((v) => 10 * v));
  near(linearArBaseline(ds10).mse, 100 * linearArBaseline(dsTrain).mse, 1e-9, "scaled AR");
});

Deno.test("baselines work on time-stamp datasets (preset original) from the series values", async () => {
  const ds = await loadDataset({ ...SINE, numSamples: 1000, seqLen: 10, preset: "original" });
  assert.equal(ds.inputKind, "time");
  const ar = linearArBaseline(ds), pe = persistenceBaseline(ds);
  assert.ok(ar.mse < 1e-12, `linear AR mse ${ar.mse}`);
  let sq = 0;
  for (const st of ds.valIndex) sq += (ds.series[st + 9] - ds.series[st + 10]) ** 2;
  near(pe.mse, sq / ds.nVal, 1e-12, "persistence");
});

Deno.test("baselines refuse a series with a non-finite value, quoting it", () => {
  const series = Float64Array.from({ length: 100 }, (_, i) => Math.sin(i));
  series[42] = NaN;
  const ds = buildDataset({ ...SINE, seqLen: 4, normalize: "none" }, series);
  for (const f of [persistenceBaseline, linearArBaseline]) {
    assert.throws(() => f(ds), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /value 42 is NaN/);
      return true;
    });
  }
});
