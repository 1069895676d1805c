/**
 * The training loop: one visible function. Epoch = shuffled mini-batches (AdamW/Adam, global
 * norm clipping), then validation, plateau scheduler, early stopping, checkpoints. Everything that
 * influences the numbers (weights, moments, RNG, scheduler, best-so-far) is checkpointed each
 * epoch, so a resumed run ends with the same bytes as an uninterrupted one.
 *
 * @module
 */
import { buildDataset, type Dataset, loadDataset } from "../data/dataset.ts";
import { BTSPFormer } from "../model/model.ts";
import type { NamedTensors } from "../io/safetensors.ts";
import { lossMetrics, mseLoss } from "../ops/loss.ts";
import { Rng } from "../util/rng.ts";
import { UserError } from "../util/errors.ts";
import { type CheckpointData, loadCheckpoint } from "./checkpoint.ts";
import { Optimizer } from "./optimizer.ts";
import { resolveTrainOptions, type TrainOptions, type TrainOptionsInput } from "./options.ts";
import { EarlyStopping, ReduceLROnPlateau } from "./schedule.ts";
import { RunOutputs } from "./outputs.ts";
import type { EpochMetrics } from "../report/metrics_csv.ts";
import { type DeviceChoice, selectDevice } from "./device.ts";

export type { EpochMetrics };

/** Progress events, in order: start, (step…, epoch)…, end. */
export type TrainEvent =
  | {
    type: "start";
    options: TrainOptions;
    dataset: string;
    nTrain: number;
    nVal: number;
    numParams: number;
    startEpoch: number;
    device: string;
    deviceReason: string;
  }
  | {
    type: "step";
    epoch: number;
    step: number;
    steps: number;
    loss: number;
    samplesPerSec: number;
    elapsed: number;
  }
  | { type: "epoch"; metrics: EpochMetrics; lrReduced: boolean; isBest: boolean }
  | { type: "end"; result: TrainResult };

/** What a finished (or interrupted) run reports. */
export interface TrainResult {
  /** Epochs completed in total (resumed ones included). */
  epochs: number;
  bestEpoch: number;
  bestValMse: number;
  /** Why it stopped: all epochs done, early stopping, or an interrupt. */
  stopReason: "epochs" | "early_stopping" | "interrupted";
  history: EpochMetrics[];
  /** Validation predictions and truth of the best model, in original units (first horizon step). */
  valPred: Float32Array;
  valTruth: Float32Array;
  /** Files written (empty without outDir). */
  files: string[];
  /** Things the user should know, e.g. charts skipped for lack of a permission. */
  notices: string[];
}

/** Extra controls of {@linkcode train}. */
export interface TrainControls {
  /** Progress callback. */
  onEvent?: (e: TrainEvent) => void;
  /** Abort: the current step finishes, the epoch is abandoned, `last` keeps the last full epoch. */
  signal?: AbortSignal;
  /**
   * Receives the trained model instead of it being closed (library use). A model trained on
   * WebGPU comes with CPU attention: `train` closes the GPU device before it returns.
   */
  keepModel?: (model: BTSPFormer, dataset: Dataset) => void;
  /** Y axis of the loss-curve chart. Default "log". */
  lossScale?: "log" | "linear";
}

interface TrainState {
  epoch: number;
  globalStep: number;
  optimizerSteps: number;
  plateau: ReduceLROnPlateau["state"];
  early: EarlyStopping["state"];
  rng: number[];
  history: EpochMetrics[];
  options: TrainOptions;
  seriesHash: string;
}

/**
 * Train a BTSPFormer. With `outDir`, writes checkpoints, the final model, logs and charts.
 *
 * @example Train on an in-memory series
 * ```ts
 * import { train } from "./trainer.ts";
 * const series = Array.from({ length: 300 }, (_, i) => Math.sin(i / 5));
 * const r = await train({
 *   series, epochs: 2, threads: 1,
 *   data: { seqLen: 16 }, model: { modelDim: 16, heads: 2, layers: 1 },
 * });
 * console.log(r.epochs); // 2
 * ```
 */
