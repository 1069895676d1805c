import assert from "node:assert/strict";
import { crc32 } from "../../src/io/crc32.ts";

Deno.test("crc32: standard check values", () => {
  const enc = new TextEncoder();
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(enc.encode("123456789")), 0xcbf43926);
  assert.equal(crc32(enc.encode("The quick brown fox jumps over the lazy dog")), 0x414fa339);
});

Deno.test("crc32: any split into chunks gives the same value (slice-by-4 tail paths)", () => {
  const b = Uint8Array.from({ length: 1031 }, (_, i) => Math.imul(i, 2654435761) >>> 24);
  const whole = crc32(b);
  for (const cut of [0, 1, 2, 3, 5, 512, 1030]) {
    assert.equal(crc32(b.subarray(cut), crc32(b.subarray(0, cut))), whole, `cut ${cut}`);
  }
  // Against a bitwise reference.
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  assert.equal(whole, (c ^ 0xffffffff) >>> 0);
});
