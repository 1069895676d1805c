import assert from "node:assert/strict";
import { decodePth, encodePth } from "../../src/io/pth.ts";
import type { NamedTensors } from "../../src/io/named_tensors.ts";
import { _PyDict, _unpickle } from "../../src/io/pickle.ts";
import { _OP, _PickleWriter } from "../../src/io/pickle_writer.ts";
import { _writeZipStored, _ZipReader } from "../../src/io/zip.ts";
import { UserError } from "../../src/util/errors.ts";

const FIXTURES = new URL("../fixtures/pth/", import.meta.url);
const fixture = (name: string): Uint8Array => Deno.readFileSync(new URL(name, FIXTURES));

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function sample(): NamedTensors {
  const odd = new Float32Array([-0, NaN, Infinity, 1e-45, -3.4028234663852886e38]);
  new Uint32Array(odd.buffer)[1] = 0x7fc00123;
  return new Map([
    ["model.input_embedding.weight", { shape: [4, 1], data: new Float32Array([1, -2, 3.5, 0.25]) }],
    ["7", { shape: [5], data: odd }],
    ["scalar", { shape: [], data: new Float32Array([42]) }],
    ["empty", { shape: [0, 3], data: new Float32Array(0) }],
    ["four_d", { shape: [2, 1, 3, 2], data: Float32Array.from({ length: 12 }, (_, i) => i / 3) }],
    ["big", {
      shape: [70, 300],
      data: Float32Array.from({ length: 21000 }, (_, i) => Math.cos(i)),
    }],
  ]);
}

function assertSame(got: NamedTensors, want: NamedTensors): void {
  assert.deepEqual([...got.keys()], [...want.keys()]);
  for (const [k, v] of want) {
    assert.deepEqual(got.get(k)!.shape, v.shape, k);
    assert.deepEqual(bits(got.get(k)!.data), bits(v.data), k);
  }
}

Deno.test("pth: encode → decode is bit-identical and keeps order", () => {
  assertSame(decodePth(encodePth(sample())), sample());
  assert.equal(decodePth(encodePth(new Map())).size, 0);
});

Deno.test("pth: encoded layout is torch's (members, 64-byte aligned storages, OrderedDict)", () => {
  const bytes = encodePth(sample());
  assert.deepEqual(bytes, encodePth(sample()), "deterministic");
  const zip = new _ZipReader(bytes);
  assert.deepEqual(zip.names, [
    "archive/data.pkl",
    "archive/byteorder",
    ...[0, 1, 2, 3, 4, 5].map((i) => `archive/data/${i}`),
    "archive/version",
  ]);
  for (const n of zip.names.filter((n) => n.includes("/data/"))) {
    assert.equal(zip.read(n)!.byteOffset % 64, 0, n);
  }
  assert.equal(new TextDecoder().decode(zip.read("archive/byteorder")), "little");
  assert.equal(new TextDecoder().decode(zip.read("archive/version")), "3\n");
  const top = _unpickle(zip.read("archive/data.pkl")!, {
    persistentLoad: (pid) => pid,
    reduce: (cls, args) => cls.name === "_rebuild_tensor_v2" ? args : undefined,
  });
  assert.ok(top instanceof _PyDict);
  const [storage, offset, size, stride, requiresGrad] = top.items.get("four_d") as unknown[];
  assert.equal((storage as unknown[])[0], "storage");
  assert.equal((storage as unknown[])[2], "4");
  assert.equal((storage as unknown[])[4], 12);
  assert.deepEqual([offset, size, stride, requiresGrad], [0, [2, 1, 3, 2], [6, 6, 2, 1], false]);
});

const D = 8;
const BLOCK: [string, number[]][] = [
  ["attn.et_gate", [1, 1, 1]],
  ["attn.is_gate", [1, 1, 1]],
  ["attn.time_bias", [1, 1, 500]],
  ...["query", "key", "value", "out_proj"].flatMap((n): [string, number[]][] => [
    [`attn.${n}.weight`, [D, D]],
    [`attn.${n}.bias`, [D]],
  ]),
  ["norm1.weight", [D]],
  ["norm1.bias", [D]],
  ["ffn.0.weight", [4 * D, D]],
  ["ffn.0.bias", [4 * D]],
  ["ffn.3.weight", [D, 4 * D]],
  ["ffn.3.bias", [D]],
  ["norm2.weight", [D]],
  ["norm2.bias", [D]],
];
/** Spec §6 names of an `original` model (D=8, one block, horizon 1), in spec §7 order. */
const REFERENCE: [string, number[]][] = [
  ["input_embedding.weight", [D, 1]],
  ["input_embedding.bias", [D]],
  ...BLOCK.map(([n, s]): [string, number[]] => [`blocks.0.${n}`, s]),
  ["output_layer.0.weight", [D / 2, D]],
  ["output_layer.0.bias", [D / 2]],
  ["output_layer.3.weight", [1, D / 2]],
  ["output_layer.3.bias", [1]],
];

