import assert from "node:assert/strict";
import { makeWindows, windowCount, windowsAt } from "../../src/data/windows.ts";
import { UserError } from "../../src/util/errors.ts";

const SERIES = [10, 11, 12, 13, 14, 15, 16];

Deno.test("windowCount is n − L − K + 1, never negative", () => {
  assert.equal(windowCount(7, 3, 1), 4);
  assert.equal(windowCount(7, 3, 2), 3);
  assert.equal(windowCount(4, 3, 1), 1);
  assert.equal(windowCount(3, 3, 1), 0);
  assert.equal(windowCount(1, 3, 2), 0);
});

Deno.test("makeWindows: stride 1, inputs then the following targets (exact)", () => {
  const w = makeWindows(SERIES, 3, 1);
  assert.equal(w.count, 4);
  assert.deepEqual(Array.from(w.x), [10, 11, 12, 11, 12, 13, 12, 13, 14, 13, 14, 15]);
  assert.deepEqual(Array.from(w.y), [13, 14, 15, 16]);
  const h = makeWindows(SERIES, 2, 3);
  assert.equal(h.count, 3);
  assert.deepEqual(Array.from(h.x), [10, 11, 11, 12, 12, 13]);
  assert.deepEqual(Array.from(h.y), [12, 13, 14, 13, 14, 15, 14, 15, 16]);
  const one = makeWindows(SERIES, 6, 1);
  assert.deepEqual([one.count, Array.from(one.y)], [1, [16]]);
});

Deno.test("makeWindows takes inputs from a separate series when given (time stamps)", () => {
  const t = [0, 0.5, 1, 1.5, 2, 2.5, 3];
  const w = makeWindows(SERIES, 3, 1, t);
  assert.deepEqual(Array.from(w.x.subarray(0, 6)), [0, 0.5, 1, 0.5, 1, 1.5]);
  assert.deepEqual(Array.from(w.y), [13, 14, 15, 16]);
  assert.throws(() => makeWindows(SERIES, 3, 1, [1, 2]), RangeError);
});

Deno.test("windowsAt gathers the given starts in order and equals makeWindows rows", () => {
  const all = makeWindows(SERIES, 2, 2);
  const some = windowsAt(SERIES, 2, 2, Int32Array.of(3, 0));
  assert.equal(some.count, 2);
  assert.deepEqual(Array.from(some.x), [...all.x.subarray(6, 8), ...all.x.subarray(0, 2)]);
  assert.deepEqual(Array.from(some.y), [...all.y.subarray(6, 8), ...all.y.subarray(0, 2)]);
  assert.throws(() => windowsAt(SERIES, 2, 2, [4]), RangeError);
  assert.throws(() => windowsAt(SERIES, 2, 2, [-1]), RangeError);
});

Deno.test("values are stored as float32 (rounded, not truncated)", () => {
  const w = makeWindows([0.1, 0.2, 0.3], 2, 1);
  assert.equal(w.x[0], Math.fround(0.1));
  assert.equal(w.y[0], Math.fround(0.3));
});

Deno.test("bad lengths and a too-short series throw UserError quoting the value", () => {
  assert.throws(
    () => makeWindows(SERIES, 0, 1),
    (e: Error) =>
      e instanceof UserError &&
      e.message === 'Invalid "--seq_len": expected a positive integer, got 0',
  );
  assert.throws(
    () => makeWindows(SERIES, 2, 1.5),
    (e: Error) =>
      e instanceof UserError &&
      e.message === 'Invalid "--horizon": expected a positive integer, got 1.5',
  );
  assert.throws(() => makeWindows(SERIES, 6, 2), (e: Error) =>
    e instanceof UserError &&
    e.message ===
      "Cannot make windows: a window needs seq_len + horizon = 8 values, the series has 7");
});
