import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { hex } from "../codec/bytes.ts";
import {
  bytesDatum,
  type Datum,
  decimalDatum,
  durationDatum,
  floatDatum,
  intDatum,
  NULL_DATUM,
  packTime,
  stringDatum,
  timeDatum,
  uintDatum,
} from "./datum.ts";
import { encodeJson, encodeJsonText, jsonToText, type JsonValue } from "./json_binary.ts";
import { type ColumnInfo, newColumn, newIndex, newTable } from "./model.ts";
import { decodeRecord, RowDecoder } from "./row_decode.ts";
import { encodeRow } from "./rowcodec.ts";
import { commonHandle, encodeRecordKey } from "./tablecodec.ts";
import { ColumnFlag, MysqlType } from "./types.ts";

const NN = ColumnFlag.NotNull;
const UNSIGNED = ColumnFlag.Unsigned;
const bin = { charset: "binary", collate: "binary" };

function col(
  id: number,
  name: string,
  tp: number,
  o: Partial<Parameters<typeof newColumn>[0]> = {},
) {
  return newColumn({ id, name, offset: id - 1, tp, ...o });
}

/** A table with one column of every type TiDB stores, `_tidb_rowid` handle. */
function typesTable() {
  const cols: ColumnInfo[] = [
    col(1, "i8", MysqlType.Tiny, { flen: 4 }),
    col(2, "u64", MysqlType.Longlong, { flag: UNSIGNED }),
    col(3, "i64", MysqlType.Longlong),
    col(4, "f32", MysqlType.Float),
    col(5, "f64", MysqlType.Double),
    col(6, "dec", MysqlType.NewDecimal, { flen: 20, decimal: 5 }),
    col(7, "vc", MysqlType.Varchar, { flen: 64 }),
    col(8, "vb", MysqlType.Varchar, { flen: 64, ...bin }),
    col(9, "e", MysqlType.Enum),
    col(10, "s", MysqlType.Set),
    col(11, "b", MysqlType.Bit, { flen: 12 }),
    col(12, "j", MysqlType.JSON),
    col(13, "d", MysqlType.Date),
    col(14, "dt", MysqlType.Datetime, { decimal: 3 }),
    col(15, "ts", MysqlType.Timestamp, { decimal: 0 }),
    col(16, "t", MysqlType.Duration, { decimal: 2 }),
    col(17, "y", MysqlType.Year),
  ];
  cols[8]!.type.Elems = ["red", "green", "blue"];
  cols[9]!.type.Elems = ["a", "b", "c", "d"];
  return newTable({ id: 70, name: "types", columns: cols });
}

const ROW: Datum[] = [
  intDatum(-128),
  uintDatum(18446744073709551615n),
  intDatum(-9223372036854775808n),
  floatDatum(Math.fround(3.14)),
  floatDatum(-1.5e300),
  decimalDatum("-123456789012345.67890", 20, 5),
  stringDatum("héllo, 世界 🎉"),
  bytesDatum(Uint8Array.of(0, 0xff, 0x27, 0x5c)),
  uintDatum(2),
  uintDatum(0b1011),
  uintDatum(0xabc),
  { kind: "json", value: encodeJsonText('{"k":[1,2.5,"x",null,true],"big":18446744073709551615}') },
  timeDatum({ year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, microsecond: 0 }),
  timeDatum({
    year: 2024,
    month: 2,
    day: 29,
    hour: 23,
    minute: 59,
    second: 58,
    microsecond: 123000,
  }),
  timeDatum({ year: 2024, month: 1, day: 1, hour: 1, minute: 0, second: 0, microsecond: 0 }),
  durationDatum(-(838n * 3600n + 59n * 60n + 59n) * 1_000_000_000n - 990_000_000n),
  intDatum(2155),
];

const EXPECTED = [
  -128n,
  18446744073709551615n,
  -9223372036854775808n,
  Math.fround(3.14),
  -1.5e300,
  "-123456789012345.67890",
  "héllo, 世界 🎉",
  Uint8Array.of(0, 0xff, 0x27, 0x5c),
  "green",
  "a,b,d",
  Uint8Array.of(0x0a, 0xbc),
  '{"big": 18446744073709551615, "k": [1, 2.5, "x", null, true]}',
  "0000-00-00",
  "2024-02-29 23:59:58.123",
  "2024-01-01 01:00:00",
  "-838:59:59.99",
  2155n,
];

