import assert from "node:assert/strict";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.ts";
import type { NamedTensors } from "../../src/io/named_tensors.ts";
import { UserError } from "../../src/util/errors.ts";

const enc = new TextEncoder();

/** Bit patterns, so -0 and NaN payloads count: "bit-identical" means exactly that. */
function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function sample(): NamedTensors {
  const odd = new Float32Array([-0, NaN, Infinity, 1e-45, 3.4028234663852886e38, 0.1]);
  new Uint32Array(odd.buffer)[1] = 0x7fc00123; // a NaN with a payload
  return new Map([
    ["model.input_embedding.weight", { shape: [4, 1], data: new Float32Array([1, -2, 3.5, 0.25]) }],
    ["10", { shape: [6], data: odd }], // an integer-like name: JS objects would move it first
    ["scalar", { shape: [], data: new Float32Array([42]) }],
    ["empty", { shape: [0, 5], data: new Float32Array(0) }],
    ["2", { shape: [2, 3], data: Float32Array.from({ length: 6 }, (_, i) => Math.sin(i)) }],
  ]);
}

/** A file with an arbitrary header object and data section. */
function file(header: unknown, data = new Uint8Array(0), pad = 0): Uint8Array {
  const json = enc.encode(JSON.stringify(header) + " ".repeat(pad));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("safetensors: round trip is bit-identical, keeps order and metadata", () => {
  const t = sample();
  const metadata = { format: "pt", step: "1200", ["__proto__"]: "x", "ünï": "✓" };
  const back = decodeSafetensors(encodeSafetensors(t, metadata));
  assert.deepEqual([...back.tensors.keys()], [...t.keys()]);
  for (const [k, v] of t) {
    const got = back.tensors.get(k)!;
    assert.deepEqual(got.shape, v.shape, k);
    assert.deepEqual(bits(got.data), bits(v.data), k);
  }
  assert.deepEqual(Object.entries(back.metadata), Object.entries(metadata));
  assert.ok(Object.hasOwn(back.metadata, "__proto__"), "a __proto__ key stays plain data");
  assert.equal(Object.getPrototypeOf(back.metadata), Object.prototype);
  assert.deepEqual(decodeSafetensors(encodeSafetensors(t)).metadata, {});
});

Deno.test("safetensors: layout is the reference one (8-byte aligned data, offsets)", () => {
  const bytes = encodeSafetensors(sample(), { a: "b" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(header.__metadata__, { a: "b" });
  assert.deepEqual(header["model.input_embedding.weight"], {
    dtype: "F32",
    shape: [4, 1],
    data_offsets: [0, 16],
  });
  assert.deepEqual(header["10"].data_offsets, [16, 40]);
  assert.equal(bytes.length, 8 + n + (4 + 6 + 1 + 0 + 6) * 4);
});

Deno.test("safetensors: encodes views and shared-memory arrays by their own bytes", () => {
  const big = new Float32Array(new SharedArrayBuffer(40)).map((_, i) => i);
  const t: NamedTensors = new Map([["v", { shape: [3], data: big.subarray(2, 5) }]]);
  assert.deepEqual(
    decodeSafetensors(encodeSafetensors(t)).tensors.get("v")!.data,
    new Float32Array([2, 3, 4]),
  );
});

Deno.test("safetensors: reads F64, F16, BF16 as float32; accepts padding and unaligned data", () => {
  const f64 = new Float64Array([0.1, -2]);
  const f16 = new Uint16Array([0x3c00, 0xc100]); // 1, -2.5
  const bf16 = new Uint16Array([0x3f80, 0xc049]); // 1, -3.140625
  const data = new Uint8Array(16 + 4 + 4);
  data.set(new Uint8Array(f64.buffer), 0);
  data.set(new Uint8Array(f16.buffer), 16);
  data.set(new Uint8Array(bf16.buffer), 20);
  const header = {
    b: { dtype: "F16", shape: [2], data_offsets: [16, 20] },
    a: { dtype: "F64", shape: [1, 2], data_offsets: [0, 16] },
    c: { dtype: "BF16", shape: [2], data_offsets: [20, 24], extra: "ignored" },
  };
  for (const pad of [0, 3, 5]) {
    const { tensors } = decodeSafetensors(file(header, data, pad));
    assert.deepEqual([...tensors.keys()], ["a", "b", "c"], "data order, not header order");
    assert.deepEqual(tensors.get("a"), { shape: [1, 2], data: new Float32Array([0.1, -2]) });
    assert.deepEqual(tensors.get("b")!.data, new Float32Array([1, -2.5]));
    assert.deepEqual(tensors.get("c")!.data, new Float32Array([1, -3.140625]));
  }
});

Deno.test("safetensors: empty file with an empty header is valid", () => {
  assert.deepEqual(decodeSafetensors(file({})), { tensors: new Map(), metadata: {} });
  assert.deepEqual(decodeSafetensors(encodeSafetensors(new Map())).tensors.size, 0);
});

Deno.test("safetensors: malformed files are UserErrors that say why", () => {
  const ok = { w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const d8 = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(5), /too short/],
    ["header past the end", file(ok, d8).subarray(0, 20), /truncated/],
    [
      "huge header length",
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true);
        return b;
      })(),
      /exceeds/,
    ],
    [
      "not json",
      (() => {
        const b = file({}, d8);
        b.set(enc.encode("{x"), 8);
        return b;
      })(),
      /invalid header JSON/,
    ],
    ["not an object", file([1, 2]), /header starts with|not a JSON object/],
    [
      "not utf-8",
      (() => {
        const b = file({ a: "zz" });
        b[14] = 0xff;
        return b;
      })(),
      /UTF-8/,
    ],
    ["data truncated", file(ok, new Uint8Array(4)), /truncated/],
    ["trailing bytes", file(ok, new Uint8Array(12)), /after the last tensor/],
    [
      "unsupported dtype",
      file({ w: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, d8),
      /Unsupported dtype "I64"/,
    ],
    [
      "size mismatch",
      file({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, d8),
      /needs 12 bytes/,
    ],
    [
      "negative shape",
      file({ w: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, d8),
      /invalid shape/,
    ],
    [
      "bad offsets",
      file({ w: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, d8),
      /data_offsets/,
    ],
    [
      "hole",
      file({ w: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, d8),
      /starts at byte 4, expected 0/,
    ],
    [
      "overlap",
      file({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
      }, d8),
      /starts at byte 4, expected 8/,
    ],
    ["missing dtype", file({ w: { shape: [2], data_offsets: [0, 8] } }, d8), /no dtype/],
    ["bad metadata", file({ __metadata__: { n: 1 } }), /metadata "n"/],
    ["entry not object", file({ w: 3 }), /not an object/],
    ["a torch zip", new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0x7b]), /exceeds|truncated/],
  ];
  for (const [what, bytes, re] of cases) {
    assert.throws(
      () => decodeSafetensors(bytes),
      (e: unknown) => e instanceof UserError && re.test((e as Error).message),
      what,
    );
  }
});

Deno.test("safetensors: every truncation and random corruption is a UserError", () => {
  const full = encodeSafetensors(sample(), { k: "v" });
  for (let n = 0; n < full.length; n++) {
    assert.throws(() => decodeSafetensors(full.subarray(0, n)), UserError, `prefix ${n}`);
  }
  let seed = 99;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const n = Number(new DataView(full.buffer).getBigUint64(0, true));
  for (let trial = 0; trial < 500; trial++) {
    const b = full.slice();
    // Corrupt the length and header, where the structure lives.
    for (let k = 0; k < 2; k++) b[Math.floor(rand() * (8 + n))] = Math.floor(rand() * 256);
    try {
      decodeSafetensors(b);
    } catch (e) {
      assert.ok(e instanceof UserError, `trial ${trial}: ${(e as Error).stack}`);
    }
  }
});

Deno.test("safetensors: encoder refuses inconsistent input", () => {
  assert.throws(
    () => encodeSafetensors(new Map([["w", { shape: [3], data: new Float32Array(2) }]])),
    RangeError,
  );
  assert.throws(
    () => encodeSafetensors(new Map([["__metadata__", { shape: [], data: new Float32Array(1) }]])),
    RangeError,
  );
  assert.throws(
    () => encodeSafetensors(new Map(), { n: 1 as unknown as string }),
    TypeError,
  );
});
