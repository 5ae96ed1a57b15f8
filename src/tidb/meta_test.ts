import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { compareBytes, hex } from "../codec/bytes.ts";
import { encodeKey, intDatum, stringDatum } from "./datum.ts";
import {
  decodeHashDataKey,
  hashDataKey,
  type KvReader,
  MetaWriter,
  SchemaReader,
  stringDataKey,
} from "./meta.ts";
import {
  ActionType,
  newColumn,
  newDatabase,
  newIndex,
  newJob,
  newPartitionInfo,
  newTable,
  parseJson,
  physicalTableIds,
  publicIndexes,
  type TableInfo,
  toJson,
} from "./model.ts";
import { physicalIdForRow, rowKvs } from "./table.ts";
import { decodeRecordKey, encodeIndexKey, encodeRecordKey } from "./tablecodec.ts";
import { ColumnFlag, MysqlType, PartitionType, SchemaState } from "./types.ts";

/** A sorted in-memory KV reader that ignores ts. */
function memReader(muts: { key: Uint8Array; value: Uint8Array | null }[]): KvReader {
  const kvs = muts.filter((m) => m.value !== null) as { key: Uint8Array; value: Uint8Array }[];
  kvs.sort((a, b) => compareBytes(a.key, b.key));
  return {
    get: (key) => Promise.resolve(kvs.find((kv) => compareBytes(kv.key, key) === 0)?.value ?? null),
    scan: (start, end, _ts, limit) =>
      Promise.resolve(
        kvs.filter((kv) =>
          compareBytes(kv.key, start) >= 0 && (end.length === 0 || compareBytes(kv.key, end) < 0)
        ).slice(0, limit),
      ),
  };
}

function usersTable(id: number): TableInfo {
  return newTable({
    id,
    name: "Users",
    pkIsHandle: true,
    columns: [
      newColumn({
        id: 1,
        name: "id",
        offset: 0,
        tp: MysqlType.Longlong,
        flag: ColumnFlag.PriKey | ColumnFlag.NotNull,
        flen: 20,
      }),
      newColumn({ id: 2, name: "email", offset: 1, tp: MysqlType.Varchar, flen: 64 }),
      newColumn({ id: 3, name: "age", offset: 2, tp: MysqlType.Long, flen: 11 }),
    ],
    indexes: [
      newIndex({
        id: 1,
        name: "PRIMARY",
        table: "Users",
        columns: [{ name: "id", offset: 0 }],
        unique: true,
        primary: true,
      }),
      newIndex({
        id: 2,
        name: "uk_email",
        table: "Users",
        columns: [{ name: "email", offset: 1 }],
        unique: true,
      }),
      newIndex({ id: 3, name: "idx_age", table: "Users", columns: [{ name: "age", offset: 2 }] }),
      newIndex({
        id: 4,
        name: "idx_new",
        table: "Users",
        columns: [{ name: "age", offset: 2 }],
        state: SchemaState.WriteReorganization,
      }),
    ],
    updateTs: 451234567890123456n,
  });
}

describe("meta keys", () => {
  test("string and hash keys use the structure layer's encoding", () => {
    assert.equal(
      hex(stringDataKey("NextGlobalID")),
      "6d" + "4e657874476c6f62ff" + "616c494400000000fb" + "0000000000000073",
    );
    const k = hashDataKey("DBs", "DB:1");
    assert.equal(hex(k), "6d" + "4442730000000000fa" + "0000000000000068" + "44423a3100000000fb");
    const d = decodeHashDataKey(k);
    assert.equal(new TextDecoder().decode(d.key), "DBs");
    assert.equal(new TextDecoder().decode(d.field), "DB:1");
  });
});

describe("schema model JSON", () => {
  test("uses TiDB's field names and keeps TSOs exact", () => {
    const t = usersTable(100);
    const json = new TextDecoder().decode(toJson(t));
    for (
      const f of [
        '"cols":',
        '"index_info":',
        '"pk_is_handle":true',
        '"is_common_handle":false',
        '"Tp":8',
        '"idx_name":{"O":"uk_email","L":"uk_email"}',
        '"update_timestamp":451234567890123456',
      ]
    ) {
      assert.ok(json.includes(f), `${f} in ${json.slice(0, 80)}...`);
    }
    const back = parseJson<TableInfo>(json);
    assert.equal(back.update_timestamp, 451234567890123456n);
    assert.deepEqual(back, t);
    assert.deepEqual(publicIndexes(t).map((i) => i.idx_name.O), ["PRIMARY", "uk_email", "idx_age"]);
  });
});

