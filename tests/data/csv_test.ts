import assert from "node:assert/strict";
import { parseCsvColumn, readCsvHeader } from "../../src/data/csv.ts";
import { UserError } from "../../src/util/errors.ts";

function values(text: string, column = "value"): number[] {
  return Array.from(parseCsvColumn(text, column, "x.csv"));
}

/** Asserts a UserError whose message is exactly `message`. */
function throwsExactly(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.equal(e.message, message);
    return true;
  });
}

Deno.test("reads the named column and ignores the others, whatever they hold", () => {
  const text = "date,value,label\n2020-01-01,1.5,a\n2020-01-02,-2,b c\n2020-01-03,3e-2,\n";
  assert.deepEqual(values(text), [1.5, -2, 0.03]);
  assert.deepEqual(values("a,b\n1,2", "b"), [2]); // no final newline
  assert.deepEqual(values(" value \n +4 \n.5\n"), [4, 0.5]); // spaces around names and numbers
});

Deno.test("handles quoted fields: commas, escaped quotes, line breaks, quoted numbers", () => {
  const text = 'name,"the value"\n"Smith, J.","1"\n"say ""hi""",2\n"two\nlines",3\n';
  assert.deepEqual(values(text, "the value"), [1, 2, 3]);
  assert.deepEqual(readCsvHeader(text, "x.csv"), ["name", "the value"]);
});

Deno.test("handles CRLF, a BOM, and blank lines anywhere", () => {
  const text = "\ufeff\r\n\r\ndate,value\r\nd1,1\r\n\r\n   \r\nd2,2\r\n\r\n";
  assert.deepEqual(values(text), [1, 2]);
});

Deno.test("a header-only file gives no values", () => {
  assert.equal(parseCsvColumn("date,value\n", "value", "x.csv").length, 0);
});

Deno.test("every error names the file, the 1-based line and the column", () => {
  throwsExactly(
    () => values("date,value\nd1,1\n\nd2,2\nd3,3\nd4,4\nd5,abc\n"),
    'Cannot read "x.csv": line 7, column "value": expected a number, got "abc"',
  );
  throwsExactly(
    () => values("date,value\nd1,1\nd2,\n"),
    'Cannot read "x.csv": line 3, column "value": expected a number, got ""',
  );
  throwsExactly(
    () => values('date,value\r\n"multi\r\nline",1\r\nd2,NaN\r\n'),
    'Cannot read "x.csv": line 4, column "value": expected a number, got "NaN"',
  );
  throwsExactly(
    () => values("date,value\nd1,0x10\n"),
    'Cannot read "x.csv": line 2, column "value": expected a number, got "0x10"',
  );
  throwsExactly(
    () => values("date,value\nd1,1e999\n"),
    'Cannot read "x.csv": line 2, column "value": expected a finite number, got "1e999"',
  );
  throwsExactly(
    () => values("date,value\nd1\n"),
    'Cannot read "x.csv": line 2, column "value": expected a number, got nothing (the row has 1 field, the column is field 2)',
  );
  throwsExactly(
    () => values("\ndate,price\n1,2\n"),
    'Cannot read "x.csv": line 2, column "value": no such column in the header (columns: "date", "price")',
  );
  throwsExactly(
    () => values(""),
    'Cannot read "x.csv": line 1, column "value": the file is empty (expected a header row)',
  );
  throwsExactly(
    () => values("\r\n \n"),
    'Cannot read "x.csv": line 1, column "value": the file is empty (expected a header row)',
  );
  throwsExactly(
    () => values('date,value\nd1,1\n"d2,2\nd3,3\n'),
    'Cannot read "x.csv": line 3, column "value": unterminated quoted field (the quote opens on line 3)',
  );
  throwsExactly(
    () => values('date,value\n"d1"x,1\n'),
    'Cannot read "x.csv": line 2, column "value": unexpected "x" after a closing quote',
  );
});

Deno.test("readCsvHeader skips blank lines and rejects an empty file", () => {
  assert.deepEqual(readCsvHeader("\n\na,b\n1,2", "x.csv"), ["a", "b"]);
  throwsExactly(
    () => readCsvHeader("\n", "y.csv"),
    'Cannot read "y.csv": line 1: the file is empty',
  );
});
