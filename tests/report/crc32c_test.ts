import assert from "node:assert/strict";
import { crc32c, maskCrc, maskedCrc32c, unmaskCrc } from "../../src/report/crc32c.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("crc32c matches the standard check value and RFC 3720 vectors", () => {
  assert.equal(crc32c(enc("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

Deno.test("crc32c continues across chunks", () => {
  const all = enc("the quick brown fox jumps over the lazy dog");
  assert.equal(crc32c(all.subarray(10), crc32c(all.subarray(0, 10))), crc32c(all));
});

Deno.test("TensorFlow mask: values from tensorboard's masked_crc32c", () => {
  // Reference values computed with tensorboard 2.21 (compat.tensorflow_stub.masked_crc32c).
  assert.equal(maskedCrc32c(enc("123456789")), 0xc78ab0e5);
  assert.equal(maskCrc(0xe3069283), 0xc78ab0e5);
  assert.equal(maskedCrc32c(new Uint8Array(0)), 0xa282ead8);
  const len24 = new Uint8Array(8);
  len24[0] = 24;
  assert.equal(maskedCrc32c(len24), 0x224b7fa3);
});

Deno.test("unmaskCrc inverts maskCrc on edge values", () => {
  for (const v of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xe3069283, 0x5d58d1c3]) {
    assert.equal(unmaskCrc(maskCrc(v)), v);
    assert.ok(maskCrc(v) >= 0 && maskCrc(v) <= 0xffffffff);
  }
});
