import assert from "node:assert/strict";
import { _checkTensor, _numel } from "../../src/io/named_tensors.ts";
import { UserError } from "../../src/util/errors.ts";

Deno.test("named tensors: numel checks dimensions", () => {
  assert.equal(_numel([], "s"), 1);
  assert.equal(_numel([2, 0, 3], "e"), 0);
  assert.equal(_numel([4, 5], "w"), 20);
  for (const bad of [[-1], [1.5], ["2"], [null], [2 ** 60, 2 ** 60]]) {
    assert.throws(() => _numel(bad, "w"), UserError, JSON.stringify(bad));
  }
});

Deno.test("named tensors: encoders refuse a shape that does not match the data", () => {
  _checkTensor("ok", { shape: [2, 2], data: new Float32Array(4) });
  assert.throws(() => _checkTensor("w", { shape: [3], data: new Float32Array(4) }), /shape \[3\]/);
  assert.throws(() => _checkTensor("w", { shape: [-4], data: new Float32Array(4) }), RangeError);
  assert.throws(
    () => _checkTensor("w", { shape: [1], data: [1] as unknown as Float32Array }),
    TypeError,
  );
});
