/**
 * PNG charts drawn by Chart.js on a headless `@napi-rs/canvas` (a native addon: it needs
 * `--allow-ffi --allow-env --allow-sys`; check {@linkcode canRenderPng} first).
 *
 * PNGs are encoded with `encodeSync` on the calling thread. The addon's asynchronous `encode()`
 * runs on a background thread and crashed about 2.5 % of training runs (SIGSEGV inside Skia on that
 * thread, 5 of 190 runs of the CLI test's tiny `train`; none in 150 runs with `encodeSync`).
 *
 * @module
 */

// deno-lint-ignore no-import-prefix -- the project pins npm versions inline, not in deno.json
import * as chartjs from "npm:chart.js@4.5.1";
import type { EpochMetrics } from "./epoch_metrics.ts";
import {
  inferenceConfigs,
  type InferenceOptions,
  lossCurveConfig,
  type LossCurveOptions,
  type XY,
} from "./chart_configs.ts";
import { UserError } from "../util/errors.ts";

const {
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Title,
} = chartjs;
type ChartConfiguration<T extends chartjs.ChartType, D> = chartjs.ChartConfiguration<T, D>;
type LineChart = chartjs.Chart<"line", XY[]>;

Chart.register(
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  LogarithmicScale,
  Legend,
  Title,
);
// Skia's fallback for Chart.js's default family ("Helvetica Neue", Helvetica, Arial) is often a
// serif face on Linux; name common sans faces first.
Chart.defaults.font.family =
  "'Helvetica Neue', Helvetica, Arial, 'DejaVu Sans', 'Liberation Sans', 'Noto Sans', sans-serif";

type CanvasModule = typeof import("npm:@napi-rs/canvas@0.1.100");
type Canvas = InstanceType<CanvasModule["Canvas"]>;
type ChartItem = ConstructorParameters<typeof Chart>[0];

/** Size of a PNG in pixels. */
export interface PngSize {
  /** Default 800 (loss curve) or 1000 (inference). */
  width?: number;
  /** Default 500 (loss curve) or 800 (inference: two panels stacked). */
  height?: number;
}

/** PNG side limit: far above any useful chart, well below what exhausts memory. */
const MAX_SIDE = 16384;

/** Permission flags the native addon needs, with how to ask Deno about each. */
const NEEDED: [Deno.PermissionDescriptor, string][] = [
  [{ name: "ffi" }, "--allow-ffi"],
  [{ name: "env" }, "--allow-env"],
  // The addon's loader calls process.report.getReport(), which reads many sys values.
  [{ name: "sys" }, "--allow-sys"],
];

let _canvasModule: Promise<CanvasModule> | undefined;
let _probe: Promise<{ ok: boolean; reason?: string }> | undefined;

function _missingFlags(): string[] {
  return NEEDED.filter(([desc]) => {
    try {
      return Deno.permissions.querySync(desc).state !== "granted";
    } catch {
      return true;
    }
  }).map(([, flag]) => flag);
}

/**
 * Whether PNG charts can be drawn in this process. Never throws and never shows a permission
 * prompt: without `--allow-ffi --allow-env --allow-sys` (or `-A`) it answers `ok: false` with a
 * one-line reason; otherwise it loads the addon and draws a 1×1 PNG to be sure.
 *
 * @example
 * ```ts
 * import { canRenderPng } from "./charts.ts";
 * const { ok, reason } = await canRenderPng();
 * console.log(ok || reason!.startsWith("PNG charts need")); // true
 * ```
 */
export function canRenderPng(): Promise<{ ok: boolean; reason?: string }> {
  const missing = _missingFlags();
  if (missing.length > 0) {
    return Promise.resolve({
      ok: false,
      reason: `PNG charts need ${missing.join(" ")} (the @napi-rs/canvas native addon); ` +
        `run with ${missing.join(" ")} or -A`,
    });
  }
  _probe ??= (async () => {
    try {
      const { createCanvas } = await _loadCanvas();
      const png = createCanvas(1, 1).encodeSync("png");
      if (png.length < 8) return { ok: false, reason: "@napi-rs/canvas produced an empty PNG" };
      return { ok: true };
    } catch (e) {
      const msg = String((e as Error)?.message ?? e).split("\n")[0];
      return { ok: false, reason: `Cannot load @napi-rs/canvas: ${msg}` };
    }
  })();
  return _probe;
}

function _loadCanvas(): Promise<CanvasModule> {
  // deno-lint-ignore no-import-prefix -- pinned inline like every npm dependency here
  _canvasModule ??= import("npm:@napi-rs/canvas@0.1.100");
  // A failed load (missing permission) may succeed later in a process that gains it.
  _canvasModule.catch(() => (_canvasModule = undefined));
  return _canvasModule;
}

