import assert from "node:assert/strict";
import { Heap } from "../../src/engine/heap.ts";

Deno.test("heap: allocations are 64-byte aligned, zeroed and disjoint", () => {
  const h = new Heap();
  const a = h.alloc(3), b = h.alloc(17);
  assert.equal(a % 64, 0);
  assert.equal(b % 64, 0);
  assert.ok(b >= a + 12);
  h.view(a, 3).fill(7);
  assert.deepEqual(Array.from(h.read(b, 17)), new Array(17).fill(0));
});

Deno.test("heap: mark/release frees in bulk and re-zeroes reused memory", () => {
  const h = new Heap();
  const m = h.mark();
  const p = h.alloc(100);
  h.view(p, 100).fill(1);
  h.release(m);
  assert.equal(h.used, 0);
  const q = h.alloc(100);
  assert.equal(q, p);
  assert.equal(h.read(q, 100).reduce((s, v) => s + v, 0), 0);
  assert.throws(() => h.release(q + 1_000_000), /Cannot release heap mark/);
});

Deno.test("heap: grows past its initial size and refreshes views", () => {
  const h = new Heap();
  const before = h.memory.buffer.byteLength;
  const p = h.alloc(before); // 4× the initial bytes
  assert.ok(h.memory.buffer.byteLength > before);
  h.f32[(p >> 2) + before - 1] = 3;
  assert.equal(h.read(p + (before - 1) * 4, 1)[0], 3);
});

Deno.test("heap: refuses bad sizes", () => {
  const h = new Heap();
  assert.throws(() => h.alloc(-1), /Cannot allocate -1 floats/);
  assert.throws(() => h.alloc(1.5), /Cannot allocate 1.5 floats/);
  assert.throws(() => h.alloc(2 ** 31), /Cannot grow the heap/);
});
