/**
 * Errors caused by what the user gave us (flags, files, shapes). The CLI prints their message
 * on one line and exits with code 2; anything else is a bug and exits 1.
 *
 * @module
 */

/**
 * Bad input: a flag, a CSV file, a checkpoint, a shape. The message names the value.
 *
 * @example
 * ```ts
 * import { UserError } from "./errors.ts";
 * try {
 *   throw new UserError('Cannot parse "--heads": expected a positive integer, got "x"');
 * } catch (e) {
 *   console.log(e instanceof UserError); // true
 * }
 * ```
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}
