/**
 * The schema phase of a restore with many tables: tables created in batches over a pool of TiDB
 * sessions, as BR creates them (`--ddl-batch-size`, 128 tables a batch by default, batches on
 * several sessions at once), and the new IDs read back a batch at a time.
 *
 * BR hands a batch to TiDB's `BatchCreateTableWithInfo` (one DDL job for up to 128 tables); over
 * SQL there is no such statement, so a batch is one query of several statements (the batch's
 * `CREATE TABLE` and rebase statements, one round trip), then one information_schema query for
 * the new table IDs of the batch's tables and one status API request for their TableInfos
 * (`/schema?table_ids=`). A batch size of 0 or 1 is BR's serial way: one table at a time on one
 * session.
 * @module
 */
import { log } from "../log.ts";
import { Pool } from "../pool.ts";
import type { TableInfo } from "../tidb/model.ts";
import { createTableSql, rebaseSql, type SelectedTable, tableName } from "./plan.ts";
import { TidbClient, type TidbEndpoint, TidbError } from "./tidb.ts";

/** BR's default `--ddl-batch-size`. */
export const DEFAULT_DDL_BATCH_SIZE = 128;

/** Sessions creating tables at once (BR's `defaultDDLConcurrency`). */
export const DEFAULT_DDL_CONCURRENCY = 16;

/** How the tables of a restore are created. */
export interface CreateTablesOptions {
  endpoint: TidbEndpoint;
  /** Tables a batch (BR's `--ddl-batch-size`); 0 or 1: one at a time, on one session. */
  batchSize: number;
  /** Sessions working at once (default 16). */
  concurrency?: number;
  /** Create nothing: only rebase the existing tables and read them back (`--no-schema`). */
  noSchema?: boolean;
  signal?: AbortSignal;
}

/**
 * Creates `tables` (idempotently: `CREATE TABLE IF NOT EXISTS`), rebases their ID allocators,
 * and calls `onCreated` with each created TableInfo, batch by batch, in no set order. `tables`
 * may be a stream (`count` of them): batches are cut as it yields, so only the batches in flight
 * are held. Stops at the first failure, after the running batches settle.
 */
export async function createTables(
  tables: Iterable<SelectedTable> | AsyncIterable<SelectedTable>,
  count: number,
  o: CreateTablesOptions,
  onCreated: (sel: SelectedTable, info: TableInfo) => Promise<void> | void,
): Promise<void> {
  if (count === 0) return;
  const batchSize = Math.max(1, o.batchSize);
  const batchCount = Math.ceil(count / batchSize);
  const sessions = batchSize === 1
    ? 1
    : Math.min(batchCount, o.concurrency ?? DEFAULT_DDL_CONCURRENCY);
  log("restore").info("creating {n} tables in {b} batches on {s} TiDB sessions", {
    n: count,
    b: batchCount,
    s: sessions,
  });
  const started = performance.now();
  const idle: TidbClient[] = [];
  const open: TidbClient[] = [];
  const pool = new Pool({ concurrency: sessions, ...(o.signal ? { signal: o.signal } : {}) });
  try {
    await pool.forEach(_batches(tables, batchSize), async (batch) => {
      let s = idle.pop();
      if (!s) {
        s = await TidbClient.connect(o.endpoint, o.signal, { multipleStatements: true });
        open.push(s);
      }
      await _createBatch(s, batch, o.noSchema ?? false, onCreated);
      idle.push(s);
    });
    log("restore").info("created {n} tables in {secs} s", {
      n: count,
      secs: Math.round(performance.now() - started) / 1000,
    });
  } finally {
    await Promise.all(open.map((s) => s.close()));
  }
}

async function* _batches<T>(items: Iterable<T> | AsyncIterable<T>, size: number) {
  let batch: T[] = [];
  for await (const t of items) {
    batch.push(t);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** One batch: its statements in one query, then its new IDs and TableInfos read back. */
async function _createBatch(
  s: TidbClient,
  batch: SelectedTable[],
  noSchema: boolean,
  onCreated: (sel: SelectedTable, info: TableInfo) => Promise<void> | void,
): Promise<void> {
  const stmts = batch.flatMap((t) => [...(noSchema ? [] : [createTableSql(t)]), ...rebaseSql(t)]);
  if (stmts.length > 0) await s.exec(stmts.join(";\n"));
  const byDb = new Map<string, SelectedTable[]>();
  for (const t of batch) {
    const db = t.db.db_name.O;
    byDb.set(db, [...(byDb.get(db) ?? []), t]);
  }
  const ids = new Map<SelectedTable, number>();
  for (const [db, ts] of byDb) {
    const found = await s.tableIds(db, ts.map((t) => t.table.name.O));
    for (const t of ts) {
      const id = found.get(t.table.name.L || t.table.name.O.toLowerCase());
      if (id === undefined) {
        throw new TidbError(
          `TiDB at ${s.endpoint.host}:${s.endpoint.port} does not list the table ` +
            `${tableName(t)} in information_schema.tables after creating it`,
        );
      }
      ids.set(t, id);
    }
  }
  const infos = await s.tableInfosById([...ids.values()]);
  for (const t of batch) {
    const id = ids.get(t)!;
    // An older TiDB without `table_ids` (or a table renamed in between): one request a table.
    const info = infos?.get(id) ?? await s.tableInfo(t.db.db_name.O, t.table.name.O);
    await onCreated(t, info);
  }
}
