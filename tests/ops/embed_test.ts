import assert from "node:assert/strict";
import type { Backend } from "../../src/engine/backend.ts";
import { embedBackward, embedForward } from "../../src/ops/embed.ts";
import { UserError } from "../../src/util/errors.ts";
import { Rng } from "../../src/util/rng.ts";
import { put, randn, withBackend } from "../_helpers.ts";

/** (B, L, D) covering the odd sizes 1, 7, 13, 50, 65, 257. */
const SHAPES: [number, number, number][] = [[1, 1, 1], [7, 13, 50], [13, 7, 65], [1, 257, 7], [
  2,
  50,
  13,
], [1, 65, 257]];

interface Case {
  B: number;
  L: number;
  D: number;
  x: Float32Array;
  w: Float32Array;
  b: Float32Array;
  pe: Float32Array;
  dout: Float32Array;
  dw0: Float32Array;
  db0: Float32Array;
}

function makeCase(rng: Rng, B: number, L: number, D: number): Case {
  return {
    B,
    L,
    D,
    x: randn(rng, B * L),
    w: randn(rng, D),
    b: randn(rng, D),
    pe: randn(rng, L * D),
    dout: randn(rng, B * L * D),
    dw0: randn(rng, D),
    db0: randn(rng, D),
  };
}

/** [out with pe, out without pe, dweight, dbias]. */
function run(be: Backend, k: Case): Float32Array[] {
  const { B, L, D } = k, n = B * L * D;
  const x = put(be, k.x), w = put(be, k.w), b = put(be, k.b), pe = put(be, k.pe);
  const dout = put(be, k.dout), dw = put(be, k.dw0), db = put(be, k.db0);
  const out = be.heap.alloc(n), out0 = be.heap.alloc(n);
  embedForward(be, out, x, w, b, pe, B, L, D);
  embedForward(be, out0, x, w, b, 0, B, L, D);
  embedBackward(be, dw, db, dout, x, B, L, D);
  return [be.heap.read(out, n), be.heap.read(out0, n), be.heap.read(dw, D), be.heap.read(db, D)];
}

Deno.test("embed forward and backward: wasm and ref give identical bits on odd sizes", () => {
  const rng = new Rng(40);
  for (const [B, L, D] of SHAPES) {
    const k = makeCase(rng, B, L, D);
    assert.deepEqual(
      withBackend("wasm", 1, (be) => run(be, k)),
      withBackend("ref", 1, (be) => run(be, k)),
      `B=${B} L=${L} D=${D}`,
    );
  }
});

Deno.test("embed forward is x·w + b + pe to 1e-6·(1 + |y|) (float64 reference)", () => {
  const rng = new Rng(41);
  for (const [B, L, D] of SHAPES) {
    const k = makeCase(rng, B, L, D);
    const [out, out0] = withBackend("wasm", 1, (be) => run(be, k));
    for (let r = 0; r < B * L; r++) {
      for (let d = 0; d < D; d++) {
        const y0 = k.x[r] * k.w[d] + k.b[d], y = y0 + k.pe[(r % L) * D + d];
        assert.ok(Math.abs(out[r * D + d] - y) <= 1e-6 * (1 + Math.abs(y)), `[${r},${d}]`);
        assert.ok(Math.abs(out0[r * D + d] - y0) <= 1e-6 * (1 + Math.abs(y0)), `no pe [${r},${d}]`);
      }
    }
  }
});

Deno.test("embed backward accumulates central differences of the float64 loss Σ dout·out (tol 1e-5·(1 + |g|))", () => {
  const rng = new Rng(42);
  const h = 1e-3;
  for (const [B, L, D] of SHAPES) {
    const k = makeCase(rng, B, L, D);
    const [, , dw, db] = withBackend("wasm", 1, (be) => run(be, k));
    const w = Float64Array.from(k.w), b = Float64Array.from(k.b);
    const loss = (): number => {
      let s = 0;
      for (let r = 0; r < B * L; r++) {
        for (let d = 0; d < D; d++) {
          s += k.dout[r * D + d] * (k.x[r] * w[d] + b[d] + k.pe[(r % L) * D + d]);
        }
      }
      return s;
    };
    for (
      const [name, p, g, init] of [["dweight", w, dw, k.dw0], ["dbias", b, db, k.db0]] as const
    ) {
      for (let d = 0; d < D; d++) {
        const p0 = p[d];
        p[d] = p0 + h;
        const up = loss();
        p[d] = p0 - h;
        const dn = loss();
        p[d] = p0;
        const want = init[d] + (up - dn) / (2 * h);
        assert.ok(
          Math.abs(g[d] - want) <= 1e-5 * (1 + Math.abs(want)),
          `${name}[${d}] B=${B} L=${L} D=${D}: ${g[d]} vs ${want}`,
        );
      }
    }
  }
});

Deno.test("embed: 1 and 2 wasm threads give identical bits", () => {
  const k = makeCase(new Rng(43), 32, 64, 64);
  assert.deepEqual(
    withBackend("wasm", 2, (be) => run(be, k)),
    withBackend("wasm", 1, (be) => run(be, k)),
  );
});

Deno.test("embed rejects a bad shape with a UserError", () => {
  withBackend("ref", 1, (be) => {
    assert.throws(() => embedForward(be, 64, 64, 64, 64, 0, 1, 0, 4), /L = 0/);
    assert.throws(() => embedBackward(be, 64, 64, 64, 64, 1, 2, 2.5), UserError);
  });
});
