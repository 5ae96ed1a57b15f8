import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  CsvEncoder,
  DEFAULT_CSV,
  escapeSql,
  formatNumber,
  OutBuffer,
  writeSqlValue,
} from "./format.ts";

const text = (b: OutBuffer) => new TextDecoder().decode(b.view());

describe("export value formats", () => {
  // Escapes of pingcap/tidb dumpling/export/sql_type.go escapeBackslashSQL.
  test("escapes SQL strings as Dumpling does", () => {
    assert.equal(escapeSql("a\0b\nc\rd\\e'f\"g\x1ah"), "a\\0b\\nc\\rd\\\\e\\'f\\\"g\\Zh");
    assert.equal(escapeSql("plain ü"), "plain ü");
  });

  test("writes binary as hex literals, numbers bare, NULL as NULL", () => {
    const b = new OutBuffer(4);
    writeSqlValue(b, Uint8Array.of(0, 0xab), "bytes", false);
    writeSqlValue(b, new Uint8Array(0), "bytes", false);
    writeSqlValue(b, -5n, "number", false);
    writeSqlValue(b, null, "string", false);
    writeSqlValue(b, "x'y", "string", false);
    assert.equal(text(b), "x'00ab'x''-5NULL'x\\'y'");
  });

  test("prints FLOAT with float32's shortest digits, never above FLT_MAX", () => {
    assert.equal(formatNumber(Math.fround(3.14), true), "3.14");
    assert.equal(formatNumber(Math.fround(0.1), true), "0.1");
    assert.equal(formatNumber(3.4028234663852886e38, true), "3.4028234663852886e+38");
    assert.equal(formatNumber(-1.5e300), "-1.5e+300");
  });

  // escapeBackslashCSV: \0 \r \n \\ and the delimiter get a backslash; without backslash
  // escaping the delimiter is doubled (escapeCSV).
  test("escapes CSV fields with backslashes, or doubles the delimiter", () => {
    const b = new OutBuffer();
    const csv = new CsvEncoder(DEFAULT_CSV);
    csv.value(b, 'a"b\\c\nd\re\0', "string", false);
    csv.separator(b);
    csv.value(b, null, "string", false);
    csv.separator(b);
    csv.value(b, Uint8Array.of(0x22, 0x0a), "bytes", false);
    assert.equal(text(b), '"a\\"b\\\\c\\nd\\re\\0",\\N,"\\"\\n"');
    const rfc = new CsvEncoder({ ...DEFAULT_CSV, escapeBackslash: false, nullValue: "NULL" });
    const r = new OutBuffer();
    rfc.value(r, 'a"b\\c\n', "string", false);
    rfc.separator(r);
    rfc.value(r, Uint8Array.of(0x22, 0x22), "bytes", false);
    rfc.separator(r);
    rfc.value(r, null, "number", false);
    assert.equal(text(r), '"a""b\\c\n","""""",NULL');
  });
});
