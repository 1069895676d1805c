/**
 * The per-epoch record that the trainer produces and every report format (CSV, TensorBoard,
 * charts, HTML) consumes.
 *
 * @module
 */

/**
 * One epoch's numbers. `*Orig` metrics are in the series' original units (scaler inverted); the
 * others are on the z-scored data the model sees. `bestValMse`/`bestEpoch` track the best
 * `valMse` so far (early stopping and checkpoint selection use it).
 */
export interface EpochMetrics {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean training objective over the epoch (MSE on normalized data). */
  trainLoss: number;
  trainMse: number;
  trainMae: number;
  trainRmse: number;
  trainMseOrig: number;
  trainMaeOrig: number;
  trainRmseOrig: number;
  valMse: number;
  valMae: number;
  valRmse: number;
  valMseOrig: number;
  valMaeOrig: number;
  valRmseOrig: number;
  /** Learning rate used during the epoch. */
  lr: number;
  bestValMse: number;
  bestEpoch: number;
  /** Wall-clock seconds of the epoch (training and validation). */
  seconds: number;
  /** Training samples processed per second. */
  samplesPerSec: number;
}

/**
 * Field names of {@linkcode EpochMetrics}, in the order every report uses.
 *
 * @example
 * ```ts
 * import { EPOCH_METRIC_KEYS } from "./epoch_metrics.ts";
 * console.log(EPOCH_METRIC_KEYS[0]); // "epoch"
 * ```
 */
export const EPOCH_METRIC_KEYS: readonly (keyof EpochMetrics)[] = Object.freeze(
  [
    "epoch",
    "trainLoss",
    "trainMse",
    "trainMae",
    "trainRmse",
    "trainMseOrig",
    "trainMaeOrig",
    "trainRmseOrig",
    "valMse",
    "valMae",
    "valRmse",
    "valMseOrig",
    "valMaeOrig",
    "valRmseOrig",
    "lr",
    "bestValMse",
    "bestEpoch",
    "seconds",
    "samplesPerSec",
  ] as const,
);
