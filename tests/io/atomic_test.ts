import assert from "node:assert/strict";
import { writeFileAtomic, writeFileAtomicSync } from "../../src/io/atomic.ts";
import { UserError } from "../../src/util/errors.ts";

const variants = [
  ["async", writeFileAtomic],
  ["sync", (p: string, d: Uint8Array | string): Promise<void> => {
    try {
      return Promise.resolve(writeFileAtomicSync(p, d));
    } catch (e) {
      return Promise.reject(e);
    }
  }],
] as const;

function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

for (const [kind, write] of variants) {
  Deno.test(`atomic write (${kind}): complete content, no temp file left, replaces in place`, async () => {
    const dir = Deno.makeTempDirSync();
    try {
      const big = Uint8Array.from({ length: 3 << 20 }, (_, i) => Math.imul(i, 2654435761) >>> 24);
      await write(`${dir}/w.bin`, big);
      assert.deepEqual(Deno.readFileSync(`${dir}/w.bin`), big);
      await write(`${dir}/w.bin`, "smaller ✓");
      assert.equal(Deno.readTextFileSync(`${dir}/w.bin`), "smaller ✓");
      await write(`${dir}/empty`, new Uint8Array(0));
      assert.equal(Deno.readFileSync(`${dir}/empty`).length, 0);
      assert.deepEqual(listDir(dir), ["empty", "w.bin"]);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });

  Deno.test({
    name: `atomic write (${kind}): keeps the target's permissions`,
    ignore: Deno.build.os === "windows",
    async fn() {
      const dir = Deno.makeTempDirSync();
      try {
        Deno.writeTextFileSync(`${dir}/f`, "old");
        Deno.chmodSync(`${dir}/f`, 0o640);
        await write(`${dir}/f`, "new");
        assert.equal(Deno.statSync(`${dir}/f`).mode! & 0o777, 0o640);
        assert.equal(Deno.readTextFileSync(`${dir}/f`), "new");
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    },
  });

  Deno.test(`atomic write (${kind}): failures are UserErrors and leave nothing behind`, async () => {
    const dir = Deno.makeTempDirSync();
    try {
      await assert.rejects(
        () => write(`${dir}/no/such/dir/f`, "x"),
        (e: unknown) =>
          e instanceof UserError &&
          /directory ".*no\/such\/dir" does not exist/.test((e as Error).message),
      );
      Deno.mkdirSync(`${dir}/sub`);
      Deno.writeTextFileSync(`${dir}/sub/inner`, "keep");
      // Renaming a file over a non-empty directory fails after the temp file was written.
      await assert.rejects(() => write(`${dir}/sub`, "x"));
      assert.deepEqual(listDir(dir), ["sub"]);
      assert.deepEqual(listDir(`${dir}/sub`), ["inner"]);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("atomic write: a relative path lands in the current directory", () => {
  const dir = Deno.makeTempDirSync();
  const cwd = Deno.cwd();
  try {
    Deno.chdir(dir);
    writeFileAtomicSync("rel.txt", "r");
    assert.deepEqual(listDir(dir), ["rel.txt"]);
  } finally {
    Deno.chdir(cwd);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("atomic write: concurrent writers never expose a partial file", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const a = new Uint8Array(1 << 20).fill(0x61), b = new Uint8Array(1 << 20).fill(0x62);
    await writeFileAtomic(`${dir}/c`, a);
    let torn = false, reading = true;
    const reader = (async () => {
      while (reading) {
        const got = await Deno.readFile(`${dir}/c`);
        if (got.length !== a.length || (got[0] !== got[got.length - 1])) torn = true;
        await new Promise((r) => setTimeout(r, 0));
      }
    })();
    for (let i = 0; i < 20; i++) await writeFileAtomic(`${dir}/c`, i % 2 ? a : b);
    reading = false;
    await reader;
    assert.equal(torn, false);
    assert.deepEqual(listDir(dir), ["c"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
