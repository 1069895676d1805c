/**
 * The files of a run in its output folder: checkpoints every epoch, `metrics.csv` and TensorBoard
 * events as the run goes, and at the end the final model (`.safetensors` and `.pth`), the two
 * PNG charts, `report.html` and `summary.json`. Every file is written atomically.
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { encodePth } from "../io/pth.ts";
import { EventWriter } from "../report/tfevents.ts";
import { type EpochMetrics, metricsCsv } from "../report/metrics_csv.ts";
import { canRenderPng, inferencePng, lossCurvePng } from "../report/charts.ts";
import { reportHtml } from "../report/html.ts";
import { type CheckpointData, encodeCheckpoint } from "./checkpoint.ts";
import type { TrainOptions } from "./options.ts";
import type { TrainResult } from "./trainer.ts";
import { simdSupported } from "../engine/features.ts";

/** File names inside the output folder (the seed's names where it names them). */
export const RUN_FILES = {
  best: "checkpoints/best.safetensors",
  last: "checkpoints/last.safetensors",
  modelSafetensors: "btspformer_model.safetensors",
  modelPth: "btspformer_model.pth",
  metrics: "metrics.csv",
  logs: "logs",
  lossCurve: "btspformer_loss_curve.png",
  inference: "btspformer_inference.png",
  report: "report.html",
  summary: "summary.json",
} as const;

/**
 * Writer for one run's folder.
 *
 * @example
 * ```ts ignore
 * import { RunOutputs } from "./outputs.ts";
 * const out = await RunOutputs.open("runs", options, []);
 * ```
 */
export class RunOutputs {
  readonly dir: string;
  readonly options: TrainOptions;
  readonly #history: EpochMetrics[];
  readonly #events: EventWriter;
  /** Set when PNGs cannot be drawn (no FFI permission): the reason, said once. */
  pngSkipped?: string;

  private constructor(
    dir: string,
    options: TrainOptions,
    history: EpochMetrics[],
    events: EventWriter,
  ) {
    this.dir = dir;
    this.options = options;
    this.#history = history;
    this.#events = events;
  }

  /** Create the folder tree and the TensorBoard writer. */
  static async open(
    dir: string,
    options: TrainOptions,
    history: EpochMetrics[],
  ): Promise<RunOutputs> {
    await Deno.mkdir(join(dir, "checkpoints"), { recursive: true });
    await Deno.mkdir(join(dir, RUN_FILES.logs), { recursive: true });
    const events = await EventWriter.create(join(dir, RUN_FILES.logs));
    return new RunOutputs(dir, options, history, events);
  }

  /** After each epoch: checkpoints, metrics.csv, TensorBoard scalars. */
  async epoch(m: EpochMetrics, checkpoint: CheckpointData, isBest: boolean): Promise<void> {
    const bytes = encodeCheckpoint(checkpoint);
    await writeFileAtomic(join(this.dir, RUN_FILES.last), bytes);
    if (isBest) await writeFileAtomic(join(this.dir, RUN_FILES.best), bytes);
    await writeFileAtomic(join(this.dir, RUN_FILES.metrics), metricsCsv(this.#history));
    const scalars: [string, number][] = [
      ["train/loss", m.trainLoss],
      ["train/mse", m.trainMse],
      ["train/mae", m.trainMae],
      ["train/rmse", m.trainRmse],
      ["train/rmse_orig", m.trainRmseOrig],
      ["val/loss", m.valMse],
      ["val/mse", m.valMse],
      ["val/mae", m.valMae],
      ["val/rmse", m.valRmse],
      ["val/mse_orig", m.valMseOrig],
      ["val/mae_orig", m.valMaeOrig],
      ["val/rmse_orig", m.valRmseOrig],
      ["lr", m.lr],
    ];
    for (const [tag, v] of scalars) await this.#events.scalar(tag, v, m.epoch);
    await this.#events.flush();
  }

  /** At the end: final model files, charts, report, summary. Returns the paths written. */
  async finish(
    r: TrainResult,
    model: CheckpointData,
    device: string,
    lossScale: "log" | "linear",
  ): Promise<string[]> {
    await this.#events.close();
    const files: string[] = [];
    const put = async (name: string, data: Uint8Array | string) => {
      await writeFileAtomic(join(this.dir, name), data);
      files.push(join(this.dir, name));
    };
    await put(RUN_FILES.modelSafetensors, encodeCheckpoint(model));
    await put(RUN_FILES.modelPth, encodePth(model.weights));
    await put(RUN_FILES.metrics, metricsCsv(r.history));
    const render = await canRenderPng();
    if (render.ok) {
      await put(
        RUN_FILES.lossCurve,
        await lossCurvePng(r.history, { logScale: lossScale === "log" }),
      );
      await put(RUN_FILES.inference, await inferencePng(r.valTruth, r.valPred, {}));
    } else {
      this.pngSkipped = render.reason ?? "PNG rendering is unavailable";
    }
    const o = this.options;
    const summary = {
      epochs: r.epochs,
      bestEpoch: r.bestEpoch,
      bestValMse: r.bestValMse,
      bestValRmseOrig: r.history.find((h) => h.epoch === r.bestEpoch)?.valRmseOrig ?? null,
      stopReason: r.stopReason,
      finalModel: RUN_FILES.modelSafetensors,
      finalModelNote: `weights of epoch ${r.bestEpoch} (best validation MSE)`,
    };
    const env = {
      deno: Deno.version.deno,
      threads: o.threads,
      simd: simdSupported(),
      device,
      os: Deno.build.os,
      arch: Deno.build.arch,
    };
    await put(
      RUN_FILES.report,
      await reportHtml({
        title: "BTSPFormer training report",
        config: { ...o.model, ...flatData(o), epochs: o.epochs, batchSize: o.batchSize, lr: o.lr },
        metrics: r.history,
        truth: Array.from(r.valTruth),
        pred: Array.from(r.valPred),
        env,
        summary,
      }),
    );
    await put(RUN_FILES.summary, JSON.stringify({ ...summary, env }, null, 2) + "\n");
    return files;
  }
}

function flatData(o: TrainOptions): Record<string, unknown> {
  const { data } = o;
  return {
    source: data.source,
    csv: data.csv,
    column: data.column,
    numSamples: data.numSamples,
    split: data.split,
    normalize: data.normalize,
    noise: data.noise,
    preset: data.preset,
    optimizer: o.optimizer,
    weightDecay: o.weightDecay,
    clip: o.clip,
    patience: o.patience,
    seed: o.seed,
  };
}