Deno.test("pth fixture: reference-style state dict with model. prefix (torch 1.13)", () => {
  const t = decodePth(fixture("reference_style.pth"));
  assert.deepEqual([...t.keys()], REFERENCE.map(([n]) => `model.${n}`));
  // Values are the spec §7 formula computed by torch in float64 then rounded to float32; our
  // Math.sin may differ from glibc's in the last double bit, hence 1e-7 (≈3 float32 ulp at 0.25).
  // time_bias is torch.linspace(-1, 1, 500) in float32, same tolerance.
  REFERENCE.forEach(([n, shape], j) => {
    const x = t.get(`model.${n}`)!;
    assert.deepEqual(x.shape, shape, n);
    for (let k = 0; k < x.data.length; k++) {
      const want = n.endsWith("time_bias")
        ? -1 + (2 * k) / 499
        : 0.25 * Math.sin(0.5 + 0.7 * j + 0.31 * k);
      assert.ok(Math.abs(x.data[k] - want) <= 1e-7, `${n}[${k}]: ${x.data[k]} vs ${want}`);
    }
  });
});

Deno.test("pth fixture: views — transposes, offsets, steps, broadcasts, shared storages", () => {
  const t = decodePth(fixture("views.pth"));
  const base = (r: number, c: number) => (r * 6 + c) / 4; // arange(24).reshape(4, 6) / 4
  const grid = (rows: number, cols: number, f: (r: number, c: number) => number) =>
    Float32Array.from({ length: rows * cols }, (_, i) => f(Math.floor(i / cols), i % cols));
  const want: NamedTensors = new Map([
    ["transposed", { shape: [6, 4], data: grid(6, 4, (r, c) => base(c, r)) }],
    ["block", { shape: [2, 3], data: grid(2, 3, (r, c) => base(r + 1, c + 2)) }],
    ["every_other", { shape: [4, 3], data: grid(4, 3, (r, c) => base(r, 2 * c)) }],
    ["head", { shape: [4], data: new Float32Array([0, 0.5, 1, 1.5]) }],
    ["tail", { shape: [6], data: new Float32Array([2, 2.5, 3, 3.5, 4, 4.5]) }],
    ["broadcast", { shape: [2, 3], data: new Float32Array([1, 2, 3, 1, 2, 3]) }],
    ["scalar", { shape: [], data: new Float32Array([3.25]) }],
    ["empty", { shape: [0, 3], data: new Float32Array(0) }],
  ]);
  assertSame(t, want);
});

Deno.test("pth fixture: float64, float16, bfloat16 convert to float32 exactly", () => {
  const t = decodePth(fixture("dtypes.pth"));
  const tenth = (ks: number[]) => Float32Array.from(ks, (k) => k * 0.1);
  assertSame(
    t,
    new Map([
      ["f64", { shape: [3, 4], data: tenth([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]) }],
      ["f64_view", { shape: [2, 2], data: tenth([5, 7, 9, 11]) }],
      ["f16", {
        shape: [8],
        data: new Float32Array([0, -0, 1, -2.5, 65504, 2 ** -14, 2 ** -24, 0.0999755859375]),
      }],
      ["bf16", { shape: [5], data: new Float32Array([1, -3.140625, 2 ** -126, 2 ** 100, -0.5]) }],
    ]),
  );
});

Deno.test("pth fixture: nested checkpoints pick the state dict", () => {
  const weight = new Float32Array([1, 2, 3, 4, 5, 6].map((x) => x / 8));
  const plain: NamedTensors = new Map([
    ["weight", { shape: [2, 3], data: weight }],
    ["bias", { shape: [2], data: new Float32Array([-1, 0.5]) }],
  ]);
  const prefixed: NamedTensors = new Map([...plain].map(([k, v]) => [`model.${k}`, v]));
  // {"epoch", "model_state_dict", "optimizer_state_dict", "config", argparse.Namespace, …}
  assertSame(decodePth(fixture("nested_model_state_dict.pth")), plain);
  // Lightning style: {"state_dict": {"model.…"}, "hyper_parameters", …}
  assertSame(decodePth(fixture("nested_state_dict.pth")), prefixed);
  assertSame(decodePth(fixture("nested_model.pth")), plain);
  // pickle protocol 4: frames, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL
  assertSame(decodePth(fixture("protocol4.pth")), plain);
});

