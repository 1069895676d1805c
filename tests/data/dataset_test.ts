import assert from "node:assert/strict";
import { buildDataset, type DataOptions, loadDataset } from "../../src/data/dataset.ts";
import { fitScaler } from "../../src/data/scaler.ts";
import { dampedSine } from "../../src/data/series.ts";
import { UserError } from "../../src/util/errors.ts";

const SINE: DataOptions = {
  source: "sine",
  numSamples: 200,
  seqLen: 12,
  horizon: 1,
  amplitude: 1,
  gamma: 0.1,
  omega: 2,
  phi: 0,
  tMax: 20,
  noise: 0,
  split: "chronological",
  normalize: "train",
  seed: 3,
  preset: "none",
};

const CO2 = new URL("../../examples/data/co2-concentration.csv", import.meta.url).pathname;

/** Indices of the values that window `s` reads (inputs) and predicts (targets). */
function span(s: number, L: number, K: number): { inputs: number[]; targets: number[] } {
  return {
    inputs: Array.from({ length: L }, (_, p) => s + p),
    targets: Array.from({ length: K }, (_, k) => s + L + k),
  };
}

function ramp(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => Math.sin(0.3 * i) + 0.01 * i);
}

Deno.test("sine: num_samples windows from num_samples + L + K − 1 points, exact split sizes", async () => {
  for (const horizon of [1, 4]) {
    const d = await loadDataset({ ...SINE, horizon });
    const L = 12, K = horizon, W = 200;
    assert.equal(d.series.length, W + L + K - 1);
    assert.equal(d.time[0], 0);
    assert.equal(d.time[d.time.length - 1], 20);
    assert.equal(d.nTrain, 160);
    assert.equal(d.nVal, W - 160 - (L + K - 1));
    assert.deepEqual(Array.from(d.trainIndex), Array.from({ length: 160 }, (_, i) => i));
    assert.equal(d.valIndex[0], 160 + L + K - 1);
    assert.equal(d.valIndex[d.nVal - 1], W - 1);
    assert.equal(d.trainX.length, d.nTrain * L);
    assert.equal(d.trainY.length, d.nTrain * K);
    assert.equal(d.valX.length, d.nVal * L);
    assert.equal(d.valY.length, d.nVal * K);
    assert.equal(d.inputKind, "values");
    assert.match(d.description, new RegExp(`160 train, ${d.nVal} validation \\(chronological`));
  }
});

Deno.test("chronological purge gap: no window of one set overlaps a target of the other", () => {
  for (const [L, K] of [[5, 1], [8, 3], [1, 1]]) {
    const d = buildDataset({ ...SINE, seqLen: L, horizon: K }, ramp(137));
    const trainTargets = new Set<number>(), valTargets = new Set<number>();
    for (const s of d.trainIndex) span(s, L, K).targets.forEach((i) => trainTargets.add(i));
    for (const s of d.valIndex) span(s, L, K).targets.forEach((i) => valTargets.add(i));
    for (const s of d.valIndex) {
      const { inputs, targets } = span(s, L, K);
      for (const i of [...inputs, ...targets]) {
        assert.ok(!trainTargets.has(i), `val ${s} reads ${i}`);
      }
    }
    for (const s of d.trainIndex) {
      const { inputs, targets } = span(s, L, K);
      for (const i of [...inputs, ...targets]) {
        assert.ok(!valTargets.has(i), `train ${s} reads ${i}`);
      }
    }
    // The gap is minimal: the window just before the first validation one starts on the last
    // training target.
    const lastTrainTarget = d.trainIndex[d.nTrain - 1] + L + K - 1;
    assert.equal(d.valIndex[0] - 1, lastTrainTarget);
    assert.equal(d.nVal, 137 - L - K + 1 - d.nTrain - (L + K - 1));
  }
});

