import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- the project pins npm versions inline, not in deno.json
import { createCanvas, loadImage } from "npm:@napi-rs/canvas@0.1.100";
import { canRenderPng, inferencePng, lossCurvePng } from "../../src/report/charts.ts";
import type { EpochMetrics } from "../../src/report/epoch_metrics.ts";
import { UserError } from "../../src/util/errors.ts";

function rows(n: number): EpochMetrics[] {
  return Array.from({ length: n }, (_, i) => {
    const e = i + 1;
    const t = 1 / e + 0.01;
    const v = 1.2 / e + 0.02 + Math.max(0, e - 15) * 0.003;
    return {
      epoch: e,
      trainLoss: t,
      trainMse: t,
      trainMae: t,
      trainRmse: Math.sqrt(t),
      trainMseOrig: Math.sqrt(t),
      trainMaeOrig: Math.sqrt(t),
      trainRmseOrig: Math.sqrt(t),
      valMse: v,
      valMae: v,
      valRmse: Math.sqrt(v),
      valMseOrig: v,
      valMaeOrig: v,
      valRmseOrig: v,
      lr: 1e-3,
      bestValMse: 1.2 / 15 + 0.02,
      bestEpoch: 15,
      seconds: 1,
      samplesPerSec: 100,
    };
  });
}

/** Width and height from the IHDR chunk, after checking the PNG signature. */
function pngSize(png: Uint8Array): [number, number] {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  assert.equal(dv.getUint32(8), 13); // IHDR length
  assert.equal(new TextDecoder().decode(png.subarray(12, 16)), "IHDR");
  return [dv.getUint32(16), dv.getUint32(20)];
}

/** Pixels within 40 per channel of `rgb` (line cores and their darker antialiasing), rows y0 … y1-1. */
async function countColor(png: Uint8Array, rgb: number, y0 = 0, y1?: number): Promise<number> {
  const img = await loadImage(png);
  const c = createCanvas(img.width, img.height);
  c.getContext("2d").drawImage(img, 0, 0);
  const end = y1 ?? img.height;
  const d = c.getContext("2d").getImageData(0, y0, img.width, end - y0).data;
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
}

// A legend swatch alone gives 430-600 px near its colour (measured with the series all NaN, so
// nothing drawn); a drawn 30-epoch or 500-point series gives 1300-3300 px. 900 separates the two.
const SERIES_MIN_PX = 900;

Deno.test("canRenderPng is ok with all permissions", async () => {
  const r = await canRenderPng();
  assert.ok(r.ok, r.reason);
});

Deno.test("lossCurvePng: valid PNG of the requested size with both series drawn", async () => {
  const png = await lossCurvePng(rows(30), { width: 640, height: 400 });
  assert.deepEqual(pngSize(png), [640, 400]);
  assert.ok(await countColor(png, 0x1f77b4) > SERIES_MIN_PX, "train loss line");
  assert.ok(await countColor(png, 0xff7f0e) > SERIES_MIN_PX, "val MSE line");
  assert.ok(await countColor(png, 0x2ca02c) > 40, "best-epoch marker");
  assert.ok(await countColor(png, 0xffffff) > 640 * 400 / 2, "white background");
  assert.ok(await countColor(png, 0x2ca02c) < 1000, "the marker is one point, not a line");
  const log = await lossCurvePng(rows(30), { logScale: true });
  assert.deepEqual(pngSize(log), [800, 500]);
  assert.notDeepEqual(log, await lossCurvePng(rows(30)));
});

Deno.test("inferencePng: one PNG, two panels, each with truth and prediction", async () => {
  const n = 500;
  const truth = Array.from({ length: n }, (_, i) => Math.exp(-i / 200) * Math.cos(i / 10));
  const pred = truth.map((v, i) => v + 0.05 * Math.sin(i * 1.7));
  const png = await inferencePng(truth, pred, { width: 900, height: 701, title: "Validation" });
  assert.deepEqual(pngSize(png), [900, 701]);
  for (const [y0, y1] of [[0, 350], [350, 701]]) {
    assert.ok(await countColor(png, 0x222222, y0, y1) > SERIES_MIN_PX, `truth in rows ${y0}-${y1}`);
    assert.ok(await countColor(png, 0xd62728, y0, y1) > SERIES_MIN_PX, `pred in rows ${y0}-${y1}`);
  }
  assert.deepEqual(pngSize(await inferencePng([1, 2, 3], [1, 2, 3])), [1000, 800]);
});

Deno.test("charts reject bad input with UserError", async () => {
  await assert.rejects(() => lossCurvePng([]), UserError);
  await assert.rejects(() => lossCurvePng(rows(2), { width: 0 }), /width must be an integer.*"0"/);
  await assert.rejects(() => lossCurvePng(rows(2), { height: 10.5 }), /"10.5"/);
  await assert.rejects(() => inferencePng([1, 2], [1]), /lengths differ: "2" vs "1"/);
  await assert.rejects(() => inferencePng([], []), UserError);
});

Deno.test("without --allow-ffi: canRenderPng says why, PNG calls reject with UserError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/probe.ts`;
    const charts = new URL("../../src/report/charts.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { canRenderPng, lossCurvePng } from "${charts}";
const r = await canRenderPng();
let err = "";
const row = ${JSON.stringify(rows(1)[0])};
try { await lossCurvePng([row]); } catch (e) { err = (e as Error).name + ": " + (e as Error).message; }
console.log(JSON.stringify({ ...r, err }));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-env", script],
      cwd: new URL("../..", import.meta.url).pathname,
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(r.ok, false);
    assert.equal(
      r.reason,
      "PNG charts need --allow-ffi --allow-sys (the @napi-rs/canvas native addon); " +
        "run with --allow-ffi --allow-sys or -A",
    );
    assert.ok(!r.reason.includes("\n"));
    assert.match(r.err, /^UserError: PNG charts need --allow-ffi --allow-sys/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
