import assert from "node:assert/strict";
import { fitScaler, IDENTITY_SCALER, scale, unscale } from "../../src/data/scaler.ts";
import { UserError } from "../../src/util/errors.ts";

Deno.test("fitScaler: mean and population std (divide by n)", () => {
  const s = fitScaler([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.deepEqual(s, { mean: 5, std: 2 });
  const t = fitScaler(Float64Array.of(1, 2));
  assert.deepEqual(t, { mean: 1.5, std: 0.5 });
});

Deno.test("scale gives mean 0 and std 1 on the fitted values", () => {
  const v = Array.from({ length: 101 }, (_, i) => 3 + Math.sin(i) * 7);
  const z = scale(v, fitScaler(v));
  const back = fitScaler(z);
  // Tolerance 1e-12: float64 round-off of two passes over 101 values.
  assert.ok(Math.abs(back.mean) < 1e-12 && Math.abs(back.std - 1) < 1e-12);
});

Deno.test("unscale ∘ scale is the identity (to 1e-12 relative)", () => {
  const v = [-1e3, -2.5, 0, 1e-4, 17, 4e5];
  const s = { mean: 12.25, std: 3.5 };
  const r = unscale(scale(v, s), s);
  for (let i = 0; i < v.length; i++) {
    assert.ok(Math.abs(r[i] - v[i]) <= 1e-12 * Math.max(1, Math.abs(v[i])), `${r[i]} vs ${v[i]}`);
  }
  assert.deepEqual(Array.from(scale(v, IDENTITY_SCALER)), v);
});

Deno.test("fitScaler refuses a constant, empty or non-finite series with UserError", () => {
  assert.throws(() => fitScaler([3, 3, 3], "the series"), (e: Error) =>
    e instanceof UserError &&
    e.message ===
      'Cannot normalize the series: all 3 values equal 3 (std 0); pass "--normalize none" to train on a constant series');
  assert.throws(() => fitScaler([]), UserError);
  assert.throws(
    () => fitScaler([1, NaN]),
    (e: Error) => e instanceof UserError && /value 1 is NaN/.test(e.message),
  );
});
