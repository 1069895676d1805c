/**
 * GFLOP/s of the Linear matmuls on the model's shapes, for the `ref` backend and the `wasm`
 * backend on 1 and 2 threads. Prints a table, or JSON with `--json`.
 *
 * Usage: deno run -A bench/kernels.ts [--json] [--ms=300]
 *
 * Each figure is 2·N·C·OC divided by the best time of one call. The 1- and 2-thread calls
 * alternate for at least `--ms` milliseconds after a warm-up call, so that load from other
 * processes (the machine is shared) hits both alike; `ref` gets a quarter of that time.
 *
 * @module
 */
import { type Backend, createBackend } from "../src/engine/backend.ts";
import { linearBackward, linearForward } from "../src/ops/linear.ts";
import { Rng } from "../src/util/rng.ts";

/** One measured shape and form. */
export interface KernelResult {
  /** Rows (batch × positions). */
  N: number;
  /** Input features. */
  C: number;
  /** Output features. */
  OC: number;
  /** `forward` (out = inp·Wᵀ + b), `dinp` (dinp += dout·W) or `dweight` (dW += doutᵀ·inp). */
  form: Form;
  /** GFLOP/s of the reference backend. */
  ref: number;
  /** GFLOP/s of the Wasm backend on 1 thread. */
  wasm1: number;
  /** GFLOP/s of the Wasm backend on 2 threads. */
  wasm2: number;
}

/** Which matmul of a Linear layer is measured. */
export type Form = "forward" | "dinp" | "dweight";

/** The model's Linear shapes N×C×OC (d_model 64, 4·d_model FFN, 3·d_model fused QKV). */
export const SHAPES: readonly (readonly [number, number, number])[] = [
  [6400, 64, 64],
  [6400, 64, 192],
  [6400, 64, 256],
  [6400, 256, 64],
];

const FORMS: readonly Form[] = ["forward", "dinp", "dweight"];

/** Tensors of one shape on one backend, random in [-1, 1). */
export interface Prepared {
  /** Run one form once on the prepared tensors. */
  call(form: Form): void;
  /** Free the tensors (heap arena release). */
  free(): void;
}

/**
 * Allocate and fill the tensors of an N×C×OC Linear layer on `be`.
 *
 * @example
 * ```ts
 * import { createBackend } from "../src/engine/backend.ts";
 * import { prepare } from "./kernels.ts";
 * const be = createBackend("wasm", { threads: 1 });
 * const p = prepare(be, 12, 8, 8);
 * p.call("dweight");
 * p.free();
 * be.close();
 * ```
 */
export function prepare(be: Backend, N: number, C: number, OC: number): Prepared {
  const h = be.heap, mark = h.mark(), rng = new Rng(1);
  const fill = (n: number): number => {
    const p = h.alloc(n);
    const v = h.view(p, n);
    for (let i = 0; i < n; i++) v[i] = rng.uniform(-1, 1);
    return p;
  };
  const inp = fill(N * C), weight = fill(OC * C), bias = fill(OC), dout = fill(N * OC);
  const out = h.alloc(N * OC), dinp = h.alloc(N * C), dweight = h.alloc(OC * C);
  return {
    call(form: Form): void {
      if (form === "forward") linearForward(be, out, inp, weight, bias, N, C, OC);
      else if (form === "dinp") linearBackward(be, dinp, 0, 0, dout, inp, weight, N, C, OC);
      else linearBackward(be, 0, dweight, 0, dout, inp, weight, N, C, OC);
    },
    free(): void {
      h.release(mark);
    },
  };
}

/**
 * Best time in ms of each function, calling them in turn (one warm-up call each) for at least
 * `minMs`, so that load from other processes hits all of them alike.
 *
 * @example
 * ```ts
 * import { bestTimes } from "./kernels.ts";
 * const [a, b] = bestTimes([() => {}, () => {}], 1);
 * console.log(a >= 0 && b >= 0); // true
 * ```
 */
export function bestTimes(fns: readonly (() => void)[], minMs: number): number[] {
  const best = fns.map(() => Infinity);
  fns.forEach((f) => f());
  const start = performance.now();
  do {
    fns.forEach((f, i) => {
      const t = performance.now();
      f();
      best[i] = Math.min(best[i], performance.now() - t);
    });
  } while (performance.now() - start < minMs);
  return best;
}

/**
 * Measure every shape and form on `ref`, `wasm` ×1 and `wasm` ×2.
 *
 * @example
 * ```ts
 * import { runAll } from "./kernels.ts";
 * const rows = runAll(1, [[12, 8, 8]]);
 * console.log(rows.length); // 3
 * ```
 */
export function runAll(
  minMs: number,
  shapes: readonly (readonly [number, number, number])[] = SHAPES,
): KernelResult[] {
  const ref = createBackend("ref");
  const w1 = createBackend("wasm", { threads: 1 });
  const w2 = createBackend("wasm", { threads: 2 });
  try {
    const rows: KernelResult[] = [];
    for (const [N, C, OC] of shapes) {
      const [pr, p1, p2] = [ref, w1, w2].map((be) => prepare(be, N, C, OC));
      try {
        for (const form of FORMS) {
          const gflops = (ms: number): number => (2 * N * C * OC) / (ms * 1e6);
          const [tr] = bestTimes([() => pr.call(form)], minMs / 4);
          const [t1, t2] = bestTimes([() => p1.call(form), () => p2.call(form)], minMs);
          rows.push({ N, C, OC, form, ref: gflops(tr), wasm1: gflops(t1), wasm2: gflops(t2) });
        }
      } finally {
        [pr, p1, p2].forEach((p) => p.free());
      }
    }
    return rows;
  } finally {
    ref.close();
    w1.close();
    w2.close();
  }
}

function table(rows: KernelResult[]): string {
  const head = ["N×C×OC", "form", "ref", "wasm 1t", "wasm 2t", "2t/1t", "1t/ref"];
  const body = rows.map((r) => [
    `${r.N}×${r.C}×${r.OC}`,
    r.form,
    r.ref.toFixed(2),
    r.wasm1.toFixed(1),
    r.wasm2.toFixed(1),
    (r.wasm2 / r.wasm1).toFixed(2),
    (r.wasm1 / r.ref).toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [
    "GFLOP/s (2·N·C·OC / best call time; wasm 1t and 2t calls interleaved)",
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
  const rows = runAll(minMs);
  console.log(Deno.args.includes("--json") ? JSON.stringify(rows, null, 2) : table(rows));
}
