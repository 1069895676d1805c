/**
 * Worker threads that run Wasm kernels on the shared heap. Each job is split into `threads`
 * contiguous task ranges by a formula that only depends on the task count; the main thread runs
 * range 0, workers the others. Wake-up and completion use `Atomics.wait/notify` on a control
 * block in the heap, with only a short bounded spin before sleeping (unbounded spinning collapses
 * when threads outnumber free cores).
 *
 * @module
 */
import type { Heap } from "./heap.ts";

/** Most arguments a kernel may take, besides its task range. */
const MAX_ARGS = 32;
/** Polls before sleeping: a few microseconds, bounded so oversubscribed threads still yield. */
const SPIN = 2000;
// Control block layout (int32 slots): generation, pending, kernel id, arg count, tasks,
// threads, error flag, ready count, start-up failure flag. Args follow as float64 from byte 64.
const GEN = 0, PENDING = 1, KERNEL = 2, NARGS = 3, TASKS = 4, THREADS = 5, ERROR = 6, READY = 7;
const INIT_FAILED = 8;
/** How long the first job waits for the workers to start before giving up. */
const START_TIMEOUT_MS = 60_000;
/** Least time a job waits for a worker's share before declaring the worker dead. */
const STALL_MS = 120_000;

const WORKER_SOURCE = `
self.onmessage = (e) => {
  const { module, memory, ctrlPtr, index, names } = e.data;
  const ctrl = new Int32Array(memory.buffer, ctrlPtr, 16);
  let fns;
  try {
    const inst = new WebAssembly.Instance(module, { env: { memory, abort(_m, _f, l, c) {
      throw new Error("Wasm kernel aborted at " + l + ":" + c);
    } } });
    fns = names.map((n) => inst.exports[n]);
  } catch (_err) {
    // Tell the main thread instead of leaving it waiting for a worker that never starts.
    Atomics.store(ctrl, ${INIT_FAILED}, 1);
    Atomics.add(ctrl, ${READY}, 1);
    Atomics.notify(ctrl, ${READY});
    self.close();
    return;
  }
  const args = new Float64Array(memory.buffer, ctrlPtr + 64, ${MAX_ARGS});
  let gen = Atomics.load(ctrl, ${GEN});
  Atomics.add(ctrl, ${READY}, 1);
  Atomics.notify(ctrl, ${READY});
  for (;;) {
    // A short bounded spin catches back-to-back jobs; then sleep in the kernel.
    for (let s = 0; s < ${SPIN} && Atomics.load(ctrl, ${GEN}) === gen; s++);
    Atomics.wait(ctrl, ${GEN}, gen);
    gen = Atomics.load(ctrl, ${GEN});
    const id = ctrl[${KERNEL}];
    if (id < 0) break;
    const tasks = ctrl[${TASKS}], T = ctrl[${THREADS}], n = ctrl[${NARGS}];
    const t0 = Math.floor((tasks * index) / T), t1 = Math.floor((tasks * (index + 1)) / T);
    if (t1 > t0) {
      try {
        const a = new Array(n + 2);
        for (let i = 0; i < n; i++) a[i] = args[i];
        a[n] = t0; a[n + 1] = t1;
        fns[id](...a);
      } catch (_err) {
        Atomics.store(ctrl, ${ERROR}, 1);
      }
    }
    if (Atomics.sub(ctrl, ${PENDING}, 1) === 1) Atomics.notify(ctrl, ${PENDING});
  }
  self.close();
};
`;

/**
 * A fixed set of workers bound to one Wasm module and heap.
 *
 * @example
 * ```ts
 * import { createBackend } from "./backend.ts";
 * const be = createBackend("wasm", { threads: 2 }); // owns a Pool of 1 worker
 * be.close();
 * ```
 */
export class Pool {
  readonly threads: number;
  readonly #workers: Worker[] = [];
  readonly #ctrl: Int32Array;
  readonly #args: Float64Array;
  readonly #ids = new Map<string, number>();
  readonly #fns: ((...a: number[]) => unknown)[] = [];
  #ready = false;
  #closed = false;
  /** The workers' script; revoked only once they have all started (they load it asynchronously). */
  #url: string | undefined;

