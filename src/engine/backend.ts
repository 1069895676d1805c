/**
 * Backends run named kernels over a task range. A kernel is a function
 * `name(...args, t0, t1)` that does tasks `t0 … t1-1` of a job; what task `t` computes must not
 * depend on `t0`/`t1` (only on `t`), and no two tasks write the same output. That is what makes
 * results bit-identical whatever the thread count: threads only change who runs which task.
 *
 * - `ref`: plain TypeScript kernels (src/kernels/ref), one thread; the numeric reference.
 * - `wasm`: AssemblyScript kernels (asm/) compiled to Wasm SIMD, run by a thread pool.
 *
 * @module
 */
import { Heap } from "./heap.ts";
import { Pool } from "./pool.ts";
import { refKernels } from "../kernels/ref/mod.ts";
import { wasmBytes } from "../wasm/load.ts";

/** The backends that run the CPU kernels. */
export type BackendName = "ref" | "wasm";

/** A TypeScript reference kernel: `(heap, ...args, t0, t1)`. Pointers are byte offsets. */
export type RefKernel = (heap: Heap, ...args: number[]) => void;

/**
 * Something that runs kernels on a shared heap.
 */
export interface Backend {
  /** Which implementation runs the kernels. */
  readonly name: BackendName;
  /** The memory every tensor lives in. */
  readonly heap: Heap;
  /** Threads taking part in a parallel job (1 for `ref`). */
  readonly threads: number;
  /**
   * Run `kernel(...args, t0, t1)` over tasks `0 … tasks-1`, in parallel where it pays.
   * @param flopsPerTask rough work of one task; small jobs stay on the calling thread.
   */
  run(kernel: string, tasks: number, args: readonly number[], flopsPerTask?: number): void;
  /** Stop worker threads. The backend must not be used afterwards. */
  close(): void;
}

/** Options for {@linkcode createBackend}. */
export interface BackendOptions {
  /** Threads for `wasm` (main thread included). Default: `navigator.hardwareConcurrency`. */
  threads?: number;
}

/**
 * Make a backend with its own heap.
 *
 * @example
 * ```ts
 * import { createBackend } from "./backend.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * console.log(be.name, be.threads); // wasm 1
 * be.close();
 * ```
 */
export function createBackend(name: BackendName, opts: BackendOptions = {}): Backend {
  if (name === "ref") return new RefBackend();
  if (name === "wasm") return new WasmBackend(opts.threads ?? defaultThreads());
  throw new RangeError(`Unknown backend "${name}": expected "ref" or "wasm"`);
}

/** Threads used when none are asked for: every logical core. */
export function defaultThreads(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** The TypeScript reference backend: one thread, every kernel in plain TypeScript. */
export class RefBackend implements Backend {
  readonly name = "ref" as const;
  readonly heap: Heap = new Heap();
  readonly threads = 1;

  run(kernel: string, tasks: number, args: readonly number[]): void {
    const fn = refKernels[kernel];
    if (!fn) throw new Error(`Unknown kernel "${kernel}" in the ref backend`);
    if (tasks > 0) fn(this.heap, ...args, 0, tasks);
  }

  close(): void {}
}

/** Work under which a job is not worth waking the workers for (~10–20 µs of compute). */
const PARALLEL_MIN_FLOPS = 100_000;

/** The Wasm SIMD backend, with a thread pool over the shared heap. */
export class WasmBackend implements Backend {
  readonly name = "wasm" as const;
  readonly heap: Heap;
  readonly threads: number;
  readonly #exports: Record<string, (...a: number[]) => unknown>;
  readonly #pool: Pool | undefined;

  constructor(threads: number) {
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`Cannot use ${threads} threads: expected a positive integer`);
    }
    this.threads = threads;
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
    const module = new WebAssembly.Module(wasmBytes());
    const instance = new WebAssembly.Instance(module, wasmImports(memory));
    this.#exports = instance.exports as unknown as Record<string, (...a: number[]) => unknown>;
    const heapBase = Number(this.#exports.heap_base());
    this.heap = new Heap(heapBase, memory);
    this.#pool = threads > 1 ? new Pool(module, this.heap, threads, this.#exports) : undefined;
  }

  run(kernel: string, tasks: number, args: readonly number[], flopsPerTask = Infinity): void {
    const fn = this.#exports[kernel];
    if (typeof fn !== "function") throw new Error(`Unknown kernel "${kernel}" in the wasm backend`);
    if (tasks <= 0) return;
    if (!this.#pool || tasks < 2 || tasks * flopsPerTask < PARALLEL_MIN_FLOPS) {
      fn(...args, 0, tasks);
      return;
    }
    this.#pool.run(kernel, tasks, args);
  }

  close(): void {
    this.#pool?.close();
  }
}

/** The imports the kernel module needs: the shared memory and `abort`. */
export function wasmImports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return {
    env: {
      memory,
      abort(_msg: number, _file: number, line: number, col: number): never {
        throw new Error(`Wasm kernel aborted at ${line}:${col}`);
      },
    },
  };
}