Deno.test("windows hold the scaled series: train/val rows match the raw values", () => {
  const series = ramp(60);
  const d = buildDataset({ ...SINE, seqLen: 4, horizon: 2 }, series);
  const { mean, std } = d.scaler;
  const z = (i: number) => Math.fround((series[i] - mean) / std);
  for (
    const [idx, X, Y] of [[d.trainIndex, d.trainX, d.trainY], [d.valIndex, d.valX, d.valY]] as const
  ) {
    for (let w = 0; w < idx.length; w++) {
      for (let p = 0; p < 4; p++) assert.equal(X[w * 4 + p], z(idx[w] + p));
      for (let k = 0; k < 2; k++) assert.equal(Y[w * 2 + k], z(idx[w] + 4 + k));
    }
  }
  assert.equal(d.series, series);
});

Deno.test("normalize train: fitted on the training windows' values only", () => {
  const L = 6, K = 2;
  const series = ramp(100);
  const d = buildDataset({ ...SINE, seqLen: L, horizon: K }, series);
  const lastTouched = d.nTrain - 1 + L + K - 1;
  assert.deepEqual(d.scaler, fitScaler(series.subarray(0, lastTouched + 1)));
  // Changing every value after the last training target changes neither the scaler nor the
  // training windows: validation values are not used.
  const changed = series.slice();
  for (let i = lastTouched + 1; i < changed.length; i++) changed[i] = 1000 + 50 * i;
  const e = buildDataset({ ...SINE, seqLen: L, horizon: K }, changed);
  assert.deepEqual(e.scaler, d.scaler);
  assert.deepEqual(e.trainX, d.trainX);
  assert.deepEqual(e.trainY, d.trainY);
  assert.notDeepEqual(e.valY, d.valY);
  // But the last training target is used.
  const moved = series.slice();
  moved[lastTouched] += 1;
  assert.notDeepEqual(buildDataset({ ...SINE, seqLen: L, horizon: K }, moved).scaler, d.scaler);
});

Deno.test("normalize global and none", () => {
  const series = ramp(80);
  const g = buildDataset({ ...SINE, normalize: "global", seqLen: 5 }, series);
  assert.deepEqual(g.scaler, fitScaler(series));
  assert.deepEqual(g.inputScaler, g.scaler);
  const n = buildDataset({ ...SINE, normalize: "none", seqLen: 5 }, series);
  assert.deepEqual(n.scaler, { mean: 0, std: 1 });
  assert.deepEqual(
    Array.from(n.trainX.subarray(0, 5)),
    Array.from(series.subarray(0, 5), Math.fround),
  );
  assert.match(n.description, /not normalized/);
});

Deno.test("random split: 80/20, disjoint, covers every window, reproducible by seed", () => {
  const o: DataOptions = { ...SINE, split: "random", seqLen: 7, horizon: 2 };
  const series = ramp(120);
  const W = 120 - 7 - 2 + 1;
  const a = buildDataset(o, series), b = buildDataset(o, series);
  const c = buildDataset({ ...o, seed: 4 }, series);
  assert.equal(a.nTrain, Math.floor(0.8 * W));
  assert.equal(a.nVal, W - a.nTrain);
  assert.deepEqual(a.trainIndex, b.trainIndex);
  assert.deepEqual(a.trainX, b.trainX);
  assert.notDeepEqual(a.trainIndex, c.trainIndex);
  const all = [...a.trainIndex, ...a.valIndex].sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: W }, (_, i) => i));
  for (let i = 1; i < a.nTrain; i++) assert.ok(a.trainIndex[i - 1] < a.trainIndex[i]);
  for (let i = 1; i < a.nVal; i++) assert.ok(a.valIndex[i - 1] < a.valIndex[i]);
  // Not just the chronological split in disguise.
  assert.ok(a.valIndex[0] < a.nTrain);
  // Scaler: the values the training windows touch, nothing else.
  const touched = new Set<number>();
  for (const s of a.trainIndex) for (let i = s; i < s + 9; i++) touched.add(i);
  assert.deepEqual(a.scaler, fitScaler([...touched].sort((x, y) => x - y).map((i) => series[i])));
});

