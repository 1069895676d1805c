/**
 * BTSP ablation: validation MSE (original units, best epoch) and epochs-to-best of every
 * attention × positional-encoding pair, over several training seeds, on three series, next to
 * the persistence and linear-AR baselines of the same validation windows.
 *
 * Usage: deno run -A bench/ablation.ts [--quick] [--json] [--seeds 3] [--epochs 100]
 *        [--only sine,hard,co2] [--out bench/results]
 *
 * - `--quick`: 1 seed, 3 epochs (a smoke run of the whole grid, numbers meaningless).
 * - `--json`: print the JSON document instead of the markdown tables.
 * - `--out DIR`: also write DIR/ablation.json and DIR/ablation.md, rewritten after each dataset so
 *   an interrupted study keeps what it finished. The markdown holds the tables only (run
 *   `deno fmt` on it to align them); conclusions are written by hand below them.
 *
 * The seed varies the model (initialization, shuffling, dropout); the data (including its noise)
 * stays fixed, so each baseline is one number per dataset. Progress goes to stderr.
 *
 * @module
 */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { type DataOptions, loadDataset } from "../src/data/dataset.ts";
import type { PosEncoding } from "../src/model/config.ts";
import type { AttentionMode } from "../src/ops/attention.ts";
import {
  type BaselineMetrics,
  linearArBaseline,
  persistenceBaseline,
} from "../src/train/baselines.ts";
import { resolveTrainOptions, type TrainOptionsInput } from "../src/train/options.ts";
import { train } from "../src/train/trainer.ts";

/** One series of the study. */
export interface AblationDataset {
  /** Short name used by `--only`. */
  id: string;
  /** Table heading. */
  title: string;
  /** Data options on top of the library defaults. */
  data: Partial<DataOptions>;
}

/** One training run. */
export interface AblationRun {
  attention: AttentionMode;
  posEncoding: PosEncoding;
  seed: number;
  /** Validation MSE in original units at the best epoch. */
  valMseOrig: number;
  /** Validation MAE in original units at the best epoch. */
  valMaeOrig: number;
  bestEpoch: number;
  /** Epochs actually run. */
  epochs: number;
  stopReason: string;
  /** Wall-clock seconds of the whole run. */
  seconds: number;
}

/** Mean and sample standard deviation (n − 1; 0 for a single value). */
export interface MeanStd {
  mean: number;
  std: number;
}

/** The seeds of one attention × encoding pair, summarized. */
export interface AblationCell {
  attention: AttentionMode;
  posEncoding: PosEncoding;
  valMseOrig: MeanStd;
  valMaeOrig: MeanStd;
  bestEpoch: MeanStd;
  seconds: MeanStd;
}

/** Everything measured on one dataset. */
export interface AblationDatasetResult {
  id: string;
  title: string;
  description: string;
  nTrain: number;
  nVal: number;
  baselines: { persistence: BaselineMetrics; linearAr: BaselineMetrics };
  runs: AblationRun[];
  cells: AblationCell[];
}

/** The whole study as written to ablation.json. */
export interface AblationReport {
  command: string;
  date: string;
  deno: string;
  cpus: number;
  seeds: number[];
  training: TrainOptionsInput;
  datasets: AblationDatasetResult[];
  totalSeconds: number;
}

/** The three series of the study. */
export const DATASETS: readonly AblationDataset[] = [
  {
    id: "sine",
    title: "Damped sine, noise 0.05 (t_max 20, horizon 1)",
    data: { numSamples: 2000, seqLen: 24, horizon: 1, noise: 0.05 },
  },
  {
    // γ 0.01 instead of 0.1: with γ 0.1 the sine has decayed to ~1e-7 by the validation part of
    // t ∈ [0, 200], leaving pure noise to predict.
    id: "hard",
    title: "Coarse damped sine (t_max 200, γ 0.01, noise 0.05, horizon 10)",
    data: { numSamples: 2000, seqLen: 24, horizon: 10, noise: 0.05, tMax: 200, gamma: 0.01 },
  },
  {
    id: "co2",
    title: "Mauna Loa CO₂, monthly (column CO2, horizon 1)",
    data: {
      source: "csv",
      // Relative to the working directory so that reports do not carry this machine's paths.
      csv: relative(
        Deno.cwd(),
        fileURLToPath(new URL("../examples/data/co2-concentration.csv", import.meta.url)),
      ),
      column: "CO2",
      seqLen: 24,
      horizon: 1,
    },
  },
];

const ATTENTIONS: readonly AttentionMode[] = ["btsp", "standard", "original"];
const ENCODINGS: readonly PosEncoding[] = ["predictive", "sinusoidal", "none"];

/** Model and optimizer of every run: sized so the full study fits in about 25 minutes on 2 cores. */
export const TRAINING: Readonly<TrainOptionsInput> = {
  model: { modelDim: 32, heads: 4, layers: 2 },
  batchSize: 64,
  epochs: 100,
  patience: 8,
  lr: 1e-3,
  threads: 2,
};

