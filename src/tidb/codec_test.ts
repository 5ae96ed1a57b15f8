import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { compareBytes, fromHex, hex } from "../codec/bytes.ts";
import {
  binToDecimal,
  decimalDatum,
  decimalToBin,
  decodeKey,
  encodeKey,
  floatDatum,
  intDatum,
  NULL_DATUM,
  packTime,
  stringDatum,
  timeDatum,
  uintDatum,
  unpackTime,
} from "./datum.ts";
import { decodeIntColumn, decodeRow, decodeUintColumn, encodeRow } from "./rowcodec.ts";
import {
  decodeIndexKeyPrefix,
  decodeRecordKey,
  decodeTableId,
  encodeIndexKey,
  encodeIndexValue,
  encodeRecordKey,
  indexRange,
  isIndexKey,
  isRecordKey,
  recordRange,
  tableRange,
} from "./tablecodec.ts";

const inOrder = (keys: Uint8Array[]) => {
  for (let i = 1; i < keys.length; i++) {
    assert.ok(compareBytes(keys[i - 1]!, keys[i]!) < 0, `key ${i} sorts after key ${i - 1}`);
  }
};

describe("datum key encoding", () => {
  test("ints, uints, floats and strings encode to keys that sort like the values", () => {
    inOrder([-1000n, -1n, 0n, 1n, 1n << 40n].map((v) => encodeKey([intDatum(v)])));
    inOrder([0n, 255n, 1n << 63n].map((v) => encodeKey([uintDatum(v)])));
    inOrder([-1e9, -1.5, 0, 0.25, 3, 1e300].map((v) => encodeKey([floatDatum(v)])));
    inOrder(["", "a", "a\u0000", "ab", "b"].map((s) => encodeKey([stringDatum(s, "binary")])));
    inOrder([NULL_DATUM, intDatum(-5)].map((d) => encodeKey([d])));
    assert.equal(hex(encodeKey([intDatum(1)])), "038000000000000001");
  });

  test("a _bin collation key drops trailing spaces; binary keeps them", () => {
    assert.deepEqual(encodeKey([stringDatum("ab  ")]), encodeKey([stringDatum("ab")]));
    assert.notDeepEqual(
      encodeKey([stringDatum("ab ", "binary")]),
      encodeKey([stringDatum("ab", "binary")]),
    );
    assert.throws(() => encodeKey([stringDatum("x", "utf8mb4_general_ci")]), /not supported/);
  });

  test("MySQL's binary decimal matches the documented example and round-trips", () => {
    // MySQL manual, "Precision Math": 1234567890.1234 as DECIMAL(14,4).
    assert.equal(hex(decimalToBin("1234567890.1234", 14, 4)), "810dfb38d204d2");
    assert.equal(hex(decimalToBin("-1234567890.1234", 14, 4)), "7ef204c72dfb2d");
    for (const v of ["0.00", "12.50", "-0.01", "99999999.99", "-99999999.99"]) {
      assert.equal(
        binToDecimal(decimalToBin(v, 10, 2), 0, 10, 2).value,
        v.replace(/^-0\.00$/, "0.00"),
      );
    }
    inOrder(
      ["-10.5", "-1", "0", "0.01", "7", "123.45"].map((v) => encodeKey([decimalDatum(v, 10, 2)])),
    );
    assert.throws(() => decimalToBin("123.456", 10, 2), /fraction digits/);
    assert.throws(() => decimalToBin("123456789", 10, 2), /integer digits/);
    const [d] = decodeKey(encodeKey([decimalDatum("-3.25", 6, 2)]));
    assert.deepEqual(d, { kind: "decimal", value: "-3.25", precision: 6, frac: 2 });
  });

  test("packed datetimes round-trip and sort by time", () => {
    const t = {
      year: 2024,
      month: 2,
      day: 29,
      hour: 23,
      minute: 59,
      second: 58,
      microsecond: 123456,
    };
    assert.deepEqual(unpackTime(packTime(t)), t);
    // ((((2024*13+2) << 5 | 29) << 17 | 23<<12 | 59<<6 | 58) << 24) | 123456
    assert.equal(packTime(t), 1851748550837396032n);
    inOrder([
      { ...t, year: 2023 },
      t,
      { ...t, second: 59 },
    ].map((x) => encodeKey([timeDatum(x)])));
  });
});

