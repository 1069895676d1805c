/**
 * The Chart.js UMD bundle's source text, read from the npm package Deno already cached, so that
 * the HTML report can inline it and open without a network.
 *
 * @module
 */

import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
// deno-lint-ignore no-import-prefix -- the project pins npm versions inline, not in deno.json
import { Chart } from "npm:chart.js@4.5.1";
import { UserError } from "../util/errors.ts";

/** The pinned Chart.js version (the same one the PNG charts use). */
export const CHART_JS_VERSION = "4.5.1";

let _source: string | undefined;

/** Path of `dist/chart.umd.js` inside Deno's npm cache, or why it cannot be found. */
function _bundlePath(): string {
  // The static import above puts the package in the module graph; only then does
  // import.meta.resolve answer with a file: URL into the cache (else it echoes the npm: specifier).
  const main = import.meta.resolve("npm:chart.js@4.5.1");
  if (main.startsWith("file:")) return fileURLToPath(new URL("./chart.umd.js", main));
  try {
    const cjs = createRequire(import.meta.url).resolve("chart.js");
    return cjs.replace(/[^/\\]+$/, "chart.umd.js");
  } catch (e) {
    throw new UserError(
      `Cannot locate the Chart.js bundle ("${main}" is not a file): ${(e as Error).message}`,
    );
  }
}

/**
 * Source of Chart.js's UMD bundle (defines the global `Chart` with every component registered).
 * Needs read access to Deno's npm cache (`--allow-read`, or `--allow-read=<DENO_DIR>/npm`); it
 * never prompts: without the permission it throws a {@linkcode UserError} naming the path.
 *
 * @throws {UserError} When the bundle cannot be located or read.
 * @example
 * ```ts
 * import { chartJsSource } from "./chartjs_source.ts";
 * const src = await chartJsSource();
 * console.log(src.includes("Chart.js v4.5.1")); // true
 * ```
 */
export async function chartJsSource(): Promise<string> {
  if (_source !== undefined) return _source;
  const path = _bundlePath();
  let state: Deno.PermissionState = "denied";
  try {
    state = Deno.permissions.querySync({ name: "read", path }).state;
  } catch {
    // Some runtimes lack the permission API: try the read and report its error.
    state = "granted";
  }
  if (state !== "granted") {
    throw new UserError(
      `The HTML report needs read access to the Chart.js bundle "${path}": run with --allow-read`,
    );
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UserError(`Cannot read the Chart.js bundle "${path}": ${(e as Error).message}`);
  }
  // The bundle must be the same Chart.js the configurations were written for.
  if (!text.includes(`Chart.js v${Chart.version}`)) {
    throw new UserError(`The file "${path}" is not the Chart.js v${Chart.version} UMD bundle`);
  }
  _source = text;
  return text;
}
