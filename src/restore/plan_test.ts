import assert from "node:assert/strict";
import { test } from "node:test";
import type { DBInfo, TableInfo } from "../tidb/model.ts";
import { rebaseSql, type SelectedTable } from "./plan.ts";

function selected(table: Partial<TableInfo>): SelectedTable {
  return {
    db: { db_name: { O: "shop", L: "shop" } } as DBInfo,
    table: {
      name: { O: "users", L: "users" },
      auto_inc_id: 0,
      auto_rand_id: 0,
      ...table,
    } as TableInfo,
  } as unknown as SelectedTable;
}

// BR's backup stores the next ID (allocator base + 1) in auto_inc_id / auto_rand_id, and BR's
// restore sets the new table's allocators to exactly those values.
test("rebase moves the allocators to the backup's next IDs, as BR's restore does", () => {
  assert.deepEqual(rebaseSql(selected({ auto_inc_id: 24001 })), [
    "ALTER TABLE `shop`.`users` AUTO_INCREMENT = 24001",
  ]);
  assert.deepEqual(rebaseSql(selected({ auto_random_bits: 5, auto_rand_id: 90001 })), [
    "ALTER TABLE `shop`.`users` AUTO_RANDOM_BASE = 90001",
  ]);
  assert.deepEqual(rebaseSql(selected({})), [], "a table without allocator values keeps its own");
});