Deno.test("pth fixture: files we cannot use are refused with a reason", () => {
  const cases: [string, RegExp][] = [
    ["legacy.pth", /legacy .*re-save it with torch>=1\.6/],
    ["int64.pth", /Unsupported dtype for tensor "steps": storage type LongStorage/],
    ["whole_module.pth", /torch\.nn\.modules\.linear\.Linear.*model\.state_dict\(\)/],
  ];
  for (const [name, re] of cases) {
    assert.throws(
      () => decodePth(fixture(name)),
      (e: unknown) => e instanceof UserError && re.test((e as Error).message),
      name,
    );
  }
});

/** A torch-style archive from a hand-written pickle body (between PROTO and STOP). */
function craft(
  body: (w: _PickleWriter) => void,
  storages: Record<string, Uint8Array>,
  byteorder = "little",
): Uint8Array {
  const w = new _PickleWriter();
  body(w);
  w.op(_OP.STOP);
  return _writeZipStored([
    { name: "m/data.pkl", data: w.finish() },
    { name: "m/byteorder", data: new TextEncoder().encode(byteorder) },
    ...Object.entries(storages).map(([k, data]) => ({ name: `m/data/${k}`, data })),
  ]);
}

/** `{name: _rebuild(storage(type, key), offset, size, stride)}` with one entry. */
function oneTensor(
  name: string,
  type: string,
  key: string,
  offset: number,
  size: number[],
  stride: number[],
  rebuild = "_rebuild_tensor_v2",
  dtype?: string,
): (w: _PickleWriter) => void {
  return (w) => {
    w.op(_OP.EMPTY_DICT);
    w.str(name);
    w.global("torch._utils", rebuild);
    w.op(_OP.MARK);
    w.op(_OP.MARK);
    w.str("storage");
    w.global("torch", type);
    w.str(key);
    w.str("cpu");
    w.int(0);
    w.op(_OP.TUPLE);
    w.op(_OP.BINPERSID);
    w.int(offset);
    w.intTuple(size);
    w.intTuple(stride);
    w.op(_OP.NEWFALSE);
    w.op(_OP.EMPTY_DICT);
    if (dtype) {
      w.global("torch", dtype);
      w.op(_OP.NONE);
    }
    w.op(_OP.TUPLE);
    w.op(_OP.REDUCE);
    w.op(0x73); // SETITEM
  };
}

Deno.test("pth: big-endian storages and _rebuild_tensor_v3 dtypes", () => {
  const be = new Uint8Array(8 * 6);
  const dv = new DataView(be.buffer);
  for (let i = 0; i < 6; i++) dv.setFloat64(8 * i, i + 0.5, false);
  // A (2, 2) view at offset 1 with strides (3, 1) of a 6-element float64 storage.
  const t = decodePth(
    craft(oneTensor("x", "DoubleStorage", "0", 1, [2, 2], [3, 1]), { 0: be }, "big"),
  );
  assert.deepEqual(t.get("x"), { shape: [2, 2], data: new Float32Array([1.5, 2.5, 4.5, 5.5]) });
  const half = new Uint8Array(new Uint16Array([0x3c00, 0xc100]).buffer);
  const v3 = craft(
    oneTensor("h", "UntypedStorage", "0", 0, [2], [1], "_rebuild_tensor_v3", "float16"),
    { 0: half },
  );
  assert.deepEqual(decodePth(v3).get("h")!.data, new Float32Array([1, -2.5]));
});