/**
 * Mean and sample standard deviation.
 *
 * @example
 * ```ts
 * import { meanStd } from "./ablation.ts";
 * console.log(meanStd([1, 2, 3])); // { mean: 2, std: 1 }
 * ```
 */
export function meanStd(xs: readonly number[]): MeanStd {
  const n = xs.length;
  if (n === 0) throw new RangeError("Cannot summarize an empty list of values");
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const ss = xs.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0 };
}

/**
 * Group runs by attention × encoding (grid order) and summarize each group over its seeds.
 *
 * @example
 * ```ts
 * import { summarize, type AblationRun } from "./ablation.ts";
 * const run = (seed: number, mse: number): AblationRun => ({
 *   attention: "btsp", posEncoding: "none", seed, valMseOrig: mse, valMaeOrig: 0,
 *   bestEpoch: 4, epochs: 10, stopReason: "epochs", seconds: 1,
 * });
 * console.log(summarize([run(1, 1), run(2, 3)])[0].valMseOrig); // { mean: 2, std: 1.4142135623730951 }
 * ```
 */
export function summarize(runs: readonly AblationRun[]): AblationCell[] {
  const cells: AblationCell[] = [];
  for (const attention of ATTENTIONS) {
    for (const posEncoding of ENCODINGS) {
      const rs = runs.filter((r) => r.attention === attention && r.posEncoding === posEncoding);
      if (!rs.length) continue;
      cells.push({
        attention,
        posEncoding,
        valMseOrig: meanStd(rs.map((r) => r.valMseOrig)),
        valMaeOrig: meanStd(rs.map((r) => r.valMaeOrig)),
        bestEpoch: meanStd(rs.map((r) => r.bestEpoch)),
        seconds: meanStd(rs.map((r) => r.seconds)),
      });
    }
  }
  return cells;
}

/**
 * Three significant digits, exponent form outside [0.01, 1e4).
 *
 * @example
 * ```ts
 * import { fmt } from "./ablation.ts";
 * console.log(fmt(0.0029755), fmt(1.9346)); // 2.98e-3 1.93
 * ```
 */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 0.01 || a >= 1e4)) return x.toExponential(2);
  return String(Number(x.toPrecision(3)));
}

/**
 * The markdown table of one dataset: baselines first, then each attention × encoding pair.
 *
 * @example
 * ```ts
 * import { datasetTable } from "./ablation.ts";
 * const md = datasetTable({
 *   id: "x", title: "X", description: "d", nTrain: 8, nVal: 2, runs: [], cells: [],
 *   baselines: { persistence: { mse: 4, mae: 2, rmse: 2 }, linearAr: { mse: 1, mae: 1, rmse: 1 } },
 * });
 * console.log(md.includes("| linear AR | 1 ")); // true
 * ```
 */