export async function train(
  input: TrainOptionsInput,
  controls: TrainControls = {},
): Promise<TrainResult> {
  let resumed: CheckpointData | undefined;
  let o = resolveTrainOptions(input);
  if (o.resume) {
    resumed = await loadCheckpoint(o.resume);
    if (resumed.kind !== "checkpoint" || !resumed.trainState) {
      throw new UserError(
        `Cannot resume from "${o.resume}": it holds final weights only, not a training checkpoint`,
      );
    }
    const saved = (resumed.trainState as unknown as TrainState).options;
    // The saved run decides everything numeric; the caller decides length, place and hardware.
    o = {
      ...saved,
      epochs: o.epochs,
      outDir: o.outDir,
      threads: o.threads,
      device: o.device,
      resume: o.resume,
      series: o.series,
    };
  }
  const dataset = o.series
    ? buildDataset({ ...o.data, source: "sine" }, Float64Array.from(o.series))
    : await loadDataset(o.data);
  const seriesHash = hashSeries(dataset.series);
  const device = await selectDevice(o.device);
  let model: BTSPFormer | undefined, kept = false;
  try {
    model = BTSPFormer.create(o.model, {
      backend: device.backend,
      threads: o.threads,
      seed: o.seed,
      attention: device.attention,
    });
    const result = await _trainLoop(o, resumed, dataset, seriesHash, device, model, controls);
    if (controls.keepModel) {
      // The GPU device is closed below: the kept model goes on with CPU attention.
      model.useCpuAttention();
      kept = true;
      controls.keepModel(model, dataset);
    }
    return result;
  } finally {
    // The GPU device goes last: the model may use it until it is closed.
    try {
      if (model && !kept) model.close();
    } finally {
      device.attention?.close();
    }
  }
}

