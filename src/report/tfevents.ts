/**
 * TensorBoard event files, written without TensorFlow: TFRecord framing around hand-encoded
 * `Event` protobufs (tensorflow/core/util/event.proto, summary.proto).
 *
 * Only the fields we write are encoded:
 * `Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }`,
 * `Summary { repeated Value value = 1; }`, `Value { string tag = 1; float simple_value = 2; }`.
 *
 * @module
 */

import { maskedCrc32c } from "./crc32c.ts";
import { UserError } from "../util/errors.ts";

/** The version string TensorBoard expects in the first record of a file. */
export const FILE_VERSION = "brain.Event:2";

// Protobuf wire types.
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

/** Grows a byte buffer while fields are appended; one per encoded message. */
class _ProtoWriter {
  #buf = new Uint8Array(64);
  #len = 0;

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  #varint(v: bigint): void {
    this.#reserve(10);
    // int64 fields travel as their two's complement, so a negative step takes 10 bytes.
    let u = BigInt.asUintN(64, v);
    while (u >= 0x80n) {
      this.#buf[this.#len++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.#buf[this.#len++] = Number(u);
  }

  #key(field: number, wire: number): void {
    this.#varint(BigInt((field << 3) | wire));
  }

  int64(field: number, v: number): this {
    this.#key(field, VARINT);
    this.#varint(BigInt(v));
    return this;
  }

  double(field: number, v: number): this {
    this.#key(field, FIXED64);
    this.#reserve(8);
    new DataView(this.#buf.buffer).setFloat64(this.#len, v, true);
    this.#len += 8;
    return this;
  }

  float(field: number, v: number): this {
    this.#key(field, FIXED32);
    this.#reserve(4);
    new DataView(this.#buf.buffer).setFloat32(this.#len, v, true);
    this.#len += 4;
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.#key(field, LEN);
    this.#varint(BigInt(b.length));
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

function _checkStep(step: number): void {
  if (!Number.isSafeInteger(step)) {
    throw new RangeError(`TensorBoard step must be a safe integer, got ${step}`);
  }
}

/**
 * The first `Event` of every file: `{ wall_time, file_version: "brain.Event:2" }`.
 *
 * @param wallTime Seconds since the Unix epoch.
 * @example
 * ```ts
 * import { encodeFileVersionEvent } from "./tfevents.ts";
 * const bytes = encodeFileVersionEvent(1700000000);
 * console.log(bytes.length); // 24
 * ```
 */
export function encodeFileVersionEvent(wallTime: number): Uint8Array {
  return new _ProtoWriter().double(1, wallTime).string(3, FILE_VERSION).finish();
}

/**
 * One scalar as an `Event { wall_time, step, summary { value { tag, simple_value } } }` protobuf
 * (not yet framed: see {@linkcode frameRecord}). `value` is stored as float32, as TensorBoard does.
 *
 * @param tag Series name, e.g. `"loss/train"`; must not be empty.
 * @param value The scalar (NaN and ±Infinity are kept as they are).
 * @param step Integer x coordinate (the epoch).
 * @param wallTime Seconds since the Unix epoch.
 * @example
 * ```ts
 * import { encodeScalarEvent } from "./tfevents.ts";
 * const bytes = encodeScalarEvent("loss/train", 0.5, 3, 1700000000);
 * console.log(bytes[0] === 0x09); // true: field 1 (wall_time), fixed64
 * ```
 */
export function encodeScalarEvent(
  tag: string,
  value: number,
  step: number,
  wallTime: number,
): Uint8Array {
  if (typeof tag !== "string" || tag.length === 0) {
    throw new RangeError(`TensorBoard tag must be a non-empty string, got ${JSON.stringify(tag)}`);
  }
  _checkStep(step);
  const v = new _ProtoWriter().string(1, tag).float(2, value).finish();
  const summary = new _ProtoWriter().bytes(1, v).finish();
  return new _ProtoWriter().double(1, wallTime).int64(2, step).bytes(5, summary).finish();
}

/**
 * TFRecord framing: uint64 length (little endian), masked CRC-32C of those 8 bytes, the data,
 * masked CRC-32C of the data.
 *
 * @example
 * ```ts
 * import { frameRecord, readRecords } from "./tfevents.ts";
 * const rec = frameRecord(new Uint8Array([1, 2, 3]));
 * console.log(rec.length, readRecords(rec)[0]); // 19 Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/**
 * Splits a TFRecord file into its records, verifying both checksums of each.
 *
 * @throws {UserError} On a truncated record or a checksum mismatch (the message gives the offset).
 * @example
 * ```ts
 * import { encodeFileVersionEvent, frameRecord, readRecords } from "./tfevents.ts";
 * const file = frameRecord(encodeFileVersionEvent(0));
 * console.log(readRecords(file).length); // 1
 * ```
 */
export function readRecords(bytes: Uint8Array): Uint8Array[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (bytes.length - off < 12) {
      throw new UserError(`Truncated TFRecord header at byte ${off} of ${bytes.length}`);
    }
    const len64 = dv.getBigUint64(off, true);
    if (dv.getUint32(off + 8, true) !== maskedCrc32c(bytes.subarray(off, off + 8))) {
      throw new UserError(`Bad TFRecord length checksum at byte ${off}`);
    }
    const len = Number(len64);
    if (len64 > BigInt(bytes.length - off - 16)) {
      throw new UserError(
        `Truncated TFRecord at byte ${off}: length "${len64}" exceeds the ${
          bytes.length - off - 16
        } bytes left`,
      );
    }
    const data = bytes.slice(off + 12, off + 12 + len);
    if (dv.getUint32(off + 12 + len, true) !== maskedCrc32c(data)) {
      throw new UserError(`Bad TFRecord data checksum at byte ${off}`);
    }
    out.push(data);
    off += 16 + len;
  }
  return out;
}

function _hostname(): string {
  // Asking only when already granted: a log file name is not worth a permission prompt.
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state === "granted") {
      return Deno.hostname().replace(/[^A-Za-z0-9._-]/g, "_") || "localhost";
    }
  } catch {
    // Fall through: some runtimes lack the permission API.
  }
  return "localhost";
}

