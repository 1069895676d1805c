/**
 * Just enough zip for PyTorch checkpoints: a reader (stored or deflated entries, zip64, data
 * descriptors, CRC checked) and a writer of STORED entries whose data start on 64-byte
 * boundaries, as `torch.save` lays them out so that storages can be mapped in place.
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- the project pins npm versions inline, not in deno.json
import { inflateSync } from "npm:fflate@0.8.2";
import { UserError } from "../util/errors.ts";
import { crc32 } from "./crc32.ts";

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
/** Extra-field id torch uses for its alignment padding ("FB"). */
const PAD_ID = 0x4246;
/** DOS date 1980-01-01: a fixed timestamp keeps the output reproducible. */
const DOS_DATE = (1 << 5) | 1;

/** Where one member's bytes are, from the central directory. */
interface Entry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/**
 * A parsed zip archive over a byte array. Members are read (and CRC-checked) on demand.
 *
 * @example
 * ```ts
 * import { _ZipReader, _writeZipStored } from "./zip.ts";
 * const zip = _writeZipStored([{ name: "a/b.txt", data: new TextEncoder().encode("hi") }]);
 * const r = new _ZipReader(zip);
 * console.log(r.names, new TextDecoder().decode(r.read("a/b.txt"))); // ["a/b.txt"] "hi"
 * ```
 */
export class _ZipReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #entries = new Map<string, Entry>();

  /** Parse the central directory; throws `UserError` when `bytes` is not a sound zip. */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#parse();
  }

  /** Member names in central-directory order. */
  get names(): string[] {
    return [...this.#entries.keys()];
  }

  /**
   * The bytes of member `name` (a view into the archive when stored), or `undefined` when
   * there is no such member.
   */
  read(name: string): Uint8Array | undefined {
    const e = this.#entries.get(name);
    if (!e) return undefined;
    const v = this.#view;
    const at = e.localOffset;
    if (at + 30 > v.byteLength) throw truncated(`member "${name}" starts past the end`);
    if (v.getUint32(at, true) !== SIG_LOCAL) {
      throw new UserError(`Corrupt zip archive: no local header for member "${name}"`);
    }
    const start = at + 30 + v.getUint16(at + 26, true) + v.getUint16(at + 28, true);
    if (start + e.compressedSize > v.byteLength) throw truncated(`member "${name}" is cut short`);
    const raw = this.#bytes.subarray(start, start + e.compressedSize);
    let data: Uint8Array;
    if (e.method === 0) {
      if (e.size !== e.compressedSize) {
        throw new UserError(`Corrupt zip archive: stored member "${name}" has two sizes`);
      }
      data = raw;
    } else if (e.method === 8) {
      // Deflate cannot expand more than ~1032:1; a bigger claim is a corrupt size field.
      if (e.size > e.compressedSize * 1032 + 64) {
        throw new UserError(`Corrupt zip archive: member "${name}" claims ${e.size} bytes`);
      }
      try {
        data = inflateSync(raw, { out: new Uint8Array(e.size) });
      } catch (err) {
        throw new UserError(
          `Corrupt zip archive: cannot inflate member "${name}" (${(err as Error).message})`,
        );
      }
      if (data.length !== e.size) {
        throw new UserError(`Corrupt zip archive: member "${name}" inflates to the wrong size`);
      }
    } else {
      throw new UserError(
        `Unsupported zip compression method ${e.method} for member "${name}"`,
      );
    }
    if (crc32(data) !== e.crc) {
      throw new UserError(`Corrupt zip archive: checksum mismatch in member "${name}"`);
    }
    return data;
  }

  #parse(): void {
    const v = this.#view, len = v.byteLength;
    let end = -1;
    for (let p = len - 22; p >= 0 && p >= len - 22 - U16_MAX; p--) {
      if (v.getUint32(p, true) === SIG_END && p + 22 + v.getUint16(p + 20, true) <= len) {
        end = p;
        break;
      }
    }
    if (end < 0) {
      if (len >= 4 && v.getUint32(0, true) === SIG_LOCAL) {
        throw truncated("the end-of-archive record is missing");
      }
      throw new UserError("Not a zip archive: no end-of-archive record found");
    }
    let count = v.getUint16(end + 10, true);
    let cdSize = v.getUint32(end + 12, true);
    let cdOffset = v.getUint32(end + 16, true);
    if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
      const loc = end - 20;
      if (loc >= 0 && v.getUint32(loc, true) === SIG_LOCATOR64) {
        const e64 = u64(v, loc + 8);
        if (e64 + 56 > len || v.getUint32(e64, true) !== SIG_END64) {
          throw truncated("the zip64 end record is missing");
        }
        count = u64(v, e64 + 32);
        cdSize = u64(v, e64 + 40);
        cdOffset = u64(v, e64 + 48);
      }
    }
    if (cdOffset + cdSize > len) throw truncated("the central directory is cut short");
    const cdEnd = cdOffset + cdSize;
    const dec = new TextDecoder();
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdEnd || v.getUint32(p, true) !== SIG_CENTRAL) {
        throw new UserError(`Corrupt zip archive: central directory entry ${i} is damaged`);
      }
      const nameLen = v.getUint16(p + 28, true);
      const extraLen = v.getUint16(p + 30, true);
      const commentLen = v.getUint16(p + 32, true);
      if (p + 46 + nameLen + extraLen + commentLen > cdEnd) {
        throw new UserError(`Corrupt zip archive: central directory entry ${i} is damaged`);
      }
      const e: Entry = {
        name: dec.decode(this.#bytes.subarray(p + 46, p + 46 + nameLen)),
        flags: v.getUint16(p + 8, true),
        method: v.getUint16(p + 10, true),
        crc: v.getUint32(p + 16, true),
        compressedSize: v.getUint32(p + 20, true),
        size: v.getUint32(p + 24, true),
        localOffset: v.getUint32(p + 42, true),
      };
      readZip64Extra(v, p + 46 + nameLen, extraLen, e);
      if (e.flags & 1) throw new UserError(`Unsupported zip archive: "${e.name}" is encrypted`);
      if (!this.#entries.has(e.name)) this.#entries.set(e.name, e);
      p += 46 + nameLen + extraLen + commentLen;
    }
  }
}

