import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- the project pins npm versions inline
import { deflateSync } from "npm:fflate@0.8.2";
import { crc32 } from "../../src/io/crc32.ts";
import { _writeZipStored, _ZipReader } from "../../src/io/zip.ts";
import { UserError } from "../../src/util/errors.ts";

const enc = new TextEncoder();

function members(): { name: string; data: Uint8Array }[] {
  return [
    { name: "archive/data.pkl", data: enc.encode("pickle") },
    { name: "archive/empty", data: new Uint8Array(0) },
    { name: "archive/data/0", data: Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff) },
    { name: "archive/ünï", data: enc.encode("utf-8 name") },
  ];
}

Deno.test("zip: stored round trip, every member 64-byte aligned, deterministic", () => {
  const zip = _writeZipStored(members());
  assert.deepEqual(zip, _writeZipStored(members()));
  const r = new _ZipReader(zip);
  assert.deepEqual(r.names, members().map((m) => m.name));
  const v = new DataView(zip.buffer);
  for (const m of members()) {
    assert.deepEqual(r.read(m.name), m.data);
    // The data view the reader returns points into the archive: check its alignment.
    assert.equal(r.read(m.name)!.byteOffset % 64, 0, m.name);
  }
  assert.equal(r.read("missing"), undefined);
  assert.equal(v.getUint32(zip.length - 22, true), 0x06054b50);
});

Deno.test("zip: reads deflated members and zip64 end records", () => {
  // Hand-built archive: one deflated member, then a zip64 end record + locator before the
  // classic end record whose fields say "see zip64".
  const data = enc.encode("hello hello hello hello");
  const comp = deflateSync(data);
  const name = enc.encode("x.txt");
  const parts: number[] = [];
  const u16 = (x: number) => parts.push(x & 0xff, x >>> 8);
  const u32 = (x: number) => {
    u16(x & 0xffff);
    u16(x >>> 16);
  };
  const u64 = (x: number) => {
    u32(x);
    u32(0);
  };
  u32(0x04034b50), u16(20), u16(0), u16(8), u16(0), u16(0), u32(crc32(data));
  u32(comp.length), u32(data.length), u16(name.length), u16(0), parts.push(...name, ...comp);
  const cd = parts.length;
  u32(0x02014b50), u16(45), u16(45), u16(0), u16(8), u16(0), u16(0), u32(crc32(data));
  u32(comp.length), u32(data.length), u16(name.length), u16(0), u16(0), u16(0), u16(0);
  u32(0), u32(0), parts.push(...name);
  const cdSize = parts.length - cd, e64 = parts.length;
  u32(0x06064b50), u64(44), u16(45), u16(45), u32(0), u32(0), u64(1), u64(1), u64(cdSize);
  u64(cd);
  u32(0x07064b50), u32(0), u64(e64), u32(1);
  u32(0x06054b50), u16(0), u16(0), u16(0xffff), u16(0xffff), u32(0xffffffff), u32(0xffffffff);
  u16(0);
  const r = new _ZipReader(new Uint8Array(parts));
  assert.deepEqual(r.names, ["x.txt"]);
  assert.deepEqual(r.read("x.txt"), data);
});

Deno.test("zip: damaged archives are UserErrors with a reason", () => {
  const zip = _writeZipStored(members());
  assert.throws(() => new _ZipReader(new Uint8Array(0)), /Not a zip archive/);
  assert.throws(
    () => new _ZipReader(enc.encode("just some text, long enough to scan")),
    /Not a zip/,
  );
  assert.throws(() => new _ZipReader(zip.subarray(0, zip.length - 30)), /truncated/);
  const flipped = zip.slice();
  const at = new _ZipReader(zip).read("archive/data/0")!.byteOffset + 10;
  flipped[at] ^= 1;
  assert.throws(() => new _ZipReader(flipped).read("archive/data/0"), /checksum mismatch/);
  // Every proper prefix fails cleanly.
  for (let n = 0; n < zip.length; n += 7) {
    assert.throws(() => {
      const r = new _ZipReader(zip.subarray(0, n));
      for (const m of r.names) r.read(m);
    }, UserError);
  }
});

Deno.test("zip: random corruption only ever throws UserError", () => {
  const zip = _writeZipStored(members());
  let seed = 7;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let trial = 0; trial < 500; trial++) {
    const b = zip.slice();
    for (let k = 0; k < 4; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    try {
      const r = new _ZipReader(b);
      for (const m of r.names) r.read(m);
    } catch (e) {
      assert.ok(e instanceof UserError, `trial ${trial}: ${(e as Error).stack}`);
    }
  }
});
