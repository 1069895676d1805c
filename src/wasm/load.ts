/**
 * The compiled kernel module, decoded from the generated base64 file so that importing this
 * library by URL needs neither a build step nor read permission.
 *
 * @module
 */
import { WASM_BASE64 } from "./kernels_wasm.ts";

let cached: Uint8Array<ArrayBuffer> | undefined;

/**
 * The bytes of the kernel module (decoded once).
 *
 * @example
 * ```ts
 * import { wasmBytes } from "./load.ts";
 * console.log(WebAssembly.validate(wasmBytes())); // true
 * ```
 */
export function wasmBytes(): Uint8Array<ArrayBuffer> {
  if (!cached) {
    const bin = atob(WASM_BASE64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    cached = out;
  }
  return cached;
}
