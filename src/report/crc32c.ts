/**
 * CRC-32C (Castagnoli), the checksum of TFRecord framing, and TensorFlow's "masked" form of it.
 *
 * @module
 */

/** Reflected Castagnoli polynomial. */
const POLY = 0x82f63b78;
/** TensorFlow adds this after rotating, so a CRC of data that holds CRCs is not trivially zero. */
const MASK_DELTA = 0xa282ead8;

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32C of `bytes`. Pass a previous result as `crc` to continue a checksum over several chunks.
 *
 * @example
 * ```ts
 * import { crc32c } from "./crc32c.ts";
 * const crc = crc32c(new TextEncoder().encode("123456789"));
 * console.log(crc.toString(16)); // "e3069283"
 * ```
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * TensorFlow's mask: rotate right by 15 bits, then add 0xa282ead8 (mod 2³²).
 *
 * @example
 * ```ts
 * import { maskCrc, unmaskCrc } from "./crc32c.ts";
 * console.log(unmaskCrc(maskCrc(0xe3069283)) === 0xe3069283); // true
 * ```
 */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/**
 * Inverse of {@linkcode maskCrc}.
 *
 * @example
 * ```ts
 * import { maskCrc, unmaskCrc } from "./crc32c.ts";
 * console.log(unmaskCrc(maskCrc(12345))); // 12345
 * ```
 */
export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

/**
 * `maskCrc(crc32c(bytes))`: the checksum stored in a TFRecord.
 *
 * @example
 * ```ts
 * import { maskedCrc32c } from "./crc32c.ts";
 * console.log(maskedCrc32c(new Uint8Array(0)) === 0xa282ead8); // true
 * ```
 */
export function maskedCrc32c(bytes: Uint8Array): number {
  return maskCrc(crc32c(bytes));
}
