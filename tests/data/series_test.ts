import assert from "node:assert/strict";
import { dampedSine, type DampedSineOptions, linspace } from "../../src/data/series.ts";
import { UserError } from "../../src/util/errors.ts";

const BASE: DampedSineOptions = {
  numPoints: 5000,
  amplitude: 1,
  gamma: 0.1,
  omega: 2,
  phi: 0,
  tMax: 20,
  noise: 0,
  seed: 7,
};

Deno.test("linspace includes both endpoints exactly and is evenly spaced (numpy semantics)", () => {
  const t = linspace(0, 20, 5000);
  assert.equal(t.length, 5000);
  assert.equal(t[0], 0);
  assert.equal(t[4999], 20);
  const step = 20 / 4999;
  // Tolerance 1e-12: i·step in float64 vs the exact grid.
  for (const i of [1, 17, 2500, 4998]) assert.ok(Math.abs(t[i] - i * step) < 1e-12);
  assert.deepEqual(Array.from(linspace(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(Array.from(linspace(3, 9, 1)), [3]);
  assert.equal(linspace(0, 1, 0).length, 0);
});

Deno.test("dampedSine follows A·e^(−γt)·cos(ωt+φ) on the grid", () => {
  const o = { ...BASE, numPoints: 101, amplitude: 2.5, gamma: 0.3, omega: 1.7, phi: 0.4, tMax: 10 };
  const { t, x } = dampedSine(o);
  assert.equal(t[100], 10);
  for (let i = 0; i < 101; i++) {
    const ti = (10 * i) / 100;
    const want = 2.5 * Math.exp(-0.3 * ti) * Math.cos(1.7 * ti + 0.4);
    // Tolerance 1e-12 absolute: the grid differs from 10·i/100 by a few ulps.
    assert.ok(Math.abs(x[i] - want) < 1e-12, `x[${i}] = ${x[i]}, want ${want}`);
  }
  // Hand-checked values of the default series: x(0) = 1, x(20) = e^(−2)·cos(40).
  const d = dampedSine(BASE);
  assert.equal(d.x[0], 1);
  assert.ok(Math.abs(d.x[4999] - Math.exp(-2) * Math.cos(40)) < 1e-15);
});

Deno.test("noise is reproducible by seed, differs across seeds, and has about the asked σ", () => {
  const clean = dampedSine(BASE).x;
  const a = dampedSine({ ...BASE, noise: 0.05 }).x;
  const b = dampedSine({ ...BASE, noise: 0.05 }).x;
  const c = dampedSine({ ...BASE, noise: 0.05, seed: 8 }).x;
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  let ss = 0, sum = 0;
  for (let i = 0; i < a.length; i++) {
    const e = a[i] - clean[i];
    sum += e;
    ss += e * e;
  }
  const sd = Math.sqrt(ss / a.length);
  // 5000 draws: the sample σ is within 5 % of 0.05 and the mean within 5 standard errors of 0.
  assert.ok(Math.abs(sd - 0.05) < 0.0025, `noise std ${sd}`);
  assert.ok(Math.abs(sum / a.length) < 5 * 0.05 / Math.sqrt(5000));
  // Without noise the seed does not matter.
  assert.deepEqual(dampedSine({ ...BASE, seed: 99 }).x, clean);
});

Deno.test("dampedSine rejects bad constants with UserError quoting the value", () => {
  assert.throws(
    () => dampedSine({ ...BASE, numPoints: 0 }),
    (e: Error) => e instanceof UserError && /got 0/.test(e.message),
  );
  assert.throws(
    () => dampedSine({ ...BASE, noise: -1 }),
    (e: Error) => e instanceof UserError && /"--noise".*got -1/.test(e.message),
  );
  assert.throws(
    () => dampedSine({ ...BASE, omega: NaN }),
    (e: Error) => e instanceof UserError && /"--omega".*got NaN/.test(e.message),
  );
  assert.throws(
    () => dampedSine({ ...BASE, gamma: -1000 }),
    (e: Error) => e instanceof UserError && /not finite/.test(e.message),
  );
});
