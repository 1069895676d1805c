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
import {
  attentionBackward,
  attentionForward,
  type AttentionMode,
  attentionScratchFloats,
} from "../src/ops/attention.ts";
import { Rng } from "../src/util/rng.ts";

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
  const { B, H, L, Dh } = shape, D = H * Dh;
  const h = be.heap, mark = h.mark();
  try {
    const rng = new Rng(1);
    const fill = (n: number, lo: number, hi: number): number => {
      const p = h.alloc(n);
      const v = h.view(p, n);
      for (let i = 0; i < n; i++) v[i] = rng.uniform(lo, hi);
      return p;
    };
    const timeBias = h.alloc(500);
    h.view(timeBias, 500).forEach((_, i, a) => (a[i] = -1 + (2 * i) / 499));
    const args = {
      mode,
      B,
      L,
      D,
      H,
      qStart: 0,
      out: h.alloc(B * L * D),
      qkv: fill(B * L * 3 * D, -1, 1),
      isLogit: fill(B * L * H, -2, 2),
      scratch: h.alloc(attentionScratchFloats(mode, B, L, D, H, 0)),
      logTauEt: fill(H, 2, 2.1),
      logTauIs: fill(H, 0.6, 0.7),
      eta: fill(H, -0.1, 0.1),
      etGate: fill(1, -1, 1),
      isGate: fill(1, -1, 1),
      timeBias,
    };
    const bw = {
      ...args,
      dout: fill(B * L * D, -1, 1),
      dqkv: h.alloc(B * L * 3 * D),
      disLogit: h.alloc(B * L * H),
      dlogTauEt: h.alloc(H),
      dlogTauIs: h.alloc(H),
      deta: h.alloc(H),
      detGate: h.alloc(1),
      disGate: h.alloc(1),
    };
    const call = (): void => {
      attentionForward(be, args);
      attentionBackward(be, bw);
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
