// End-to-end: the CLI as a user runs it, in subprocesses.
import assert from "node:assert/strict";
import { join } from "node:path";
// deno-lint-ignore no-import-prefix
import protobuf from "npm:protobufjs@8.8.1";
import { readRecords } from "../../src/report/tfevents.ts";
import { decodePth } from "../../src/io/pth.ts";
import { decodeSafetensors } from "../../src/io/safetensors.ts";

const ROOT = new URL("../../", import.meta.url);
const MOD = new URL("mod.ts", ROOT).pathname;
const TINY = [
  "--epochs",
  "2",
  "--num_samples",
  "300",
  "--seq_len",
  "12",
  "--model_dim",
  "16",
  "--heads",
  "2",
  "--layers",
  "1",
  "--batch_size",
  "32",
  "--threads",
  "1",
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function deno(args: string[], cwd?: string): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const cli = (args: string[], cwd?: string) => deno(["run", "-A", MOD, ...args], cwd);

function pngSize(b: Uint8Array): [number, number] {
  assert.deepEqual(
    Array.from(b.subarray(0, 8)),
    [137, 80, 78, 71, 13, 10, 26, 10],
    "PNG signature",
  );
  const v = new DataView(b.buffer, b.byteOffset);
  return [v.getUint32(16), v.getUint32(20)];
}

const EVENT_PROTO = `
syntax = "proto3";
message Value { string tag = 1; float simple_value = 2; }
message Summary { repeated Value value = 1; }
message Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
`;

Deno.test("cli: train writes every output file, and they read back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await cli(["train", ...TINY, "--out_dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /epoch 2: train mse/);
    for (
      const f of [
        "btspformer_model.pth",
        "btspformer_model.safetensors",
        "checkpoints/best.safetensors",
        "checkpoints/last.safetensors",
        "metrics.csv",
        "btspformer_loss_curve.png",
        "btspformer_inference.png",
        "report.html",
        "summary.json",
      ]
    ) {
      assert.ok((await Deno.stat(join(dir, f))).size > 0, f);
    }
    // .pth holds the spec §6 names and the same values as the safetensors model.
    const pth = decodePth(await Deno.readFile(join(dir, "btspformer_model.pth")));
    const st = decodeSafetensors(await Deno.readFile(join(dir, "btspformer_model.safetensors")));
    assert.deepEqual([...pth.keys()].sort(), [...st.tensors.keys()].sort());
    assert.ok(pth.has("blocks.0.attn.btsp.log_tau_et"));
    for (const [k, v] of pth) assert.deepEqual(v.data, st.tensors.get(k)!.data, k);
    // metrics.csv: header + 2 epochs.
    const csv = (await Deno.readTextFile(join(dir, "metrics.csv"))).trim().split("\n");
    assert.equal(csv.length, 3);
    assert.match(csv[0], /^epoch,train_loss/);
    // TensorBoard events decode with protobufjs.
    const logs = [...Deno.readDirSync(join(dir, "logs"))].map((e) => e.name);
    assert.equal(logs.length, 1);
    assert.match(logs[0], /^events\.out\.tfevents\./);
    const Event = protobuf.parse(EVENT_PROTO).root.lookupType("Event");
    const events = readRecords(await Deno.readFile(join(dir, "logs", logs[0]))).map((b) =>
      Event.toObject(Event.decode(b), { longs: Number, defaults: true })
    );
    assert.equal(events[0].fileVersion, "brain.Event:2");
    const valMse = events.filter((e) => e.summary?.value?.[0]?.tag === "val/mse");
    assert.deepEqual(valMse.map((e) => e.step), [1, 2]);
    const csvVal = csv.slice(1).map((l) =>
      Number(l.split(",")[csv[0].split(",").indexOf("val_mse")])
    );
    for (let i = 0; i < 2; i++) {
      assert.equal(valMse[i].summary.value[0].simpleValue, Math.fround(csvVal[i]));
    }
    // PNGs: the default sizes.
    assert.deepEqual(pngSize(await Deno.readFile(join(dir, "btspformer_loss_curve.png"))), [
      800,
      500,
    ]);
    const [w, h] = pngSize(await Deno.readFile(join(dir, "btspformer_inference.png")));
    assert.ok(w >= 600 && h >= 400, `${w}x${h}`);
    const html = await Deno.readTextFile(join(dir, "report.html"));
    assert.doesNotMatch(html, /src\s*=\s*["']https?:/);
    assert.match(html, /Chart\.js v4/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: predict with the .safetensors and the .pth model agree", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal((await cli(["train", ...TINY, "--out_dir", dir, "--quiet"])).code, 0);
    const windows = Array.from(
      { length: 5 },
      (_, i) => Array.from({ length: 12 }, (_, j) => Math.cos((i + j) / 3).toFixed(4)).join(","),
    ).join("\n");
    await Deno.writeTextFile(join(dir, "w.csv"), windows + "\n");
    const a = await cli([
      "predict",
      "--checkpoint",
      join(dir, "btspformer_model.safetensors"),
      "--input",
      join(dir, "w.csv"),
      "--output",
      join(dir, "a.csv"),
      "--raw",
    ]);
    assert.equal(a.code, 0, a.stderr);
    const b = await cli([
      "predict",
      "--checkpoint",
      join(dir, "btspformer_model.pth"),
      "--input",
      join(dir, "w.csv"),
      "--output",
      join(dir, "b.csv"),
      "--raw",
      "--heads",
      "2",
    ]);
    assert.equal(b.code, 0, b.stderr);
    const pa = await Deno.readTextFile(join(dir, "a.csv"));
    assert.equal(pa.trim().split("\n").length, 5);
    assert.equal(pa, await Deno.readTextFile(join(dir, "b.csv")));
    // Without --raw the scaler is applied: different numbers, same count.
    const c = await cli([
      "predict",
      "--checkpoint",
      join(dir, "btspformer_model.safetensors"),
      "--input",
      join(dir, "w.csv"),
      "--output",
      join(dir, "c.csv"),
    ]);
    assert.equal(c.code, 0, c.stderr);
    assert.notEqual(await Deno.readTextFile(join(dir, "c.csv")), pa);
    const e = await cli([
      "eval",
      "--checkpoint",
      join(dir, "btspformer_model.safetensors"),
      "--json",
    ]);
    assert.equal(e.code, 0, e.stderr);
    const m = JSON.parse(e.stdout);
    assert.ok(m.windows > 0 && Number.isFinite(m.rmse) && Number.isFinite(m.persistence.rmse));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: bad input exits 2 with one line naming the problem", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "bad.csv"), "date,value\n2020,1\n2021,abc\n");
    await Deno.writeTextFile(join(dir, "junk.safetensors"), "not a checkpoint at all");
    await Deno.writeTextFile(join(dir, "w.csv"), "1,2,3\n");
    const cases: [string[], RegExp][] = [
      [["train", "--heads", "3"], /"--heads".*divides|heads.*3/],
      [["train", "--heads", "x"], /Cannot parse "--heads": expected a positive integer, got "x"/],
      [["train", "--epochs", "0"], /Cannot parse "--epochs"/],
      [["train", "--lr", "-1"], /Cannot parse "--lr"/],
      [["train", "--bogus"], /Unknown flag "--bogus"/],
      [["train", "--attention", "magic"], /expected one of btsp, standard, original/],
      [["train", "--csv", join(dir, "bad.csv"), "--column", "value"], /line 3.*"value".*"abc"/],
      [["train", "--csv", join(dir, "bad.csv"), "--column", "nope"], /"nope"/],
      [["train", "--csv", join(dir, "missing.csv"), "--column", "v"], /missing\.csv/],
      [["train", "--csv", join(dir, "bad.csv")], /--column/],
      [[
        "predict",
        "--checkpoint",
        join(dir, "junk.safetensors"),
        "--input",
        join(dir, "w.csv"),
        "--output",
        join(dir, "o.csv"),
      ], /junk\.safetensors/],
      [["predict", "--input", join(dir, "w.csv")], /"--checkpoint" is required/],
      [["eval", "--checkpoint", join(dir, "nope.pth")], /nope\.pth.*no such file/],
      [["frobnicate"], /Unknown command "frobnicate"/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(args, dir);
      assert.equal(r.code, 2, `${args.join(" ")} → ${r.code}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `one line for ${args.join(" ")}: ${r.stderr}`);
      assert.match(lines[0], /^error: /);
      assert.match(lines[0], re, args.join(" "));
      assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: --help for each command and --version", async () => {
  const v = await cli(["--version"]);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^btspformer \d+\.\d+\.\d+/);
  for (const c of ["train", "predict", "eval"]) {
    const r = await cli([c, "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`Usage: deno run -A mod.ts ${c}`));
  }
  const t = await cli(["train", "--help"]);
  for (
    const f of [
      "seq_len",
      "num_samples",
      "batch_size",
      "epochs",
      "lr",
      "use_gpu",
      "model_dim",
      "heads",
      "layers",
    ]
  ) {
    assert.match(t.stdout, new RegExp(`--${f}\\b`));
  }
  assert.match(t.stdout, /--seq_len INT\s+Window length L\. \(default: 50\)/);
});

Deno.test("cli: the least-privilege command trains and writes only into --out_dir", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = join(dir, "runs");
    const r = await deno([
      "run",
      "--allow-read",
      `--allow-write=${out}`,
      MOD,
      "train",
      ...TINY,
      "--out_dir",
      out,
    ], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /PNG/); // said once: no charts without FFI
    assert.equal(r.stderr.split("\n").filter((l) => /PNG/.test(l)).length, 1);
    for (
      const f of [
        "btspformer_model.pth",
        "report.html",
        "metrics.csv",
        "checkpoints/last.safetensors",
      ]
    ) {
      assert.ok((await Deno.stat(join(out, f))).size > 0, f);
    }
    await assert.rejects(() => Deno.stat(join(out, "btspformer_loss_curve.png")));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["runs"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: runs by URL from an empty folder (local static server)", async () => {
  const root = new URL("../../", import.meta.url).pathname;
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      try {
        const body = await Deno.readFile(join(root, path));
        const type = path.endsWith(".json") ? "application/json" : "application/typescript";
        return new Response(body, { headers: { "content-type": type } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  const dir = await Deno.makeTempDir();
  try {
    const url = `http://127.0.0.1:${server.addr.port}/mod.ts`;
    const r = await deno([
      "run",
      "-A",
      `--reload=http://127.0.0.1:${server.addr.port}`,
      url,
      "train",
      ...TINY,
      "--out_dir",
      "out",
      "--quiet",
    ], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await Deno.stat(join(dir, "out/btspformer_model.safetensors"))).size > 0);
    const lib = join(dir, "lib.ts");
    await Deno.writeTextFile(
      lib,
      `import { BTSPFormer } from "${url}";\n` +
        `const m = BTSPFormer.create({ seqLen: 8, modelDim: 8, heads: 2, layers: 1 }, { threads: 1 });\n` +
        `console.log(m.predict([[1, 2, 3, 4, 5, 6, 7, 8]]).length);\nm.close();\n`,
    );
    const l = await deno(["run", "--allow-import=127.0.0.1", lib], dir);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout.trim(), "1");
  } finally {
    ac.abort();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: Ctrl-C keeps the last full epoch, flushes logs and exits 130", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MOD,
        "train",
        ...TINY,
        "--epochs",
        "1000",
        "--patience",
        "0",
        "--out_dir",
        dir,
      ],
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let err = "";
    while (!/epoch 2: /.test(err)) {
      const { value, done } = await reader.read();
      if (done) break;
      err += value;
    }
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      err += value;
    }
    const status = await child.status;
    assert.equal(status.code, 130, err);
    assert.match(err, /Interrupted: .*last\.safetensors holds epoch \d+/);
    const { metadata } = decodeSafetensors(
      await Deno.readFile(join(dir, "checkpoints/last.safetensors")),
    );
    const epoch = JSON.parse(metadata.train_state).epoch;
    assert.ok(epoch >= 2);
    const rows = (await Deno.readTextFile(join(dir, "metrics.csv"))).trim().split("\n").length - 1;
    assert.equal(rows, epoch, "metrics.csv holds exactly the checkpointed epochs");
    // The interrupted run resumes.
    const r = await cli([
      "train",
      ...TINY,
      "--epochs",
      String(epoch + 1),
      "--out_dir",
      dir,
      "--resume",
      join(dir, "checkpoints/last.safetensors"),
      "--quiet",
    ]);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
