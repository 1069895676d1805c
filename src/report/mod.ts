/**
 * Run outputs: `metrics.csv`, TensorBoard event files, PNG charts and the self-contained
 * `report.html`. Everything here takes plain data (no model, no trainer).
 *
 * Permissions: event files and CSVs need `--allow-write` on the run folder; PNG charts need
 * `--allow-ffi --allow-env --allow-sys` (check {@linkcode canRenderPng}); the HTML report needs
 * `--allow-read` on Deno's npm cache to inline Chart.js.
 *
 * @example
 * ```ts
 * import { METRICS_COLUMNS, metricsCsv } from "./mod.ts";
 * console.log(metricsCsv([]) === METRICS_COLUMNS.join(",") + "\n"); // true
 * ```
 *
 * @module
 */

export { EPOCH_METRIC_KEYS, type EpochMetrics } from "./epoch_metrics.ts";
export { METRICS_COLUMNS, metricsCsv, parseMetricsCsv } from "./metrics_csv.ts";
export {
  encodeFileVersionEvent,
  encodeScalarEvent,
  EventWriter,
  FILE_VERSION,
  frameRecord,
  readRecords,
} from "./tfevents.ts";
export { crc32c, maskCrc, maskedCrc32c, unmaskCrc } from "./crc32c.ts";
export {
  inferenceConfigs,
  type InferenceOptions,
  lossCurveConfig,
  type LossCurveOptions,
  type XY,
} from "./chart_configs.ts";
export { canRenderPng, inferencePng, lossCurvePng, type PngSize } from "./charts.ts";
export { CHART_JS_VERSION, chartJsSource } from "./chartjs_source.ts";
export { escapeHtml, reportHtml, type ReportInput } from "./html.ts";