describe("row decoder", () => {
  test("decodes a v2 row of every column type into typed values", () => {
    const t = typesTable();
    const value = encodeRow(t.cols.map((c, i) => ({ id: c.id, datum: ROW[i]! })));
    const got = decodeRecord(t, encodeRecordKey(70n, 5n), value);
    assert.deepEqual(got, EXPECTED);
  });

  test("returns NULL for every column listed as null", () => {
    const t = typesTable();
    const value = encodeRow(t.cols.map((c) => ({ id: c.id, datum: NULL_DATUM })));
    assert.deepEqual(decodeRecord(t, encodeRecordKey(70n, 1n), value), t.cols.map(() => null));
  });

  test("shows TIMESTAMP in the requested zone and leaves DATETIME alone", () => {
    const t = typesTable();
    const value = encodeRow(t.cols.map((c, i) => ({ id: c.id, datum: ROW[i]! })));
    const key = encodeRecordKey(70n, 5n);
    assert.equal(decodeRecord(t, key, value, { tz: "+08:00" })[14], "2024-01-01 09:00:00");
    assert.equal(
      decodeRecord(t, key, value, { tz: "America/New_York" })[14],
      "2023-12-31 20:00:00",
    );
    assert.equal(decodeRecord(t, key, value, { tz: "+08:00" })[13], "2024-02-29 23:59:58.123");
    assert.throws(() => new RowDecoder(t, { tz: "Mars/Olympus" }), /unknown time zone/);
  });

  // pingcap/tidb pkg/ddl (TestRowLevelChecksumWithMultiSchemaChange): the record TiDB wrote for
  // `create table t (id int primary key, v varchar(10))`, insert (1, "123"), then
  // `alter table t add column vv int, modify column v varchar(5)`: v was re-created as id 4.
  test("decodes TiDB's own v2 bytes after add column and modify column", () => {
    const value = Uint8Array.of(
      0x80,
      0x0,
      0x3,
      0x0,
      0x1,
      0x0,
      0x1,
      0x2,
      0x4,
      0x3,
      0x1,
      0x0,
      0x4,
      0x0,
      0x7,
      0x0,
      0x1,
      0x31,
      0x32,
      0x33,
      0x31,
      0x32,
      0x33,
    );
    const t = newTable({
      id: 90,
      name: "t",
      pkIsHandle: true,
      columns: [
        newColumn({
          id: 1,
          name: "id",
          offset: 0,
          tp: MysqlType.Long,
          flag: NN | ColumnFlag.PriKey,
        }),
        newColumn({ id: 4, name: "v", offset: 1, tp: MysqlType.Varchar, flen: 5 }),
        newColumn({ id: 3, name: "vv", offset: 2, tp: MysqlType.Long }),
      ],
    });
    assert.deepEqual(decodeRecord(t, encodeRecordKey(90n, 1n), value), [1n, "123", null]);
  });

  test("takes an int handle column from the key when the value omits it", () => {
    const t = newTable({
      id: 91,
      name: "t",
      pkIsHandle: true,
      columns: [
        newColumn({
          id: 1,
          name: "id",
          offset: 0,
          tp: MysqlType.Longlong,
          flag: NN | ColumnFlag.PriKey | UNSIGNED,
        }),
        newColumn({ id: 2, name: "v", offset: 1, tp: MysqlType.Varchar }),
      ],
    });
    const value = encodeRow([{ id: 2, datum: stringDatum("x") }]);
    // An unsigned handle above 2^63 is stored as a negative int64 in the key.
    const key = encodeRecordKey(91n, -1n);
    assert.deepEqual(decodeRecord(t, key, value), [18446744073709551615n, "x"]);
  });

  test("takes clustered primary-key columns from the key, the restored value first", () => {
    const cols = [
      newColumn({ id: 1, name: "a", offset: 0, tp: MysqlType.Long, flag: NN | ColumnFlag.PriKey }),
      newColumn({
        id: 2,
        name: "b",
        offset: 1,
        tp: MysqlType.Varchar,
        flag: NN | ColumnFlag.PriKey,
      }),
      newColumn({ id: 3, name: "c", offset: 2, tp: MysqlType.Datetime }),
    ];
    const t = newTable({
      id: 92,
      name: "t",
      isCommonHandle: true,
      columns: cols,
      indexes: [newIndex({
        id: 1,
        name: "PRIMARY",
        table: "t",
        columns: [{ name: "b", offset: 1 }, { name: "a", offset: 0 }],
        unique: true,
        primary: true,
      })],
    });
    const key = encodeRecordKey(92n, commonHandle([stringDatum("k1"), intDatum(-7)]));
    const c = timeDatum({
      year: 1999,
      month: 12,
      day: 31,
      hour: 0,
      minute: 0,
      second: 1,
      microsecond: 0,
    });
    assert.deepEqual(decodeRecord(t, key, encodeRow([{ id: 3, datum: c }])), [
      -7n,
      "k1",
      "1999-12-31 00:00:01",
    ]);
    const restored = encodeRow([{ id: 2, datum: stringDatum("k1 ") }, { id: 3, datum: c }]);
    assert.deepEqual(decodeRecord(t, key, restored)[1], "k1 ");
  });

  test("fills columns added after the row with their origin default", () => {
    const cols = [
      newColumn({ id: 1, name: "a", offset: 0, tp: MysqlType.Long }),
      newColumn({ id: 2, name: "b", offset: 1, tp: MysqlType.Varchar }),
      newColumn({ id: 3, name: "c", offset: 2, tp: MysqlType.NewDecimal, flen: 10, decimal: 2 }),
      newColumn({ id: 4, name: "d", offset: 3, tp: MysqlType.Long, flag: NN }),
      newColumn({ id: 5, name: "e", offset: 4, tp: MysqlType.Bit, flen: 8 }),
    ];
    cols[1]!.origin_default = "dflt";
    cols[2]!.origin_default = "1.50";
    cols[4]!.origin_default_bit = btoa("\x05");
    const t = newTable({ id: 93, name: "t", columns: cols });
    const got = decodeRecord(
      t,
      encodeRecordKey(93n, 1n),
      encodeRow([{ id: 1, datum: intDatum(9) }]),
    );
    assert.deepEqual(got, [9n, "dflt", "1.50", 0n, Uint8Array.of(5)]);
  });

  test("leaves virtual generated columns out and keeps stored ones", () => {
    const cols = [
      newColumn({ id: 1, name: "a", offset: 0, tp: MysqlType.Long }),
      newColumn({ id: 2, name: "v", offset: 1, tp: MysqlType.Long }),
      newColumn({ id: 3, name: "s", offset: 2, tp: MysqlType.Long }),
    ];
    cols[1]!.generated_expr_string = "`a` + 1";
    cols[2]!.generated_expr_string = "`a` + 2";
    cols[2]!.generated_stored = true;
    const t = newTable({ id: 94, name: "t", columns: cols });
    const dec = new RowDecoder(t);
    assert.deepEqual(dec.columns.map((c) => c.name.O), ["a", "s"]);
    const value = encodeRow([{ id: 1, datum: intDatum(1) }, { id: 3, datum: intDatum(3) }]);
    assert.deepEqual(dec.decode(encodeRecordKey(94n, 1n), value), [1n, 3n]);
  });

  // Row format v1 as pingcap/tidb pkg/tablecodec EncodeOldRow writes it: (colID, value) datum
  // pairs by codec.EncodeValue (pkg/util/codec/codec.go): ids and ints as zigzag varints (flag
  // 8), uints and packed times as uvarints (9), strings as compact bytes (2), floats (5),
  // decimals (6) and durations (7) as in keys; a row without columns is a lone Nil flag.
  test("decodes row format v1", () => {
    const t = newTable({
      id: 95,
      name: "t",
      columns: [
        newColumn({ id: 1, name: "a", offset: 0, tp: MysqlType.Long }),
        newColumn({ id: 2, name: "b", offset: 1, tp: MysqlType.Varchar }),
        newColumn({ id: 3, name: "c", offset: 2, tp: MysqlType.Datetime }),
        newColumn({ id: 4, name: "d", offset: 3, tp: MysqlType.NewDecimal, flen: 5, decimal: 2 }),
        newColumn({ id: 5, name: "e", offset: 4, tp: MysqlType.Long }),
      ],
    });
    const packed = packTime({
      year: 1999,
      month: 12,
      day: 31,
      hour: 23,
      minute: 59,
      second: 59,
      microsecond: 0,
    });
    const uv: number[] = [];
    for (let v = packed;; v >>= 7n) {
      if (v < 0x80n) {
        uv.push(Number(v));
        break;
      }
      uv.push(Number(v & 0x7fn) | 0x80);
    }
    const value = Uint8Array.of(
      ...[0x08, 0x02, 0x08, 0x03], // col 1 = -2 (zigzag 3)
      ...[0x08, 0x04, 0x02, 0x06, 0x61, 0x62, 0x63], // col 2 = "abc"
      ...[0x08, 0x06, 0x09, ...uv], // col 3 = packed time
      ...[0x08, 0x08, 0x06, 5, 2, 0x80, 0x0c, 0x22], // col 4 = DECIMAL(5,2) 12.34
      ...[0x08, 0x0a, 0x00], // col 5 = NULL
    );
    const got = decodeRecord(t, encodeRecordKey(95n, 1n), value);
    assert.deepEqual(got.slice(0, 2), [-2n, "abc"]);
    assert.equal(got[2], "1999-12-31 23:59:59");
    assert.deepEqual(got.slice(3), ["12.34", null]);
    assert.deepEqual(decodeRecord(t, encodeRecordKey(95n, 1n), Uint8Array.of(0)), [
      null,
      null,
      null,
      null,
      null,
    ]);
  });

  test("says in one line when a value is not a TiDB row", () => {
    const t = typesTable();
    assert.throws(
      () => decodeRecord(t, encodeRecordKey(70n, 1n), Uint8Array.of(0x31, 0x32)),
      /neither row format v2 nor v1/,
    );
  });
});

