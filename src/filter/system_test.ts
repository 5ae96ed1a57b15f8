import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  backsUpSchema,
  DEFAULT_FILTER_RULES,
  isMemorySchema,
  isSkippedByBackup,
  parseFilter,
  schemasFilter,
} from "./mod.ts";

describe("schemas a backup skips", () => {
  test("memory schemas are skipped in any case; mysql is backed up", () => {
    const all = parseFilter(DEFAULT_FILTER_RULES);
    for (
      const s of ["INFORMATION_SCHEMA", "performance_schema", "Metrics_Schema", "INSPECTION_SCHEMA"]
    ) {
      assert.equal(isMemorySchema(s), true, s);
      assert.equal(backsUpSchema(all, s), false, s);
    }
    assert.equal(backsUpSchema(all, "mysql"), true);
    assert.equal(backsUpSchema(all, "shop"), true);
    assert.equal(all.matchTable("mysql", "user"), true);
  });

  test("BR's temporary restore schemas are skipped, even when a filter names them", () => {
    const f = parseFilter(["__TiDB_BR_Temporary_mysql.*", "*.*"]);
    assert.equal(isSkippedByBackup("__TiDB_BR_Temporary_mysql"), true);
    assert.equal(backsUpSchema(f, "__TiDB_BR_Temporary_mysql"), false);
    assert.equal(backsUpSchema(f, "__TiDB_BR_Temporary_sys"), false);
    assert.equal(backsUpSchema(f, "TiDB_BR_Temporary_mysql"), true);
  });

  test("the filter still decides for ordinary schemas", () => {
    assert.equal(backsUpSchema(schemasFilter(["shop"]), "shop"), true);
    assert.equal(backsUpSchema(schemasFilter(["shop"]), "mysql"), false);
    assert.equal(backsUpSchema(parseFilter(["*.*", "!mysql.*"]), "mysql"), false);
  });
});
