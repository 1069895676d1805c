/**
 * Learning-rate schedule and stopping rule driven by the validation MSE: PyTorch's
 * `ReduceLROnPlateau` (mode "min", relative threshold) and early stopping. Both are plain state
 * machines with serialisable state, so a resumed run continues them exactly.
 *
 * @module
 */

/** Serialisable state of {@linkcode ReduceLROnPlateau}. */
export interface PlateauState {
  lr: number;
  best: number;
  badEpochs: number;
  cooldownLeft: number;
}

/** Options of {@linkcode ReduceLROnPlateau} (PyTorch defaults except factor). */
export interface PlateauOptions {
  /** Multiply the LR by this on a plateau. Default 0.5. */
  factor?: number;
  /** Epochs without improvement tolerated. Default 8. */
  patience?: number;
  /** Relative improvement that counts (PyTorch threshold_mode "rel"). Default 1e-4. */
  threshold?: number;
  /** Lowest learning rate. Default 0. */
  minLr?: number;
  /** Epochs to wait after a reduction. Default 0. */
  cooldown?: number;
}

/**
 * `torch.optim.lr_scheduler.ReduceLROnPlateau(mode="min", threshold_mode="rel")`.
 *
 * @example
 * ```ts
 * import { ReduceLROnPlateau } from "./schedule.ts";
 * const s = new ReduceLROnPlateau(1e-3, { patience: 1 });
 * for (const loss of [1, 1, 1]) s.step(loss);
 * console.log(s.lr); // 0.0005
 * ```
 */
export class ReduceLROnPlateau {
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly minLr: number;
  readonly cooldown: number;
  lr: number;
  best = Infinity;
  badEpochs = 0;
  cooldownLeft = 0;

  constructor(lr: number, o: PlateauOptions = {}) {
    this.lr = lr;
    this.factor = o.factor ?? 0.5;
    this.patience = o.patience ?? 8;
    this.threshold = o.threshold ?? 1e-4;
    this.minLr = o.minLr ?? 0;
    this.cooldown = o.cooldown ?? 0;
  }

  /** Feed one epoch's metric; returns true when the learning rate was reduced. */
  step(metric: number): boolean {
    if (metric < this.best * (1 - this.threshold)) {
      this.best = metric;
      this.badEpochs = 0;
    } else {
      this.badEpochs++;
    }
    if (this.cooldownLeft > 0) {
      this.cooldownLeft--;
      this.badEpochs = 0;
    }
    if (this.badEpochs > this.patience) {
      const next = Math.max(this.lr * this.factor, this.minLr);
      // PyTorch skips reductions smaller than eps = 1e-8.
      const reduced = this.lr - next > 1e-8;
      if (reduced) this.lr = next;
      this.cooldownLeft = this.cooldown;
      this.badEpochs = 0;
      return reduced;
    }
    return false;
  }

  /** State for checkpoints. */
  get state(): PlateauState {
    return {
      lr: this.lr,
      best: this.best,
      badEpochs: this.badEpochs,
      cooldownLeft: this.cooldownLeft,
    };
  }

  set state(s: PlateauState) {
    this.lr = s.lr;
    this.best = s.best;
    this.badEpochs = s.badEpochs;
    this.cooldownLeft = s.cooldownLeft;
  }
}

/** Serialisable state of {@linkcode EarlyStopping}. */
export interface EarlyStoppingState {
  best: number;
  bestEpoch: number;
  badEpochs: number;
}

/**
 * Stop after `patience` epochs without a new best (strictly lower) validation MSE;
 * `patience` 0 never stops.
 *
 * @example
 * ```ts
 * import { EarlyStopping } from "./schedule.ts";
 * const e = new EarlyStopping(2);
 * const stops = [3, 2, 2.5, 2.1].map((v, i) => e.step(v, i + 1));
 * console.log(stops, e.bestEpoch); // [ false, false, false, true ] 2
 * ```
 */
export class EarlyStopping {
  readonly patience: number;
  best = Infinity;
  bestEpoch = 0;
  badEpochs = 0;

  constructor(patience: number) {
    this.patience = patience;
  }

  /** Feed one epoch's metric; returns true when training should stop. */
  step(metric: number, epoch: number): boolean {
    if (metric < this.best) {
      this.best = metric;
      this.bestEpoch = epoch;
      this.badEpochs = 0;
      return false;
    }
    this.badEpochs++;
    return this.patience > 0 && this.badEpochs >= this.patience;
  }

  /** Whether the last `step` set a new best. */
  isBest(epoch: number): boolean {
    return this.bestEpoch === epoch;
  }

  /** State for checkpoints. */
  get state(): EarlyStoppingState {
    return { best: this.best, bestEpoch: this.bestEpoch, badEpochs: this.badEpochs };
  }

  set state(s: EarlyStoppingState) {
    this.best = s.best;
    this.bestEpoch = s.bestEpoch;
    this.badEpochs = s.badEpochs;
  }
}
