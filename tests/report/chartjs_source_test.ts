import assert from "node:assert/strict";
import { CHART_JS_VERSION, chartJsSource } from "../../src/report/chartjs_source.ts";
// deno-lint-ignore no-import-prefix -- the project pins npm versions inline, not in deno.json
import { Chart } from "npm:chart.js@4.5.1";

Deno.test("chartJsSource returns the pinned UMD bundle", async () => {
  const src = await chartJsSource();
  assert.equal(CHART_JS_VERSION, Chart.version);
  assert.ok(src.startsWith(`/*!\n * Chart.js v${CHART_JS_VERSION}`));
  assert.ok(src.length > 100_000, `bundle is ${src.length} chars`);
  // The UMD wrapper: defines a global when neither CommonJS nor AMD is present.
  const mod = { exports: {} as { version?: string } };
  new Function("module", "exports", src)(mod, mod.exports);
  assert.equal(mod.exports.version, CHART_JS_VERSION);
});

Deno.test("chartJsSource without --allow-read: UserError naming the path and the flag", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/probe.ts`;
    const url = new URL("../../src/report/chartjs_source.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { chartJsSource } from "${url}";
try { await chartJsSource(); console.log("read"); }
catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", script],
      cwd: new URL("../..", import.meta.url).pathname,
      stdin: "null",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(
      new TextDecoder().decode(out.stdout),
      /^UserError: The HTML report needs read access to the Chart\.js bundle ".*chart\.js.*chart\.umd\.js": run with --allow-read\n$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