describe("row format v2", () => {
  test("a small row has the documented layout", () => {
    const row = encodeRow([
      { id: 3, datum: NULL_DATUM },
      { id: 2, datum: stringDatum("abc") },
      { id: 1, datum: intDatum(1) },
    ]);
    assert.equal(
      hex(row),
      "80" + "00" + "0200" + "0100" + "010203" + "0100" + "0400" + "01" + "616263",
    );
    const decoded = decodeRow(row);
    assert.equal(decodeIntColumn(decoded.get(1)!), 1n);
    assert.equal(new TextDecoder().decode(decoded.get(2)!), "abc");
    assert.equal(decoded.get(3), null);
  });

  test("integers take their shortest width; ids above 255 make the row large", () => {
    const row = encodeRow([
      { id: 1, datum: intDatum(-1) },
      { id: 2, datum: intDatum(300) },
      { id: 3, datum: intDatum(-70000) },
      { id: 4, datum: uintDatum(1n << 40n) },
    ]);
    const d = decodeRow(row);
    assert.deepEqual([...d.values()].map((v) => v!.length), [1, 2, 4, 8]);
    assert.equal(decodeIntColumn(d.get(3)!), -70000n);
    assert.equal(decodeUintColumn(d.get(4)!), 1n << 40n);
    const large = encodeRow([{ id: 300, datum: intDatum(7) }]);
    assert.equal(large[1], 1);
    assert.equal(hex(large), "80" + "01" + "0100" + "0000" + "2c010000" + "01000000" + "07");
    assert.equal(decodeIntColumn(decodeRow(large).get(300)!), 7n);
    assert.throws(() => decodeRow(fromHex("7f00")), /not a TiDB row/);
  });
});

describe("table keys", () => {
  test("record and index keys have TiDB's layout", () => {
    assert.equal(hex(encodeRecordKey(1n, 1n)), "74800000000000000" + "15f72" + "8000000000000001");
    const idx = encodeIndexKey(5n, 2n, [intDatum(7)], 9n);
    assert.equal(
      hex(idx),
      "748000000000000005" + "5f69" + "8000000000000002" + "038000000000000007" +
        "038000000000000009",
    );
    assert.equal(decodeTableId(idx), 5n);
    assert.deepEqual(decodeIndexKeyPrefix(idx), { tableId: 5n, indexId: 2n });
    assert.deepEqual(decodeRecordKey(encodeRecordKey(-3n, -7n)), { tableId: -3n, handle: -7n });
    assert.ok(isIndexKey(idx) && !isRecordKey(idx));
    assert.equal(decodeTableId(new TextEncoder().encode("mDBs")), undefined);
  });

  test("ranges hold exactly their keys and nest in the table range", () => {
    const rec = recordRange(10n);
    const ix = indexRange(10n, 1n);
    const all = tableRange(10n);
    const inside = (k: Uint8Array, r: { start: Uint8Array; end: Uint8Array }) =>
      compareBytes(r.start, k) <= 0 && compareBytes(k, r.end) < 0;
    const recKey = encodeRecordKey(10n, (1n << 63n) - 1n);
    const idxKey = encodeIndexKey(10n, 1n, [stringDatum("\u00ff\u00ff")], -1n);
    assert.ok(inside(recKey, rec) && inside(recKey, all) && !inside(recKey, ix));
    assert.ok(inside(idxKey, ix) && inside(idxKey, all) && !inside(idxKey, rec));
    assert.ok(!inside(encodeIndexKey(10n, 2n, [intDatum(0)]), ix));
    assert.ok(!inside(encodeRecordKey(11n, 0n), all));
  });

  test("index values: old layout for int handles, version 1 for common handles", () => {
    assert.equal(hex(encodeIndexValue(5n, true)), "0000000000000005");
    assert.equal(hex(encodeIndexValue(5n, false)), "30");
    const ch = encodeKey([stringDatum("k")]);
    assert.equal(hex(encodeIndexValue(ch, false)), "007d01");
    assert.equal(hex(encodeIndexValue(ch, true)), "007d01" + "7f" + "000a" + hex(ch));
  });
});
