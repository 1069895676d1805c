/**
 * Milliseconds per attention forward + backward on the model's training shape (B = 128, H = 4,
 * L = 50, Dh = 16), for the `ref` backend and the `wasm` backend on 1 and 2 threads, in each
 * mode. Prints a table, or JSON with `--json`.
 *
 * Usage: deno run -A bench/attention_bench.ts [--json] [--ms=300] [--mode=btsp|standard|original]
 *
 * Each figure is the median time of one forward + backward pair, pairs repeated for at least
 * `--ms` milliseconds after one warm-up pair.
 *
 * @module
 */
import { type Backend, createBackend } from "../src/engine/backend.ts";
import { attentionBackward, attentionForward, type AttentionMode } from "../src/ops/attention.ts";
import { benchArgs } from "./webgpu_bench.ts";

/** One measured shape. */
export interface AttentionShape {
  /** Batch. */
  B: number;
  /** Heads. */
  H: number;
  /** Sequence length. */
  L: number;
  /** Head width. */
  Dh: number;
}

/** Timings of one mode. */
export interface AttentionResult extends AttentionShape {
  /** Which attention. */
  mode: AttentionMode;
  /** ms per forward + backward, `ref` backend. */
  ref: number;
  /** ms per forward + backward, `wasm` on 1 thread. */
  wasm1: number;
  /** ms per forward + backward, `wasm` on 2 threads. */
  wasm2: number;
}

/** The model's default training shape. */
export const SHAPE: AttentionShape = { B: 128, H: 4, L: 50, Dh: 16 };

const MODES: readonly AttentionMode[] = ["btsp", "standard", "original"];

/**
 * Median milliseconds of one forward + backward of `mode` on `be`.
 *
 * @example
 * ```ts
 * import { createBackend } from "../src/engine/backend.ts";
 * import { measure } from "./attention_bench.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * console.log(measure(be, "btsp", { B: 2, H: 2, L: 8, Dh: 4 }, 5) > 0); // true
 * be.close();
 * ```
 */
export function measure(
  be: Backend,
  mode: AttentionMode,
  shape: AttentionShape,
  minMs: number,
): number {
  const h = be.heap, mark = h.mark();
  try {
    const a = benchArgs(be, mode, shape);
    const call = (): void => {
      attentionForward(be, a);
      attentionBackward(be, a);
    };
    call();
    const times: number[] = [];
    const start = performance.now();
    do {
      const t = performance.now();
      call();
      times.push(performance.now() - t);
    } while (performance.now() - start < minMs);
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  } finally {
    h.release(mark);
  }
}

/**
 * Measure `modes` on `ref`, `wasm` ×1 and `wasm` ×2.
 *
 * @example
 * ```ts
 * import { runAll } from "./attention_bench.ts";
 * const rows = runAll(1, ["standard"], { B: 2, H: 1, L: 5, Dh: 4 });
 * console.log(rows.length); // 1
 * ```
 */
export function runAll(
  minMs: number,
  modes: readonly AttentionMode[] = MODES,
  shape: AttentionShape = SHAPE,
): AttentionResult[] {
  const ref = createBackend("ref");
  const w1 = createBackend("wasm", { threads: 1 });
  const w2 = createBackend("wasm", { threads: 2 });
  try {
    return modes.map((mode) => ({
      mode,
      ...shape,
      ref: measure(ref, mode, shape, minMs),
      wasm1: measure(w1, mode, shape, minMs),
      wasm2: measure(w2, mode, shape, minMs),
    }));
  } finally {
    ref.close();
    w1.close();
    w2.close();
  }
}

function table(rows: AttentionResult[]): string {
  const head = ["mode", "ref ms", "wasm 1t ms", "wasm 2t ms", "1t vs ref", "2t vs 1t"];
  const body = rows.map((r) => [
    r.mode,
    r.ref.toFixed(1),
    r.wasm1.toFixed(2),
    r.wasm2.toFixed(2),
    `${(r.ref / r.wasm1).toFixed(1)}×`,
    `${(r.wasm1 / r.wasm2).toFixed(2)}×`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const s = rows[0] ?? SHAPE;
  return [
    `attention forward + backward, B=${s.B} H=${s.H} L=${s.L} Dh=${s.Dh} (median ms per pair)`,
    line(head),
    ...body.map(line),
  ].join("\n");
}

if (import.meta.main) {
  const msArg = Deno.args.find((a) => a.startsWith("--ms="));
  const minMs = msArg ? Number(msArg.slice(5)) : 300;
  if (!Number.isFinite(minMs) || minMs <= 0) {
    console.error(`Cannot use "${msArg}": expected --ms=<positive milliseconds>`);
    Deno.exit(2);
  }
  const modeArg = Deno.args.find((a) => a.startsWith("--mode="))?.slice(7);
  if (modeArg !== undefined && !MODES.includes(modeArg as AttentionMode)) {
    console.error(`Cannot bench mode "${modeArg}": expected btsp, standard or original`);
    Deno.exit(2);
  }
  const rows = runAll(minMs, modeArg ? [modeArg as AttentionMode] : MODES);
  console.log(Deno.args.includes("--json") ? JSON.stringify(rows, null, 2) : table(rows));
}
