import assert from "node:assert/strict";
import { type Backend, type BackendName, createBackend } from "../../src/engine/backend.ts";
import {
  attentionBackward,
  type AttentionBackwardArgs,
  attentionForward,
  type AttentionMode,
  attentionScratchFloats,
} from "../../src/ops/attention.ts";
import { UserError } from "../../src/util/errors.ts";
import { Rng } from "../../src/util/rng.ts";
import { type AttentionImpl, createWebGpuAttention } from "../../src/webgpu/attention.ts";
import { compilePipeline, requestGpu, withErrorScope } from "../../src/webgpu/gpu.ts";
import { selectDevice } from "../../src/train/device.ts";

// The WebGPU results are float32 with the GPU's exp; the CPU kernels are float64 (ref) or
// float32 with a polynomial exp (wasm). Every output, per element: |gpu − cpu| ≤ ATOL + RTOL·|cpu|
// (observed on llvmpipe: ≤ 1e-6·(1 + |cpu|), the per-head parameter sums included).
const ATOL = 1e-4, RTOL = 1e-4;

const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
const NO_GPU = !adapter;
const IGNORE_WHY = NO_GPU ? " (ignored: navigator.gpu has no adapter here)" : "";

interface Case {
  mode: AttentionMode;
  B: number;
  L: number;
  H: number;
  Dh: number;
  qStart: number;
  regroup?: boolean;
}

const SHAPES: Omit<Case, "mode">[] = [
  { B: 1, L: 1, H: 1, Dh: 3, qStart: 0 },
  { B: 3, L: 7, H: 4, Dh: 3, qStart: 0 },
  { B: 3, L: 7, H: 1, Dh: 16, qStart: 6 },
  { B: 1, L: 50, H: 4, Dh: 16, qStart: 0 },
  { B: 3, L: 50, H: 4, Dh: 16, qStart: 49 },
  { B: 3, L: 50, H: 1, Dh: 3, qStart: 0 },
  { B: 1, L: 7, H: 4, Dh: 16, qStart: 6 },
];

const GRADS = ["dqkv", "disLogit", "dlogTauEt", "dlogTauIs", "deta", "detGate", "disGate"] as const;
type Grad = typeof GRADS[number];

/** Pointers of one forward + backward on a heap, with random inputs and pre-filled gradients. */
function setup(be: Backend, c: Case, seed: number): AttentionBackwardArgs {
  const rng = new Rng(seed);
  const h = be.heap, D = c.H * c.Dh, Lq = c.L - c.qStart;
  const fill = (n: number, lo: number, hi: number) => {
    const p = h.alloc(n);
    for (let k = 0; k < n; k++) h.f32[(p >> 2) + k] = rng.uniform(lo, hi);
    return p;
  };
  const btsp = c.mode === "btsp", orig = c.mode === "original";
  const tb = orig ? h.alloc(500) : 0;
  for (let k = 0; orig && k < 500; k++) h.f32[(tb >> 2) + k] = -1 + (2 * k) / 499;
  const logTauEt = btsp ? h.alloc(c.H) : 0, logTauIs = btsp ? h.alloc(c.H) : 0;
  for (let k = 0; btsp && k < c.H; k++) {
    h.f32[(logTauEt >> 2) + k] = Math.log(8) + rng.uniform(-1, 1);
    h.f32[(logTauIs >> 2) + k] = Math.log(2) + rng.uniform(-1, 1);
  }
  return {
    mode: c.mode,
    B: c.B,
    L: c.L,
    D,
    H: c.H,
    qStart: c.qStart,
    regroup: c.regroup,
    qkv: fill(c.B * c.L * 3 * D, -1.5, 1.5),
    isLogit: btsp ? fill(c.B * c.L * c.H, -3, 3) : 0,
    logTauEt,
    logTauIs,
    eta: btsp ? fill(c.H, -1, 1) : 0,
    etGate: orig ? fill(1, -1, 1) : 0,
    isGate: orig ? fill(1, -1, 1) : 0,
    timeBias: tb,
    out: h.alloc(c.B * Lq * D),
    scratch: h.alloc(attentionScratchFloats(c.mode, c.B, c.L, D, c.H, c.qStart)),
    dout: fill(c.B * Lq * D, -1, 1),
    // Gradients start at 0.25 so that "accumulates" is checked, not just "writes".
    dqkv: fill(c.B * c.L * 3 * D, 0.25, 0.25),
    disLogit: btsp ? fill(c.B * c.L * c.H, 0.25, 0.25) : 0,
    dlogTauEt: btsp ? fill(c.H, 0.25, 0.25) : 0,
    dlogTauIs: btsp ? fill(c.H, 0.25, 0.25) : 0,
    deta: btsp ? fill(c.H, 0.25, 0.25) : 0,
    detGate: orig ? fill(1, 0.25, 0.25) : 0,
    disGate: orig ? fill(1, 0.25, 0.25) : 0,
  };
}