export function datasetTable(d: AblationDatasetResult): string {
  const ar = d.baselines.linearAr.mse;
  const lines = [
    `### ${d.title}`,
    "",
    `${d.description[0].toUpperCase()}${d.description.slice(1)}.`,
    "",
    "| model | val MSE (orig. units) | val MAE | MSE / linear AR | epochs to best | s per run |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  const baselines = [["persistence", d.baselines.persistence], ["linear AR", d.baselines.linearAr]];
  for (const [name, m] of baselines as [string, BaselineMetrics][]) {
    lines.push(`| ${name} | ${fmt(m.mse)} | ${fmt(m.mae)} | ${fmt(m.mse / ar)} | – | – |`);
  }
  const best = Math.min(...d.cells.map((c) => c.valMseOrig.mean));
  for (const c of d.cells) {
    const mse = `${fmt(c.valMseOrig.mean)} ± ${fmt(c.valMseOrig.std)}`;
    lines.push(
      `| ${c.attention} + ${c.posEncoding} | ${c.valMseOrig.mean === best ? `**${mse}**` : mse} | ${
        fmt(c.valMaeOrig.mean)
      } ± ${fmt(c.valMaeOrig.std)} | ${fmt(c.valMseOrig.mean / ar)} | ${
        c.bestEpoch.mean.toFixed(1)
      } ± ${c.bestEpoch.std.toFixed(1)} | ${c.seconds.mean.toFixed(0)} |`,
    );
  }
  return lines.join("\n");
}

/**
 * The whole markdown document (header, settings, one table per dataset).
 *
 * @example
 * ```ts
 * import { markdown, TRAINING } from "./ablation.ts";
 * const md = markdown({
 *   command: "x", date: "2024-01-01", deno: "2", cpus: 2, seeds: [1], training: TRAINING,
 *   datasets: [], totalSeconds: 0,
 * });
 * console.log(md.startsWith("# BTSP ablation")); // true
 * ```
 */
export function markdown(r: AblationReport): string {
  const t = r.training, m = t.model ?? {};
  return [
    "# BTSP ablation",
    "",
    `Command: \`${r.command}\` — ${r.date}, Deno ${r.deno}, ${r.cpus} CPUs, ${
      (r.totalSeconds / 60).toFixed(1)
    } min in all.`,
    "",
    `Every run: D ${m.modelDim}, ${m.heads} heads, ${m.layers} blocks, dropout 0.1, batch ${t.batchSize}, AdamW lr ${t.lr}, ` +
    `at most ${t.epochs} epochs with early stopping (patience ${t.patience}), ${t.threads} threads; ` +
    `seeds ${r.seeds.join(", ")} (model seed only: the data is fixed). ` +
    "Validation MSE/MAE are in original units at the best epoch, over every validation window " +
    "and horizon step, shown as mean ± sample std over the seeds; the baselines are scored on " +
    "the same windows. Bold: the best mean of the grid. `original` attention mixes the samples " +
    "of a batch (spec §5).",
    "",
    ...r.datasets.flatMap((d) => [datasetTable(d), ""]),
  ].join("\n");
}

function parseArgs(args: string[]): {
  quick: boolean;
  json: boolean;
  seeds: number;
  epochs?: number;
  only?: string[];
  out?: string;
} {
  const o: ReturnType<typeof parseArgs> = { quick: false, json: false, seeds: 3 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[++i];
      if (v === undefined) throw new Error(`Flag "${a}" needs a value`);
      return v;
    };
    const int = (v: string): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) {
        throw new Error(`Flag "${a}": expected a positive integer, got "${v}"`);
      }
      return n;
    };
    const name = a.split("=")[0];
    if (name === "--quick") o.quick = true;
    else if (name === "--json") o.json = true;
    else if (name === "--seeds") o.seeds = int(value());
    else if (name === "--epochs") o.epochs = int(value());
    else if (name === "--out") o.out = value();
    else if (name === "--only") {
      o.only = value().split(",");
      for (const id of o.only) {
        if (!DATASETS.some((d) => d.id === id)) {
          throw new Error(`Flag "--only": unknown dataset "${id}" (expected sine, hard or co2)`);
        }
      }
    } else throw new Error(`Unknown flag "${a}"`);
  }
  return o;
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const seeds = Array.from({ length: args.quick ? 1 : args.seeds }, (_, i) => i + 1);
  const training: TrainOptionsInput = {
    ...TRAINING,
    epochs: args.epochs ?? (args.quick ? 3 : TRAINING.epochs),
  };
  const report: AblationReport = {
    command: `deno run -A bench/ablation.ts ${Deno.args.join(" ")}`.trim(),
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    cpus: navigator.hardwareConcurrency,
    seeds,
    training,
    datasets: [],
    totalSeconds: 0,
  };
  const t0 = performance.now();
  const write = async (): Promise<void> => {
    report.totalSeconds = (performance.now() - t0) / 1000;
    if (!args.out) return;
    await Deno.mkdir(args.out, { recursive: true });
    await Deno.writeTextFile(`${args.out}/ablation.json`, JSON.stringify(report, null, 2) + "\n");
    await Deno.writeTextFile(`${args.out}/ablation.md`, markdown(report));
  };

  for (const spec of DATASETS.filter((d) => !args.only || args.only.includes(d.id))) {
    const base: TrainOptionsInput = { ...training, data: spec.data };
    const ds = await loadDataset(resolveTrainOptions(base).data);
    const result: AblationDatasetResult = {
      id: spec.id,
      title: spec.title,
      description: ds.description,
      nTrain: ds.nTrain,
      nVal: ds.nVal,
      baselines: { persistence: persistenceBaseline(ds), linearAr: linearArBaseline(ds) },
      runs: [],
      cells: [],
    };
    console.error(
      `${spec.id}: ${ds.description}\n  persistence ${fmt(result.baselines.persistence.mse)}, ` +
        `linear AR ${fmt(result.baselines.linearAr.mse)}`,
    );
    for (const attention of ATTENTIONS) {
      for (const posEncoding of ENCODINGS) {
        for (const seed of seeds) {
          const ts = performance.now();
          const r = await train({
            ...base,
            seed,
            model: { ...training.model, attention, posEncoding },
          });
          const best = r.history.find((h) => h.epoch === r.bestEpoch);
          if (!best) throw new Error(`No history entry for best epoch ${r.bestEpoch}`);
          const run: AblationRun = {
            attention,
            posEncoding,
            seed,
            valMseOrig: best.valMseOrig,
            valMaeOrig: best.valMaeOrig,
            bestEpoch: r.bestEpoch,
            epochs: r.epochs,
            stopReason: r.stopReason,
            seconds: (performance.now() - ts) / 1000,
          };
          result.runs.push(run);
          console.error(
            `  ${attention} + ${posEncoding}, seed ${seed}: val MSE ${fmt(run.valMseOrig)} ` +
              `(best epoch ${run.bestEpoch}/${run.epochs}, ${run.seconds.toFixed(1)} s)`,
          );
        }
      }
    }
    result.cells = summarize(result.runs);
    report.datasets.push(result);
    await write();
  }
  await write();
  console.log(args.json ? JSON.stringify(report, null, 2) : markdown(report));
}

if (import.meta.main) await main();
