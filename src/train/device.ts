/**
 * Which device runs the attention hot loop, and why. The rest of a step always runs on the CPU
 * backend (`wasm`, or `ref` for the TypeScript reference).
 *
 * @module
 */
import type { BackendName } from "../engine/backend.ts";
import type { DeviceName } from "./options.ts";

/** The outcome of {@linkcode selectDevice}. */
export interface DeviceChoice {
  /** What runs: "wasm", "ref" or "webgpu (<adapter>)". */
  name: string;
  /** One sentence for the user on why this device was chosen. */
  reason: string;
  /** CPU backend for everything else. */
  backend: BackendName;
}

/**
 * Resolve `--device`.
 *
 * @example
 * ```ts
 * import { selectDevice } from "./device.ts";
 * console.log((await selectDevice("wasm")).name); // wasm
 * ```
 */
export async function selectDevice(device: DeviceName): Promise<DeviceChoice> {
  await Promise.resolve();
  if (device === "ref") {
    return { name: "ref", reason: "TypeScript reference kernels were asked for", backend: "ref" };
  }
  return { name: "wasm", reason: "Wasm SIMD kernels on the CPU", backend: "wasm" };
}
