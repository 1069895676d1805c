/**
 * A minimal protocol-2 pickle writer: the opcodes `torch.save` emits for a state dict, enough
 * for `torch.load(weights_only=True)` to read our files.
 *
 * @module
 */

/**
 * Opcodes the writer emits (one byte each).
 *
 * @example
 * ```ts
 * import { _OP } from "./pickle_writer.ts";
 * console.log(_OP.STOP); // 46 (".")
 * ```
 */
export const _OP = {
  MARK: 0x28,
  STOP: 0x2e,
  BINPERSID: 0x51,
  REDUCE: 0x52,
  TUPLE: 0x74,
  EMPTY_TUPLE: 0x29,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  SETITEMS: 0x75,
  EMPTY_DICT: 0x7d,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  NONE: 0x4e,
  BUILD: 0x62,
} as const;

/**
 * Appends pickle opcodes to a growing buffer. Call {@linkcode _PickleWriter.finish} for the bytes.
 *
 * @example
 * ```ts
 * import { _OP, _PickleWriter } from "./pickle_writer.ts";
 * import { _unpickle } from "./pickle.ts";
 * const w = new _PickleWriter();
 * w.intTuple([3, 300]);
 * w.op(_OP.STOP);
 * console.log(_unpickle(w.finish())); // [ 3, 300 ]
 * ```
 */
export class _PickleWriter {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #n = 0;

  /** Starts with `PROTO 2`. */
  constructor() {
    this.op(0x80);
    this.op(2);
  }

  /** One raw opcode byte. */
  op(code: number): void {
    this.#room(1);
    this.#buf[this.#n++] = code;
  }

  /** An int, in the shortest of BININT1, BININT2, BININT, LONG1. */
  int(x: number): void {
    if (!Number.isSafeInteger(x)) throw new RangeError(`Cannot pickle ${x} as an int`);
    if (x >= 0 && x < 256) {
      this.op(0x4b);
      this.op(x);
    } else if (x >= 0 && x < 65536) {
      this.op(0x4d);
      this.#room(2);
      this.#view.setUint16(this.#n, x, true);
      this.#n += 2;
    } else if (x >= -(2 ** 31) && x < 2 ** 31) {
      this.op(0x4a);
      this.#room(4);
      this.#view.setInt32(this.#n, x, true);
      this.#n += 4;
    } else {
      // LONG1: little-endian two's complement, just wide enough to keep the sign bit.
      const bytes: number[] = [];
      for (let v = BigInt(x);;) {
        const b = Number(v & 0xffn);
        bytes.push(b);
        v >>= 8n;
        if ((v === 0n && !(b & 0x80)) || (v === -1n && b & 0x80)) break;
      }
      this.op(0x8a);
      this.op(bytes.length);
      for (const b of bytes) this.op(b);
    }
  }

  /** A str (BINUNICODE). */
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.op(0x58);
    this.#room(4 + b.length);
    this.#view.setUint32(this.#n, b.length, true);
    this.#buf.set(b, this.#n + 4);
    this.#n += 4 + b.length;
  }

  /** A class or function reference (GLOBAL). */
  global(module: string, name: string): void {
    const b = new TextEncoder().encode(`${module}\n${name}\n`);
    this.op(0x63);
    this.#room(b.length);
    this.#buf.set(b, this.#n);
    this.#n += b.length;
  }

  /** A tuple of ints, with the short tuple opcodes where they apply. */
  intTuple(xs: readonly number[]): void {
    if (xs.length === 0) return this.op(_OP.EMPTY_TUPLE);
    if (xs.length > 3) this.op(_OP.MARK);
    for (const x of xs) this.int(x);
    this.op(xs.length > 3 ? _OP.TUPLE : [_OP.TUPLE1, _OP.TUPLE2, _OP.TUPLE3][xs.length - 1]);
  }

  /** The pickle so far (a copy). */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#n);
  }

  #room(k: number): void {
    if (this.#n + k <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#n + k));
    next.set(this.#buf.subarray(0, this.#n));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
}
