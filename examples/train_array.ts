/**
 * The library API in one file: build a model, train it on an in-memory series, predict.
 *
 * Run: deno run examples/train_array.ts
 * (from anywhere: replace "../mod.ts" with the URL of mod.ts; no permission is needed, since
 * nothing is read or written: `outDir` is not set).
 *
 * @module
 */
import { type BTSPFormer, train } from "../mod.ts";

// A noisy seasonal series: 1500 points.
const series = Array.from(
  { length: 1500 },
  (_, i) => Math.sin((2 * Math.PI * i) / 50) + 0.3 * Math.sin((2 * Math.PI * i) / 13) + 0.002 * i,
);

let model: BTSPFormer | undefined;
let scaler = { mean: 0, std: 1 };
const result = await train(
  {
    series,
    epochs: 8,
    batchSize: 64,
    data: { seqLen: 48 },
    model: { modelDim: 32, heads: 4, layers: 2, attention: "btsp", posEncoding: "predictive" },
  },
  {
    onEvent: (e) => {
      if (e.type === "epoch") {
        console.log(
          `epoch ${e.metrics.epoch}: val RMSE ${e.metrics.valRmseOrig.toFixed(4)}${
            e.isBest ? " *" : ""
          }`,
        );
      }
    },
    keepModel: (m, dataset) => {
      model = m;
      scaler = dataset.scaler; // the z-score fitted on the training part
    },
  },
);
console.log(`best epoch ${result.bestEpoch} of ${result.epochs}`);

// The model sees z-scored values: scale the window in, the prediction out.
const window = series.slice(-48).map((v) => (v - scaler.mean) / scaler.std);
const next = model!.predict([window])[0] * scaler.std + scaler.mean;
console.log(`next value after the series: ${next.toFixed(4)}`);
model!.close();
