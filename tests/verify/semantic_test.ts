import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodeInt, hex } from "../../src/codec/bytes.ts";
import { buildTable } from "../../src/playground/sample.ts";
import {
  decimalDatum,
  intDatum,
  packTime,
  stringDatum,
  timeDatum,
  uintDatum,
} from "../../src/tidb/datum.ts";
import type { Datum } from "../../src/tidb/datum.ts";
import { newColumn, newIndex, newTable } from "../../src/tidb/model.ts";
import { RowDecoder } from "../../src/tidb/row_decode.ts";
import { rowKvs } from "../../src/tidb/table.ts";
import { commonHandle, encodeIndexValue } from "../../src/tidb/tablecodec.ts";
import { ColumnFlag, MysqlType } from "../../src/tidb/types.ts";
import { handleInValue, SemanticChecker } from "../../src/verify/semantic.ts";

function rows(n: number, name = (i: number) => `user_${i}`): Datum[][] {
  return Array.from({ length: n }, (_, i) => [
    intDatum(i + 1),
    stringDatum(name(i)),
    intDatum(20 + (i % 7)),
    decimalDatum(`${i}.50`, 10, 2),
    timeDatum({ year: 2026, month: 1, day: 2, hour: 3, minute: 4, second: 5, microsecond: 0 }),
    stringDatum("payload"),
  ]);
}

function check(kvs: { key: Uint8Array; value: Uint8Array }[]): SemanticChecker {
  const table = buildTable("int", "users", () => 100, 0, 1n);
  const c = new SemanticChecker();
  c.addTable("shop.users", table);
  for (const kv of kvs) c.add(kv.key, kv.value);
  const targets = c.mismatches();
  if (targets.length > 0) {
    c.startDiagnosis(targets);
    for (const kv of kvs) c.add(kv.key, kv.value);
  }
  return c;
}

describe("index values", () => {
  // Layouts from pingcap/tidb pkg/tablecodec (EncodeHandleInUniqueIndexValue, SplitIndexValue).
  test("the old layout holds an 8-byte big-endian int handle, or '0' for a non-unique entry", () => {
    assert.deepEqual(handleInValue(encodeIndexValue(-5n, true), false), encodeInt(-5n));
    assert.equal(handleInValue(encodeIndexValue(7n, false), false), undefined);
    // The 9-byte form: handle then the untouched flag.
    assert.deepEqual(handleInValue(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 9, 1), false), encodeInt(9n));
  });

  test("version 1 holds the common handle; version 0 with a tail holds the int handle there", () => {
    const h = commonHandle([intDatum(3), stringDatum("a")]);
    assert.deepEqual(handleInValue(encodeIndexValue(h, true), true), h);
    assert.equal(handleInValue(encodeIndexValue(h, false), true), undefined);
    // tailLen 8, restored data (flag 128 ...), then the handle as the tail.
    const v = Uint8Array.of(8, 128, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 42);
    assert.deepEqual(handleInValue(v, false), encodeInt(42n));
  });
});

describe("row format v1", () => {
  test("column id / value datum pairs decode (varint ids, compact bytes, decimal, uvarint)", () => {
    // id 2 (varint 4) -> compact bytes "ab"; id 3 (varint 6) -> varint -3 (zigzag 5).
    // The semantic level reads rows with the shared RowDecoder, typed by the columns.
    const v = Uint8Array.of(8, 4, 2, 4, 0x61, 0x62, 8, 6, 8, 5);
    const table = newTable({
      id: 9,
      name: "v1",
      columns: [
        newColumn({ id: 2, name: "s", offset: 0, tp: MysqlType.Varchar, flen: 8 }),
        newColumn({ id: 3, name: "n", offset: 1, tp: MysqlType.Long, flen: 11 }),
      ],
    });
    const key = Uint8Array.of(0x74, ...encodeInt(9n), 0x5f, 0x72, ...encodeInt(1n));
    const cols = new RowDecoder(table).datums(key, v);
    assert.equal(cols.get(2)!.kind, "string");
    assert.deepEqual((cols.get(2) as { value: Uint8Array }).value, Uint8Array.of(0x61, 0x62));
    assert.deepEqual(cols.get(3), { kind: "int", value: -3n });
    assert.throws(() => new RowDecoder(table).datums(key, Uint8Array.of(8, 4)));
    assert.equal(
      packTime({ year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, microsecond: 0 }),
      0n,
    );
  });
});

