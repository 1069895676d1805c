/**
 * Which device runs the attention hot loop, and why. The rest of a step always runs on the CPU
 * backend (`wasm`, or `ref` for the TypeScript reference).
 *
 * @module
 */
import type { BackendName } from "../engine/backend.ts";
import { UserError } from "../util/errors.ts";
import { type AttentionImpl, createWebGpuAttention } from "../webgpu/attention.ts";
import type { DeviceName } from "./options.ts";

/** The outcome of {@linkcode selectDevice}. */
export interface DeviceChoice {
  /** What runs: "wasm", "ref" or "webgpu (<adapter>)". */
  name: string;
  /** One sentence for the user on why this device was chosen. */
  reason: string;
  /** CPU backend for everything else. */
  backend: BackendName;
  /**
   * The attention implementation when it does not run on `backend` (WebGPU). It owns a GPU
   * device: whoever receives the choice must `close()` it.
   */
  attention?: AttentionImpl;
}

/**
 * Resolve `--device`. `webgpu` takes any WebGPU adapter, software ones included, and fails
 * without one; `auto` (what `--use_gpu` means) takes only a hardware adapter and otherwise falls
 * back to Wasm, saying why.
 *
 * @example
 * ```ts
 * import { selectDevice } from "./device.ts";
 * console.log((await selectDevice("wasm")).name); // wasm
 * const auto = await selectDevice("auto");
 * console.log(auto.reason.length > 0); // true
 * auto.attention?.close();
 * ```
 */
export async function selectDevice(device: DeviceName): Promise<DeviceChoice> {
  if (device === "ref") {
    return { name: "ref", reason: "TypeScript reference kernels were asked for", backend: "ref" };
  }
  if (device === "wasm") {
    return { name: "wasm", reason: "Wasm SIMD kernels on the CPU", backend: "wasm" };
  }
  if (device !== "webgpu" && device !== "auto") {
    throw new UserError(
      `Unknown device "${String(device)}": expected auto, wasm, webgpu or ref`,
    );
  }
  const r = await createWebGpuAttention({ requireHardware: device === "auto" });
  if (!r.ok) {
    if (device === "webgpu") {
      throw new UserError(`--device webgpu: no WebGPU adapter is available (${r.reason})`);
    }
    return { name: "wasm", reason: `${r.reason}: using Wasm`, backend: "wasm" };
  }
  const kind = r.hardware ? "a hardware adapter" : "a software fallback adapter";
  return {
    name: r.impl.name,
    reason: device === "webgpu"
      ? `--device webgpu: attention runs on ${r.adapter} (${kind})`
      : `found the hardware WebGPU adapter ${r.adapter}: attention runs on it`,
    backend: "wasm",
    attention: r.impl,
  };
}