describe("schema reader", () => {
  test("lists what the meta writer wrote: dbs, tables, ids, auto ids, DDL history", async () => {
    const w = new MetaWriter();
    const db = newDatabase(2, "Shop");
    const empty = newDatabase(3, "empty_db");
    const t = usersTable(4);
    w.createDatabase(db).createDatabase(empty).createTable(2, t, { rowId: 5000 });
    w.addHistoryJob(newJob({
      id: 5,
      type: ActionType.CreateTable,
      schemaId: 2,
      tableId: 4,
      schemaName: "Shop",
      tableName: "Users",
      query: "CREATE TABLE Users (...)",
      schemaVersion: 3,
      startTs: 451234567890123457n,
      finishedTs: 451234567890123458n,
      table: t,
    }));
    w.setGlobalId(5).setSchemaVersion(3);
    const r = new SchemaReader(memReader(w.mutations), 1n);
    assert.deepEqual((await r.listDatabases()).map((d) => d.info.db_name.O), ["Shop", "empty_db"]);
    const tables = await r.listTables(2);
    assert.equal(tables.length, 1);
    assert.deepEqual(tables[0]!.info, t);
    assert.equal(new TextDecoder().decode(tables[0]!.raw), new TextDecoder().decode(toJson(t)));
    assert.deepEqual(await r.listTables(3), []);
    assert.equal(await r.getGlobalId(), 5n);
    assert.equal(await r.getSchemaVersion(), 3n);
    assert.equal(await r.getAutoTableId(2, 4), 5000n);
    assert.equal(await r.getAutoRandomId(2, 4), 0n);
    const jobs = await r.listHistoryJobs();
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]!.info.binlog?.SchemaVersion, 3);
    assert.equal(jobs[0]!.info.binlog?.FinishedTS, 451234567890123458n);
    assert.deepEqual(await r.listQueuedJobs(), []);
    assert.equal((await r.getTable(2, 4))?.info.name.O, "Users");
    assert.equal(await r.getTable(2, 99), null);
  });

  test("pages through hashes larger than one scan", async () => {
    const w = new MetaWriter();
    w.createDatabase(newDatabase(1, "big"));
    for (let i = 0; i < 600; i++) w.createTable(1, usersTable(1000 + i));
    const r = new SchemaReader(memReader(w.mutations), 1n);
    assert.equal((await r.listTables(1)).length, 600);
  });

  test("reads the row-id counters of a page of tables in one scan, in text order", async () => {
    const w = new MetaWriter();
    w.createDatabase(newDatabase(1, "big"));
    // Text order: 1000, 1001, 99, with the counters of dropped tables 2000 and 500 in between.
    for (const id of [99, 1000, 1001]) w.createTable(1, usersTable(id), { rowId: id * 10 });
    w.setAutoTableId(1, 500, 7);
    w.setAutoTableId(1, 2000, 9);
    const r = new SchemaReader(memReader(w.mutations), 1n);
    const got = await r.autoTableIdsBetween(1, "1000", "99");
    assert.deepEqual([...got.entries()], [
      [1000, 10000n],
      [1001, 10010n],
      [2000, 9n],
      [500, 7n],
      [99, 990n],
    ]);
    for (const id of [99, 1000, 1001]) assert.equal(got.get(id), await r.getAutoTableId(1, id));
  });

  test("pages through a database's tables without reading its counters", async () => {
    const w = new MetaWriter();
    w.createDatabase(newDatabase(1, "big"));
    for (let i = 0; i < 600; i++) w.createTable(1, usersTable(1000 + i), { rowId: 7 });
    const r = new SchemaReader(memReader(w.mutations), 1n);
    const pages: number[] = [];
    const ids: number[] = [];
    for await (const page of r.tablePages(1, 256)) {
      pages.push(page.length);
      for (const t of page) ids.push(t.info.id);
    }
    assert.deepEqual(pages, [256, 256, 88]);
    assert.deepEqual(ids, (await r.listTables(1)).map((t) => t.info.id));
    assert.deepEqual(await Array.fromAsync(r.tablePages(2)), []);
  });
});

