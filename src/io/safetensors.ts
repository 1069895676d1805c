/**
 * safetensors, the native weight format: an 8-byte little-endian header length, a JSON header
 * (`{"__metadata__": {…}, "name": {"dtype", "shape", "data_offsets"}}`), then the raw tensor
 * bytes. We write float32 in insertion order with the header space-padded so the data starts on
 * an 8-byte boundary (as the reference Rust writer does); we read F32, F64, F16 and BF16.
 *
 * @module
 */

import { UserError } from "../util/errors.ts";
import { _DTYPE_BYTES, type _FloatDtype, _toFloat32 } from "./dtype.ts";
import { _checkTensor, _numel, type NamedTensors } from "./named_tensors.ts";

export type { NamedTensors } from "./named_tensors.ts";

/** Same cap as the reference implementation: a bigger header is an attack, not a model. */
const MAX_HEADER = 100_000_000;
const METADATA = "__metadata__";
const DTYPES: Record<string, _FloatDtype> = { F32: "f32", F64: "f64", F16: "f16", BF16: "bf16" };

/**
 * Serialise float32 tensors (in the map's order) and optional string metadata.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(
 *   new Map([["w", { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]]),
 *   { step: "10" },
 * );
 * const { tensors, metadata } = decodeSafetensors(bytes);
 * console.log(tensors.get("w")?.data[3], metadata.step); // 4 "10"
 * ```
 */
export function encodeSafetensors(
  t: NamedTensors,
  metadata?: Record<string, string>,
): Uint8Array {
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new TypeError(`Metadata value of "${k}" must be a string, got ${typeof v}`);
      }
    }
    parts.push(`${JSON.stringify(METADATA)}:${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const [name, x] of t) {
    if (name === METADATA) throw new RangeError(`A tensor cannot be named "${METADATA}"`);
    _checkTensor(name, x);
    const end = offset + x.data.byteLength;
    const info = { dtype: "F32", shape: x.shape, data_offsets: [offset, end] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset = end;
  }
  // Built by hand, not JSON.stringify(object): objects reorder integer-like keys.
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let p = 8 + headerLen;
  for (const x of t.values()) {
    out.set(new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength), p);
    p += x.data.byteLength;
  }
  return out;
}

/**
 * Parse a safetensors file. Tensors come back as float32 in the order of their data (which is
 * the writer's order). Throws `UserError` for anything malformed.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(new Map([["b", { shape: [1], data: new Float32Array([7]) }]]));
 * console.log(decodeSafetensors(bytes).tensors.get("b")?.shape); // [1]
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
): { tensors: NamedTensors; metadata: Record<string, string> } {
  if (bytes.length < 8) {
    throw new UserError(`Not a safetensors file: ${bytes.length} bytes is too short for a header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) {
    throw new UserError(
      `Not a safetensors file: header length ${n64} exceeds the ${MAX_HEADER}-byte limit`,
    );
  }
  const n = Number(n64);
  if (8 + n > bytes.length) {
    throw new UserError(
      `Safetensors file is truncated: the header needs ${n} bytes, ${bytes.length - 8} are left`,
    );
  }
  const header = parseHeader(bytes.subarray(8, 8 + n));
  const body = bytes.subarray(8 + n);
  const metadata = readMetadata(header[METADATA]);
  const items: { name: string; dtype: _FloatDtype; shape: number[]; begin: number; end: number }[] =
    [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA) continue;
    items.push({ name, ...readInfo(name, info) });
  }
  // The format requires the data to be covered exactly, without holes or overlaps.
  const sorted = items.map((x, i) => ({ x, i })).sort((a, b) =>
    a.x.begin - b.x.begin || a.x.end - b.x.end || a.i - b.i
  );
  let at = 0;
  for (const { x } of sorted) {
    if (x.begin !== at) {
      throw new UserError(
        `Corrupt safetensors file: tensor "${x.name}" starts at byte ${x.begin}, expected ${at}`,
      );
    }
    at = x.end;
  }
  if (at !== body.length) {
    throw new UserError(
      at > body.length
        ? `Safetensors file is truncated: tensors need ${at} data bytes, ${body.length} are present`
        : `Corrupt safetensors file: ${body.length - at} bytes after the last tensor`,
    );
  }
  const tensors: NamedTensors = new Map();
  for (const { x } of sorted) {
    tensors.set(x.name, {
      shape: x.shape,
      data: _toFloat32(body.subarray(x.begin, x.end), x.dtype, true),
    });
  }
  return { tensors, metadata };
}

function parseHeader(raw: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw new UserError("Corrupt safetensors file: the header is not valid UTF-8");
  }
  if (!text.startsWith("{")) {
    throw new UserError(
      `Not a safetensors file: the header starts with ${JSON.stringify(text.slice(0, 16))}`,
    );
  }
  let h: unknown;
  try {
    h = JSON.parse(text);
  } catch (e) {
    throw new UserError(`Corrupt safetensors file: invalid header JSON (${(e as Error).message})`);
  }
  if (typeof h !== "object" || h === null || Array.isArray(h)) {
    throw new UserError("Corrupt safetensors file: the header is not a JSON object");
  }
  return h as Record<string, unknown>;
}

function readMetadata(m: unknown): Record<string, string> {
  if (m === undefined || m === null) return {};
  if (typeof m !== "object" || Array.isArray(m)) {
    throw new UserError(`Corrupt safetensors file: "${METADATA}" is not an object`);
  }
  const entries = Object.entries(m as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (typeof v !== "string") {
      throw new UserError(
        `Corrupt safetensors file: metadata "${k}" is ${JSON.stringify(v)}, not a string`,
      );
    }
  }
  // fromEntries defines own properties, so a key like "__proto__" stays plain data.
  return Object.fromEntries(entries) as Record<string, string>;
}

function readInfo(
  name: string,
  info: unknown,
): { dtype: _FloatDtype; shape: number[]; begin: number; end: number } {
  if (typeof info !== "object" || info === null || Array.isArray(info)) {
    throw new UserError(`Corrupt safetensors file: entry "${name}" is not an object`);
  }
  const { dtype, shape, data_offsets: off } = info as Record<string, unknown>;
  if (typeof dtype !== "string") {
    throw new UserError(`Corrupt safetensors file: tensor "${name}" has no dtype`);
  }
  const dt = DTYPES[dtype];
  if (!dt) {
    throw new UserError(
      `Unsupported dtype "${dtype}" for tensor "${name}": expected F32, F64, F16 or BF16`,
    );
  }
  if (!Array.isArray(shape)) {
    throw new UserError(`Corrupt safetensors file: tensor "${name}" has no shape`);
  }
  const numel = _numel(shape, name);
  if (
    !Array.isArray(off) || off.length !== 2 ||
    !off.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0) ||
    off[0] > off[1]
  ) {
    throw new UserError(
      `Corrupt safetensors file: tensor "${name}" has data_offsets ${JSON.stringify(off)}`,
    );
  }
  if (off[1] - off[0] !== numel * _DTYPE_BYTES[dt]) {
    throw new UserError(
      `Corrupt safetensors file: tensor "${name}" of shape ${JSON.stringify(shape)} (${dtype}) ` +
        `needs ${numel * _DTYPE_BYTES[dt]} bytes, data_offsets ${JSON.stringify(off)} span ${
          off[1] - off[0]
        }`,
    );
  }
  return { dtype: dt, shape: shape as number[], begin: off[0], end: off[1] };
}