  constructor(
    module: WebAssembly.Module,
    heap: Heap,
    threads: number,
    exports: Record<string, unknown>,
  ) {
    this.threads = threads;
    const ctrlPtr = heap.alloc(16 + 2 * MAX_ARGS);
    this.#ctrl = new Int32Array(heap.memory.buffer, ctrlPtr, 16);
    this.#args = new Float64Array(heap.memory.buffer, ctrlPtr + 64, MAX_ARGS);
    const names = Object.keys(exports).filter((k) => typeof exports[k] === "function");
    names.forEach((n, i) => {
      this.#ids.set(n, i);
      this.#fns.push(exports[n] as (...a: number[]) => unknown);
    });
    this.#url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    try {
      for (let index = 1; index < threads; index++) {
        const w = new Worker(this.#url, { type: "module" });
        w.postMessage({ module, memory: heap.memory, ctrlPtr, index, names });
        this.#workers.push(w);
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Run `kernel` over `tasks` tasks on every thread and wait for all of them. */
  run(kernel: string, tasks: number, args: readonly number[]): void {
    if (this.#closed) throw new Error("Cannot run a kernel: the thread pool is closed");
    const id = this.#ids.get(kernel);
    if (id === undefined) throw new Error(`Unknown kernel "${kernel}" in the wasm backend`);
    if (args.length > MAX_ARGS) {
      throw new RangeError(`Kernel "${kernel}" takes at most ${MAX_ARGS} arguments`);
    }
    this.#waitReady();
    const c = this.#ctrl, T = this.threads;
    for (let i = 0; i < args.length; i++) this.#args[i] = args[i];
    c[KERNEL] = id;
    c[NARGS] = args.length;
    c[TASKS] = tasks;
    c[THREADS] = T;
    c[ERROR] = 0;
    Atomics.store(c, PENDING, T - 1);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    const t1 = Math.floor(tasks / T);
    let mainError: unknown;
    const start = performance.now();
    try {
      if (t1 > 0) this.#fns[id](...args, 0, t1);
    } catch (err) {
      mainError = err;
    }
    // Workers do shares of the same size: one still busy long after ours is a dead thread, and
    // an error then beats waiting forever.
    const patience = Math.max(STALL_MS, 100 * (performance.now() - start));
    for (let s = 0; s < SPIN && Atomics.load(c, PENDING) !== 0; s++);
    for (let p = Atomics.load(c, PENDING); p !== 0; p = Atomics.load(c, PENDING)) {
      if (performance.now() - start > patience) {
        this.close();
        throw new Error(`A worker thread stopped responding during kernel "${kernel}"`);
      }
      Atomics.wait(c, PENDING, p, 1000);
    }
    if (mainError) throw mainError;
    if (c[ERROR]) throw new Error(`Kernel "${kernel}" failed in a worker thread`);
  }

  /** Stop the workers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const c = this.#ctrl;
    c[KERNEL] = -1;
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    for (const w of this.#workers) w.terminate();
    this.#revoke();
  }

  #revoke(): void {
    if (this.#url) URL.revokeObjectURL(this.#url);
    this.#url = undefined;
  }

  // Blocks the calling thread: the workers start on their own threads, without its event loop.
  #waitReady(): void {
    if (this.#ready) return;
    const c = this.#ctrl, want = this.threads - 1, deadline = Date.now() + START_TIMEOUT_MS;
    for (let r = Atomics.load(c, READY); r < want; r = Atomics.load(c, READY)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.close();
        throw new Error(
          `The ${want} worker thread(s) did not start within ${START_TIMEOUT_MS / 1000} s; ` +
            `retry with --threads 1`,
        );
      }
      Atomics.wait(c, READY, r, Math.min(left, 1000));
    }
    if (Atomics.load(c, INIT_FAILED)) {
      this.close();
      throw new Error(
        "A worker thread could not instantiate the Wasm kernels; retry with --threads 1",
      );
    }
    this.#ready = true;
    this.#revoke();
  }
}
