import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { dataFile, MapStorage } from "../backup/_meta_test_util.ts";
import { MetaReader } from "../backup/metareader.ts";
import { allFilter } from "../filter/mod.ts";
import { BackupMetaSchema, SchemaSchema } from "../gen/brpb_pb.ts";
import {
  type DBInfo,
  newColumn,
  newDatabase,
  newPartitionInfo,
  newTable,
  type TableInfo,
  toJson,
} from "../tidb/model.ts";
import { MysqlType, PartitionType } from "../tidb/types.ts";
import { collectFiles, rebaseSql, type SelectedTable, selectTables, wholeSchemas } from "./plan.ts";

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

/** A V1 backup of `n` tables (db `d`), each with a column, two files, and a partitioned one. */
async function backupOf(n: number) {
  const store = new MapStorage();
  const db = newDatabase(2, "d");
  const schemas = [];
  const files = [];
  for (let i = 0; i < n; i++) {
    const id = 100 + i * 10;
    const t = newTable({
      id,
      name: `t${i}`,
      columns: [newColumn({ id: 1, name: "v", offset: 0, tp: MysqlType.Long })],
    });
    if (i === 0) {
      t.partition = newPartitionInfo(PartitionType.Hash, "`v`", [
        { id: id + 1, name: "p0" },
        { id: id + 2, name: "p1" },
      ]);
    }
    schemas.push(create(SchemaSchema, { db: toJson(db), table: toJson(t), totalKvs: 4n }));
    const ids = i === 0 ? [id + 1, id + 2] : [id, id];
    for (const [k, pid] of ids.entries()) {
      files.push(dataFile(`${i}-${k}.sst`, BigInt(pid), BigInt(k * 2), BigInt(k * 2 + 2), {
        crc: 1n,
        kvs: 2n,
        bytes: 8n,
      }));
    }
  }
  const meta = create(BackupMetaSchema, { clusterId: 1n, endVersion: 5n, files, schemas });
  store.files.set("backupmeta", toBinary(BackupMetaSchema, meta));
  return await MetaReader.open(store.storage);
}

test("a selection holds names, IDs and file counts; whole schemas stream back on demand", async () => {
  const reader = await backupOf(50);
  const sel = await selectTables(reader, allFilter());
  assert.equal(sel.tables.length, 50);
  for (const t of sel.tables) {
    assert.equal(t.fileCount, 2, t.table.name.O);
    assert.equal(t.files, undefined, "files are counted, not held");
    // Only ID, name and partitions: no columns or indexes of 50 (or 100k) tables held.
    assert.deepEqual(
      Object.keys(t.table).sort(),
      t.table.partition ? ["id", "name", "partition"] : ["id", "name"],
    );
  }
  assert.deepEqual(sel.tables[0]!.table.partition!.definitions.map((d) => d.id), [101, 102]);
  // Whole TableInfos come back one at a time, in backup order, onto the same selections.
  let seen = 0;
  for await (const t of wholeSchemas(reader, sel.tables)) {
    assert.equal(t, sel.tables[seen], "the selection object itself");
    assert.equal(t.table.cols.length, 1);
    seen++;
  }
  assert.equal(seen, 50);
  // The dry run keeps everything.
  const whole = await selectTables(reader, allFilter(), { whole: true });
  assert.equal(whole.tables[3]!.files!.length, 2);
  assert.equal(whole.tables[3]!.table.cols.length, 1);
  // A few tables' files are read back when needed (re-encode).
  const few = (await selectTables(reader, allFilter())).tables.slice(0, 2);
  await collectFiles(reader, few);
  assert.deepEqual(few.map((t) => t.files!.map((f) => f.name)), [["0-0.sst", "0-1.sst"], [
    "1-0.sst",
    "1-1.sst",
  ]]);
});
