/**
 * PyTorch `.pth` state dicts: what `torch.save(model.state_dict(), path)` writes since torch 1.6
 * (a zip of `<name>/data.pkl`, one `<name>/data/<key>` member per storage, `version`, and
 * `byteorder`). Decoding interprets only tensors and plain containers; no Python class is ever
 * resolved, so a checkpoint cannot run code here.
 *
 * @module
 */

import { UserError } from "../util/errors.ts";
import { _DTYPE_BYTES, type _FloatDtype, _toFloat32 } from "./dtype.ts";
import { _checkTensor, _numel, type NamedTensors } from "./named_tensors.ts";
import { _PyDict, _PyGlobal, _PyObject, _unpickle } from "./pickle.ts";
import { _OP, _PickleWriter } from "./pickle_writer.ts";
import { _writeZipStored, _ZipReader } from "./zip.ts";

export type { NamedTensors } from "./named_tensors.ts";

/** Where checkpoints conventionally nest the state dict, in order of preference. */
const NESTED_KEYS = ["model_state_dict", "state_dict", "model"];
const STORAGE_DTYPES: Record<string, _FloatDtype> = {
  FloatStorage: "f32",
  DoubleStorage: "f64",
  HalfStorage: "f16",
  BFloat16Storage: "bf16",
};
const TORCH_DTYPES: Record<string, _FloatDtype> = {
  float32: "f32",
  float: "f32",
  float64: "f64",
  double: "f64",
  float16: "f16",
  half: "f16",
  bfloat16: "bf16",
};
/** Largest tensor we materialise, in floats (4 GiB). */
const MAX_FLOATS = 2 ** 30;
/** `torch.save`'s legacy (non-zip) format starts with a pickled magic number. */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8];

/** A storage named by a persistent id; its bytes are read only if a tensor we keep uses it. */
class StorageRef {
  constructor(readonly key: string, readonly type: string, readonly dtype?: _FloatDtype) {}
}

/** A tensor as pickled: a window (offset, size, stride in elements) onto a storage. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: unknown,
    readonly size: unknown,
    readonly stride: unknown,
    readonly dtype?: _FloatDtype,
  ) {}
}

/**
 * Serialise float32 tensors the way `torch.save(state_dict)` does: an OrderedDict of
 * contiguous tensors, one storage each, in a zip of 64-byte-aligned STORED members. PyTorch
 * loads it with `torch.load(path, weights_only=True)`.
 *
 * @example
 * ```ts
 * import { decodePth, encodePth } from "./pth.ts";
 * const bytes = encodePth(new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]));
 * console.log(decodePth(bytes).get("w")?.data); // Float32Array(2) [ 1, 2 ]
 * ```
 */
export function encodePth(t: NamedTensors): Uint8Array {
  const w = new _PickleWriter();
  const orderedDict = (): void => {
    w.global("collections", "OrderedDict");
    w.op(_OP.EMPTY_TUPLE);
    w.op(_OP.REDUCE);
  };
  orderedDict();
  if (t.size > 0) w.op(_OP.MARK);
  const members: { name: string; data: Uint8Array }[] = [];
  let key = 0;
  for (const [name, x] of t) {
    _checkTensor(name, x);
    w.str(name);
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.op(_OP.MARK);
    w.op(_OP.MARK);
    w.str("storage");
    w.global("torch", "FloatStorage");
    w.str(String(key));
    w.str("cpu");
    w.int(x.data.length);
    w.op(_OP.TUPLE);
    w.op(_OP.BINPERSID);
    w.int(0);
    w.intTuple(x.shape);
    w.intTuple(contiguousStrides(x.shape));
    w.op(_OP.NEWFALSE);
    orderedDict(); // backward hooks
    w.op(_OP.TUPLE);
    w.op(_OP.REDUCE);
    members.push({
      name: `archive/data/${key}`,
      data: new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength),
    });
    key++;
  }
  if (t.size > 0) w.op(_OP.SETITEMS);
  w.op(_OP.STOP);
  const enc = new TextEncoder();
  return _writeZipStored([
    { name: "archive/data.pkl", data: w.finish() },
    { name: "archive/byteorder", data: enc.encode("little") },
    ...members,
    { name: "archive/version", data: enc.encode("3\n") },
  ]);
}

/**
 * Read the state dict of a `torch.save` zip checkpoint: a dict or OrderedDict of tensors, or a
 * checkpoint dict nesting one under "model_state_dict", "state_dict" or "model". Keys are kept
 * as they are (a "model." prefix included); float64, float16 and bfloat16 become float32; views
 * (offsets, strides, shared storages) come out as contiguous copies. Throws `UserError` for
 * anything it cannot read.
 *
 * @example
 * ```ts
 * import { decodePth, encodePth } from "./pth.ts";
 * const t = new Map([["b", { shape: [1, 2], data: new Float32Array([3, 4]) }]]);
 * console.log(decodePth(encodePth(t)).get("b")?.shape); // [1, 2]
 * ```
 */
