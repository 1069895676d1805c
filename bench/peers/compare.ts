/**
 * Side-by-side training throughput: ours (Wasm) vs the PyTorch peer (bench/peers/train_torch.py,
 * eager, OpenBLAS), same config and batch, alternating runs so both see the same machine load.
 * Each round times ours, PyTorch and PyTorch with the last-position saving back to back (who goes
 * first alternates between rounds); a round's ratio compares runs seconds apart. Prints the
 * median of the per-round ratios with their range, and the median samples/s; `--json` prints
 * JSON with every round.
 *
 * Usage: deno run -A bench/peers/compare.ts [--rounds 5] [--steps 20] [--threads 1,2]
 *        [--modes btsp,standard] [--json]
 *
 * PyTorch comes from Debian (apt-get install python3-torch libopenblas0-openmp) and runs as
 * /usr/bin/python3; when it is absent the comparison is skipped with a message.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { measure } from "../train_throughput.ts";
import type { AttentionMode } from "../../src/ops/attention.ts";

const PEER = new URL("./train_torch.py", import.meta.url).pathname;

async function findPython(): Promise<string | undefined> {
  for (const py of ["/usr/bin/python3", "python3"]) {
    try {
      const r = await new Deno.Command(py, { args: ["-c", "import torch"], stderr: "null" })
        .output();
      if (r.success) return py;
    } catch {
      // not installed
    }
  }
  return undefined;
}

interface PeerResult {
  samples_per_s: number;
  blas: string[] | string;
  torch?: string;
}

async function peer(
  py: string,
  mode: string,
  threads: number,
  steps: number,
  lastOnly: boolean,
): Promise<PeerResult> {
  const args = [PEER, "--threads", String(threads), "--mode", mode, "--steps", String(steps)];
  if (lastOnly) args.push("--last_only");
  const r = await new Deno.Command(py, { args, stdout: "piped", stderr: "piped" }).output();
  const out = new TextDecoder().decode(r.stdout).trim().split("\n").pop() ?? "";
  if (!r.success) throw new Error(`PyTorch peer failed: ${new TextDecoder().decode(r.stderr)}`);
  return JSON.parse(out);
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      json: { type: "boolean", default: false },
      rounds: { type: "string", default: "5" },
      steps: { type: "string", default: "20" },
      threads: { type: "string", default: "1,2" },
      modes: { type: "string", default: "btsp,standard" },
    },
  });
  const py = await findPython();
  if (!py) {
    console.log(
      "PyTorch is not installed: skipping the comparison (apt-get install python3-torch libopenblas0-openmp)",
    );
    Deno.exit(0);
  }
  const rounds = Number(values.rounds), steps = Number(values.steps);
  const rows = [];
  let blas: unknown;
  for (const mode of values.modes.split(",") as AttentionMode[]) {
    for (const threads of values.threads.split(",").map(Number)) {
      const ours: number[] = [], full: number[] = [], last: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const torch = async () => {
          const f = await peer(py, mode, threads, steps, false);
          full.push(f.samples_per_s);
          blas = f.blas;
          last.push((await peer(py, mode, threads, steps, true)).samples_per_s);
        };
        // drift in the machine's load then favours neither side
        if (r % 2 === 1) await torch();
        ours.push(measure(mode, threads, steps).trainSamplesPerSec);
        if (r % 2 === 0) await torch();
      }
      const ratios = ours.map((x, r) => x / full[r]);
      const ratiosLast = ours.map((x, r) => x / last[r]);
      const row = {
        mode,
        threads,
        ours: median(ours),
        torch: median(full),
        torchLastOnly: median(last),
        ratio: median(ratios),
        ratioMin: Math.min(...ratios),
        ratioMax: Math.max(...ratios),
        ratioLastOnly: median(ratiosLast),
        ratioLastOnlyMin: Math.min(...ratiosLast),
        ratioLastOnlyMax: Math.max(...ratiosLast),
        rounds: { ours, torch: full, torchLastOnly: last },
      };
      rows.push(row);
      if (!values.json) {
        const range = (lo: number, hi: number) => `${lo.toFixed(2)}–${hi.toFixed(2)}`;
        console.log(
          `${mode.padEnd(8)} threads ${threads}: ours ${row.ours.toFixed(0)} samples/s | ` +
            `PyTorch ${row.torch.toFixed(0)} (×${row.ratio.toFixed(2)}, rounds ${
              range(row.ratioMin, row.ratioMax)
            }) | PyTorch last-position-only ${row.torchLastOnly.toFixed(0)} (×${
              row.ratioLastOnly.toFixed(2)
            }, rounds ${range(row.ratioLastOnlyMin, row.ratioLastOnlyMax)})`,
        );
      }
    }
  }
  if (values.json) console.log(JSON.stringify({ rounds, steps, blas, rows }));
  else {
    console.log(
      `PyTorch BLAS: ${JSON.stringify(blas)} (${rounds} alternating rounds: medians of the ` +
        `per-round ratios, and of samples/s)`,
    );
  }
}