Deno.test("random split with normalize train ignores values only validation windows touch", () => {
  // With L = K = 1 and 40 values, seed 3 leaves 2 values that no training window reads.
  const o: DataOptions = { ...SINE, split: "random", seqLen: 1, horizon: 1 };
  const series = ramp(40);
  const a = buildDataset(o, series);
  const touched = new Set<number>();
  for (const s of a.trainIndex) touched.add(s).add(s + 1);
  const untouched = Array.from({ length: 40 }, (_, i) => i).filter((i) => !touched.has(i));
  assert.equal(untouched.length, 2);
  const changed = series.slice();
  for (const i of untouched) changed[i] = -999;
  const b = buildDataset(o, changed);
  assert.deepEqual(b.scaler, a.scaler);
  assert.deepEqual(b.trainX, a.trainX);
  assert.notDeepEqual(b.valX, a.valX);
});

Deno.test("preset original: time-stamp inputs, global z-score, random split seed 42, N points", async () => {
  const o: DataOptions = {
    ...SINE,
    numSamples: 500,
    seqLen: 50,
    preset: "original",
    split: "chronological", // overridden by the preset
    normalize: "train", // overridden by the preset
    seed: 1, // the split still uses 42
  };
  const d = await loadDataset(o);
  const N = 500, L = 50;
  assert.equal(d.series.length, N);
  // The reference code: n_sequences = len(t) − seq_len windows, int(0.8·n) of them train.
  assert.equal(d.nTrain + d.nVal, N - L);
  assert.equal(d.nTrain, Math.floor(0.8 * (N - L)));
  assert.equal(d.inputKind, "time");
  const { t, x } = dampedSine({ ...o, numPoints: N });
  assert.deepEqual(d.scaler, fitScaler(x));
  // t = linspace(0, 20, N): mean 10, population std 20·sqrt((N+1)/(12(N−1))). Tolerance 1e-12.
  assert.ok(Math.abs(d.inputScaler.mean - 10) < 1e-12);
  assert.ok(Math.abs(d.inputScaler.std - 20 * Math.sqrt((N + 1) / (12 * (N - 1)))) < 1e-12);
  const zt = (i: number) => Math.fround((t[i] - d.inputScaler.mean) / d.inputScaler.std);
  const zx = (i: number) => Math.fround((x[i] - d.scaler.mean) / d.scaler.std);
  for (const w of [0, 7, d.nVal - 1]) {
    const s = d.valIndex[w];
    for (let p = 0; p < L; p++) assert.equal(d.valX[w * L + p], zt(s + p));
    assert.equal(d.valY[w], zx(s + L));
  }
  assert.equal(d.trainX[0], zt(d.trainIndex[0]));
  const e = await loadDataset({ ...o, seed: 2, split: "random", normalize: "none" });
  assert.deepEqual(e.trainIndex, d.trainIndex);
  assert.deepEqual(e.scaler, d.scaler);
  assert.match(d.description, /random, seed 42/);
  const r = buildDataset({ ...SINE, split: "random", seed: 42, seqLen: 50 }, x);
  assert.deepEqual(r.trainIndex, d.trainIndex);
});

Deno.test("too few values: UserError saying how many are needed", () => {
  const L = 10, K = 1;
  // Chronological: W − ⌊0.8W⌋ − (L+K−1) ≥ 1 first holds at W = 51 (51 − 40 − 10 = 1; at 50:
  // 50 − 40 − 10 = 0).
  const ok = buildDataset({ ...SINE, seqLen: L, horizon: K }, ramp(51 + L + K - 1));
  assert.equal(ok.nVal, 1);
  assert.throws(
    () => buildDataset({ ...SINE, seqLen: L, horizon: K }, ramp(50 + L + K - 1)),
    (e: Error) =>
      e instanceof UserError &&
      /needs at least 61 values \(51 windows\), got 60 \(raise "--num_samples" to at least 51\)/
        .test(e.message),
  );
  assert.throws(
    () => buildDataset({ ...SINE, split: "random", seqLen: L }, ramp(11)),
    (e: Error) =>
      e instanceof UserError &&
      /random split .* needs at least 12 values \(2 windows\), got 11/.test(e.message),
  );
  assert.equal(buildDataset({ ...SINE, split: "random", seqLen: L }, ramp(12)).nVal, 1);
  assert.throws(
    () => buildDataset({ ...SINE, preset: "original", seqLen: 50 }, ramp(30)),
    (e: Error) =>
      e instanceof UserError &&
      /at least 52 values .*got 30 \(raise "--num_samples" to at least 52\)/.test(e.message),
  );
  assert.throws(
    () => buildDataset({ ...SINE, source: "csv", csv: "a.csv", column: "v" }, ramp(3)),
    (e: Error) =>
      e instanceof UserError &&
      /^Cannot build the dataset from "a.csv" column "v".*got 3$/.test(e.message),
  );
});

