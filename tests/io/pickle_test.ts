import assert from "node:assert/strict";
import { _PyDict, type _PyGlobal, _PyObject, _unpickle } from "../../src/io/pickle.ts";
import { UserError } from "../../src/util/errors.ts";

// CPython 3.11 `pickle.dumps(obj, protocol=p).hex()` of
//   obj = {"i": [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31, 2**40, -2**70], "f": 1.5,
//          "s": "héllo", "b": b"\x00\xff", "t": (1, (2, 3), ()), "n": None, "yes": True,
//          "no": False, "od": OrderedDict([("x", 1), ("y", [1, 2])]), "set": {7},
//          "fs": frozenset([8])}; shared = [1, 2]; obj["shared"] = (shared, shared)
const PICKLES: Record<number, string> = {
  0: "286470300a56690a70310a286c70320a49300a6149310a61492d310a61493235350a61493235360a614936353533350a614936353533360a61492d323134373438333634380a614c323134373438333634384c0a614c313039393531313632373737364c0a614c2d313138303539313632303731373431313330333432344c0a617356660a70330a46312e350a7356730a70340a5668e96c6c6f0a70350a7356620a70360a635f636f646563730a656e636f64650a70370a28565c7530303030ff0a70380a566c6174696e310a70390a747031300a527031310a7356740a7031320a2849310a2849320a49330a747031330a2874747031340a73566e0a7031350a4e73567965730a7031360a4930310a73566e6f0a7031370a4930300a73566f640a7031380a63636f6c6c656374696f6e730a4f726465726564446963740a7031390a2874527032300a56780a7032310a49310a7356790a7032320a286c7032330a49310a6149320a617373567365740a7032340a635f5f6275696c74696e5f5f0a7365740a7032350a28286c7032360a49370a61747032370a527032380a735666730a7032390a635f5f6275696c74696e5f5f0a66726f7a656e7365740a7033300a28286c7033310a49380a61747033320a527033330a73567368617265640a7033340a28286c7033350a49310a6149320a616733350a747033360a732e",
  2: "80027d71002858010000006971015d7102284b004b014affffffff4bff4d00014dffff4a000001004a000000808a0500000080008a060000000000018a090000000000000000c0655801000000667103473ff80000000000005801000000737104580600000068c3a96c6c6f71055801000000627106635f636f646563730a656e636f64650a7107580300000000c3bf710858060000006c6174696e31710986710a52710b580100000074710c4b014b024b0386710d2987710e58010000006e710f4e580300000079657371108858020000006e6f71118958020000006f64711263636f6c6c656374696f6e730a4f726465726564446963740a7113295271142858010000007871154b0158010000007971165d7117284b014b02657558030000007365747118635f5f6275696c74696e5f5f0a7365740a71195d711a4b076185711b52711c58020000006673711d635f5f6275696c74696e5f5f0a66726f7a656e7365740a711e5d711f4b0861857120527121580600000073686172656471225d7123284b014b02656823867124752e",
  4: "800495eb000000000000007d94288c0169945d94284b004b014affffffff4bff4d00014dffff4a000001004a000000808a0500000080008a060000000000018a090000000000000000c0658c016694473ff80000000000008c0173948c0668c3a96c6c6f948c016294430200ff948c0174944b014b024b0386942987948c016e944e8c0379657394888c026e6f94898c026f64948c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0178944b018c0179945d94284b014b0265758c03736574948f94284b07908c02667394284b0891948c06736861726564945d94284b014b0265681b8694752e",
  5: "800595eb000000000000007d94288c0169945d94284b004b014affffffff4bff4d00014dffff4a000001004a000000808a0500000080008a060000000000018a090000000000000000c0658c016694473ff80000000000008c0173948c0668c3a96c6c6f948c016294430200ff948c0174944b014b024b0386942987948c016e944e8c0379657394888c026e6f94898c026f64948c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0178944b018c0179945d94284b014b0265758c03736574948f94284b07908c02667394284b0891948c06736861726564945d94284b014b0265681b8694752e",
};

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g)!, (h) => parseInt(h, 16));
}