async function _canvasOrThrow(): Promise<CanvasModule> {
  const missing = _missingFlags();
  if (missing.length > 0) {
    throw new UserError(
      `PNG charts need ${missing.join(" ")} (the @napi-rs/canvas native addon); ` +
        `run with ${missing.join(" ")} or -A, or turn PNG output off`,
    );
  }
  return await _loadCanvas();
}

function _size(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 16 || v > MAX_SIDE) {
    throw new UserError(`PNG ${name} must be an integer in [16, ${MAX_SIDE}], got "${v}"`);
  }
  return v;
}

/** PNGs have no page colour: paint white, else viewers show the axes on black or a checkerboard. */
const _whiteBackground: chartjs.Plugin = {
  id: "btspWhiteBackground",
  beforeDraw(chart) {
    const ctx = chart.ctx;
    ctx.save();
    ctx.globalCompositeOperation = "destination-over";
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

/**
 * Draws one configuration onto `canvas` synchronously (animation off). The caller destroys the
 * chart after reading the pixels: `destroy()` clears the canvas.
 */
function _draw(canvas: Canvas, config: ChartConfiguration<"line", XY[]>): LineChart {
  const options = {
    ...config.options,
    animation: false as const,
    responsive: false,
    devicePixelRatio: 1,
    events: [],
  };
  // Chart.js only needs getContext("2d") from the canvas, which @napi-rs/canvas provides.
  return new Chart(canvas as unknown as ChartItem, {
    ...config,
    options,
    plugins: [_whiteBackground],
  }) as LineChart;
}

/**
 * Loss curve as a PNG (train loss and validation MSE per epoch, best epoch marked).
 *
 * @throws {UserError} On an empty `rows`, a bad size, or missing permissions.
 * @example
 * ```ts
 * import { canRenderPng, lossCurvePng } from "./charts.ts";
 * if ((await canRenderPng()).ok) {
 *   const row = (epoch: number, v: number) => ({
 *     epoch, trainLoss: v, trainMse: v, trainMae: v, trainRmse: v,
 *   trainMseOrig: v, trainMaeOrig: v, trainRmseOrig: v, valMse: v, valMae: v,
 *     valRmse: v, valMseOrig: v, valMaeOrig: v, valRmseOrig: v, lr: 1e-3, bestValMse: v,
 *     bestEpoch: epoch, seconds: 1, samplesPerSec: 1,
 *   });
 *   const png = await lossCurvePng([row(1, 0.5), row(2, 0.2)], { width: 400, height: 300 });
 *   console.log(png[1] === 0x50); // true ("P" of the PNG signature)
 * }
 * ```
 */
export async function lossCurvePng(
  rows: EpochMetrics[],
  opts: PngSize & LossCurveOptions = {},
): Promise<Uint8Array> {
  const width = _size(opts.width, 800, "width");
  const height = _size(opts.height, 500, "height");
  const config = lossCurveConfig(rows, opts);
  const { createCanvas } = await _canvasOrThrow();
  const canvas = createCanvas(width, height);
  const chart = _draw(canvas, config);
  try {
    return new Uint8Array(canvas.encodeSync("png"));
  } finally {
    chart.destroy();
  }
}

/**
 * Inference chart as one PNG with two panels stacked: prediction and truth over time (top), and
 * both reordered by ascending truth (bottom).
 *
 * @throws {UserError} On empty or unequal series, a bad size, or missing permissions.
 * @example
 * ```ts
 * import { canRenderPng, inferencePng } from "./charts.ts";
 * if ((await canRenderPng()).ok) {
 *   const truth = Array.from({ length: 50 }, (_, i) => Math.sin(i / 5));
 *   const pred = truth.map((v) => v + 0.05);
 *   const png = await inferencePng(truth, pred, { width: 600, height: 500 });
 *   console.log(png.length > 1000); // true
 * }
 * ```
 */
export async function inferencePng(
  truth: ArrayLike<number>,
  pred: ArrayLike<number>,
  opts: PngSize & InferenceOptions = {},
): Promise<Uint8Array> {
  const width = _size(opts.width, 1000, "width");
  const height = _size(opts.height, 800, "height");
  const [top, bottom] = inferenceConfigs(truth, pred, opts);
  const { createCanvas } = await _canvasOrThrow();
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext("2d");
  const h1 = Math.floor(height / 2);
  for (const [config, y, h] of [[top, 0, h1], [bottom, h1, height - h1]] as const) {
    const panel = createCanvas(width, h);
    const chart = _draw(panel, config);
    ctx.drawImage(panel, 0, y);
    chart.destroy();
  }
  return new Uint8Array(canvas.encodeSync("png"));
}
