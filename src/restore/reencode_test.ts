import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { concatBytes } from "../codec/bytes.ts";
import { intDatum, stringDatum, timeDatum } from "../tidb/datum.ts";
import { type ColumnInfo, newColumn, newTable, type TableInfo } from "../tidb/model.ts";
import { encodeRow } from "../tidb/rowcodec.ts";
import { encodeRecordKey } from "../tidb/tablecodec.ts";
import { ColumnFlag, MysqlType } from "../tidb/types.ts";
import { columnIdMap, ReencodeError, ValueReencoder } from "./reencode.ts";

const NN = ColumnFlag.NotNull;

function col(id: number, name: string, offset: number, tp: number, flag = 0): ColumnInfo {
  return newColumn({ id, name, offset, tp, flen: -1, decimal: 0, flag });
}

/**
 * The backup's table: `id` (int handle, 1), `c` (added FIRST later, 5), `a` (3), `b` (2), `d`
 * (added with origin default, 4); column 6 was dropped. The created copy numbers them 1..5.
 */
function tables(): { old: TableInfo; created: TableInfo } {
  const c = col(5, "c", 0, MysqlType.Varchar);
  const d = col(4, "d", 4, MysqlType.Datetime, NN);
  d.origin_default = "2020-01-02 03:04:05";
  const e = col(7, "e", 5, MysqlType.Tiny, NN);
  e.origin_default = "3";
  const old = newTable({
    id: 40,
    name: "t",
    columns: [
      c,
      col(1, "id", 1, MysqlType.Longlong, NN | ColumnFlag.PriKey),
      col(3, "a", 2, MysqlType.Long),
      col(2, "b", 3, MysqlType.Varchar),
      d,
      e,
    ],
    pkIsHandle: true,
  });
  const created = structuredClone(old);
  created.id = 90;
  [...created.cols].sort((x, y) => x.offset - y.offset).forEach((x, i) => (x.id = i + 1));
  return { old, created };
}

describe("re-encoding rows and index values with new column IDs", () => {
  test("column IDs are mapped by name", () => {
    const { old, created } = tables();
    assert.deepEqual(
      [...columnIdMap(old, created)].sort((x, y) => x[0] - y[0]),
      [[1, 2], [2, 4], [3, 3], [4, 5], [5, 1], [7, 6]],
    );
  });

  test("a v2 row keeps its values under the new IDs; dropped columns go, lacking ones get their origin default", () => {
    const { old, created } = tables();
    const key = encodeRecordKey(40n, 7n);
    // Written before c, d and e were added, while column 6 still existed.
    const before = encodeRow([
      { id: 3, datum: intDatum(-9) },
      { id: 2, datum: stringDatum("bee") },
      { id: 6, datum: intDatum(123) },
    ]);
    const got = new ValueReencoder(old, created).record(key, before);
    const want = encodeRow([
      { id: 1, datum: { kind: "null" } },
      { id: 3, datum: intDatum(-9) },
      { id: 4, datum: stringDatum("bee") },
      {
        id: 5,
        datum: timeDatum({
          year: 2020,
          month: 1,
          day: 2,
          hour: 3,
          minute: 4,
          second: 5,
          microsecond: 0,
        }),
      },
      { id: 6, datum: intDatum(3) },
    ]);
    assert.deepEqual(got, want);
  });

  test("a row holding every column is only renumbered", () => {
    const { old, created } = tables();
    const row = encodeRow([
      { id: 5, datum: stringDatum("c") },
      { id: 3, datum: intDatum(1) },
      { id: 2, datum: { kind: "null" } },
      {
        id: 4,
        datum: timeDatum({
          year: 2001,
          month: 2,
          day: 3,
          hour: 0,
          minute: 0,
          second: 0,
          microsecond: 0,
        }),
      },
      { id: 7, datum: intDatum(0) },
    ]);
    const got = new ValueReencoder(old, created).record(encodeRecordKey(40n, 1n), row);
    assert.deepEqual(
      got,
      encodeRow([
        { id: 1, datum: stringDatum("c") },
        { id: 3, datum: intDatum(1) },
        { id: 4, datum: { kind: "null" } },
        {
          id: 5,
          datum: timeDatum({
            year: 2001,
            month: 2,
            day: 3,
            hour: 0,
            minute: 0,
            second: 0,
            microsecond: 0,
          }),
        },
        { id: 6, datum: intDatum(0) },
      ]),
    );
  });

  test("index values: restored data is renumbered, the common handle and the tail are kept", () => {
    const { old, created } = tables();
    const coder = new ValueReencoder(old, created);
    const handle = Uint8Array.of(3, 0x80, 0, 0, 0, 0, 0, 0, 5);
    const restored = encodeRow([{ id: 2, datum: stringDatum("B ") }]);
    // TiDB's version 1 layout: tail length, version flag and version, common handle, restored data.
    const head = concatBytes(Uint8Array.of(1, 125, 1, 127, 0, handle.length), handle);
    const value = concatBytes(head, restored, Uint8Array.of(0x31));
    const got = coder.index(new Uint8Array(20), value);
    assert.deepEqual(
      got,
      concatBytes(head, encodeRow([{ id: 4, datum: stringDatum("B ") }]), Uint8Array.of(0x31)),
    );
    // The old layouts name no column and stay as they are.
    const intHandle = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 9);
    assert.equal(coder.index(new Uint8Array(20), intHandle), intHandle);
    const commonOnly = concatBytes(Uint8Array.of(0, 125, 1, 127, 0, handle.length), handle);
    assert.equal(coder.index(new Uint8Array(20), commonOnly), commonOnly);
  });

  test("restored data naming a column the backup's schema lacks is one clear error", () => {
    const { old, created } = tables();
    const value = concatBytes(
      Uint8Array.of(0, 125, 1),
      encodeRow([{ id: 66, datum: intDatum(1) }]),
    );
    assert.throws(
      () => new ValueReencoder(old, created).index(new Uint8Array(20), value),
      (e: Error) => e instanceof ReencodeError && /column ID 66/.test(e.message),
    );
  });
});
