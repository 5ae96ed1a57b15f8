import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodeInt, hex } from "../../src/codec/bytes.ts";
import { buildTable } from "../../src/playground/sample.ts";
import { decimalDatum, intDatum, packTime, stringDatum, timeDatum } from "../../src/tidb/datum.ts";
import type { Datum } from "../../src/tidb/datum.ts";
import { rowKvs } from "../../src/tidb/table.ts";
import { commonHandle, encodeIndexValue } from "../../src/tidb/tablecodec.ts";
import { rowColumns } from "../../src/verify/_columns.ts";
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
    const v = Uint8Array.of(8, 4, 2, 4, 0x61, 0x62, 8, 6, 8, 5);
    const cols = rowColumns(v);
    assert.deepEqual(cols.get(2), { kind: "bytes", value: Uint8Array.of(0x61, 0x62) });
    assert.deepEqual(cols.get(3), { kind: "int", value: -3n });
    assert.throws(() => rowColumns(Uint8Array.of(8, 4)), /no value/);
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
