/**
 * Atomic file replacement: write a temporary file next to the target, flush it to disk, then
 * rename it over the target. A crash or a full disk leaves either the old file or the new one,
 * never a torn checkpoint, and a reader never sees a half-written file.
 *
 * @module
 */

import { UserError } from "../util/errors.ts";

/**
 * Write `data` (bytes, or a string as UTF-8) to `path` atomically. The target's permissions
 * are kept when it already exists. A symlink at `path` is replaced, not followed.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a.txt`, "hello");
 * console.log(await Deno.readTextFile(`${dir}/a.txt`)); // "hello"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = tempPath(path);
  let mode: number | undefined;
  try {
    mode = (await Deno.stat(path)).mode ?? undefined;
  } catch { /* a new file gets the default mode */ }
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
      await file.sync();
    } finally {
      file.close();
    }
    if (mode !== undefined && Deno.build.os !== "windows") await Deno.chmod(tmp, mode & 0o7777);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw userFacing(e, path);
  }
  await syncDir(dirOf(path));
}

/**
 * Synchronous {@linkcode writeFileAtomic}, for exit paths that cannot await.
 *
 * @example
 * ```ts
 * import { writeFileAtomicSync } from "./atomic.ts";
 * const dir = Deno.makeTempDirSync();
 * writeFileAtomicSync(`${dir}/b.bin`, new Uint8Array([1, 2, 3]));
 * console.log(Deno.readFileSync(`${dir}/b.bin`).length); // 3
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = tempPath(path);
  let mode: number | undefined;
  try {
    mode = Deno.statSync(path).mode ?? undefined;
  } catch { /* a new file gets the default mode */ }
  try {
    const file = Deno.openSync(tmp, { write: true, createNew: true });
    try {
      for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
      file.syncSync();
    } finally {
      file.close();
    }
    if (mode !== undefined && Deno.build.os !== "windows") Deno.chmodSync(tmp, mode & 0o7777);
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* it was never created, or the rename moved it */ }
    throw userFacing(e, path);
  }
  syncDirSync(dirOf(path));
}

/** A unique name in the target's directory (rename is only atomic within one filesystem). */
function tempPath(path: string): string {
  const i = lastSep(path);
  const rand = crypto.getRandomValues(new Uint32Array(2)).reduce((s, x) => s + x.toString(36), "");
  return `${path.slice(0, i + 1)}.${path.slice(i + 1)}.${Deno.pid}-${rand}.tmp`;
}

function lastSep(path: string): number {
  return Math.max(
    path.lastIndexOf("/"),
    Deno.build.os === "windows" ? path.lastIndexOf("\\") : -1,
  );
}

function dirOf(path: string): string {
  const i = lastSep(path);
  return i < 0 ? "." : i === 0 ? path.slice(0, 1) : path.slice(0, i);
}

/** Missing directories and permissions are the user's to fix; other failures are bugs. */
function userFacing(e: unknown, path: string): unknown {
  if (e instanceof Deno.errors.NotFound) {
    return new UserError(`Cannot write "${path}": the directory "${dirOf(path)}" does not exist`);
  }
  if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
    return new UserError(`Cannot write "${path}": permission denied`);
  }
  if (e instanceof Deno.errors.IsADirectory) {
    return new UserError(`Cannot write "${path}": it is a directory`);
  }
  return e;
}

/** Make the rename itself durable; not possible (nor needed) on every platform. */
async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch { /* best effort: the data itself is already synced */ }
}

function syncDirSync(dir: string): void {
  if (Deno.build.os === "windows") return;
  try {
    const d = Deno.openSync(dir, { read: true });
    try {
      d.syncSync();
    } finally {
      d.close();
    }
  } catch { /* best effort: the data itself is already synced */ }
}
