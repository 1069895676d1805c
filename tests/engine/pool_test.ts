import assert from "node:assert/strict";
import { createBackend } from "../../src/engine/backend.ts";
import { Heap } from "../../src/engine/heap.ts";
import { Pool } from "../../src/engine/pool.ts";

// The residual kernels are the simplest real kernels: `accumulate(dst, src, n, chunk, t0, t1)`.
const CHUNK = 64;

function fillRandom(a: Float32Array, seed: number): void {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
}

Deno.test("pool: every task runs exactly once, for task counts below and above the thread count", () => {
  for (const threads of [2, 3]) {
    const be = createBackend("wasm", { threads });
    try {
      for (const n of [1, 63, 64, 65, 64 * 2, 64 * 5 + 3, 10_000]) {
        const dst = be.heap.alloc(n), src = be.heap.alloc(n);
        be.heap.view(src, n).fill(1);
        const tasks = Math.ceil(n / CHUNK);
        // flopsPerTask Infinity forces the pool even for tiny jobs.
        be.run("accumulate", tasks, [dst, src, n, CHUNK], Infinity);
        be.run("accumulate", tasks, [dst, src, n, CHUNK], Infinity);
        const out = be.heap.read(dst, n);
        assert.ok(out.every((v) => v === 2), `threads ${threads}, n ${n}`);
      }
    } finally {
      be.close();
    }
  }
});

Deno.test("pool: 1 thread and 2 threads give bit-identical results", () => {
  const n = 50_000;
  const src = new Float32Array(n);
  fillRandom(src, 7);
  const results = [1, 2].map((threads) => {
    const be = createBackend("wasm", { threads });
    try {
      const d = be.heap.alloc(n), s = be.heap.alloc(n);
      be.heap.write(s, src);
      for (let r = 0; r < 5; r++) {
        be.run("accumulate", Math.ceil(n / CHUNK), [d, s, n, CHUNK], Infinity);
        be.run("scale_inplace", Math.ceil(n / CHUNK), [d, n, 0.3, CHUNK], Infinity);
      }
      return be.heap.read(d, n);
    } finally {
      be.close();
    }
  });
  assert.deepEqual(new Uint32Array(results[0].buffer), new Uint32Array(results[1].buffer));
});

Deno.test("pool: workers see memory grown after they started", () => {
  const be = createBackend("wasm", { threads: 2 });
  try {
    be.run("accumulate", 1, [be.heap.alloc(4), be.heap.alloc(4), 4, CHUNK], Infinity);
    const n = 4_000_000; // 16 MB: beyond the initial 1 MB, so the memory grows
    const dst = be.heap.alloc(n), src = be.heap.alloc(n);
    be.heap.view(src, n).fill(0.5);
    be.run("accumulate", Math.ceil(n / CHUNK), [dst, src, n, CHUNK], Infinity);
    const out = be.heap.read(dst, n);
    assert.equal(out[0], 0.5);
    assert.equal(out[n - 1], 0.5);
  } finally {
    be.close();
  }
});

Deno.test("pool: a trap in a worker surfaces as an error and the pool keeps working", () => {
  const be = createBackend("wasm", { threads: 2 });
  try {
    const bad = 0xfffffff0; // past the end of memory
    assert.throws(
      () => be.run("accumulate", 4, [bad, bad, 4 * CHUNK, CHUNK], Infinity),
      /out of bounds|failed in a worker thread/,
    );
    const d = be.heap.alloc(CHUNK * 4), s = be.heap.alloc(CHUNK * 4);
    be.heap.view(s, CHUNK * 4).fill(1);
    be.run("accumulate", 4, [d, s, CHUNK * 4, CHUNK], Infinity);
    assert.ok(be.heap.read(d, CHUNK * 4).every((v) => v === 1));
  } finally {
    be.close();
  }
});

Deno.test("pool: unknown kernels and bad thread counts are refused", () => {
  assert.throws(() => createBackend("wasm", { threads: 0 }), /Cannot use 0 threads/);
  const be = createBackend("wasm", { threads: 2 });
  try {
    assert.throws(() => be.run("no_such_kernel", 1, []), /Unknown kernel "no_such_kernel"/);
  } finally {
    be.close();
  }
  assert.throws(() => createBackend("gpu" as never), /Unknown backend "gpu"/);
});

Deno.test("pool: starting and closing many pools leaks nothing", () => {
  for (let i = 0; i < 5; i++) {
    const be = createBackend("wasm", { threads: 2 });
    be.run("accumulate", 2, [be.heap.alloc(128), be.heap.alloc(128), 128, CHUNK], Infinity);
    be.close();
    be.close(); // idempotent
  }
});

Deno.test("pool: a worker that cannot start is an error, not a hang", () => {
  // (module (import "env" "foo" (func)) (func (export "k"))): the workers provide no env.foo,
  // so instantiation fails on every worker thread.
  const bytes = new Uint8Array([
    0,
    97,
    115,
    109,
    1,
    0,
    0,
    0,
    1,
    4,
    1,
    96,
    0,
    0,
    2,
    11,
    1,
    3,
    101,
    110,
    118,
    3,
    102,
    111,
    111,
    0,
    0,
    3,
    2,
    1,
    0,
    7,
    5,
    1,
    1,
    107,
    0,
    1,
    10,
    4,
    1,
    2,
    0,
    11,
  ]);
  const heap = new Heap();
  const pool = new Pool(new WebAssembly.Module(bytes), heap, 2, { k: () => {} });
  try {
    assert.throws(() => pool.run("k", 2, []), /could not instantiate the Wasm kernels/);
    assert.throws(() => pool.run("k", 2, []), /the thread pool is closed/);
  } finally {
    pool.close();
  }
});
