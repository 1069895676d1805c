import assert from "node:assert/strict";
import { join } from "node:path";
import { train, type TrainEvent } from "../../src/train/trainer.ts";
import type { TrainOptionsInput } from "../../src/train/options.ts";
import { decodeSafetensors } from "../../src/io/safetensors.ts";
import { UserError } from "../../src/util/errors.ts";

// A config small enough for a few epochs in a second or two on one core.
const TINY: TrainOptionsInput = {
  data: { numSamples: 480, seqLen: 16, noise: 0.0 },
  model: { modelDim: 16, heads: 2, layers: 1 },
  batchSize: 32,
  lr: 3e-3,
  threads: 1,
};

async function tensorsOf(path: string): Promise<Map<string, Uint8Array>> {
  const { tensors } = decodeSafetensors(await Deno.readFile(path));
  return new Map([...tensors].map(([k, v]) => [k, new Uint8Array(v.data.buffer.slice(0))]));
}

function assertSameTensors(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>, what: string) {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), `${what}: tensor names`);
  for (const [k, v] of a) assert.deepEqual(v, b.get(k), `${what}: ${k} differs`);
}

Deno.test("trainer: the loss falls on the damped sine within a few epochs", async () => {
  const r = await train({ ...TINY, epochs: 6 });
  const first = r.history[0], last = r.history[r.history.length - 1];
  assert.equal(r.history.length, 6);
  assert.ok(
    last.trainMse < first.trainMse * 0.5,
    `train mse ${first.trainMse} -> ${last.trainMse}`,
  );
  assert.ok(r.bestValMse < first.valMse * 0.5, `val mse ${first.valMse} -> ${r.bestValMse}`);
  for (const h of r.history) {
    assert.ok(Number.isFinite(h.valMse) && h.samplesPerSec > 0);
    assert.ok(Math.abs(h.valRmse - Math.sqrt(h.valMse)) < 1e-12);
  }
});

Deno.test("trainer: resume continues byte-identically (2 epochs + 1 = 3 epochs)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = join(dir, "a"), b = join(dir, "b");
    await train({ ...TINY, epochs: 3, outDir: a });
    await train({ ...TINY, epochs: 2, outDir: b });
    const events: TrainEvent[] = [];
    const r = await train(
      { ...TINY, epochs: 3, outDir: b, resume: join(b, "checkpoints/last.safetensors") },
      { onEvent: (e) => events.push(e) },
    );
    assert.equal(r.epochs, 3);
    const start = events.find((e) => e.type === "start");
    assert.equal(start?.type === "start" && start.startEpoch, 2);
    assert.equal(events.filter((e) => e.type === "epoch").length, 1);
    for (const f of ["btspformer_model.safetensors", "checkpoints/last.safetensors"]) {
      assertSameTensors(await tensorsOf(join(a, f)), await tensorsOf(join(b, f)), f);
    }
    const ma = await Deno.readTextFile(join(a, "metrics.csv"));
    const mb = await Deno.readTextFile(join(b, "metrics.csv"));
    assert.equal(mb.trim().split("\n").length, 4, "header + 3 epochs after resume");
    assert.equal(ma.split("\n")[0], mb.split("\n")[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainer: same seed gives byte-identical weights with 1 and 2 threads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await train({ ...TINY, epochs: 2, threads: 1, outDir: join(dir, "t1") });
    await train({ ...TINY, epochs: 2, threads: 2, outDir: join(dir, "t2") });
    const f = "checkpoints/last.safetensors";
    assertSameTensors(await tensorsOf(join(dir, "t1", f)), await tensorsOf(join(dir, "t2", f)), f);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainer: an abort abandons the epoch and keeps the last full one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ctl = new AbortController();
    let epochs = 0;
    const r = await train({ ...TINY, epochs: 5, outDir: dir }, {
      signal: ctl.signal,
      onEvent: (e) => {
        if (e.type === "epoch") epochs++;
        if (e.type === "step" && e.epoch === 2 && e.step === 3) ctl.abort();
      },
    });
    assert.equal(r.stopReason, "interrupted");
    assert.equal(r.epochs, 1);
    assert.equal(epochs, 1);
    const { metadata } = decodeSafetensors(
      await Deno.readFile(join(dir, "checkpoints/last.safetensors")),
    );
    assert.equal(JSON.parse(metadata.train_state).epoch, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("trainer: early stopping ends the run and the final model is the best epoch", async () => {
  const r = await train({ ...TINY, epochs: 40, patience: 2, lr: 5e-2 });
  assert.equal(r.stopReason, "early_stopping");
  assert.ok(r.epochs < 40);
  assert.equal(r.epochs - r.bestEpoch, 2);
  const best = r.history[r.bestEpoch - 1];
  assert.equal(best.valMse, r.bestValMse);
});

Deno.test("trainer: bad options are UserErrors", async () => {
  await assert.rejects(() => train({ ...TINY, epochs: 0 }), UserError);
  await assert.rejects(() => train({ ...TINY, model: { modelDim: 16, heads: 3 } }), UserError);
  await assert.rejects(() => train({ ...TINY, resume: "/no/such/file.safetensors" }), UserError);
});