describe("SemanticChecker", () => {
  const table = buildTable("int", "users", () => 100, 0, 1n);
  const all = rows(300).flatMap((r) => rowKvs(table, r));

  test("rows and their index entries agree", () => {
    assert.deepEqual(check(all).mismatches(), []);
    assert.deepEqual(check(all).problems(), []);
  });

  test("a missing entry, a dangling entry and a duplicate unique key are named with a key", () => {
    const idx = all.findIndex((kv) => kv.indexId === 2);
    const missing = check(all.filter((_, i) => i !== idx)).problems();
    assert.deepEqual(missing.map((p) => [p.code, p.index]), [["RowWithoutIndexEntry", "idx_age"]]);
    assert.equal(missing[0]!.key, hex(all[idx]!.key));

    const rowAt = all.findIndex((kv) => kv.indexId === undefined);
    const dangling = check(all.filter((_, i) => i !== rowAt)).problems();
    assert.deepEqual(
      [...new Set(dangling.map((p) => p.code))],
      ["IndexEntryWithoutRow"],
    );

    // Both rows write the same uk_name key; the store keeps the last one.
    const byKey = new Map(
      rows(2, () => "same").flatMap((r) => rowKvs(table, r)).map((kv) => [hex(kv.key), kv]),
    );
    const p = check([...byKey.values()]).problems();
    assert.ok(
      p.some((x) => x.code === "DuplicateUniqueKey" && x.index === "uk_name"),
      JSON.stringify(p),
    );
  });

  test("a row whose value does not fit its schema is undecodable", () => {
    const bad = all.map((kv, i) =>
      i === 0 ? { ...kv, value: Uint8Array.of(128, 0, 1, 0, 0, 0, 4, 3, 0, 1, 2, 3) } : kv
    );
    const p = check(bad).problems();
    assert.equal(p[0]!.code, "RowUndecodable");
    assert.match(p[0]!.message, /score/);
  });
});