Deno.test("bad options throw UserError quoting the value", async () => {
  await assert.rejects(
    loadDataset({ ...SINE, numSamples: 0 }),
    (e: Error) =>
      e instanceof UserError &&
      e.message === 'Invalid "--num_samples": expected a positive integer, got 0',
  );
  assert.throws(
    () => buildDataset({ ...SINE, seqLen: -2 }, ramp(50)),
    (e: Error) => e instanceof UserError && /"--seq_len".*got -2/.test(e.message),
  );
  assert.throws(
    () => buildDataset({ ...SINE, split: "odd" as "random" }, ramp(50)),
    (e: Error) => e instanceof UserError && /"--split".*got "odd"/.test(e.message),
  );
  assert.throws(
    () => buildDataset({ ...SINE, normalize: "x" as "none" }, ramp(50)),
    (e: Error) => e instanceof UserError && /"--normalize".*got "x"/.test(e.message),
  );
  assert.throws(
    () => buildDataset({ ...SINE, normalize: "global" }, new Float64Array(80).fill(2)),
    (e: Error) => e instanceof UserError && /std 0/.test(e.message),
  );
});

Deno.test("CSV: the shipped CO₂ series loads, every row used, num_samples ignored", async () => {
  const o: DataOptions = {
    ...SINE,
    source: "csv",
    csv: CO2,
    column: "CO2",
    numSamples: 3,
    seqLen: 24,
  };
  const d = await loadDataset(o);
  assert.equal(d.series.length, 741);
  assert.equal(d.series[0], 315.7);
  assert.equal(d.series[740], 416.18);
  assert.deepEqual(Array.from(d.time.subarray(0, 3)), [0, 1, 2]);
  const W = 741 - 24;
  assert.equal(d.nTrain, Math.floor(0.8 * W));
  assert.equal(d.nVal, W - d.nTrain - 24);
  const adj = await loadDataset({ ...o, column: "adjusted CO2" });
  assert.equal(adj.series[0], 314.44);
  // Preset original on a CSV: the row numbers are the time stamps.
  const p = await loadDataset({ ...o, preset: "original" });
  assert.equal(p.inputKind, "time");
  assert.ok(Math.abs(p.inputScaler.mean - 370) < 1e-9);
});

Deno.test("CSV: a missing file, file flag or column is a UserError naming it", async () => {
  const o: DataOptions = { ...SINE, source: "csv", csv: "no/such.csv", column: "v" };
  await assert.rejects(
    loadDataset(o),
    (e: Error) => e instanceof UserError && e.message === 'Cannot read "no/such.csv": no such file',
  );
  await assert.rejects(
    loadDataset({ ...o, csv: undefined }),
    (e: Error) => e instanceof UserError && /no file given/.test(e.message),
  );
  await assert.rejects(
    loadDataset({ ...o, csv: CO2, column: undefined }),
    (e: Error) =>
      e instanceof UserError &&
      e.message ===
        `Cannot read "${CO2}": no column chosen (pass "--column NAME"; columns: "Date", "CO2", "adjusted CO2")`,
  );
  await assert.rejects(
    loadDataset({ ...o, csv: CO2, column: "co2" }),
    (e: Error) =>
      e instanceof UserError &&
      e.message.startsWith(`Cannot read "${CO2}": line 1, column "co2": no such column`),
  );
});
