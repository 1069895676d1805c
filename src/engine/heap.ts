/**
 * The one shared `WebAssembly.Memory` that every backend computes in, and a bump (arena)
 * allocator over it. Tensors are byte offsets into this memory: the Wasm kernels take them as
 * pointers, the TypeScript reference kernels index the `f32` view with `ptr >> 2`.
 *
 * @module
 */

/** Wasm page size in bytes. */
const PAGE = 65536;
/** Largest memory the kernels are compiled for (4 GiB of wasm32 address space). */
export const MAX_PAGES = 65536;
/** Every allocation starts on a 64-byte boundary (cache line, and f32x4 loads never straddle). */
const ALIGN = 64;

/** A saved allocator position, see {@linkcode Heap.mark} and {@linkcode Heap.release}. */
export type HeapMark = number;

/**
 * Shared memory plus arena allocator. Views are refreshed after every growth, so always read
 * `heap.f32` (never keep a view across an `alloc`).
 *
 * @example Allocate and fill a tensor
 * ```ts
 * import { Heap } from "./heap.ts";
 * const heap = new Heap();
 * const p = heap.alloc(4);
 * heap.f32.set([1, 2, 3, 4], p >> 2);
 * console.log(heap.f32[(p >> 2) + 3]); // 4
 * ```
 */
export class Heap {
  /** The shared memory (imported by the Wasm module and posted to the workers). */
  readonly memory: WebAssembly.Memory;
  /** Float32 view over the whole memory. */
  f32!: Float32Array;
  /** Int32 view over the whole memory. */
  i32!: Int32Array;
  /** Uint32 view over the whole memory. */
  u32!: Uint32Array;
  /** Float64 view over the whole memory. */
  f64!: Float64Array;
  /** Byte view over the whole memory. */
  u8!: Uint8Array;
  #top: number;
  #base: number;

  /**
   * @param base First byte the arena may use (the Wasm module's `__heap_base`; 64 for `ref`).
   * @param memory An existing shared memory, or a new one is made.
   */
  constructor(base = ALIGN, memory?: WebAssembly.Memory) {
    this.memory = memory ??
      new WebAssembly.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    this.#base = alignUp(Math.max(base, ALIGN), ALIGN);
    this.#top = this.#base;
    this.#refresh();
  }

  /** Bytes in use by the arena, counting from its base. */
  get used(): number {
    return this.#top - this.#base;
  }

  /**
   * Reserve `count` float32 (or int32) slots, zero-filled, and return the byte offset.
   *
   * @example
   * ```ts
   * import { Heap } from "./heap.ts";
   * const heap = new Heap();
   * const p = heap.alloc(10);
   * console.log(p % 64); // 0
   * ```
   */
  alloc(count: number): number {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`Cannot allocate ${count} floats: expected a non-negative integer`);
    }
    const ptr = this.#top;
    const end = alignUp(ptr + count * 4, ALIGN);
    this.#ensure(end);
    this.#top = end;
    this.u8.fill(0, ptr, end);
    return ptr;
  }

  /**
   * Current allocator position, to hand back later with {@linkcode Heap.release}.
   *
   * @example
   * ```ts
   * import { Heap } from "./heap.ts";
   * const heap = new Heap();
   * const m = heap.mark();
   * heap.alloc(100);
   * heap.release(m);
   * console.log(heap.used); // 0
   * ```
   */
  mark(): HeapMark {
    return this.#top;
  }

  /** Free everything allocated after `mark` (arena semantics: no per-tensor free). */
  release(mark: HeapMark): void {
    if (mark < this.#base || mark > this.#top) {
      throw new RangeError(`Cannot release heap mark ${mark}: outside ${this.#base}..${this.#top}`);
    }
    this.#top = mark;
  }

  /**
   * A Float32Array over `count` floats at byte offset `ptr`. Valid until the next growth.
   *
   * @example
   * ```ts
   * import { Heap } from "./heap.ts";
   * const heap = new Heap();
   * const p = heap.alloc(2);
   * heap.view(p, 2).set([5, 6]);
   * console.log(heap.f32[(p >> 2) + 1]); // 6
   * ```
   */
  view(ptr: number, count: number): Float32Array {
    return this.f32.subarray(ptr >> 2, (ptr >> 2) + count);
  }

  /** Copy `count` floats at `ptr` out to a fresh (unshared) Float32Array. */
  read(ptr: number, count: number): Float32Array {
    return this.f32.slice(ptr >> 2, (ptr >> 2) + count);
  }

  /** Copy `data` into the heap at `ptr`. */
  write(ptr: number, data: ArrayLike<number>): void {
    this.f32.set(data, ptr >> 2);
  }

  #ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    if (have / PAGE + pages > MAX_PAGES) {
      throw new RangeError(
        `Cannot grow the heap to ${end} bytes: the limit is ${MAX_PAGES * PAGE} bytes`,
      );
    }
    // Grow by at least half again, so that many small allocations do not grow page by page.
    const extra = Math.min(MAX_PAGES - have / PAGE, Math.max(pages, Math.ceil(have / PAGE / 2)));
    this.memory.grow(extra);
    this.#refresh();
  }

  #refresh(): void {
    const buf = this.memory.buffer;
    this.f32 = new Float32Array(buf);
    this.i32 = new Int32Array(buf);
    this.u32 = new Uint32Array(buf);
    this.f64 = new Float64Array(buf);
    this.u8 = new Uint8Array(buf);
  }
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
