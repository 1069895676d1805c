/**
 * Getting a WebGPU device, and turning WebGPU's deferred errors into thrown ones. WebGPU reports
 * validation errors (a WGSL typo, a bad binding) asynchronously through error scopes, never by
 * throwing; {@linkcode withErrorScope} waits for the scope so the error surfaces where it happened.
 *
 * @module
 */

/** A device and what it runs on. */
export interface GpuContext {
  /** The device; `destroy()` it when done. */
  device: GPUDevice;
  /** The adapter's description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  adapter: string;
  /** False for a software fallback adapter (llvmpipe, SwiftShader, WARP). */
  hardware: boolean;
}

/** The outcome of {@linkcode requestGpu}: a device, or why there is none. */
export type GpuRequest = { ok: true; gpu: GpuContext } | { ok: false; reason: string };

/**
 * Ask for a WebGPU device. Never throws: a missing `navigator.gpu`, no adapter or a refused
 * device come back as `{ ok: false, reason }` (the reason is a phrase shown to the user).
 *
 * @param opts.requireHardware refuse software fallback adapters (before creating a device).
 *
 * @example
 * ```ts
 * import { requestGpu } from "./gpu.ts";
 * const r = await requestGpu();
 * if (r.ok) r.gpu.device.destroy();
 * console.log(typeof r.ok); // boolean
 * ```
 */
export async function requestGpu(opts: { requireHardware?: boolean } = {}): Promise<GpuRequest> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return { ok: false, reason: "navigator.gpu is not available in this runtime" };
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    return { ok: false, reason: `requesting an adapter failed: ${_message(e)}` };
  }
  if (!adapter) return { ok: false, reason: "no WebGPU adapter was found" };
  const name = _adapterName(adapter);
  const hardware = !_isFallback(adapter);
  if (opts.requireHardware && !hardware) {
    return {
      ok: false,
      reason: `no hardware WebGPU adapter (found ${name}, a software fallback)`,
    };
  }
  try {
    // Big tensors (B·H·L² attention weights) need the adapter's largest buffers, not the
    // defaults (128 MiB binding, 256 MiB buffer).
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
    return { ok: true, gpu: { device, adapter: name, hardware } };
  } catch (e) {
    return { ok: false, reason: `the ${name} adapter refused a device: ${_message(e)}` };
  }
}

function _adapterName(a: GPUAdapter): string {
  const info = (a as { info?: GPUAdapterInfo }).info;
  const parts = [info?.description, info?.device, info?.vendor].filter((s) => s && s !== "0");
  return parts[0] || "unnamed adapter";
}

function _isFallback(a: GPUAdapter): boolean {
  const info = (a as { info?: { isFallbackAdapter?: boolean } }).info;
  return Boolean(
    info?.isFallbackAdapter ?? (a as { isFallbackAdapter?: boolean }).isFallbackAdapter,
  );
}

function _message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Run `fn` inside validation and out-of-memory error scopes and throw if either caught an error,
 * with `what` naming the step. Without this a bad WGSL module only logs a warning and the next
 * dispatch silently does nothing.
 *
 * @example A broken WGSL module becomes an exception
 * ```ts
 * import { requestGpu, withErrorScope } from "./gpu.ts";
 * const r = await requestGpu();
 * if (r.ok) {
 *   const device = r.gpu.device;
 *   try {
 *     await withErrorScope(device, "compiling a typo", () =>
 *       device.createShaderModule({ code: "fn main( {" }));
 *   } catch (e) {
 *     console.log((e as Error).message.startsWith("WebGPU error while compiling a typo")); // true
 *   }
 *   device.destroy();
 * }
 * ```
 */
export async function withErrorScope<T>(
  device: GPUDevice,
  what: string,
  fn: () => T,
): Promise<T> {
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  let value: T, thrown: unknown, threw = false;
  try {
    value = fn();
  } catch (e) {
    thrown = e;
    threw = true;
  }
  // Both scopes are popped whatever happened, and before any await, so the device's scope stack
  // stays balanced even when several of these run interleaved.
  const popped = [device.popErrorScope(), device.popErrorScope()];
  const [validation, oom] = await Promise.all(popped);
  if (threw) throw thrown;
  const err = validation ?? oom;
  if (err) throw new Error(`WebGPU error while ${what}: ${err.message.trim()}`);
  return value!;
}

/**
 * Compile a WGSL compute shader into a pipeline, throwing with the WGSL diagnostics (line,
 * column, message) when it does not compile.
 *
 * @example
 * ```ts
 * import { compilePipeline, requestGpu } from "./gpu.ts";
 * const r = await requestGpu();
 * if (r.ok) {
 *   const code = "@compute @workgroup_size(1) fn main() {}";
 *   const p = await compilePipeline(r.gpu.device, "an empty kernel", code);
 *   console.log(typeof p.getBindGroupLayout); // function
 *   r.gpu.device.destroy();
 * }
 * ```
 */
export async function compilePipeline(
  device: GPUDevice,
  label: string,
  code: string,
): Promise<GPUComputePipeline> {
  const module = await withErrorScope(
    device,
    `compiling the ${label} WGSL`,
    () => device.createShaderModule({ label, code }),
  );
  return await withErrorScope(
    device,
    `creating the ${label} pipeline`,
    () =>
      device.createComputePipeline({
        label,
        layout: "auto",
        compute: { module, entryPoint: "main" },
      }),
  );
}