/** The loop of {@linkcode train}, on a model and device the caller closes. */
async function _trainLoop(
  o: TrainOptions,
  resumed: CheckpointData | undefined,
  dataset: Dataset,
  seriesHash: string,
  device: DeviceChoice,
  model: BTSPFormer,
  controls: TrainControls,
): Promise<TrainResult> {
  const emit = controls.onEvent ?? (() => {});
  const opt = new Optimizer(model, { name: o.optimizer, weightDecay: o.weightDecay });
  const plateau = new ReduceLROnPlateau(o.lr, {
    factor: o.plateauFactor,
    patience: o.plateauPatience,
    threshold: o.plateauThreshold,
  });
  const early = new EarlyStopping(o.patience);
  const rng = new Rng(o.seed ^ 0x5eed);
  const history: EpochMetrics[] = [];
  let epoch = 0, globalStep = 0;
  let best = model.stateDict();

  if (resumed) {
    const st = resumed.trainState as unknown as TrainState;
    if (st.seriesHash !== seriesHash) {
      throw new UserError(
        `Cannot resume from "${o.resume}": the training series differs from the one it was trained on`,
      );
    }
    model.loadStateDict(resumed.weights);
    opt.restore(
      arenaFrom(model, resumed.expAvg!, "optimizer moments"),
      arenaFrom(model, resumed.expAvgSq!, "optimizer moments"),
      st.optimizerSteps,
    );
    plateau.state = st.plateau;
    early.state = st.early;
    rng.state = st.rng;
    history.push(...st.history);
    epoch = st.epoch;
    globalStep = st.globalStep;
    best = resumed.best && resumed.best.size ? resumed.best : model.stateDict();
  }

  const out = o.outDir ? await RunOutputs.open(o.outDir, o, history) : undefined;
  emit({
    type: "start",
    options: o,
    dataset: dataset.description,
    nTrain: dataset.nTrain,
    nVal: dataset.nVal,
    numParams: model.numTrainable,
    startEpoch: epoch,
    device: device.name,
    deviceReason: device.reason,
  });

  const be = model.backend, heap = be.heap;
  const L = o.model.seqLen, K = o.model.horizon, Bmax = o.batchSize;
  const targetPtr = heap.alloc(Bmax * K), dpredPtr = heap.alloc(Bmax * K);
  const bx = new Float32Array(Bmax * L), by = new Float32Array(Bmax * K);
  const order = new Int32Array(dataset.nTrain);
  const steps = Math.ceil(dataset.nTrain / Bmax);
  let stopReason: TrainResult["stopReason"] = "epochs";

  while (epoch < o.epochs) {
    const e = epoch + 1;
    for (let i = 0; i < order.length; i++) order[i] = i;
    rng.shuffle(order);
    const t0 = performance.now();
    let sumSq = 0, sumAbs = 0, count = 0;
    let aborted = false;
    for (let s = 0; s < steps; s++) {
      if (controls.signal?.aborted) {
        aborted = true;
        break;
      }
      const lo = s * Bmax, B = Math.min(Bmax, dataset.nTrain - lo);
      for (let b = 0; b < B; b++) {
        const w = order[lo + b];
        bx.set(dataset.trainX.subarray(w * L, w * L + L), b * L);
        by.set(dataset.trainY.subarray(w * K, w * K + K), b * K);
      }
      model.setInput(bx.subarray(0, B * L), B);
      heap.write(targetPtr, by.subarray(0, B * K));
      const pred = await model.forwardAsync(B, {
        training: true,
        key0: o.seed,
        key1: globalStep,
      });
      const m = lossMetrics(be, pred, targetPtr, B * K);
      const loss = mseLoss(be, dpredPtr, pred, targetPtr, B * K);
      if (!Number.isFinite(loss)) {
        throw new Error(
          `Training diverged at epoch ${e}, step ${s + 1}: the loss is ${loss}; try a lower --lr`,
        );
      }
      await model.backwardAsync(B, dpredPtr);
      opt.clip(o.clip);
      opt.step(plateau.lr);
      globalStep++;
      sumSq += m.mse * B * K;
      sumAbs += m.mae * B * K;
      count += B * K;
      const elapsed = (performance.now() - t0) / 1000;
      emit({
        type: "step",
        epoch: e,
        step: s + 1,
        steps,
        loss,
        samplesPerSec: (lo + B) / elapsed,
        elapsed,
      });
      // Let signal handlers and progress output run between steps.
      if ((s & 7) === 7) await new Promise((r) => setTimeout(r, 0));
    }
    if (aborted) {
      stopReason = "interrupted";
      break;
    }
    const trainSeconds = (performance.now() - t0) / 1000;
    const val = await evaluate(model, dataset.valX, dataset.valY, o.batchSize);
    const std = dataset.scaler.std;
    const lrUsed = plateau.lr;
    const lrReduced = plateau.step(val.mse);
    const stop = early.step(val.mse, e);
    const isBest = early.isBest(e);
    if (isBest) best = model.stateDict();
    epoch = e;
    const metrics: EpochMetrics = {
      epoch: e,
      trainLoss: sumSq / count,
      trainMse: sumSq / count,
      trainMae: sumAbs / count,
      trainRmse: Math.sqrt(sumSq / count),
      trainMseOrig: (sumSq / count) * std * std,
      trainMaeOrig: (sumAbs / count) * std,
      trainRmseOrig: Math.sqrt(sumSq / count) * std,
      valMse: val.mse,
      valMae: val.mae,
      valRmse: Math.sqrt(val.mse),
      valMseOrig: val.mse * std * std,
      valMaeOrig: val.mae * std,
      valRmseOrig: Math.sqrt(val.mse) * std,
      lr: lrUsed,
      bestValMse: early.best,
      bestEpoch: early.bestEpoch,
      seconds: (performance.now() - t0) / 1000,
      samplesPerSec: dataset.nTrain / trainSeconds,
    };
    history.push(metrics);
    if (out) {
      const state: TrainState = {
        epoch,
        globalStep,
        optimizerSteps: opt.steps,
        plateau: plateau.state,
        early: early.state,
        rng: rng.state,
        history,
        options: { ...o, series: undefined },
        seriesHash,
      };
      const mom = opt.moments();
      await out.epoch(metrics, {
        kind: "checkpoint",
        config: o.model,
        scaler: dataset.scaler,
        weights: model.stateDict(),
        trainState: state as unknown as Record<string, unknown>,
        expAvg: tensorsFrom(model, mom.m),
        expAvgSq: tensorsFrom(model, mom.v),
        best,
      }, isBest);
    }
    emit({ type: "epoch", metrics, lrReduced, isBest });
    if (stop) {
      stopReason = "early_stopping";
      break;
    }
  }

  // The final model is the best epoch's weights.
  if (history.length) model.loadStateDict(best);
  const val = await evaluate(model, dataset.valX, dataset.valY, o.batchSize);
  const valPred = new Float32Array(dataset.nVal), valTruth = new Float32Array(dataset.nVal);
  for (let i = 0; i < dataset.nVal; i++) {
    valPred[i] = val.pred[i * K] * dataset.scaler.std + dataset.scaler.mean;
    valTruth[i] = dataset.valY[i * K] * dataset.scaler.std + dataset.scaler.mean;
  }
  const result: TrainResult = {
    epochs: epoch,
    bestEpoch: early.bestEpoch,
    bestValMse: early.best,
    stopReason,
    history,
    valPred,
    valTruth,
    files: [],
    notices: [],
  };
  if (out) {
    result.files = await out.finish(
      result,
      {
        kind: "model",
        config: o.model,
        scaler: dataset.scaler,
        weights: model.stateDict(),
      },
      device.name,
      controls.lossScale ?? "log",
    );
    if (out.pngSkipped) result.notices.push(`Charts not drawn: ${out.pngSkipped}`);
  }
  emit({ type: "end", result });
  return result;
}

