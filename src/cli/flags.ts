/**
 * Declarative flags: one table per command gives name, type, default and help; parsing
 * validates every value before any work starts and reports the first problem as a `UserError`
 * naming the flag and the value.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UserError } from "../util/errors.ts";

/** A flag's value kind. */
export type FlagType = "int" | "float" | "string" | "bool" | "enum" | "path";

/** One flag of a command. */
export interface FlagSpec {
  name: string;
  type: FlagType;
  help: string;
  /** Shown in --help; applied when the flag is absent (undefined: no value). */
  default?: string | number | boolean;
  /** Allowed values of an enum. */
  values?: readonly string[];
  /** Inclusive bounds for numbers. */
  min?: number;
  max?: number;
  /** Lower bound is exclusive. */
  minExclusive?: boolean;
  /** Placeholder for --help. */
  arg?: string;
}

/** Parsed flag values by flag name. */
export type FlagValues = Record<string, string | number | boolean | undefined>;

/**
 * Parse `args` against `specs`. Unknown flags, missing values, wrong types and out-of-range
 * values are `UserError`s.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * const v = parseFlags(["--heads", "2"], [{ name: "heads", type: "int", min: 1, help: "" }]);
 * console.log(v.heads); // 2
 * ```
 */
export function parseFlags(args: string[], specs: readonly FlagSpec[]): FlagValues {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const s of specs) options[s.name] = { type: s.type === "bool" ? "boolean" : "string" };
  // "--phi -1.5": a value flag followed by a negative number takes it as its value.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i], name = a.startsWith("--") && !a.includes("=") ? a.slice(2) : "";
    const next = args[i + 1];
    if (options[name]?.type === "string" && next !== undefined && /^-\.?\d/.test(next)) {
      joined.push(`${a}=${next}`);
      i++;
    } else {
      joined.push(a);
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joined, options, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UserError(rephrase(e instanceof Error ? e.message : String(e)));
  }
  const out: FlagValues = {};
  for (const s of specs) {
    const raw = (parsed.values as Record<string, string | boolean | undefined>)[s.name];
    if (raw === undefined) {
      out[s.name] = s.default;
      continue;
    }
    out[s.name] = convert(s, raw);
  }
  return out;
}

function convert(s: FlagSpec, raw: string | boolean): string | number | boolean {
  if (s.type === "bool") return raw as boolean;
  const text = String(raw);
  const bad = (expected: string): never => {
    throw new UserError(`Cannot parse "--${s.name}": expected ${expected}, got "${text}"`);
  };
  switch (s.type) {
    case "int": {
      if (!/^[+-]?\d+$/.test(text.trim())) bad(rangeText("an integer", s));
      const v = Number(text);
      if (!Number.isSafeInteger(v) || !inRange(v, s)) bad(rangeText("an integer", s));
      return v;
    }
    case "float": {
      const v = Number(text);
      if (text.trim() === "" || !Number.isFinite(v) || !inRange(v, s)) {
        bad(rangeText("a number", s));
      }
      return v;
    }
    case "enum":
      if (!s.values!.includes(text)) bad(`one of ${s.values!.join(", ")}`);
      return text;
    case "path":
    case "string":
      if (text === "") bad(s.type === "path" ? "a file path" : "a value");
      return text;
  }
  return text;
}

function inRange(v: number, s: FlagSpec): boolean {
  if (s.min !== undefined && (s.minExclusive ? v <= s.min : v < s.min)) return false;
  if (s.max !== undefined && v > s.max) return false;
  return true;
}

function rangeText(kind: string, s: FlagSpec): string {
  if (s.min === 1 && s.max === undefined && kind === "an integer") return "a positive integer";
  if (s.min === 0 && s.max === undefined) {
    return s.minExclusive
      ? `a positive ${kind.replace(/^an? /, "")}`
      : `a non-negative ${kind.replace(/^an? /, "")}`;
  }
  const lo = s.min === undefined ? "" : `${s.minExclusive ? ">" : "≥"} ${s.min}`;
  const hi = s.max === undefined ? "" : `≤ ${s.max}`;
  const range = [lo, hi].filter(Boolean).join(" and ");
  return range ? `${kind} ${range}` : kind;
}

function rephrase(message: string): string {
  const unknown = message.match(/Unknown option '([^']+)'/);
  if (unknown) return `Unknown flag "${unknown[1]}" (see --help)`;
  const missing = message.match(/Option '([^']*?--[\w-]+)[^']*' argument missing/);
  if (missing) return `Flag "${missing[1].replace(/^-\w, /, "")}" needs a value`;
  const positional = message.match(/Unexpected argument '([^']+)'/);
  if (positional) return `Unexpected argument "${positional[1]}" (flags look like --name value)`;
  return message.split("\n")[0].replace(/^./, (c) => c.toUpperCase());
}

/**
 * Help text for a command: usage line, then one line per flag with its default.
 *
 * @example
 * ```ts
 * import { helpText } from "./flags.ts";
 * console.log(helpText("x", "Does x.", [{ name: "n", type: "int", default: 3, help: "Count." }]));
 * ```
 */
export function helpText(command: string, summary: string, specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const arg = s.type === "bool"
      ? ""
      : ` ${s.arg ?? (s.type === "enum" ? s.values!.join("|") : s.type.toUpperCase())}`;
    const def = s.default === undefined || s.default === false ? "" : ` (default: ${s.default})`;
    return [`  --${s.name}${arg}`, `${s.help}${def}`];
  });
  const w = Math.min(34, Math.max(...rows.map((r) => r[0].length)) + 2);
  const lines = rows.map((
    [a, b],
  ) => (a.length >= w ? `${a}\n${" ".repeat(w)}${b}` : a.padEnd(w) + b));
  return `Usage: deno run -A mod.ts ${command} [flags]\n\n${summary}\n\nFlags:\n${
    lines.join("\n")
  }\n`;
}
