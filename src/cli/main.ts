/**
 * The command line: `train`, `predict`, `eval`, `--help`, `--version`. Maps failures to exit
 * codes: 2 with one line for bad input (`UserError`), 1 with a short message for anything else
 * (stack trace only with --debug), 130 after Ctrl-C.
 *
 * @module
 */
import { helpText } from "./flags.ts";
import { TRAIN_FLAGS, trainCommand } from "./train_cmd.ts";
import { PREDICT_FLAGS, predictCommand } from "./predict_cmd.ts";
import { EVAL_FLAGS, evalCommand } from "./eval_cmd.ts";
import { UserError } from "../util/errors.ts";
import denoJson from "../../deno.json" with { type: "json" };

/** The library and CLI version (from deno.json). */
export const VERSION: string = denoJson.version;

const COMMANDS: Record<string, { summary: string; flags: typeof TRAIN_FLAGS }> = {
  train: {
    summary: "Train a BTSPFormer on the damped sine (default) or a CSV column; writes --out_dir.",
    flags: TRAIN_FLAGS,
  },
  predict: {
    summary: "Predict the next value(s) of each window in a CSV file with a saved model.",
    flags: PREDICT_FLAGS,
  },
  eval: {
    summary: "Metrics of a saved model on a series, beside the persistence baseline.",
    flags: EVAL_FLAGS,
  },
};

const USAGE = `BTSPFormer ${VERSION}: a Transformer for time series with BTSP attention.

Usage: deno run -A mod.ts <command> [flags]

Commands:
  train     ${COMMANDS.train.summary}
  predict   ${COMMANDS.predict.summary}
  eval      ${COMMANDS.eval.summary}

Run "<command> --help" for its flags. --version prints the version.
`;

/**
 * Run the CLI with `args`; resolves to the exit code (never throws).
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * console.log(await main(["--version"])); // prints the version, then 0
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const debug = args.includes("--debug");
  const [command, ...rest] = args;
  try {
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      console.log(USAGE);
      return 0;
    }
    if (command === "--version" || command === "-V") {
      console.log(`btspformer ${VERSION} (deno ${Deno.version.deno})`);
      return 0;
    }
    const cmd = COMMANDS[command];
    if (!cmd) throw new UserError(`Unknown command "${command}": expected train, predict or eval`);
    if (rest.includes("--help") || rest.includes("-h")) {
      console.log(helpText(command, cmd.summary, cmd.flags));
      return 0;
    }
    if (command === "train") return await withInterrupt((signal) => trainCommand(rest, signal));
    if (command === "predict") return await predictCommand(rest);
    return await evalCommand(rest);
  } catch (e) {
    if (e instanceof UserError) {
      console.error(`error: ${e.message}`);
      if (debug) console.error(e.stack);
      return 2;
    }
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      console.error(`error: ${firstLine(e)} (grant it with the deno run flag it names)`);
      return 2;
    }
    console.error(`error: ${firstLine(e)}`);
    if (debug) console.error(e instanceof Error ? e.stack : e);
    else console.error("(run with --debug for the stack trace)");
    return 1;
  }
}

async function withInterrupt(fn: (s: AbortSignal) => Promise<number>): Promise<number> {
  const ctl = new AbortController();
  let count = 0;
  const onSigint = () => {
    count++;
    if (count === 1) {
      console.error("\nInterrupt: finishing the current step (Ctrl-C again to quit at once)");
      ctl.abort();
    } else {
      Deno.exit(130);
    }
  };
  let listening = false;
  try {
    Deno.addSignalListener("SIGINT", onSigint);
    listening = true;
  } catch {
    // Signals are unavailable (e.g. some Windows setups): run without graceful interrupt.
  }
  try {
    return await fn(ctl.signal);
  } finally {
    if (listening) Deno.removeSignalListener("SIGINT", onSigint);
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}