function sizeOf(a: AttentionBackwardArgs, g: Grad | "out"): number {
  const { B, L, D, H } = a;
  const n: Record<Grad | "out", number> = {
    out: B * (L - a.qStart) * D,
    dqkv: B * L * 3 * D,
    disLogit: B * L * H,
    dlogTauEt: H,
    dlogTauIs: H,
    deta: H,
    detGate: 1,
    disGate: 1,
  };
  return a[g] === 0 ? 0 : n[g];
}

/** The same tensors at new, zeroed (gradients: 0.25) places, sharing every input. */
function freshOutputs(be: Backend, a: AttentionBackwardArgs): AttentionBackwardArgs {
  const b = { ...a, out: be.heap.alloc(sizeOf(a, "out")) };
  for (const g of GRADS) {
    const n = sizeOf(a, g);
    if (n === 0) continue;
    b[g] = be.heap.alloc(n);
    be.heap.f32.fill(0.25, b[g] >> 2, (b[g] >> 2) + n);
  }
  return b;
}

function close(what: string, got: Float32Array, want: Float32Array, atol: number): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let k = 0; k < want.length; k++) {
    const err = Math.abs(got[k] - want[k]);
    assert.ok(Number.isFinite(got[k]), `${what}[${k}] = ${got[k]} is not finite`);
    assert.ok(
      err <= atol + RTOL * Math.abs(want[k]),
      `${what}[${k}]: webgpu ${got[k]} vs cpu ${want[k]} (error ${err.toExponential(2)})`,
    );
  }
}

/** CPU forward+backward and WebGPU forward+backward on the same heap; compare every output. */
async function compare(impl: AttentionImpl, beName: BackendName, c: Case, seed: number) {
  const be = createBackend(beName, { threads: 1 });
  try {
    const cpu = setup(be, c, seed);
    const gpu = freshOutputs(be, cpu);
    attentionForward(be, cpu);
    attentionBackward(be, cpu);
    await impl.forward(be, gpu);
    await impl.backward(be, gpu);
    const tag = `${beName} ${JSON.stringify(c)}`;
    close(
      `${tag} out`,
      be.heap.read(gpu.out, sizeOf(cpu, "out")),
      be.heap.read(cpu.out, sizeOf(cpu, "out")),
      ATOL,
    );
    for (const g of GRADS) {
      const n = sizeOf(cpu, g);
      if (n > 0) close(`${tag} ${g}`, be.heap.read(gpu[g], n), be.heap.read(cpu[g], n), ATOL);
    }
  } finally {
    be.close();
  }
}

async function withImpl(fn: (impl: AttentionImpl) => Promise<void>): Promise<void> {
  const r = await createWebGpuAttention();
  if (!r.ok) throw new Error(`no WebGPU: ${r.reason}`);
  try {
    await fn(r.impl);
  } finally {
    r.impl.close();
  }
}

for (const mode of ["standard", "btsp", "original"] as const) {
  Deno.test({
    name: `webgpu ${mode} attention matches the ref and wasm kernels${IGNORE_WHY}`,
    ignore: NO_GPU,
    fn: () =>
      withImpl(async (impl) => {
        let seed = 1;
        for (const s of SHAPES) {
          if (mode === "original" && s.qStart !== 0) continue;
          const c = { mode, ...s };
          await compare(impl, "ref", c, seed);
          await compare(impl, "wasm", c, seed++);
        }
        if (mode === "original") {
          // B = 3 makes the regrouping mix samples; regroup false is the correct concatenation.
          await compare(
            impl,
            "ref",
            { mode, B: 3, L: 7, H: 4, Dh: 3, qStart: 0, regroup: false },
            9,
          );
        }
      }),
  });
}

