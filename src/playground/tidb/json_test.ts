import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeJson, encodeJson } from "./json.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

test("an object is stored in TiDB's binary layout: header, key and value entries, then data", () => {
  // type 01; count 1; size 28; key entry (offset 19, length 1); value entry (int64 at 20);
  // key "a"; int64 1.
  assert.equal(
    hex(encodeJson('{"a": 1}')),
    "01" + "01000000" + "1c000000" + "130000000100" + "0914000000" + "61" + "0100000000000000",
  );
  // Literals sit inline in their value entry.
  assert.equal(
    hex(encodeJson("[true, null]")),
    "03" + "02000000" + "12000000" + "0401000000" + "0400000000",
  );
  assert.equal(hex(encodeJson('"hi"')), "0c" + "02" + "6869");
});

test("JSON text round-trips in TiDB's output format, keys sorted, integers exact", () => {
  const cases: [string, string][] = [
    ['{"b": [1, 2.5, "x"], "a": {"k": false}}', '{"a": {"k": false}, "b": [1, 2.5, "x"]}'],
    ["9223372036854775807", "9223372036854775807"],
    ["18446744073709551615", "18446744073709551615"],
    ["3.0", "3.0"],
    ["[]", "[]"],
    ["{}", "{}"],
    ['"caf\\u00e9"', '"café"'],
  ];
  for (const [text, want] of cases) assert.equal(decodeJson(encodeJson(text)), want, text);
  assert.throws(() => encodeJson("{bad"), /Invalid JSON text/);
});
