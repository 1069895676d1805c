/**
 * The GPU buffers and bind groups of one attention call site (one shape and one `qkv` tensor),
 * created once and reused every step.
 *
 * @module
 */
import { UserError } from "../util/errors.ts";
import { withErrorScope } from "./gpu.ts";
import type { GpuLayout, GpuShape } from "./layout.ts";

/** The compiled shaders of one shape. */
export interface GpuPipelines {
  /** Forward: inp, st, out. */
  forward: GPUComputePipeline;
  /** Backward: inp, st, dout, work, grads. */
  backward: GPUComputePipeline;
  /** Parameter-gradient reduction (btsp, original): work, grads. */
  reduce?: GPUComputePipeline;
}

// GPUBufferUsage values from the WebGPU spec, as literals so this module loads (and the CLI can
// report "no adapter") in a runtime without the WebGPU globals.
const S = 0x80, SRC = 0x04, DST = 0x08, READ = 0x01;
/** Floats addressable by the shaders' u32 indices, with room for the offsets added to them. */
const MAX_FLOATS = 2 ** 31;

/**
 * Buffers of one call site. `forwarded` records that `st` holds the forward's A, Â, N for the
 * current `inp`, which the backward needs.
 */
export class _CallState {
  readonly shape: GpuShape;
  readonly lay: GpuLayout;
  readonly inp: GPUBuffer;
  readonly st: GPUBuffer;
  readonly out: GPUBuffer;
  readonly dout: GPUBuffer;
  readonly work: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly outRead: GPUBuffer;
  readonly gradRead: GPUBuffer;
  readonly fwdGroup: GPUBindGroup;
  readonly bwdGroup: GPUBindGroup;
  readonly redGroup: GPUBindGroup | undefined;
  forwarded = false;

  private constructor(device: GPUDevice, shape: GpuShape, lay: GpuLayout, p: GpuPipelines) {
    this.shape = shape;
    this.lay = lay;
    const mk = (label: string, floats: number, usage: number) =>
      device.createBuffer({ label, size: floats * 4, usage });
    this.inp = mk("attention inp", lay.inp.size, S | DST);
    this.st = mk("attention st", lay.st.size, S);
    this.out = mk("attention out", lay.out.size, S | SRC);
    this.dout = mk("attention dout", lay.out.size, S | DST);
    this.work = mk("attention work", lay.work.size, S);
    this.grads = mk("attention grads", lay.grads.size, S | SRC);
    this.outRead = mk("attention out readback", lay.out.size, READ | DST);
    this.gradRead = mk("attention grads readback", lay.grads.size, READ | DST);
    const group = (pipe: GPUComputePipeline, bufs: GPUBuffer[]) =>
      device.createBindGroup({
        layout: pipe.getBindGroupLayout(0),
        entries: bufs.map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
    this.fwdGroup = group(p.forward, [this.inp, this.st, this.out]);
    this.bwdGroup = group(p.backward, [this.inp, this.st, this.dout, this.work, this.grads]);
    this.redGroup = p.reduce ? group(p.reduce, [this.work, this.grads]) : undefined;
  }

  /** Create everything inside an error scope (sizes already checked by {@linkcode _checkLimits}). */
  static async create(
    device: GPUDevice,
    shape: GpuShape,
    lay: GpuLayout,
    pipes: GpuPipelines,
  ): Promise<_CallState> {
    _checkLimits(device, shape, lay);
    return await withErrorScope(
      device,
      "creating the attention buffers",
      () => new _CallState(device, shape, lay, pipes),
    );
  }

  /** Free the GPU memory. */
  destroy(): void {
    for (const b of [this.inp, this.st, this.out, this.dout, this.work, this.grads]) b.destroy();
    this.outRead.destroy();
    this.gradRead.destroy();
  }
}

/**
 * Refuse a shape whose buffers exceed the device limits or the shaders' u32 indexing, before
 * anything is compiled or allocated. A user-fixable error: the batch or the length is too big.
 */
export function _checkLimits(device: GPUDevice, shape: GpuShape, lay: GpuLayout): void {
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const sizes: [string, number][] = [
    ["input", lay.inp.size],
    ["attention-weight", lay.st.size],
    ["backward work", lay.work.size],
    ["gradient", lay.grads.size],
  ];
  for (const [name, floats] of sizes) {
    if (floats * 4 > limit || floats > MAX_FLOATS) {
      const mib = (n: number) => (n / 2 ** 20).toFixed(0);
      throw new UserError(
        `Cannot run attention on WebGPU with batch ${shape.B}, length ${shape.L} and ` +
          `${shape.H} heads: its ${name} buffer needs ${mib(floats * 4)} MiB and the adapter ` +
          `allows ${mib(limit)} MiB; use a smaller batch size or --device wasm`,
      );
    }
  }
}