export function decodePth(bytes: Uint8Array): NamedTensors {
  checkMagic(bytes);
  const zip = new _ZipReader(bytes);
  const pkl = zip.names.filter((n) => /^([^/]*\/)?data\.pkl$/.test(n))
    .sort((a, b) => a.length - b.length)[0];
  if (pkl === undefined) {
    throw new UserError(
      `Not a PyTorch checkpoint: the zip has no data.pkl (members: ${
        zip.names.slice(0, 5).map((n) => JSON.stringify(n)).join(", ")
      })`,
    );
  }
  const prefix = pkl.slice(0, -"data.pkl".length);
  const littleEndian = readByteOrder(zip, prefix);
  const top = _unpickle(zip.read(pkl)!, {
    persistentLoad: storageRef,
    reduce: rebuild,
  });
  const sd = findStateDict(top);
  const storages = new Map<StorageRef, Float32Array>();
  const load = (s: StorageRef, dtype: _FloatDtype): Float32Array => {
    let f = storages.get(s);
    if (!f) {
      const raw = zip.read(`${prefix}data/${s.key}`);
      if (raw === undefined) {
        throw new UserError(`Corrupt .pth file: storage "${s.key}" is missing from the archive`);
      }
      if (raw.length % _DTYPE_BYTES[dtype] !== 0) {
        throw new UserError(
          `Corrupt .pth file: storage "${s.key}" has ${raw.length} bytes, not a whole number of ${dtype}`,
        );
      }
      f = _toFloat32(raw, dtype, littleEndian);
      storages.set(s, f);
    }
    return f;
  };
  const out: NamedTensors = new Map();
  for (const [name, v] of sd.items) {
    if (typeof name !== "string") {
      throw new UserError(`Unsupported state dict: key ${String(name)} is not a string`);
    }
    if (!(v instanceof TensorRef)) {
      throw new UserError(
        `Unsupported state dict: entry "${name}" is a ${describe(v)}, not a tensor`,
      );
    }
    out.set(name, materialize(name, v, load));
  }
  return out;
}

function checkMagic(bytes: Uint8Array): void {
  if (bytes.length === 0) throw new UserError("Not a PyTorch .pth file: the file is empty");
  const isZip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    (bytes[2] === 3 || bytes[2] === 5) && bytes[3] === bytes[2] + 1;
  if (isZip) return;
  const legacy = LEGACY_MAGIC.every((b, i) => bytes[i] === b) ||
    new TextDecoder("latin1").decode(bytes.subarray(257, 262)) === "ustar";
  if (legacy) {
    throw new UserError(
      "This .pth file uses PyTorch's legacy (pre-1.6, non-zip) format: re-save it with " +
        "torch>=1.6, e.g. torch.save(torch.load(path), path)",
    );
  }
  const head = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new UserError(`Not a PyTorch .pth file: it is not a zip archive (starts with ${head})`);
}

function readByteOrder(zip: _ZipReader, prefix: string): boolean {
  const raw = zip.read(`${prefix}byteorder`);
  if (raw === undefined) return true; // written since torch 2.1; older files are little-endian
  const order = new TextDecoder().decode(raw).trim();
  if (order !== "little" && order !== "big") {
    throw new UserError(`Corrupt .pth file: byteorder is ${JSON.stringify(order)}`);
  }
  return order === "little";
}

function storageRef(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 3) {
    throw new UserError(`Corrupt .pth file: unknown persistent id ${describe(pid)}`);
  }
  const [, type, key] = pid;
  if (!(type instanceof _PyGlobal) || (typeof key !== "string" && typeof key !== "number")) {
    throw new UserError("Corrupt .pth file: malformed storage reference");
  }
  return new StorageRef(String(key), type.name, STORAGE_DTYPES[type.name]);
}

/** The torch functions a pickled tensor is rebuilt with; everything else stays inert. */
function rebuild(cls: _PyGlobal, args: unknown[]): unknown {
  switch (cls.qualname) {
    case "torch._utils._rebuild_tensor":
    case "torch._utils._rebuild_tensor_v2": {
      const [storage, offset, size, stride] = args;
      if (!(storage instanceof StorageRef)) break;
      return new TensorRef(storage, offset, size, stride);
    }
    case "torch._utils._rebuild_tensor_v3": {
      const [storage, offset, size, stride, , , dtype] = args;
      if (!(storage instanceof StorageRef)) break;
      const dt = dtype instanceof _PyGlobal ? TORCH_DTYPES[dtype.name] : undefined;
      return new TensorRef(storage, offset, size, stride, dt);
    }
    case "torch._utils._rebuild_parameter":
    case "torch._utils._rebuild_parameter_with_state":
      if (args[0] instanceof TensorRef) return args[0];
      break;
    case "torch._utils._rebuild_from_type_v2": {
      const [fn, , fnArgs] = args;
      if (fn instanceof _PyGlobal && Array.isArray(fnArgs)) return rebuild(fn, fnArgs);
      break;
    }
    case "torch.Size":
      return Array.isArray(args[0]) ? args[0] : undefined;
  }
  return undefined;
}

