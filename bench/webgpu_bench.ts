/**
 * Milliseconds per attention forward + backward on WebGPU against the `wasm` backend on 1 and 2
 * threads: the model's training shape (B = 128, H = 4, L = 50, Dh = 16) and a long sequence
 * (B = 8, H = 4, L = 512, Dh = 16). Prints a table, or JSON with `--json`.
 *
 * Usage: deno run -A bench/webgpu_bench.ts [--json] [--ms=300] [--mode=btsp|standard|original]
 *
 * Each figure is the median of forward + backward pairs repeated for at least `--ms` ms (and at
 * least 3 pairs) after one warm-up pair. The WebGPU figure includes the uploads, the readbacks and
 * adding the gradients into the heap, i.e. what a training step pays.
 *
 * @module
 */
import { type Backend, createBackend } from "../src/engine/backend.ts";
import {
  attentionBackward,
  type AttentionBackwardArgs,
  attentionForward,
  type AttentionMode,
  attentionScratchFloats,
} from "../src/ops/attention.ts";
import { Rng } from "../src/util/rng.ts";
import { type AttentionImpl, createWebGpuAttention } from "../src/webgpu/attention.ts";

/** One measured shape. */
export interface BenchShape {
  /** Batch. */
  B: number;
  /** Heads. */
  H: number;
  /** Sequence length. */
  L: number;
  /** Head width. */
  Dh: number;
}

/** Timings of one shape (ms per forward + backward; null when not measured). */
export interface BenchRow extends BenchShape {
  /** Which attention. */
  mode: AttentionMode;
  /** WebGPU, or null without an adapter. */
  webgpu: number | null;
  /** `wasm` on 1 thread. */
  wasm1: number;
  /** `wasm` on 2 threads. */
  wasm2: number;
}

/** The shapes measured. */
export const SHAPES: readonly BenchShape[] = [
  { B: 128, H: 4, L: 50, Dh: 16 },
  { B: 8, H: 4, L: 512, Dh: 16 },
];

/**
 * Random inputs and zeroed gradients of one forward + backward on `be`'s heap.
 *
 * @example
 * ```ts
 * import { createBackend } from "../src/engine/backend.ts";
 * import { benchArgs } from "./webgpu_bench.ts";
 * const be = createBackend("ref");
 * console.log(benchArgs(be, "btsp", { B: 1, H: 1, L: 2, Dh: 2 }).L); // 2
 * be.close();
 * ```
 */
export function benchArgs(be: Backend, mode: AttentionMode, s: BenchShape): AttentionBackwardArgs {
  const { B, H, L, Dh } = s, D = H * Dh, h = be.heap;
  const rng = new Rng(1);
  const fill = (n: number, lo: number, hi: number): number => {
    const p = h.alloc(n);
    const v = h.view(p, n);
    for (let i = 0; i < n; i++) v[i] = rng.uniform(lo, hi);
    return p;
  };
  const timeBias = h.alloc(500);
  h.view(timeBias, 500).forEach((_, i, a) => (a[i] = -1 + (2 * i) / 499));
  return {
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
    dout: fill(B * L * D, -1, 1),
    dqkv: h.alloc(B * L * 3 * D),
    disLogit: h.alloc(B * L * H),
    dlogTauEt: h.alloc(H),
    dlogTauIs: h.alloc(H),
    deta: h.alloc(H),
    detGate: h.alloc(1),
    disGate: h.alloc(1),
  };
}

async function median(call: () => void | Promise<void>, minMs: number): Promise<number> {
  await call();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 3 || performance.now() - start < minMs) {
    const t = performance.now();
    await call();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

/**
 * Median ms of one forward + backward on the CPU backend `be`, or on `gpu` with `be`'s heap.
 *
 * @example
 * ```ts
 * import { createBackend } from "../src/engine/backend.ts";
 * import { measure } from "./webgpu_bench.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * console.log((await measure(be, undefined, "btsp", { B: 1, H: 1, L: 4, Dh: 4 }, 5)) > 0); // true
 * be.close();
 * ```
 */
export async function measure(
  be: Backend,
  gpu: AttentionImpl | undefined,
  mode: AttentionMode,
  s: BenchShape,
  minMs: number,
): Promise<number> {
  const mark = be.heap.mark();
  try {
    const a = benchArgs(be, mode, s);
    return await median(
      gpu
        ? async () => {
          await gpu.forward(be, a);
          await gpu.backward(be, a);
        }
        : () => {
          attentionForward(be, a);
          attentionBackward(be, a);
        },
      minMs,
    );
  } finally {
    be.heap.release(mark);
  }
}

async function main(): Promise<void> {
  const json = Deno.args.includes("--json");
  const msArg = Deno.args.find((a) => a.startsWith("--ms="));
  const modeArg = Deno.args.find((a) => a.startsWith("--mode="));
  const minMs = msArg ? Number(msArg.slice(5)) : 300;
  const mode = (modeArg ? modeArg.slice(7) : "btsp") as AttentionMode;
  const r = await createWebGpuAttention();
  const rows: BenchRow[] = [];
  try {
    for (const s of SHAPES) {
      const cpu = (threads: number) => {
        const be = createBackend("wasm", { threads });
        return measure(be, undefined, mode, s, minMs).finally(() => be.close());
      };
      let webgpu: number | null = null;
      if (r.ok) {
        const be = createBackend("wasm", { threads: 1 });
        webgpu = await measure(be, r.impl, mode, s, minMs).finally(() => be.close());
      }
      rows.push({ mode, ...s, webgpu, wasm1: await cpu(1), wasm2: await cpu(2) });
    }
  } finally {
    if (r.ok) r.impl.close();
  }
  const device = r.ok ? r.impl.name : `none (${r.reason})`;
  if (json) {
    console.log(JSON.stringify({ device, rows }, null, 2));
    return;
  }
  const f = (x: number | null) => (x === null ? "-" : x.toFixed(2)).padStart(9);
  console.log(`attention ${mode}, ms per forward + backward; WebGPU device: ${device}`);
  console.log(" B    H  L    Dh |    webgpu  wasm 1 th  wasm 2 th | webgpu / wasm 2 th");
  for (const x of rows) {
    const shape = `${String(x.B).padEnd(4)} ${x.H}  ${String(x.L).padEnd(4)} ${x.Dh}`;
    const ratio = x.webgpu === null ? "-" : (x.webgpu / x.wasm2).toFixed(2);
    console.log(`${shape.padEnd(16)} | ${f(x.webgpu)}  ${f(x.wasm1)}  ${f(x.wasm2)} | ${ratio}`);
  }
}

if (import.meta.main) await main();