describe("rows to KV pairs", () => {
  test("an int-handle row: record, unique and non-unique entries, and the non-public index", () => {
    const t = usersTable(4);
    const kvs = rowKvs(t, [intDatum(7), stringDatum("a@b"), intDatum(30)]);
    assert.equal(kvs.length, 4);
    assert.deepEqual(decodeRecordKey(kvs[0]!.key), { tableId: 4n, handle: 7n });
    assert.deepEqual(kvs[1]!.key, encodeIndexKey(4n, 2n, [stringDatum("a@b")]));
    assert.equal(hex(kvs[1]!.value), "0000000000000007");
    assert.deepEqual(kvs[2]!.key, encodeIndexKey(4n, 3n, [intDatum(30)], 7n));
    assert.equal(hex(kvs[2]!.value), "30");
    assert.equal(kvs[3]!.indexId, 4);
    // A NULL in a unique index is not distinct: the handle goes into the key.
    const withNull = rowKvs(t, [intDatum(8), { kind: "null" }, intDatum(1)]);
    assert.deepEqual(withNull[1]!.key, encodeIndexKey(4n, 2n, [{ kind: "null" }], 8n));
  });

  test("a clustered row is keyed by its primary key; a partitioned row by its partition", () => {
    const ct = newTable({
      id: 20,
      name: "orders",
      isCommonHandle: true,
      columns: [
        newColumn({
          id: 1,
          name: "code",
          offset: 0,
          tp: MysqlType.Varchar,
          flag: ColumnFlag.PriKey | ColumnFlag.NotNull,
          flen: 32,
        }),
        newColumn({ id: 2, name: "qty", offset: 1, tp: MysqlType.Long }),
      ],
      indexes: [
        newIndex({
          id: 1,
          name: "PRIMARY",
          table: "orders",
          columns: [{ name: "code", offset: 0 }],
          unique: true,
          primary: true,
        }),
        newIndex({
          id: 2,
          name: "idx_qty",
          table: "orders",
          columns: [{ name: "qty", offset: 1 }],
        }),
      ],
    });
    const kvs = rowKvs(ct, [stringDatum("A-1"), intDatum(3)]);
    assert.equal(kvs.length, 2);
    const handle = encodeKey([stringDatum("A-1")]);
    assert.deepEqual(kvs[0]!.key, encodeRecordKey(20n, handle));
    assert.deepEqual(kvs[1]!.key, encodeIndexKey(20n, 2n, [intDatum(3)], handle));
    assert.equal(ct.common_handle_version, 1);
    assert.equal(hex(kvs[1]!.value), "007d01");

    const pt = newTable({
      id: 30,
      name: "events",
      pkIsHandle: true,
      columns: [
        newColumn({
          id: 1,
          name: "id",
          offset: 0,
          tp: MysqlType.Longlong,
          flag: ColumnFlag.PriKey | ColumnFlag.NotNull,
        }),
      ],
      partition: newPartitionInfo(PartitionType.Hash, "`id`", [{ id: 31, name: "p0" }, {
        id: 32,
        name: "p1",
      }, { id: 33, name: "p2" }]),
    });
    assert.deepEqual(physicalTableIds(pt), [31, 32, 33]);
    assert.equal(physicalIdForRow(pt, [intDatum(7)]), 32);
    assert.equal(physicalIdForRow(pt, [intDatum(-7)]), 32);
    assert.deepEqual(decodeRecordKey(rowKvs(pt, [intDatum(9)])[0]!.key), {
      tableId: 31n,
      handle: 9n,
    });
    const rt = newTable({
      id: 40,
      name: "ranges",
      pkIsHandle: true,
      columns: pt.cols,
      partition: newPartitionInfo(PartitionType.Range, "id", [{
        id: 41,
        name: "p0",
        lessThan: ["100"],
      }, { id: 42, name: "pmax", lessThan: ["MAXVALUE"] }]),
    });
    assert.equal(physicalIdForRow(rt, [intDatum(99)]), 41);
    assert.equal(physicalIdForRow(rt, [intDatum(100)]), 42);
  });
});

describe("model JSON parsing", () => {
  // The plain parse with marked TSO fields must agree with the reviver that reads each number's
  // source text: on TiDB's own shapes, on integers beyond 2^53 elsewhere, and on strings that
  // look like members.
  const cases: [string, string][] = [
    ["a TableInfo", new TextDecoder().decode(toJson(usersTable(100)))],
    [
      "TSOs at every depth",
      '{"start_ts":0,"binlog":{"FinishedTS":434000000000000777,' +
      '"x":[{"real_start_ts":9007199254740993}]},"snapshot_ver" : 18446744073709551615 }',
    ],
    ["an unsafe integer in another field", '{"id":9007199254740993,"update_timestamp":5}'],
    ["strings that look like members", '{"comment":",\\"start_ts\\":123}","update_timestamp":12}'],
    ["strings holding NUL", '{"v":"\\u0000u64:7","w":"\\u0000u64:x","update_timestamp":12}'],
    ["a TSO written as a float", '{"update_timestamp":1.5e3,"n":[1,2.5,-3]}'],
  ];
  for (const [name, text] of cases) {
    test(`agrees with the source-reading parse: ${name}`, () => {
      const slow = JSON.parse(
        text,
        function (key, v, ctx?: { source?: string }) {
          if (typeof v !== "number") return v;
          if (
            ["update_timestamp", "snapshot_ver", "real_start_ts", "start_ts", "FinishedTS"]
              .includes(key)
          ) {
            return ctx?.source && /^-?\d+$/.test(ctx.source)
              ? BigInt(ctx.source)
              : BigInt(Math.trunc(v));
          }
          if (!Number.isSafeInteger(v) && Number.isInteger(v) && ctx?.source) {
            return BigInt(ctx.source);
          }
          return v;
        } as (k: string, v: unknown) => unknown,
      );
      assert.deepEqual(parseJson(text), slow);
    });
  }
  test("marked TSO strings stay strings where the input wrote strings", () => {
    const got = parseJson<Record<string, unknown>>('{"v":"\\u0000u64:7","start_ts":"8"}');
    assert.equal(got.v, "\u0000u64:7");
    assert.equal(got.start_ts, "8");
  });
});
