import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compareBytes } from "../codec/bytes.ts";
import { allFilter } from "../filter/table_filter.ts";
import { decodeHashDataKey, type KvReader, MetaWriter, SchemaReader } from "../tidb/meta.ts";
import { newColumn, newDatabase, newIndex, newTable, type TableInfo } from "../tidb/model.ts";
import { ColumnFlag, MysqlType } from "../tidb/types.ts";
import { BackupError } from "./client.ts";
import type { SchemaInput, TableChecksum } from "./metawriter.ts";
import { buildBackupPlan } from "./ranges.ts";
import { backupSchemas } from "./schemas.ts";

function smallTable(id: number, name: string): TableInfo {
  const t = newTable({
    id,
    name,
    columns: [
      newColumn({ id: 1, name: "id", offset: 0, tp: MysqlType.Longlong, flag: ColumnFlag.PriKey }),
      newColumn({ id: 2, name: "v", offset: 1, tp: MysqlType.Longlong }),
    ],
  });
  t.index_info = [newIndex({ id: 1, name: "v", table: name, columns: [{ name: "v", offset: 1 }] })];
  return t;
}

/**
 * Meta keys of `dbs` databases of `perDb` tables each, and one empty database, in a reader that
 * counts the TableInfos it has handed out (`tablesRead`).
 */
function cluster(dbs: number, perDb: number) {
  const w = new MetaWriter();
  let id = 100;
  for (let d = 0; d < dbs; d++) {
    const dbId = ++id;
    w.createDatabase(newDatabase(dbId, `db${d}`));
    for (let i = 0; i < perDb; i++) w.createTable(dbId, smallTable(++id, `t${i}`), { rowId: i });
  }
  w.createDatabase(newDatabase(++id, "empty"));
  const kvs = w.mutations.filter((m) => m.value !== null) as {
    key: Uint8Array;
    value: Uint8Array;
  }[];
  kvs.sort((a, b) => compareBytes(a.key, b.key));
  const lowerBound = (k: Uint8Array) => {
    let lo = 0, hi = kvs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareBytes(kvs[mid]!.key, k) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const counter = { tablesRead: 0 };
  const kv: KvReader = {
    get: (key) => {
      const kv = kvs[lowerBound(key)];
      return Promise.resolve(kv && compareBytes(kv.key, key) === 0 ? kv.value : null);
    },
    scan: (start, end, _ts, limit) => {
      const out = [];
      for (let i = lowerBound(start); i < kvs.length && out.length < limit; i++) {
        if (end.length > 0 && compareBytes(kvs[i]!.key, end) >= 0) break;
        out.push(kvs[i]!);
        const field = new TextDecoder().decode(decodeHashDataKey(kvs[i]!.key).field);
        if (field.startsWith("Table:")) counter.tablesRead++;
      }
      return Promise.resolve(out);
    },
  };
  return { reader: new SchemaReader(kv, 1n), counter };
}

function sumOf(id: bigint): TableChecksum {
  return { crc64xor: id * 7n, totalKvs: 2n, totalBytes: 40n };
}

describe("backup schema phase", () => {
  test("holds at most a chunk and a page of TableInfos, whatever the number of tables", async () => {
    const { reader, counter } = cluster(3, 700);
    const plan = await buildBackupPlan(reader, allFilter(), { chunk: 64 });
    assert.equal(plan.tables, 2100);
    assert.equal(plan.ranges.length, 4200);
    counter.tablesRead = 0;
    let written = 0;
    let held = 0;
    const names: string[] = [];
    let checksummed = 0;
    await backupSchemas({
      reader,
      filter: allFilter(),
      plan,
      chunk: 64,
      concurrency: 4,
      checksum: (t) => {
        checksummed++;
        held = Math.max(held, counter.tablesRead - written);
        return Promise.resolve(sumOf(BigInt(t.table.id)));
      },
      fromFiles: (ids) => sumOf(ids[0]!),
      write: (s: SchemaInput) => {
        written += s.table ? 1 : 0;
        held = Math.max(held, counter.tablesRead - written);
        const t = s.table as TableInfo | undefined;
        names.push(t ? `${t.name.O}:${t.auto_inc_id}:${s.crc64xor}` : "(db)");
        return Promise.resolve();
      },
    });
    assert.equal(written, 2100);
    assert.equal(checksummed, 2100);
    // Held: what was read from the meta keys and not yet written. All at once would be 2100.
    assert.ok(held <= 2 * 64, `held ${held} TableInfos at once`);
    assert.equal(names.length, 2101);
    // Plan order (fields sort as text: DB:1503 before DB:802), the next row ID (counter + 1) and
    // the files' checksum, the empty database last.
    assert.equal(names[0], `t0:1:${102n * 7n}`);
    assert.equal(names[701], `t1:2:${1505n * 7n}`);
    assert.equal(names[2100], "(db)");
  });

  test("a checksum that differs from the files' fails the backup, naming the table", async () => {
    const { reader } = cluster(1, 10);
    const plan = await buildBackupPlan(reader, allFilter());
    await assert.rejects(
      backupSchemas({
        reader,
        filter: allFilter(),
        plan,
        concurrency: 2,
        checksum: (t) =>
          Promise.resolve(
            t.table.name.O === "t7" ? { ...sumOf(1n), totalKvs: 3n } : sumOf(BigInt(t.table.id)),
          ),
        fromFiles: (ids) => (ids[0] === 109n ? sumOf(1n) : sumOf(ids[0]!)),
        write: () => Promise.resolve(),
      }),
      (err: Error) => err instanceof BackupError && /table db0\.t7/.test(err.message),
    );
  });

  test("tables that differ from the plan's fail the backup instead of writing other schemas", async () => {
    const { reader } = cluster(1, 10);
    const plan = await buildBackupPlan(reader, allFilter());
    const other = cluster(1, 11).reader;
    await assert.rejects(
      backupSchemas({
        reader: other,
        filter: allFilter(),
        plan,
        concurrency: 2,
        fromFiles: (ids) => sumOf(ids[0]!),
        write: () => Promise.resolve(),
      }),
      /changed between the two reads \(10 tables planned, 11 read back\)/,
    );
  });
});