/**
 * Eval-mode predictions and normalized MSE/MAE over a set of windows (on the model's attention
 * device, WebGPU included).
 *
 * @example
 * ```ts
 * import { BTSPFormer } from "../model/model.ts";
 * import { evaluate } from "./trainer.ts";
 * const m = BTSPFormer.create({ seqLen: 2, modelDim: 4, heads: 1, layers: 1 }, { backend: "ref" });
 * const r = await evaluate(m, new Float32Array([0, 1, 1, 0]), new Float32Array([1, 0]), 8);
 * console.log(r.pred.length, r.mse >= 0); // 2 true
 * m.close();
 * ```
 */
export async function evaluate(
  model: BTSPFormer,
  x: Float32Array,
  y: Float32Array,
  batchSize: number,
): Promise<{ mse: number; mae: number; pred: Float32Array }> {
  const pred = await model.predictAsync(x, batchSize);
  let sq = 0, ab = 0;
  for (let i = 0; i < y.length; i++) {
    const d = pred[i] - y[i];
    sq += d * d;
    ab += Math.abs(d);
  }
  const n = Math.max(1, y.length);
  return { mse: sq / n, mae: ab / n, pred };
}

function tensorsFrom(model: BTSPFormer, arena: Float32Array): NamedTensors {
  const t: NamedTensors = new Map();
  for (const p of model.layout) {
    if (p.trainable) {
      t.set(p.name, { shape: p.shape, data: arena.slice(p.offset, p.offset + p.size) });
    }
  }
  return t;
}

function arenaFrom(model: BTSPFormer, t: NamedTensors, what: string): Float32Array {
  const arena = new Float32Array(model.numTrainable);
  for (const p of model.layout) {
    if (!p.trainable) continue;
    const v = t.get(p.name);
    if (!v || v.data.length !== p.size) {
      throw new UserError(`Cannot resume: the checkpoint's ${what} lack "${p.name}"`);
    }
    arena.set(v.data, p.offset);
  }
  return arena;
}

// FNV-1a over the float64 bytes: enough to notice a different series on resume.
function hashSeries(s: Float64Array): string {
  const b = new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return `${s.length}:${h.toString(16)}`;
}