for (const [protocol, text] of Object.entries(PICKLES)) {
  Deno.test(`unpickle: CPython protocol ${protocol} decodes every value exactly`, () => {
    const top = _unpickle(hex(text));
    assert.ok(top instanceof _PyDict);
    const g = (k: string) => top.items.get(k);
    assert.deepEqual([...top.items.keys()], [
      "i",
      "f",
      "s",
      "b",
      "t",
      "n",
      "yes",
      "no",
      "od",
      "set",
      "fs",
      "shared",
    ]);
    assert.deepEqual(g("i"), [
      0,
      1,
      -1,
      255,
      256,
      65535,
      65536,
      -(2 ** 31),
      2 ** 31,
      2 ** 40,
      -(2n ** 70n),
    ]);
    assert.equal(g("f"), 1.5);
    assert.equal(g("s"), "héllo");
    assert.deepEqual(g("b"), new Uint8Array([0, 255]));
    assert.deepEqual(g("t"), [1, [2, 3], []]);
    assert.equal(g("n"), null);
    assert.equal(g("yes"), true);
    assert.equal(g("no"), false);
    const od = g("od");
    assert.ok(od instanceof _PyDict);
    assert.deepEqual([...od.items], [["x", 1], ["y", [1, 2]]]);
    assert.deepEqual(g("set"), new Set([7]));
    assert.deepEqual(g("fs"), new Set([8]));
    const shared = g("shared") as unknown[][];
    assert.deepEqual(shared[0], [1, 2]);
    assert.equal(shared[0], shared[1], "the memo keeps identity");
  });
}

Deno.test("unpickle: unknown classes stay inert objects with their state", () => {
  // pickle.dumps(argparse.Namespace(lr=0.5), protocol=2)
  const bytes = hex(
    "80026361726770617273650a4e616d6573706163650a7100298171017d710258020000006c727103473fe000000000000073622e",
  );
  const o = _unpickle(bytes);
  assert.ok(o instanceof _PyObject);
  assert.equal(o.cls.qualname, "argparse.Namespace");
  assert.ok(o.state instanceof _PyDict);
  assert.equal(o.state.items.get("lr"), 0.5);
});

Deno.test("unpickle: reduce and persistent_load hooks see the calls", () => {
  // GLOBAL m f, MARK, BINUNICODE "k", TUPLE, BINPERSID, TUPLE1, REDUCE, STOP
  const bytes = hex("8002636d0a660a2858010000006b74518552" + "2e");
  const seen: unknown[] = [];
  const out = _unpickle(bytes, {
    persistentLoad: (pid) => {
      seen.push(pid);
      return "storage";
    },
    reduce: (cls: _PyGlobal, args) => `${cls.qualname}(${args.join()})`,
  });
  assert.deepEqual(seen, [["k"]]);
  assert.equal(out, "m.f(storage)");
});

Deno.test("unpickle: every truncation of a valid pickle is a UserError", () => {
  for (const text of Object.values(PICKLES)) {
    const full = hex(text);
    for (let n = 0; n < full.length; n++) {
      assert.throws(() => _unpickle(full.subarray(0, n)), UserError, `prefix of ${n} bytes`);
    }
  }
});

Deno.test("unpickle: malformed opcodes are UserErrors, not crashes", () => {
  const bad: [string, RegExp][] = [
    ["80022e", /stack underflow/], // STOP on an empty stack
    ["8002682a2e", /memo entry 42/], // BINGET of nothing
    ["8002ff2e", /unsupported opcode 0xff/],
    ["800265", /no MARK|underflow/], // APPENDS without MARK
    ["80024b01612e", /underflow|non-list/], // APPEND to an int
    ["8002284b0175", /non-dict|underflow/], // SETITEMS without a dict
    ["8002284b0164", /odd number/], // DICT of one key and no value
    ["8002514e2e", /underflow|persistent/], // BINPERSID without a hook
    ["8006", /protocol 6/],
    ["8002284b0152", /underflow|not a class|tuple/], // REDUCE of a non-class
  ];
  for (const [h, re] of bad) {
    assert.throws(
      () => _unpickle(hex(h)),
      (e: unknown) => e instanceof UserError && re.test((e as Error).message),
      h,
    );
  }
  // DICT with a whole number of pairs is valid.
  const d = _unpickle(hex("8002284b014b02642e"));
  assert.ok(d instanceof _PyDict);
  assert.equal(d.items.get(1), 2);
});

Deno.test("unpickle: random corruptions only ever throw UserError", () => {
  let seed = 12345;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (const text of Object.values(PICKLES)) {
    const full = hex(text);
    for (let trial = 0; trial < 300; trial++) {
      const b = full.slice();
      for (let k = 0; k < 3; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      try {
        _unpickle(b);
      } catch (e) {
        assert.ok(e instanceof UserError, `trial ${trial}: ${(e as Error).stack}`);
      }
    }
  }
});
