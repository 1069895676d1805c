/**
 * `report.html`: one self-contained page (no network) with the run's summary, charts, per-epoch
 * metrics, configuration and environment. Chart.js is inlined and draws the same charts as the
 * PNGs from the same configurations.
 *
 * @module
 */

import type { EpochMetrics } from "./epoch_metrics.ts";
import { EPOCH_METRIC_KEYS } from "./epoch_metrics.ts";
import { METRICS_COLUMNS } from "./metrics_csv.ts";
import { inferenceConfigs, lossCurveConfig } from "./chart_configs.ts";
import { CHART_JS_VERSION, chartJsSource } from "./chartjs_source.ts";

/** Everything the report shows; all plain data. */
export interface ReportInput {
  /** Page heading and `<title>`. */
  title: string;
  /** Run configuration (flags after defaults), shown as a key/value table. */
  config: Record<string, unknown>;
  /** One row per epoch, in order. */
  metrics: EpochMetrics[];
  /** Validation targets in original units, time order. */
  truth: number[];
  /** Validation predictions in original units, same order and length as `truth`. */
  pred: number[];
  /** Runtime facts: threads, SIMD, device, Deno version… */
  env: Record<string, string | number | boolean>;
  /** Headline results (best epoch, final metrics, checkpoint path…). */
  summary: Record<string, unknown>;
}

const _ESC: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for HTML element content and quoted attributes.
 *
 * @example
 * ```ts
 * import { escapeHtml } from "./html.ts";
 * console.log(escapeHtml('<a href="x">')); // "&lt;a href=&quot;x&quot;&gt;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => _ESC[c]);
}

function _fmtNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e-4 && a < 1e6) return String(Number(v.toPrecision(6)));
  return v.toExponential(4);
}

function _fmt(v: unknown): string {
  if (typeof v === "number") return _fmtNumber(v);
  if (typeof v === "string") return v;
  if (v === undefined) return "";
  if (v === null || typeof v === "boolean" || typeof v === "bigint") return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function _kvTable(id: string, rows: Record<string, unknown>): string {
  const body = Object.entries(rows)
    .map(([k, v]) =>
      `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(_fmt(v))}</td></tr>`
    )
    .join("\n");
  return `<table id="${id}" class="kv"><tbody>\n${body}\n</tbody></table>`;
}

function _metricsTable(rows: EpochMetrics[]): string {
  const head = METRICS_COLUMNS.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join("");
  const body = rows.map((r) =>
    "<tr>" +
    EPOCH_METRIC_KEYS.map((k) => `<td>${escapeHtml(_fmtNumber(r[k]))}</td>`).join("") +
    "</tr>"
  ).join("\n");
  return `<table id="metrics-table" class="grid"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** JSON that is safe inside a `<script>` element: `<` never appears literally. */
function _scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