describe("ENUM, SET and BIT indexes", () => {
  // pingcap/tidb pkg/util/codec encode(): KindMysqlEnum / KindMysqlSet / KindMysqlBit are written
  // with encodeUnsignedInt, i.e. the uint flag 0x04 and the 8-byte big-endian number.
  const col = (id: number, name: string, offset: number, tp: number, elems: string[] | null) => {
    const c = newColumn({ id, name, offset, tp, flen: tp === MysqlType.Bit ? 12 : -1 });
    c.type.Elems = elems;
    c.type.Flag |= ColumnFlag.Unsigned;
    return c;
  };
  const cols = [
    newColumn({
      id: 1,
      name: "id",
      offset: 0,
      tp: MysqlType.Longlong,
      flen: 20,
      flag: ColumnFlag.NotNull | ColumnFlag.PriKey,
    }),
    col(2, "e", 1, MysqlType.Enum, ["small", "medium", "large"]),
    col(3, "s", 2, MysqlType.Set, ["a", "b", "c", "d"]),
    col(4, "b", 3, MysqlType.Bit, null),
  ];
  const index = (id: number, name: string, offset: number, unique = false) =>
    newIndex({
      id,
      name,
      table: "kinds",
      columns: [{ name: cols[offset]!.name.O, offset }],
      unique,
    });
  const table = newTable({
    id: 77,
    name: "kinds",
    columns: cols,
    indexes: [index(1, "idx_e", 1), index(2, "idx_s", 2), index(3, "uk_b", 3, true)],
    pkIsHandle: true,
  });
  const data = Array.from({ length: 60 }, (_, i) => [
    intDatum(i + 1),
    uintDatum((i % 3) + 1),
    uintDatum(i % 16),
    uintDatum(i * 17),
  ]);
  const kvs = data.flatMap((r) => rowKvs(table, r));
  const run = (list: typeof kvs) => {
    const c = new SemanticChecker();
    c.addTable("db.kinds", table);
    for (const kv of list) c.add(kv.key, kv.value);
    const targets = c.mismatches();
    if (targets.length > 0) {
      c.startDiagnosis(targets);
      for (const kv of list) c.add(kv.key, kv.value);
    }
    return c.problems();
  };

  test("entries hold the member number, the bit set and the bits as TiDB's uint key datum", () => {
    const e = kvs.find((kv) => kv.indexId === 1)!; // row 1: enum member 1, "small"
    // t{77}_i{1} then 0x04 + uint64 BE 1, then the int handle (0x03 + 8 bytes).
    assert.deepEqual(e.key.subarray(19, 28), Uint8Array.of(4, 0, 0, 0, 0, 0, 0, 0, 1));
    const b = kvs.filter((kv) => kv.indexId === 3)[2]!; // row 3: b'100010' = 34
    assert.deepEqual(b.key.subarray(19), Uint8Array.of(4, 0, 0, 0, 0, 0, 0, 0, 34));
  });

  test("are cross-checked: clean rows pass, a missing ENUM entry is named", () => {
    assert.deepEqual(run(kvs), []);
    const c = new SemanticChecker();
    c.addTable("db.kinds", table);
    assert.deepEqual(c.skipped(), []);
    const at = kvs.findIndex((kv) => kv.indexId === 1);
    const p = run(kvs.filter((_, i) => i !== at));
    assert.deepEqual(p.map((x) => [x.code, x.index]), [["RowWithoutIndexEntry", "idx_e"]]);
    assert.equal(p[0]!.key, hex(kvs[at]!.key));
  });

  test("a SET entry with other bits and a duplicated unique BIT are found", () => {
    const sAt = kvs.findIndex((kv) => kv.indexId === 2);
    const wrong = kvs.map((kv, i) => {
      if (i !== sAt) return kv;
      const key = kv.key.slice();
      key[27] = key[27]! ^ 0x08; // another member in the set
      return { ...kv, key };
    });
    const codes = new Set(run(wrong).map((x) => x.code));
    assert.ok(
      codes.has("RowWithoutIndexEntry") && codes.has("IndexEntryWithoutRow"),
      [...codes].join(),
    );
    const dup = [...data, [intDatum(999), uintDatum(1), uintDatum(0), uintDatum(0)]];
    const byKey = new Map(dup.flatMap((r) => rowKvs(table, r)).map((kv) => [hex(kv.key), kv]));
    const p = run([...byKey.values()]);
    assert.ok(
      p.some((x) => x.code === "DuplicateUniqueKey" && x.index === "uk_b"),
      JSON.stringify(p),
    );
  });

  test("an ENUM value beyond its members does not decode against the schema", () => {
    const bad = rowKvs(table, [intDatum(5000), uintDatum(9), uintDatum(0), uintDatum(1)]);
    const p = run([...kvs, ...bad]);
    assert.equal(p[0]?.code, "RowUndecodable", JSON.stringify(p));
    assert.match(p[0]!.message, /enum value 9/);
  });
});

test("an expression index (a hidden generated column) is skipped with its reason", () => {
  const j = newColumn({ id: 1, name: "j", offset: 0, tp: MysqlType.JSON });
  const v = newColumn({ id: 2, name: "_V$_idx_j_0", offset: 1, tp: MysqlType.Longlong, flen: 20 });
  v.generated_expr_string = "cast(json_extract(`j`, _utf8mb4'$.a') as signed)";
  v.hidden = true;
  const t = newTable({
    id: 5,
    name: "docs",
    columns: [j, v],
    indexes: [
      newIndex({ id: 1, name: "idx_j", table: "docs", columns: [{ name: v.name.O, offset: 1 }] }),
    ],
  });
  const c = new SemanticChecker();
  c.addTable("db.docs", t);
  assert.equal(c.skipped().length, 1);
  assert.match(
    c.skipped()[0]!,
    /db\.docs: index idx_j not cross-checked \(column _V\$_idx_j_0 is generated/,
  );
});