Deno.test({
  name: `webgpu attention: more than 65535 (b, h) pairs use a 2-D dispatch${IGNORE_WHY}`,
  ignore: NO_GPU,
  fn: () =>
    withImpl(async (impl) => {
      // 16400·4 = 65600 workgroups: the last 65 are in the second row of the grid.
      await compare(impl, "ref", { mode: "btsp", B: 16400, L: 2, H: 4, Dh: 1, qStart: 0 }, 5);
    }),
});

Deno.test({
  name: `webgpu attention: repeated steps are bit-identical, call sites stay separate${IGNORE_WHY}`,
  ignore: NO_GPU,
  fn: () =>
    withImpl(async (impl) => {
      // Two "layers" of the same shape: both forwards run before either backward, as in the
      // model; each backward must use its own forward's state.
      const be = createBackend("ref");
      try {
        const c: Case = { mode: "btsp", B: 2, L: 7, H: 2, Dh: 3, qStart: 0 };
        const cpu = [setup(be, c, 11), setup(be, c, 12)];
        const gpu = cpu.map((a) => freshOutputs(be, a));
        const seen: Float32Array[][] = [];
        for (let step = 0; step < 2; step++) {
          for (const a of gpu) {
            for (const g of GRADS) be.heap.f32.fill(0.25, a[g] >> 2, (a[g] >> 2) + sizeOf(a, g));
          }
          for (const a of gpu) await impl.forward(be, a);
          for (const a of [...gpu].reverse()) await impl.backward(be, a);
          seen.push(gpu.flatMap((a) =>
            ["out" as const, ...GRADS].map((g) => be.heap.read(a[g], sizeOf(a, g)))
          ));
        }
        // Same inputs, same bits: no reduction depends on scheduling.
        assert.deepEqual(seen[1], seen[0]);
        for (const a of cpu) {
          attentionForward(be, a);
        }
        for (const a of [...cpu].reverse()) {
          attentionBackward(be, a);
        }
        for (let l = 0; l < 2; l++) {
          for (const g of ["out", "dqkv", "disLogit"] as const) {
            const n = sizeOf(cpu[l], g);
            close(`layer ${l} ${g}`, be.heap.read(gpu[l][g], n), be.heap.read(cpu[l][g], n), ATOL);
          }
        }
      } finally {
        be.close();
      }
    }),
});

Deno.test({
  name: `webgpu attention: errors are clear${IGNORE_WHY}`,
  ignore: NO_GPU,
  fn: () =>
    withImpl(async (impl) => {
      const be = createBackend("ref");
      try {
        const a = setup(be, { mode: "standard", B: 1, L: 3, H: 1, Dh: 2, qStart: 0 }, 3);
        await assert.rejects(() => impl.backward(be, a), /needs a forward with the same arguments/);
        await assert.rejects(() => impl.forward(be, { ...a, qStart: 3 }), UserError);
        await assert.rejects(() => impl.forward(be, { ...a, qkv: 0 }), /qkv = 0/);
        await assert.rejects(() => impl.forward(be, { ...a, mode: "btsp" }), /isLogit = 0/);
        // The split-q layout of the CPU op is not supported: refused, not silently misread.
        await assert.rejects(() => impl.forward(be, { ...a, q: 64 }), /apart from qkv/);
        // A (B·H·L² floats) larger than any buffer the adapter allows: a user error naming the size.
        const L = 1 << 16, big = be.heap.alloc(L * 3);
        await assert.rejects(
          () => impl.forward(be, { ...a, L, qkv: big, out: be.heap.alloc(L), scratch: 0 }),
          (e: Error) => e instanceof UserError && /length 65536 .* MiB/.test(e.message),
        );
        impl.close();
        await assert.rejects(() => impl.forward(be, a), /used after close\(\)/);
      } finally {
        be.close();
      }
    }),
});

/** Run `fn` with `navigator.gpu` replaced (an own property shadows the prototype getter). */
async function withFakeGpu(gpu: unknown, fn: () => Promise<void>): Promise<void> {
  Object.defineProperty(navigator, "gpu", { value: gpu, configurable: true });
  try {
    await fn();
  } finally {
    delete (navigator as { gpu?: unknown }).gpu;
  }
}

