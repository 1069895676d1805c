import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- the project pins npm versions inline, not in deno.json
import { Canvas } from "npm:@napi-rs/canvas@0.1.100";
import { escapeHtml, reportHtml, type ReportInput } from "../../src/report/html.ts";
import type { EpochMetrics } from "../../src/report/epoch_metrics.ts";
import { CHART_JS_VERSION } from "../../src/report/chartjs_source.ts";
import { UserError } from "../../src/util/errors.ts";

function metrics(n: number): EpochMetrics[] {
  return Array.from({ length: n }, (_, i) => {
    const e = i + 1;
    return {
      epoch: e,
      trainLoss: 1 / e,
      trainMse: 1 / e,
      trainMae: 0.9 / e,
      trainRmse: Math.sqrt(1 / e),
      trainMseOrig: Math.sqrt(1 / e),
      trainMaeOrig: Math.sqrt(1 / e),
      trainRmseOrig: Math.sqrt(1 / e),
      valMse: 1.5 / e,
      valMae: 1.2 / e,
      valRmse: Math.sqrt(1.5 / e),
      valMseOrig: 3 / e,
      valMaeOrig: 2 / e,
      valRmseOrig: Math.sqrt(3 / e),
      lr: 1e-3,
      bestValMse: 1.5 / e,
      bestEpoch: e,
      seconds: 2,
      samplesPerSec: 5000,
    };
  });
}

function input(): ReportInput {
  const truth = Array.from({ length: 200 }, (_, i) => Math.cos(i / 8) + 0.123456);
  return {
    title: `Run <b>&"damped"</b>`,
    config: { heads: 4, attention: "btsp", lr: 0.001, layers: [1, 2], note: "</script><x>" },
    metrics: metrics(12),
    truth,
    pred: truth.map((v, i) => v + 0.03 * Math.sin(i)),
    env: { threads: 2, simd: true, device: "cpu (wasm)" },
    summary: { bestEpoch: 12, bestValMse: 0.125, checkpoint: "runs/x/best.safetensors" },
  };
}

/** Contents of every `<script>` element, in order. */
function scripts(html: string): string[] {
  return [...html.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
}

Deno.test("report.html is one self-contained file", async () => {
  const html = await reportHtml(input());
  assert.ok(html.startsWith("<!doctype html>"));
  assert.equal(html.match(/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//gi), null);
  assert.ok(!/<link\b|@import|<iframe\b|<img\b/i.test(html), "no external resources");
  assert.equal(html.match(/<\/script>/g)!.length, 3, "no early </script> in inlined code/data");
  const [chartJs, data, boot] = scripts(html);
  assert.ok(chartJs.includes(`Chart.js v${CHART_JS_VERSION}`) && chartJs.length > 100_000);
  assert.ok(data.includes("1.123456"), "truth values embedded"); // cos(0) + 0.123456
  assert.ok(boot.includes('getElementById("chart-loss")') || boot.includes("chart-loss"));
});

Deno.test("report.html has the summary, config, metrics and environment tables, escaped", async () => {
  const html = await reportHtml(input());
  assert.ok(html.includes("<title>Run &lt;b&gt;&amp;&quot;damped&quot;&lt;/b&gt;</title>"));
  assert.ok(!html.includes("<b>"));
  assert.ok(html.includes('<th scope="row">note</th><td>&lt;/script&gt;&lt;x&gt;</td>'));
  assert.ok(html.includes('<th scope="row">layers</th><td>[1,2]</td>'));
  assert.ok(html.includes('<th scope="row">simd</th><td>true</td>'));
  assert.ok(html.includes('<th scope="row">threads</th><td>2</td>'));
  assert.ok(html.includes("runs/x/best.safetensors"));
  const table = html.match(/<table id="metrics-table"[\s\S]*?<\/table>/)![0];
  assert.equal(table.match(/<tr>/g)!.length, 1 + 12);
  assert.ok(table.includes('<th scope="col">val_rmse_orig</th>'));
  // Row of epoch 3: 1/3 shown with 6 significant digits.
  assert.ok(table.includes("<tr><td>3</td><td>0.333333</td>"));
});

Deno.test("report.html charts draw with the inlined Chart.js (headless DOM stand-in)", async () => {
  const html = await reportHtml(input());
  const [chartJs, data, boot] = scripts(html);
  const mod = { exports: {} as { defaults: { animation: unknown } } };
  new Function("module", "exports", chartJs)(mod, mod.exports);
  const Chart = mod.exports;
  // Without a window, Chart.js animates synchronously; the real page animates.
  Chart.defaults.animation = false;
  const canvases = new Map<string, Canvas>();
  const document = {
    getElementById(id: string): unknown {
      if (id === "btsp-data") return { textContent: data };
      if (id === "loss-log") return { checked: false, addEventListener() {} };
      if (!canvases.has(id)) canvases.set(id, new Canvas(700, 380));
      return canvases.get(id);
    },
  };
  new Function("document", "Chart", boot)(document, Chart);
  assert.deepEqual([...canvases.keys()].sort(), ["chart-loss", "chart-sorted", "chart-time"]);
  const count = (id: string, rgb: number) => {
    const d = canvases.get(id)!.getContext("2d").getImageData(0, 0, 700, 380).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      const dist = Math.max(
        Math.abs(d[i] - (rgb >> 16)),
        Math.abs(d[i + 1] - ((rgb >> 8) & 255)),
        Math.abs(d[i + 2] - (rgb & 255)),
      );
      if (dist <= 40) n++;
    }
    return n;
  };
  // Legend swatches alone give under 600 px near their colour (see charts_test.ts).
  assert.ok(count("chart-loss", 0x1f77b4) > 900, "train loss drawn");
  assert.ok(count("chart-loss", 0xff7f0e) > 900, "val MSE drawn");
  for (const id of ["chart-time", "chart-sorted"]) {
    assert.ok(count(id, 0x222222) > 900, `truth drawn in ${id}`);
    assert.ok(count(id, 0xd62728) > 900, `prediction drawn in ${id}`);
  }
});

Deno.test("report.html without epochs or predictions says so instead of drawing", async () => {
  const html = await reportHtml({ ...input(), metrics: [], truth: [], pred: [] });
  assert.ok(html.includes("No epoch finished: no loss curve."));
  assert.ok(html.includes("No validation predictions."));
  assert.ok(!html.includes('id="chart-loss"'));
  await assert.rejects(() => reportHtml({ ...input(), pred: [1] }), UserError);
});

Deno.test("escapeHtml escapes the five special characters", () => {
  assert.equal(escapeHtml(`<a href='x'>&"</a>`), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
});