function findStateDict(top: unknown): _PyDict {
  if (!(top instanceof _PyDict)) {
    throw new UserError(
      `No state dict in the .pth file: it holds a ${describe(top)}${moduleHint(top)}`,
    );
  }
  for (const k of NESTED_KEYS) {
    const v = top.items.get(k);
    if (v instanceof _PyDict) return v;
    if (v instanceof _PyObject) {
      throw new UserError(
        `No state dict in the .pth file: entry "${k}" is a ${describe(v)}${moduleHint(v)}`,
      );
    }
  }
  for (const [k, v] of top.items) {
    if (!(v instanceof TensorRef)) {
      const keys = [...top.items.keys()].slice(0, 8).map((x) => JSON.stringify(x)).join(", ");
      throw new UserError(
        `No state dict in the .pth file: entry ${JSON.stringify(k)} is a ${describe(v)}, not a ` +
          `tensor, and there is no "model_state_dict", "state_dict" or "model" entry ` +
          `(keys: ${keys})`,
      );
    }
  }
  return top;
}

function moduleHint(v: unknown): string {
  return v instanceof _PyObject ? ": save model.state_dict() instead of the module" : "";
}

function describe(v: unknown): string {
  if (v === null) return "None";
  if (v instanceof _PyObject) return `pickled ${v.cls.qualname} object`;
  if (v instanceof _PyDict) return "dict";
  if (v instanceof TensorRef) return "tensor";
  if (Array.isArray(v)) return "tuple or list";
  if (v instanceof Uint8Array) return "bytes";
  if (typeof v === "number" || typeof v === "bigint") return `number (${v})`;
  if (typeof v === "string") return `string ${JSON.stringify(v.slice(0, 40))}`;
  return typeof v;
}

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= Math.max(shape[d], 1);
  }
  return s;
}

function isIndexList(v: unknown): v is number[] {
  return Array.isArray(v) &&
    v.every((x) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0);
}

/** Copy the tensor's elements out of its storage in row-major order, checking every bound. */
function materialize(
  name: string,
  t: TensorRef,
  load: (s: StorageRef, dtype: _FloatDtype) => Float32Array,
): { shape: number[]; data: Float32Array } {
  const dtype = t.dtype ?? t.storage.dtype;
  if (!dtype) {
    throw new UserError(
      `Unsupported dtype for tensor "${name}": storage type ${t.storage.type}; expected ` +
        "float32, float64, float16 or bfloat16",
    );
  }
  const { offset, size, stride } = t;
  if (
    !isIndexList(size) || !isIndexList(stride) || size.length !== stride.length ||
    typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0
  ) {
    throw new UserError(
      `Corrupt .pth file: tensor "${name}" has a malformed size, stride or offset`,
    );
  }
  const shape = [...size];
  const numel = _numel(shape, name);
  if (numel === 0) return { shape, data: new Float32Array(0) };
  // A broadcast view (stride 0) can claim any size over a tiny storage: cap what we allocate
  // at the 4 GiB the model heap can hold anyway.
  if (numel > MAX_FLOATS) {
    throw new UserError(
      `Tensor "${name}" of shape ${JSON.stringify(shape)} is too large (${numel} elements)`,
    );
  }
  const src = load(t.storage, dtype);
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * stride[d];
  if (last >= src.length) {
    throw new UserError(
      `Corrupt .pth file: tensor "${name}" (shape ${JSON.stringify(shape)}, offset ${offset}, ` +
        `stride ${
          JSON.stringify(stride)
        }) reaches element ${last} of storage "${t.storage.key}", ` +
        `which has ${src.length}`,
    );
  }
  const want = contiguousStrides(shape);
  if (shape.every((n, d) => n === 1 || stride[d] === want[d])) {
    return { shape, data: src.slice(offset, offset + numel) };
  }
  const data = new Float32Array(numel);
  const idx = new Array<number>(shape.length).fill(0);
  let p = offset;
  for (let i = 0; i < numel; i++) {
    data[i] = src[p];
    for (let d = shape.length - 1; d >= 0; d--) {
      p += stride[d];
      if (++idx[d] < shape[d]) break;
      p -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return { shape, data };
}