async function _writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

/**
 * Appends scalars to a new TensorBoard event file `events.out.tfevents.<secs>.<hostname>` in
 * `logDir` (`tensorboard --logdir <logDir>` shows them). Each scalar goes to the file as soon as
 * it is given, in call order; {@linkcode EventWriter.flush} also syncs it to disk, so a crash
 * loses nothing already logged. Needs `--allow-read --allow-write` on `logDir`; the host name is
 * used only when `--allow-sys=hostname` is granted ("localhost" otherwise).
 *
 * @example
 * ```ts
 * import { EventWriter } from "./tfevents.ts";
 * const dir = await Deno.makeTempDir();
 * const w = await EventWriter.create(dir);
 * await w.scalar("loss/train", 0.25, 1);
 * await w.close();
 * console.log(w.path.includes("events.out.tfevents.")); // true
 * ```
 */
export class EventWriter {
  /** Full path of the event file. */
  readonly path: string;
  #file: Deno.FsFile;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Creates `logDir` if needed and a new event file in it holding the file-version record.
   *
   * @throws {UserError} When the directory or the file cannot be created.
   */
  static async create(logDir: string): Promise<EventWriter> {
    const now = Date.now() / 1000;
    const base = `${logDir.replace(/\/+$/, "") || "/"}/events.out.tfevents.${
      Math.floor(now)
    }.${_hostname()}`;
    try {
      await Deno.mkdir(logDir, { recursive: true });
    } catch (e) {
      throw new UserError(`Cannot create the log directory "${logDir}": ${(e as Error).message}`);
    }
    // Two writers started in the same second must not share a file: add a suffix instead.
    for (let n = 0;; n++) {
      const path = n === 0 ? base : `${base}.${n}`;
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path, { write: true, createNew: true });
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists && n < 1000) continue;
        throw new UserError(`Cannot create the event file "${path}": ${(e as Error).message}`);
      }
      const w = new EventWriter(path, file);
      await w.#enqueue(frameRecord(encodeFileVersionEvent(now)));
      return w;
    }
  }

  #enqueue(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`EventWriter for "${this.path}" is closed`));
    const p = this.#queue.then(() => _writeAll(this.#file, bytes));
    // A failed write must not poison later calls' ordering, but it is still reported to its caller.
    this.#queue = p.catch(() => {});
    return p;
  }

  /**
   * Logs `value` under `tag` at `step`.
   *
   * @param wallTime Seconds since the Unix epoch; now by default.
   */
  scalar(tag: string, value: number, step: number, wallTime?: number): Promise<void> {
    const data = encodeScalarEvent(tag, value, step, wallTime ?? Date.now() / 1000);
    return this.#enqueue(frameRecord(data));
  }

  /** Waits for every pending write and syncs the file to disk (call it once per epoch). */
  async flush(): Promise<void> {
    if (this.#closed) return;
    await this.#queue;
    await this.#file.syncData();
  }

  /** Flushes and closes the file; later calls to `scalar` reject. Closing twice is harmless. */
  async close(): Promise<void> {
    if (this.#closed) return;
    // Refuse new scalars first, so none can slip in behind the final sync.
    this.#closed = true;
    await this.#queue;
    await this.#file.syncData();
    this.#file.close();
  }
}
