import assert from "node:assert/strict";
import type { Backend } from "../../src/engine/backend.ts";
import { dropoutBackward, dropoutForward } from "../../src/ops/dropout.ts";
import { UserError } from "../../src/util/errors.ts";
import { Rng } from "../../src/util/rng.ts";
import { put, randn, withBackend } from "../_helpers.ts";

const SIZES = [1, 7, 13, 50, 65, 257];

/** [forward output, dinp after backward] for inputs x, upstream gradient g, initial dinp d0. */
function run(
  be: Backend,
  x: Float32Array,
  g: Float32Array,
  d0: Float32Array,
  p: number,
  k0: number,
  k1: number,
): Float32Array[] {
  const n = x.length, px = put(be, x), pg = put(be, g), pd = put(be, d0), out = be.heap.alloc(n);
  dropoutForward(be, out, px, n, p, k0, k1);
  dropoutBackward(be, pd, pg, n, p, k0, k1);
  return [be.heap.read(out, n), be.heap.read(pd, n)];
}

Deno.test("dropout keeps a fraction 1 − p of the elements (within 5 standard deviations)", () => {
  const n = 200_000;
  for (const p of [0.1, 0.5, 0.9]) {
    const [out] = withBackend(
      "wasm",
      1,
      (be) =>
        run(be, new Float32Array(n).fill(1), new Float32Array(n), new Float32Array(n), p, 99, 7),
    );
    const scale = Math.fround(1 / Math.fround(1 - Math.fround(p)));
    let kept = 0;
    for (const v of out) {
      if (v !== 0) {
        assert.equal(v, scale);
        kept++;
      }
    }
    const sd = Math.sqrt(p * (1 - p) / n);
    assert.ok(Math.abs(kept / n - (1 - p)) <= 5 * sd, `p=${p}: kept ${kept / n}`);
  }
});

Deno.test("dropout masks are identical in ref and wasm, odd sizes, and backward uses the same mask", () => {
  const rng = new Rng(30);
  for (const n of SIZES) {
    const x = randn(rng, n), g = randn(rng, n), d0 = randn(rng, n);
    const [k0, k1] = [rng.nextU32(), rng.nextU32()];
    const r = withBackend("ref", 1, (be) => run(be, x, g, d0, 0.3, k0, k1));
    const w = withBackend("wasm", 1, (be) => run(be, x, g, d0, 0.3, k0, k1));
    assert.deepEqual(w, r, `n=${n}`);
    const scale = Math.fround(1 / Math.fround(1 - Math.fround(0.3)));
    for (let i = 0; i < n; i++) {
      const kept = r[0][i] !== 0;
      assert.equal(r[0][i], kept ? Math.fround(x[i] * scale) : 0);
      assert.equal(r[1][i], kept ? Math.fround(d0[i] + Math.fround(g[i] * scale)) : d0[i]);
    }
  }
});

Deno.test("dropout: 1 and 2 wasm threads give identical bits; other keys give another mask", () => {
  const rng = new Rng(31);
  const n = 300_001, x = randn(rng, n), g = randn(rng, n), d0 = randn(rng, n);
  const one = withBackend("wasm", 1, (be) => run(be, x, g, d0, 0.1, 0xdeadbeef, 12345));
  const two = withBackend("wasm", 2, (be) => run(be, x, g, d0, 0.1, 0xdeadbeef, 12345));
  assert.deepEqual(two, one);
  const other = withBackend("wasm", 2, (be) => run(be, x, g, d0, 0.1, 0xdeadbeef, 12346));
  let same = 0;
  for (let i = 0; i < n; i++) if ((other[0][i] === 0) === (one[0][i] === 0)) same++;
  // Independent masks with p = 0.1 agree on 0.9² + 0.1² = 82 % of the elements.
  assert.ok(Math.abs(same / n - 0.82) < 0.01, `agreement ${same / n}`);
});

Deno.test("dropout with p = 0 copies (also in place) and its backward adds dout", () => {
  for (const name of ["ref", "wasm"] as const) {
    withBackend(name, 1, (be) => {
      const x = Float32Array.from([1, -2, 3, 4.5, 5]), px = put(be, x), out = be.heap.alloc(5);
      dropoutForward(be, out, px, 5, 0, 1, 2);
      assert.deepEqual(be.heap.read(out, 5), x);
      dropoutForward(be, px, px, 5, 0, 1, 2);
      assert.deepEqual(be.heap.read(px, 5), x);
      dropoutBackward(be, out, px, 5, 0, 1, 2);
      assert.deepEqual(Array.from(be.heap.read(out, 5)), [2, -4, 6, 9, 10]);
    });
  }
});

Deno.test("dropout in place equals dropout out of place", () => {
  const x = randn(new Rng(32), 1001);
  withBackend("wasm", 1, (be) => {
    const a = put(be, x), b = put(be, x), out = be.heap.alloc(1001);
    dropoutForward(be, out, a, 1001, 0.25, 5, 6);
    dropoutForward(be, b, b, 1001, 0.25, 5, 6);
    assert.deepEqual(be.heap.read(b, 1001), be.heap.read(out, 1001));
  });
});

Deno.test("dropout rejects p outside [0, 1) and keys that are not uint32", () => {
  withBackend("ref", 1, (be) => {
    assert.throws(() => dropoutForward(be, 64, 64, 1, 1, 0, 0), UserError);
    assert.throws(() => dropoutForward(be, 64, 64, 1, -0.1, 0, 0), /-0\.1/);
    assert.throws(() => dropoutBackward(be, 64, 64, 1, NaN, 0, 0), UserError);
    assert.throws(() => dropoutForward(be, 64, 64, 1, 0.1, 2 ** 32, 0), /4294967296/);
  });
});