describe("binary JSON", () => {
  // Layout from pingcap/tidb pkg/types/json_binary.go: object = count, size, key entries
  // (offset u32, length u16), value entries (type u8, offset u32), keys, values; int64 is not
  // inlined; literals are.
  test("encodes an object byte for byte as TiDB lays it out", () => {
    assert.equal(
      hex(encodeJson({ a: 1 })),
      "01" + "01000000" + "1c000000" + "130000000100" + "0914000000" + "61" + "0100000000000000",
    );
    assert.equal(
      hex(encodeJson([true, null])),
      "03" + "02000000" + "12000000" + "0401000000" + "0400000000",
    );
    assert.equal(hex(encodeJson("ab")), "0c" + "02" + "6162");
  });

  test("round-trips documents larger than the encoder's first buffer", () => {
    const doc: JsonValue = {
      list: Array.from({ length: 500 }, (_, i) => (i % 2 ? `s${i}` : i * 1.25)),
      nested: { deep: [{ a: null }, { b: true }], text: "ü".repeat(300) },
    };
    assert.deepEqual(JSON.parse(jsonToText(encodeJson(doc))), doc);
  });

  test("prints documents as TiDB does", () => {
    const cases: [string, string][] = [
      ['{"b":1,"a":[1,2]}', '{"a": [1, 2], "b": 1}'],
      ["3.0", "3.0"],
      ["1e20", "1e20"],
      ["0.000001", "0.000001"],
      ['"\\u0001\\"\\\\ \\n"', '"\\u0001\\"\\\\ \\n"'],
      ["[]", "[]"],
      ["{}", "{}"],
      ["-9223372036854775808", "-9223372036854775808"],
    ];
    for (const [input, want] of cases) assert.equal(jsonToText(encodeJsonText(input)), want, input);
  });
});