Deno.test("pth: corrupt archives are UserErrors that say why", () => {
  const f32 = new Uint8Array(16);
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(0), /empty/],
    [
      "text",
      new TextEncoder().encode("hello world"),
      /not a zip archive \(starts with 68 65 6c 6c\)/,
    ],
    ["safetensors", new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]), /not a zip archive/],
    ["no data.pkl", _writeZipStored([{ name: "a/other", data: f32 }]), /no data\.pkl.*"a\/other"/],
    [
      "past the storage",
      craft(oneTensor("x", "FloatStorage", "0", 2, [2, 2], [2, 1]), { 0: f32 }),
      /"x".*reaches element 5 of storage "0", which has 4/,
    ],
    [
      "missing storage",
      craft(oneTensor("x", "FloatStorage", "9", 0, [1], [1]), { 0: f32 }),
      /storage "9" is missing/,
    ],
    [
      "ragged storage",
      craft(oneTensor("x", "DoubleStorage", "0", 0, [1], [1]), { 0: new Uint8Array(12) }),
      /whole number/,
    ],
    [
      "bad byteorder",
      craft(oneTensor("x", "FloatStorage", "0", 0, [1], [1]), { 0: f32 }, "middle"),
      /byteorder is "middle"/,
    ],
    [
      "size/stride mismatch",
      craft(oneTensor("x", "FloatStorage", "0", 0, [2, 2], [1]), { 0: f32 }),
      /malformed size/,
    ],
    [
      "broadcast bomb",
      craft(oneTensor("x", "FloatStorage", "0", 0, [2 ** 40], [0]), { 0: f32 }),
      /too large/,
    ],
    ["not a dict", craft((w) => w.int(5), {}), /holds a number \(5\)/],
    [
      "mixed dict",
      craft((w) => {
        w.op(_OP.EMPTY_DICT);
        w.str("epoch");
        w.int(3);
        w.op(0x73);
      }, {}),
      /entry "epoch" is a number \(3\), not a tensor.*keys: "epoch"/,
    ],
  ];
  for (const [what, bytes, re] of cases) {
    assert.throws(
      () => decodePth(bytes),
      (e: unknown) => e instanceof UserError && re.test((e as Error).message),
      what,
    );
  }
});

Deno.test("pth: every truncation and random corruption of real files is a UserError", () => {
  let seed = 4242;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (const name of ["views.pth", "nested_model_state_dict.pth", "protocol4.pth"]) {
    const full = fixture(name);
    for (let n = 0; n < full.length; n++) {
      assert.throws(() => decodePth(full.subarray(0, n)), UserError, `${name}: prefix ${n}`);
    }
    for (let trial = 0; trial < 300; trial++) {
      const b = full.slice();
      for (let k = 0; k < 3; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      try {
        decodePth(b);
      } catch (e) {
        assert.ok(e instanceof UserError, `${name} trial ${trial}: ${(e as Error).stack}`);
      }
    }
  }
});

/** A python3 that can import torch, if this machine has one (torch is never required). */
function torchPython(): string | undefined {
  for (const exe of ["python3", "/usr/bin/python3"]) {
    try {
      const r = new Deno.Command(exe, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      })
        .outputSync();
      if (r.success) return exe;
    } catch { /* not installed */ }
  }
  return undefined;
}

const PYTHON = torchPython();

const CHECK_PY = `
import json, sys, collections, torch
sd = torch.load(sys.argv[1], weights_only=True)
torch.save(sd, sys.argv[2])
print(json.dumps({
    "type": type(sd).__name__,
    "version": torch.__version__,
    "items": [[k, list(v.shape), str(v.dtype), v.is_contiguous(), v.flatten().tolist()] for k, v in sd.items()],
}))
`;

Deno.test({
  name: "pth: torch.load(weights_only=True) reads encodePth output; torch.save output reads back",
  ignore: PYTHON === undefined,
  fn() {
    // JSON carries no NaN/Infinity, so this sample sticks to finite values.
    const t = sample();
    t.set("7", { shape: [5], data: new Float32Array([-0, 0.1, 1e-45, -3.4028234663852886e38, 7]) });
    const dir = Deno.makeTempDirSync();
    try {
      Deno.writeFileSync(`${dir}/ours.pth`, encodePth(t));
      const r = new Deno.Command(PYTHON!, {
        args: ["-c", CHECK_PY, `${dir}/ours.pth`, `${dir}/theirs.pth`],
      }).outputSync();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
      const out = JSON.parse(new TextDecoder().decode(r.stdout));
      assert.equal(out.type, "OrderedDict");
      assert.deepEqual(out.items.map((x: unknown[]) => x[0]), [...t.keys()]);
      for (const [name, shape, dtype, contiguous, values] of out.items) {
        const want = t.get(name)!;
        assert.deepEqual(shape, want.shape, name);
        assert.equal(dtype, "torch.float32");
        assert.equal(contiguous, true);
        // Python floats are the float32 values widened exactly: compare bits.
        assert.deepEqual(bits(Float32Array.from(values as number[])), bits(want.data), name);
      }
      // And whatever this torch version writes today, we read back bit-identically.
      assertSame(decodePth(Deno.readFileSync(`${dir}/theirs.pth`)), t);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