const _STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { padding: 0.25rem 0.6rem; border: 1px solid #ddd; text-align: left; vertical-align: top; }
table.grid td { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { background: #f6f6f6; font-weight: 600; }
.scroll { overflow-x: auto; }
.chart { position: relative; height: 380px; margin: 1rem 0; }
.note { color: #666; font-style: italic; }
footer { margin-top: 3rem; color: #888; font-size: 0.8rem; }
`;

// Runs in the browser: builds the charts from the embedded JSON with the inlined Chart.js.
const _BOOT = `
(function () {
  var data = JSON.parse(document.getElementById("btsp-data").textContent);
  function draw(id, cfg) {
    var el = document.getElementById(id);
    if (!el || !cfg) return null;
    cfg.options = Object.assign({}, cfg.options, { responsive: true, maintainAspectRatio: false });
    return new Chart(el, cfg);
  }
  var loss = null;
  function drawLoss() {
    if (loss) loss.destroy();
    var log = document.getElementById("loss-log");
    var cfg = log && log.checked ? data.lossLog : data.loss;
    loss = draw("chart-loss", JSON.parse(JSON.stringify(cfg)));
  }
  if (data.loss) {
    drawLoss();
    document.getElementById("loss-log").addEventListener("change", drawLoss);
  }
  if (data.inference) {
    draw("chart-time", data.inference[0]);
    draw("chart-sorted", data.inference[1]);
  }
})();
`;

/**
 * The report page as one HTML string. Reads Chart.js's bundle from Deno's npm cache, so it needs
 * `--allow-read` on that cache (see {@linkcode chartJsSource}); the page itself loads nothing.
 *
 * @throws {UserError} When the Chart.js bundle cannot be read, or when `truth` and `pred` differ
 * in length.
 * @example
 * ```ts
 * import { reportHtml } from "./html.ts";
 * const m = {
 *   epoch: 1, trainLoss: 0.5, trainMse: 0.5, trainMae: 0.6, trainRmse: 0.71,
 *   trainMseOrig: 0.71, trainMaeOrig: 0.71, trainRmseOrig: 0.71,
 *   valMse: 0.4, valMae: 0.5, valRmse: 0.63, valMseOrig: 0.1, valMaeOrig: 0.2,
 *   valRmseOrig: 0.32, lr: 1e-3, bestValMse: 0.4, bestEpoch: 1, seconds: 2.5, samplesPerSec: 400,
 * };
 * const html = await reportHtml({
 *   title: "demo", config: { heads: 4 }, metrics: [m], truth: [1, 2], pred: [1.1, 1.9],
 *   env: { threads: 2, simd: true }, summary: { bestEpoch: 1 },
 * });
 * console.log(html.startsWith("<!doctype html>")); // true
 * ```
 */
export async function reportHtml(r: ReportInput): Promise<string> {
  const chartJs = (await chartJsSource()).replace(/<\/(script)/gi, "<\\/$1");
  const hasLoss = r.metrics.length > 0;
  const hasInference = r.truth.length > 0 || r.pred.length > 0;
  const data = {
    loss: hasLoss ? lossCurveConfig(r.metrics) : null,
    lossLog: hasLoss ? lossCurveConfig(r.metrics, { logScale: true }) : null,
    // Validates the lengths even when nothing is drawn.
    inference: hasInference ? inferenceConfigs(r.truth, r.pred, { title: "Validation" }) : null,
  };
  const title = escapeHtml(r.title);
  const lossSection = hasLoss
    ? `<label><input type="checkbox" id="loss-log"> log scale</label>
<div class="chart"><canvas id="chart-loss" role="img" aria-label="Loss per epoch"></canvas></div>`
    : `<p class="note">No epoch finished: no loss curve.</p>`;
  const inferenceSection = hasInference
    ? `<div class="chart"><canvas id="chart-time" role="img" aria-label="Prediction vs truth over time"></canvas></div>
<div class="chart"><canvas id="chart-sorted" role="img" aria-label="Prediction vs truth sorted by truth"></canvas></div>`
    : `<p class="note">No validation predictions.</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${_STYLE}</style>
</head>
<body>
<h1>${title}</h1>
<section id="summary"><h2>Summary</h2>
${_kvTable("summary-table", r.summary)}
</section>
<section id="loss"><h2>Loss</h2>
${lossSection}
</section>
<section id="inference"><h2>Validation predictions (original units)</h2>
${inferenceSection}
</section>
<section id="metrics"><h2>Metrics per epoch</h2>
<div class="scroll">${_metricsTable(r.metrics)}</div>
</section>
<section id="config"><h2>Configuration</h2>
${_kvTable("config-table", r.config)}
</section>
<section id="environment"><h2>Environment</h2>
${_kvTable("env-table", r.env)}
</section>
<footer>BTSPFormer for Deno. Charts by Chart.js v${CHART_JS_VERSION} (MIT License), inlined below.</footer>
<script>
${chartJs}
</script>
<script id="btsp-data" type="application/json">${_scriptJson(data)}</script>
<script>${_BOOT}</script>
</body>
</html>
`;
}
