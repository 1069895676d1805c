import assert from "node:assert/strict";
import { _OP, _PickleWriter } from "../../src/io/pickle_writer.ts";
import { _PyDict, _PyGlobal, _PyObject, _unpickle } from "../../src/io/pickle.ts";

Deno.test("pickle writer: ints round-trip through every width, bit-exact", () => {
  const xs = [
    0,
    1,
    255,
    256,
    65535,
    65536,
    -1,
    -128,
    -129,
    2 ** 31 - 1,
    -(2 ** 31),
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 32,
    2 ** 40 + 7,
    -(2 ** 40),
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    128 * 2 ** 32,
  ];
  const w = new _PickleWriter();
  w.op(_OP.MARK);
  for (const x of xs) w.int(x);
  w.op(_OP.TUPLE);
  w.op(_OP.STOP);
  assert.deepEqual(_unpickle(w.finish()), xs);
});

Deno.test("pickle writer: tuples of every length, strings, globals", () => {
  const w = new _PickleWriter();
  w.op(_OP.MARK);
  for (const t of [[], [1], [1, 2], [1, 2, 3], [4, 3, 2, 1, 0]]) w.intTuple(t);
  w.str("héllo ✓");
  w.global("collections", "OrderedDict");
  w.op(_OP.EMPTY_TUPLE);
  w.op(_OP.REDUCE);
  w.global("a.b", "C");
  w.op(_OP.EMPTY_TUPLE);
  w.op(_OP.REDUCE);
  w.op(_OP.TUPLE);
  w.op(_OP.STOP);
  const out = _unpickle(w.finish()) as unknown[];
  assert.deepEqual(out.slice(0, 6), [[], [1], [1, 2], [1, 2, 3], [4, 3, 2, 1, 0], "héllo ✓"]);
  assert.ok(out[6] instanceof _PyDict);
  assert.ok(out[7] instanceof _PyObject);
  assert.ok(out[7].cls instanceof _PyGlobal);
  assert.equal(out[7].cls.qualname, "a.b.C");
});

Deno.test("pickle writer: matches CPython's protocol-2 bytes for (1, 300, 'a')", () => {
  const w = new _PickleWriter();
  w.op(_OP.MARK);
  w.int(1);
  w.int(300);
  w.str("a");
  w.op(_OP.TUPLE);
  w.op(_OP.STOP);
  // CPython: 80 02 | 4b01 | 4d2c01 | 5801000000 61 | 7100 87 7101 | 2e (memo puts, TUPLE3).
  // Ours builds the tuple with MARK … TUPLE and no memo; the item encodings are identical.
  const hex = [...w.finish()].map((b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(hex, "8002284b014d2c0158010000006174" + "2e");
});

Deno.test("pickle writer: rejects non-integers", () => {
  const w = new _PickleWriter();
  assert.throws(() => w.int(1.5), RangeError);
  assert.throws(() => w.int(2 ** 60), RangeError);
});
