/**
 * Progress on stderr: a bar redrawn in place on a terminal (step, loss, samples/s, ETA), one line
 * per epoch otherwise, nothing with --quiet. stdout stays free for results.
 *
 * @module
 */
import type { TrainEvent } from "../train/trainer.ts";

const enc = new TextEncoder();

/**
 * Renders trainer events.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const p = new Progress(true); // quiet: prints nothing
 * p.notice("hello");
 * ```
 */
export class Progress {
  readonly quiet: boolean;
  readonly tty: boolean;
  #lastDraw = 0;
  #barShown = false;

  constructor(quiet: boolean, tty = Deno.stderr.isTerminal()) {
    this.quiet = quiet;
    this.tty = tty;
  }

  /** Print a one-line notice (not in quiet mode). */
  notice(text: string): void {
    if (!this.quiet) this.#line(text);
  }

  /** Handle one trainer event. */
  event(e: TrainEvent): void {
    if (this.quiet) return;
    switch (e.type) {
      case "start": {
        const o = e.options, m = o.model;
        this.#line(
          `BTSPFormer: ${m.attention} attention, ${m.posEncoding} encoding, D=${m.modelDim} H=${m.heads} ` +
            `layers=${m.layers} L=${m.seqLen} horizon=${m.horizon}, ${e.numParams} parameters`,
        );
        this.#line(`Data: ${e.dataset}`);
        this.#line(`Device: ${e.device} (${e.deviceReason}); ${o.threads} CPU thread(s)`);
        if (e.startEpoch > 0) this.#line(`Resuming after epoch ${e.startEpoch}`);
        break;
      }
      case "step": {
        if (!this.tty) return;
        const now = performance.now();
        if (e.step !== e.steps && now - this.#lastDraw < 100) return;
        this.#lastDraw = now;
        const w = 24, done = Math.round((e.step / e.steps) * w);
        const eta = e.step > 0 ? (e.elapsed / e.step) * (e.steps - e.step) : 0;
        const bar = "█".repeat(done) + "░".repeat(w - done);
        this.#raw(
          `\r\x1b[2Kepoch ${e.epoch} ${bar} ${e.step}/${e.steps} loss ${fmt(e.loss)} ` +
            `${Math.round(e.samplesPerSec)} samples/s ETA ${eta.toFixed(1)}s`,
        );
        this.#barShown = true;
        break;
      }
      case "epoch": {
        const m = e.metrics;
        if (this.#barShown) this.#raw("\r\x1b[2K");
        this.#barShown = false;
        this.#line(
          `epoch ${m.epoch}: train mse ${fmt(m.trainMse)} | val mse ${fmt(m.valMse)} mae ${
            fmt(m.valMae)
          } rmse(orig) ${fmt(m.valRmseOrig)} | lr ${m.lr.toExponential(2)} | ` +
            `${m.seconds.toFixed(1)}s ${Math.round(m.samplesPerSec)} samples/s` +
            (e.isBest ? " *best" : "") + (e.lrReduced ? " (lr reduced)" : ""),
        );
        break;
      }
      case "end": {
        const r = e.result;
        if (this.#barShown) this.#raw("\r\x1b[2K");
        const why = r.stopReason === "early_stopping"
          ? "early stopping"
          : r.stopReason === "interrupted"
          ? "interrupted"
          : "all epochs done";
        this.#line(
          `Done after ${r.epochs} epoch(s) (${why}); best epoch ${r.bestEpoch}, val mse ${
            fmt(r.bestValMse)
          }`,
        );
        for (const f of r.files) this.#line(`  wrote ${f}`);
        for (const n of r.notices) this.#line(n);
        break;
      }
    }
  }

  #line(text: string): void {
    this.#raw(text + "\n");
  }

  #raw(text: string): void {
    Deno.stderr.writeSync(enc.encode(text));
  }
}

function fmt(x: number): string {
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toFixed(5) : x.toExponential(3);
}
