import assert from "node:assert/strict";
import { type FlagSpec, helpText, parseFlags } from "../../src/cli/flags.ts";
import { UserError } from "../../src/util/errors.ts";

const SPECS: FlagSpec[] = [
  { name: "heads", type: "int", min: 1, default: 4, help: "Heads." },
  { name: "lr", type: "float", min: 0, minExclusive: true, default: 1e-3, help: "LR." },
  { name: "dropout", type: "float", min: 0, max: 0.99, default: 0.1, help: "Dropout." },
  { name: "mode", type: "enum", values: ["a", "b"], default: "a", help: "Mode." },
  { name: "quiet", type: "bool", default: false, help: "Quiet." },
  { name: "out", type: "path", help: "Out." },
];

function fails(args: string[], message: string): void {
  assert.throws(() => parseFlags(args, SPECS), (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${e}`);
    assert.equal(e.message, message);
    return true;
  });
}

Deno.test("flags: defaults and typed values", () => {
  assert.deepEqual(parseFlags([], SPECS), {
    heads: 4,
    lr: 1e-3,
    dropout: 0.1,
    mode: "a",
    quiet: false,
    out: undefined,
  });
  const v = parseFlags(
    ["--heads", "8", "--lr=0.01", "--mode", "b", "--quiet", "--out", "x"],
    SPECS,
  );
  assert.equal(v.heads, 8);
  assert.equal(v.lr, 0.01);
  assert.equal(v.mode, "b");
  assert.equal(v.quiet, true);
  assert.equal(v.out, "x");
});

Deno.test("flags: bad values name the flag and quote the value", () => {
  fails(["--heads", "3.5"], 'Cannot parse "--heads": expected a positive integer, got "3.5"');
  fails(["--heads", "0"], 'Cannot parse "--heads": expected a positive integer, got "0"');
  fails(["--heads", "x"], 'Cannot parse "--heads": expected a positive integer, got "x"');
  fails(["--lr", "0"], 'Cannot parse "--lr": expected a positive number, got "0"');
  fails(["--lr", "NaN"], 'Cannot parse "--lr": expected a positive number, got "NaN"');
  fails(["--dropout", "1"], 'Cannot parse "--dropout": expected a number ≥ 0 and ≤ 0.99, got "1"');
  fails(["--mode", "c"], 'Cannot parse "--mode": expected one of a, b, got "c"');
  fails(["--bogus", "1"], 'Unknown flag "--bogus" (see --help)');
  fails(["--heads"], 'Flag "--heads" needs a value');
  fails(["--lr", "-1"], 'Cannot parse "--lr": expected a positive number, got "-1"');
  fails(["stray"], 'Unexpected argument "stray" (flags look like --name value)');
});

Deno.test("flags: negative numbers are values, not flags", () => {
  const specs: FlagSpec[] = [{ name: "phi", type: "float", help: "" }];
  assert.equal(parseFlags(["--phi", "-1.5"], specs).phi, -1.5);
  assert.equal(parseFlags(["--phi=-.5"], specs).phi, -0.5);
});

Deno.test("flags: help lists every flag with its default", () => {
  const h = helpText("train", "Trains.", SPECS);
  for (const s of SPECS) assert.match(h, new RegExp(`--${s.name}`));
  assert.match(h, /\(default: 4\)/);
  assert.match(h, /a\|b/);
});
