import assert from "node:assert/strict";
import { test } from "node:test";
import type { Datum } from "../tidb/datum.ts";
import { newColumn, newTable } from "../tidb/model.ts";
import { ColumnFlag, MysqlType } from "../tidb/types.ts";
import { indexDatum, rowProblem } from "./_columns.ts";

const name = newColumn({ id: 1, name: "name", offset: 0, tp: MysqlType.Varchar, flen: 3 });
const code = newColumn({
  id: 2,
  name: "code",
  offset: 1,
  tp: MysqlType.Varchar,
  flen: 8,
  flag: ColumnFlag.NotNull,
  collate: "binary",
});
const table = newTable({ id: 1, name: "t", columns: [name, code] });
const str = (b: number[] | string): Datum => ({
  kind: "string",
  value: typeof b === "string" ? new TextEncoder().encode(b) : Uint8Array.from(b),
  collation: "utf8mb4_bin",
});
const check = (n: Datum, c: Datum = str("x")) =>
  rowProblem(table, new Map([[1, n], [2, c]]), [name, code]);

test("varchar length counts characters, not bytes", () => {
  assert.equal(check(str("日本語")), undefined); // 9 bytes, 3 characters
  assert.match(check(str("abcd"))!, /varchar\(3\) column holds 4 characters/);
});

test("invalid UTF-8 and NULL in a NOT NULL column do not fit the schema", () => {
  assert.match(check(str([0x61, 0xc3]))!, /invalid UTF-8/);
  assert.match(check(str("a"), { kind: "null" })!, /NOT NULL column code is NULL/);
});

test("a binary collation indexes the bytes as such", () => {
  assert.equal(indexDatum(code, str("ab")).kind, "bytes");
  assert.deepEqual(indexDatum(name, str("ab")), str("ab"));
});