/** Replace the 0xFFFFFFFF placeholders of `e` from its zip64 extra field, in spec order. */
function readZip64Extra(v: DataView, at: number, len: number, e: Entry): void {
  const end = at + len;
  while (at + 4 <= end) {
    const id = v.getUint16(at, true), size = v.getUint16(at + 2, true);
    if (id === 1) {
      let q = at + 4;
      const take = (): number => {
        if (q + 8 > at + 4 + size) {
          throw new UserError(`Corrupt zip archive: zip64 field of "${e.name}" is too short`);
        }
        const x = u64(v, q);
        q += 8;
        return x;
      };
      if (e.size === U32_MAX) e.size = take();
      if (e.compressedSize === U32_MAX) e.compressedSize = take();
      if (e.localOffset === U32_MAX) e.localOffset = take();
      return;
    }
    at += 4 + size;
  }
}

function u64(v: DataView, at: number): number {
  if (at + 8 > v.byteLength) throw truncated("a zip64 record is cut short");
  const x = v.getBigUint64(at, true);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new UserError(`Corrupt zip archive: offset ${x} is out of range`);
  }
  return Number(x);
}

function truncated(why: string): UserError {
  return new UserError(`Zip archive is truncated: ${why}`);
}

/**
 * A zip of STORED members in the given order, each member's data starting at a multiple of
 * `align` bytes from the start of the archive (padding in a torch-style "FB" extra field).
 * Timestamps are fixed, so equal input gives equal bytes.
 *
 * @example
 * ```ts
 * import { _writeZipStored } from "./zip.ts";
 * const zip = _writeZipStored([{ name: "x", data: new Uint8Array(3) }]);
 * console.log(zip[0] === 0x50 && zip[1] === 0x4b); // true ("PK")
 * ```
 */
export function _writeZipStored(
  entries: readonly { name: string; data: Uint8Array }[],
  align = 64,
): Uint8Array {
  if (entries.length >= U16_MAX) {
    throw new RangeError(`Cannot write ${entries.length} zip members: the limit is ${U16_MAX - 1}`);
  }
  const enc = new TextEncoder();
  const names = entries.map((e) => enc.encode(e.name));
  const pads: number[] = [];
  let cursor = 0;
  entries.forEach((e, i) => {
    const start = cursor + 30 + names[i].length + 4;
    const pad = (align - (start % align)) % align;
    pads.push(pad);
    cursor = start + pad + e.data.length;
  });
  const cdOffset = cursor;
  const cdSize = names.reduce((s, n) => s + 46 + n.length, 0);
  const total = cdOffset + cdSize + 22;
  if (total >= U32_MAX) {
    throw new RangeError(`Cannot write a ${total}-byte zip: zip64 output is not supported`);
  }
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  const offsets: number[] = [];
  const crcs: number[] = [];
  let p = 0;
  entries.forEach((e, i) => {
    const name = names[i], crc = crc32(e.data);
    const utf8 = /[^\x20-\x7e]/.test(e.name) ? 1 << 11 : 0;
    offsets.push(p);
    crcs.push(crc);
    v.setUint32(p, SIG_LOCAL, true);
    v.setUint16(p + 4, 20, true);
    v.setUint16(p + 6, utf8, true);
    v.setUint16(p + 8, 0, true);
    v.setUint16(p + 10, 0, true);
    v.setUint16(p + 12, DOS_DATE, true);
    v.setUint32(p + 14, crc, true);
    v.setUint32(p + 18, e.data.length, true);
    v.setUint32(p + 22, e.data.length, true);
    v.setUint16(p + 26, name.length, true);
    v.setUint16(p + 28, 4 + pads[i], true);
    out.set(name, p + 30);
    p += 30 + name.length;
    v.setUint16(p, PAD_ID, true);
    v.setUint16(p + 2, pads[i], true);
    out.fill(0x5a, p + 4, p + 4 + pads[i]); // 'Z', as torch pads
    p += 4 + pads[i];
    out.set(e.data, p);
    p += e.data.length;
  });
  entries.forEach((e, i) => {
    const name = names[i];
    const utf8 = /[^\x20-\x7e]/.test(e.name) ? 1 << 11 : 0;
    v.setUint32(p, SIG_CENTRAL, true);
    v.setUint16(p + 4, 20, true);
    v.setUint16(p + 6, 20, true);
    v.setUint16(p + 8, utf8, true);
    v.setUint16(p + 10, 0, true);
    v.setUint16(p + 12, 0, true);
    v.setUint16(p + 14, DOS_DATE, true);
    v.setUint32(p + 16, crcs[i], true);
    v.setUint32(p + 20, e.data.length, true);
    v.setUint32(p + 24, e.data.length, true);
    v.setUint16(p + 28, name.length, true);
    v.setUint32(p + 42, offsets[i], true);
    out.set(name, p + 46);
    p += 46 + name.length;
  });
  v.setUint32(p, SIG_END, true);
  v.setUint16(p + 8, entries.length, true);
  v.setUint16(p + 10, entries.length, true);
  v.setUint32(p + 12, cdSize, true);
  v.setUint32(p + 16, cdOffset, true);
  return out;
}
