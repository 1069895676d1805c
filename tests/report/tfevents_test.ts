import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- the project pins npm versions inline, not in deno.json
import protobuf from "npm:protobufjs@8.8.1";
import {
  encodeFileVersionEvent,
  encodeScalarEvent,
  EventWriter,
  FILE_VERSION,
  frameRecord,
  readRecords,
} from "../../src/report/tfevents.ts";
import { UserError } from "../../src/util/errors.ts";

// The subset of tensorflow/core/util/event.proto and summary.proto that the writer emits.
const PROTO = `
syntax = "proto3";
message Value { string node_name = 7; string tag = 1; float simple_value = 2; }
message Summary { repeated Value value = 1; }
message Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
`;
const Event = protobuf.parse(PROTO).root.lookupType("Event");

type Decoded = {
  wallTime: number;
  step: number;
  fileVersion: string;
  summary?: { value: { tag: string; simpleValue: number }[] };
};
const decode = (b: Uint8Array): Decoded =>
  Event.toObject(Event.decode(b), { longs: Number, defaults: true }) as Decoded;
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("encoding is byte-identical to TensorBoard's own protobufs and framing", () => {
  // Reference bytes serialized by tensorboard 2.21's event_pb2 / RecordWriter.
  assert.equal(
    hex(encodeScalarEvent("loss/train", 0.5, 3, 1700000000.5)),
    "0900002040fc54d94110032a130a110a0a6c6f73732f747261696e150000003f",
  );
  assert.equal(
    hex(encodeFileVersionEvent(1700000000.5)),
    "0900002040fc54d9411a0d627261696e2e4576656e743a32",
  );
  assert.equal(
    hex(frameRecord(new Uint8Array([1, 2, 3]))),
    "0300000000000000b099490e01020339cdc086",
  );
});

Deno.test("protobufjs decodes scalar events: tag, step, float32 value, wall time", () => {
  const cases: [string, number, number][] = [
    ["loss/train", 0.123456789, 0],
    ["val/mse_orig", 1e-30, 1],
    ["lr", 3e-4, 300],
    ["ünïcode/τ", -42.5, 2 ** 40],
    ["neg", 7, -5],
  ];
  for (const [tag, value, step] of cases) {
    const d = decode(encodeScalarEvent(tag, value, step, 1234.25));
    assert.equal(d.step, step);
    assert.equal(d.wallTime, 1234.25); // double: exact
    assert.equal(d.summary!.value.length, 1);
    assert.equal(d.summary!.value[0].tag, tag);
    assert.equal(d.summary!.value[0].simpleValue, Math.fround(value)); // float32: exact after fround
  }
  const nan = decode(encodeScalarEvent("x", NaN, 1, 0)).summary!.value[0].simpleValue;
  assert.ok(Number.isNaN(nan));
});

Deno.test("encodeScalarEvent rejects an empty tag and a fractional step", () => {
  assert.throws(() => encodeScalarEvent("", 1, 1, 0), RangeError);
  assert.throws(() => encodeScalarEvent("a", 1, 1.5, 0), RangeError);
});

Deno.test("EventWriter writes a CRC-verified file TensorBoard can read", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = await EventWriter.create(`${dir}/run/tb`);
    assert.match(w.path, /\/run\/tb\/events\.out\.tfevents\.\d{10}\.[A-Za-z0-9._-]+$/);
    const t0 = Date.now() / 1000;
    for (let epoch = 1; epoch <= 4; epoch++) {
      await w.scalar("loss/train", 1 / epoch, epoch);
      await w.scalar("loss/val", 2 / epoch, epoch, 1000 + epoch);
      await w.flush();
    }
    // Not awaited: writes must still land in call order.
    const pending = [w.scalar("lr", 0.5, 5), w.scalar("lr", 0.25, 6)];
    await w.close();
    await Promise.all(pending);
    await w.close(); // idempotent
    await assert.rejects(() => w.scalar("lr", 1, 7));

    const records = readRecords(await Deno.readFile(w.path));
    assert.equal(records.length, 1 + 8 + 2);
    const events = records.map(decode);
    assert.equal(events[0].fileVersion, FILE_VERSION);
    assert.equal(events[0].summary, null);
    assert.ok(Math.abs(events[0].wallTime - t0) < 60, "wall time is now (60 s tolerance)");
    const got = events.slice(1).map((
      e,
    ) => [e.summary!.value[0].tag, e.step, e.summary!.value[0].simpleValue]);
    assert.deepEqual(got, [
      ["loss/train", 1, 1],
      ["loss/val", 1, 2],
      ["loss/train", 2, 0.5],
      ["loss/val", 2, 1],
      ["loss/train", 3, Math.fround(1 / 3)],
      ["loss/val", 3, Math.fround(2 / 3)],
      ["loss/train", 4, 0.25],
      ["loss/val", 4, 0.5],
      ["lr", 5, 0.5],
      ["lr", 6, 0.25],
    ]);
    assert.equal(events[2].wallTime, 1001);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EventWriter: flushed records are on disk before close", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = await EventWriter.create(dir);
    await w.scalar("a", 1, 1);
    await w.flush();
    assert.equal(readRecords(await Deno.readFile(w.path)).length, 2);
    await w.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two writers started in the same second get distinct files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const [a, b] = await Promise.all([EventWriter.create(dir), EventWriter.create(dir)]);
    assert.notEqual(a.path, b.path);
    await a.close();
    await b.close();
    assert.equal([...Deno.readDirSync(dir)].length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readRecords rejects corruption and truncation", () => {
  const file = new Uint8Array([
    ...frameRecord(encodeFileVersionEvent(1)),
    ...frameRecord(encodeScalarEvent("t", 1, 1, 1)),
  ]);
  assert.equal(readRecords(file).length, 2);
  const badData = file.slice();
  badData[30] ^= 1; // inside the first record's data
  assert.throws(() => readRecords(badData), UserError);
  const badLen = file.slice();
  badLen[0] ^= 1;
  assert.throws(() => readRecords(badLen), /length checksum/);
  assert.throws(() => readRecords(file.subarray(0, file.length - 3)), /Truncated/);
  assert.throws(() => readRecords(file.subarray(0, file.length - 40)), /Truncated/);
});

Deno.test("EventWriter.create reports an unusable directory as a UserError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "x");
    await assert.rejects(() => EventWriter.create(`${dir}/file`), UserError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