Deno.test("webgpu: no adapter gives reasons, never a crash", async () => {
  await withFakeGpu({ requestAdapter: () => Promise.resolve(null) }, async () => {
    const r = await createWebGpuAttention();
    assert.deepEqual(r, { ok: false, reason: "no WebGPU adapter was found" });
    await assert.rejects(
      () => selectDevice("webgpu"),
      (e: Error) => {
        assert.ok(e instanceof UserError);
        assert.equal(
          e.message,
          "--device webgpu: no WebGPU adapter is available (no WebGPU adapter was found)",
        );
        return true;
      },
    );
    const auto = await selectDevice("auto");
    assert.deepEqual(auto, {
      name: "wasm",
      reason: "no WebGPU adapter was found: using Wasm",
      backend: "wasm",
    });
  });
  await withFakeGpu(undefined, async () => {
    const r = await createWebGpuAttention();
    assert.deepEqual(r, { ok: false, reason: "navigator.gpu is not available in this runtime" });
  });
  await withFakeGpu(
    { requestAdapter: () => Promise.reject(new Error("driver crashed")) },
    async () => {
      const auto = await selectDevice("auto");
      assert.equal(auto.reason, "requesting an adapter failed: driver crashed: using Wasm");
    },
  );
});

Deno.test({
  name: `webgpu: a broken WGSL module surfaces as an error${IGNORE_WHY}`,
  ignore: NO_GPU,
  fn: async () => {
    const r = await requestGpu();
    assert.ok(r.ok);
    const { device } = r.gpu;
    try {
      await assert.rejects(
        () =>
          compilePipeline(
            device,
            "broken",
            "@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }",
          ),
        (e: Error) => {
          assert.match(e.message, /^WebGPU error while compiling the broken WGSL: /);
          assert.match(e.message, /f32|u32|type/);
          return true;
        },
      );
      // A valid module in the same scope helper passes through its value.
      const v = await withErrorScope(device, "doing nothing", () => 42);
      assert.equal(v, 42);
    } finally {
      device.destroy();
    }
  },
});

Deno.test({
  name: `webgpu: requireHardware refuses a software adapter${IGNORE_WHY}`,
  ignore: NO_GPU,
  fn: async () => {
    const info =
      (adapter as GPUAdapter & { info: GPUAdapterInfo & { isFallbackAdapter?: boolean } })
        .info;
    const r = await createWebGpuAttention({ requireHardware: true });
    if (r.ok) {
      r.impl.close();
      assert.equal(info.isFallbackAdapter, false);
      assert.equal(r.hardware, true);
    } else {
      assert.equal(info.isFallbackAdapter, true);
      assert.match(r.reason, /^no hardware WebGPU adapter \(found .+, a software fallback\)$/);
    }
  },
});

Deno.test("selectDevice: ref and wasm need no GPU", async () => {
  const ref = await selectDevice("ref");
  assert.deepEqual([ref.name, ref.backend, ref.attention], ["ref", "ref", undefined]);
  const wasm = await selectDevice("wasm");
  assert.deepEqual([wasm.name, wasm.backend, wasm.attention], ["wasm", "wasm", undefined]);
});

Deno.test({
  name: `selectDevice: webgpu uses any adapter, auto only hardware${IGNORE_WHY}`,
  ignore: NO_GPU,
  fn: async () => {
    const fallback = Boolean(
      (adapter as GPUAdapter & { info: { isFallbackAdapter?: boolean } }).info.isFallbackAdapter,
    );
    const web = await selectDevice("webgpu");
    try {
      assert.match(web.name, /^webgpu \(.+\)$/);
      assert.equal(web.backend, "wasm");
      assert.ok(web.attention);
      assert.equal(web.attention.name, web.name);
    } finally {
      web.attention?.close();
    }
    const auto = await selectDevice("auto");
    try {
      if (fallback) {
        assert.equal(auto.name, "wasm");
        assert.equal(auto.attention, undefined);
        assert.match(
          auto.reason,
          /^no hardware WebGPU adapter \(found .+, a software fallback\): using Wasm/,
        );
      } else {
        assert.match(auto.name, /^webgpu/);
      }
    } finally {
      auto.attention?.close();
    }
  },
});
