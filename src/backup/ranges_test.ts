import assert from "node:assert/strict";
import { test } from "node:test";
import { allFilter } from "../filter/table_filter.ts";
import type { SchemaReader } from "../tidb/meta.ts";
import { newColumn, newDatabase, newTable, type TableInfo } from "../tidb/model.ts";
import { ColumnFlag } from "../tidb/types.ts";
import { type BackupTable, buildBackupPlan, walkBackupTables } from "./ranges.ts";

const LONGLONG = 8;

/** A reader over fixed tables whose allocators hold `bases` (by table id). */
function fakeReader(tables: TableInfo[], bases: Record<number, bigint>): SchemaReader {
  const db = newDatabase(2, "app");
  const reader = {
    listDatabases: () => Promise.resolve([{ info: db, raw: new Uint8Array() }]),
    tablePages: async function* () {
      yield tables.map((info) => ({ info, raw: new Uint8Array() }));
    },
    autoTableIdsBetween: () =>
      Promise.resolve(new Map(tables.map((t) => [t.id, bases[t.id] ?? 0n]))),
    getAutoRandomId: (_db: number, id: number) => Promise.resolve(bases[Number(id) + 1000] ?? 0n),
    getSequenceValue: (_db: number, id: number) => Promise.resolve(bases[Number(id)] ?? 0n),
  };
  return reader as unknown as SchemaReader;
}

test("the schemas walked record BR's next IDs: allocator base + 1, and 1 without an allocator", async () => {
  const id = newColumn({ id: 1, name: "id", offset: 0, tp: LONGLONG, flag: ColumnFlag.PriKey });
  const autoInc = newColumn({
    id: 1,
    name: "id",
    offset: 0,
    tp: LONGLONG,
    flag: ColumnFlag.PriKey | ColumnFlag.AutoIncrement,
  });
  const rowid = newTable({ id: 10, name: "rowid", columns: [id] });
  const clusteredAuto = newTable({ id: 11, name: "auto", columns: [autoInc], pkIsHandle: true });
  const clusteredPlain = newTable({ id: 12, name: "plain", columns: [id], pkIsHandle: true });
  const random = newTable({ id: 13, name: "rnd", columns: [id], pkIsHandle: true });
  random.auto_random_bits = 5;
  const walk = walkBackupTables(
    fakeReader([rowid, clusteredAuto, clusteredPlain, random], {
      10: 41n,
      11: 99n,
      12: 7n, // not read: no rowid and no AUTO_INCREMENT column (BR's NeedAutoID is false)
      1013: 3n,
    }),
    allFilter(),
    { autoIds: true },
  );
  const tables: BackupTable[] = (await Array.fromAsync(walk)).flat();
  const got = Object.fromEntries(
    tables.map((t) => [t.table.name.O, [t.table.auto_inc_id, t.table.auto_rand_id]]),
  );
  assert.deepEqual(got, {
    rowid: [42, 0],
    auto: [100, 0],
    plain: [1, 0],
    rnd: [1, 4],
  });
});

test("the plan's range keys are packed in shared chunks, equal to the tables' ranges", async () => {
  const tables = Array.from({ length: 50 }, (_, i) =>
    newTable({
      id: 100 + i,
      name: `t${i}`,
      columns: [newColumn({ id: 1, name: "a", offset: 0, tp: LONGLONG })],
    }));
  const plan = await buildBackupPlan(fakeReader(tables, {}), allFilter());
  const walked: BackupTable[] = [];
  for await (const chunk of walkBackupTables(fakeReader(tables, {}), allFilter())) {
    walked.push(...chunk);
  }
  const want = walked.flatMap((t) => t.ranges.map((r) => [[...r.startKey], [...r.endKey]]));
  assert.deepEqual(plan.ranges.map((r) => [[...r.startKey], [...r.endKey]]), want);
  const buffers = new Set(plan.ranges.flatMap((r) => [r.startKey.buffer, r.endKey.buffer]));
  assert.equal(buffers.size, 1, "100 keys of 19 bytes fit one 64 KiB chunk");
});
