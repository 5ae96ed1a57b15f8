/**
 * What a restore will do, worked out before anything is written: the tables the backup holds
 * that the command selects (BR's `restore full|db|table` and `-f`), the SQL that creates them,
 * and the ranges, split keys and bytes to import. `--dry-run` prints this plan and stops.
 * @module
 */
import type { File } from "../gen/brpb_pb.ts";
import type { TableFilter } from "../filter/mod.ts";
import type { DBInfo, TableInfo } from "../tidb/model.ts";
import { showCreateDatabase, showCreateTable } from "../tidb/show_create.ts";
import type { MetaReader } from "../backup/metareader.ts";
import { decodeTableId } from "../tidb/tablecodec.ts";
import { predictedColumnIdChanges } from "./rewrite.ts";
import { formatBytes } from "../backup/progress.ts";
import { isSystemSchema, quoteIdent } from "./tidb.ts";

/** A table of the backup chosen for restore. */
export interface SelectedTable {
  db: DBInfo;
  /**
   * The backed-up TableInfo. A selection holds only its ID, name and partitions (`namesOnly`):
   * the schema phase reads each whole TableInfo again from the backup as it creates the table
   * (`wholeSchemas`), so 100k tables are never held whole at once.
   */
  table: TableInfo;
  /** Data files of the table and its partitions in the backup. */
  fileCount: number;
  /** The files themselves, where held: the dry run's plan, re-encoded copies, tests. */
  files?: File[];
  /** Creating it from SQL gives its columns other IDs (`predictedColumnIdChanges`). */
  renumbered?: boolean;
  crc64xor: bigint;
  totalKvs: bigint;
  totalBytes: bigint;
}

/** The selection: tables, and databases restored without tables. */
export interface Selection {
  tables: SelectedTable[];
  /** Selected databases, each once, in backup order (with or without tables). */
  databases: DBInfo[];
}

/** How much of each table `selectTables` keeps. */
export interface SelectOptions {
  /** Whole TableInfos and every file (the dry run prints them); default: names and counts. */
  whole?: boolean;
}

/**
 * Keeps the backup's tables the filter selects: one pass over the schemas, then one over the
 * data files counting each table's (BR's `ReadSchemasFiles` holds every file and TableInfo; this
 * holds a name, IDs and counts a table unless `whole`). System schemas (`mysql`, `sys`, memory
 * schemas) are left out: BR restores them only with `--with-sys-table`, which tibr has not.
 */
export async function selectTables(
  reader: MetaReader,
  filter: TableFilter,
  opts: SelectOptions = {},
): Promise<Selection> {
  const tables: SelectedTable[] = [];
  const dbs = new Map<string, DBInfo>();
  const byId = new Map<bigint, SelectedTable>();
  for await (const t of reader.schemas()) {
    const dbName = t.db.db_name.O;
    if (isSystemSchema(dbName)) continue;
    if (!t.table) {
      if (filter.matchSchema(dbName)) dbs.set(dbName.toLowerCase(), t.db);
      continue;
    }
    if (!filter.matchTable(dbName, t.table.name.O)) continue;
    // Every schema of the backup carries its database's DBInfo: one object per database is
    // kept, not one per table (100k tables, 100k copies).
    const db = dbs.get(dbName.toLowerCase()) ?? t.db;
    dbs.set(dbName.toLowerCase(), db);
    const sel: SelectedTable = {
      db,
      table: opts.whole ? t.table : namesOnly(t.table),
      fileCount: 0,
      ...(opts.whole ? { files: [] } : {}),
      renumbered: predictedColumnIdChanges(t.table).length > 0,
      crc64xor: t.crc64xor,
      totalKvs: t.totalKvs,
      totalBytes: t.totalBytes,
    };
    tables.push(sel);
    byId.set(BigInt(t.table.id), sel);
    for (const p of t.table.partition?.definitions ?? []) byId.set(BigInt(p.id), sel);
  }
  if (byId.size > 0) {
    for await (const f of reader.dataFiles()) {
      const id = decodeTableId(f.startKey);
      const sel = id === undefined ? undefined : byId.get(id);
      if (!sel) continue;
      sel.fileCount++;
      sel.files?.push(f);
    }
  }
  return { tables, databases: [...dbs.values()] };
}

/**
 * A TableInfo cut down to what the phases after its creation read: ID, name and partitions
 * (the streamed import picks a table's files by physical ID; statistics map partitions by name).
 */
export function namesOnly(t: TableInfo): TableInfo {
  const p = t.partition;
  const parts = p?.definitions.map((d) => ({ id: d.id, name: d.name }));
  return {
    id: t.id,
    name: t.name,
    ...(p && parts ? { partition: { enable: p.enable, definitions: parts } } : {}),
  } as TableInfo;
}

/**
 * Yields each selected table with its whole TableInfo read again from the backup (one pass over
 * the schemas), in backup order. The caller cuts it back (`namesOnly`) once it is done with it.
 */
export async function* wholeSchemas(
  reader: MetaReader,
  tables: readonly SelectedTable[],
): AsyncGenerator<SelectedTable> {
  const byId = new Map<number, SelectedTable>();
  for (const t of tables) byId.set(t.table.id, t);
  for await (const s of reader.schemas()) {
    const sel = s.table ? byId.get(s.table.id) : undefined;
    if (!sel) continue;
    sel.table = s.table!;
    yield sel;
  }
}

/** Reads the files of `tables` from the backup (for the few tables that need them held). */
export async function collectFiles(
  reader: MetaReader,
  tables: readonly SelectedTable[],
): Promise<void> {
  const byId = new Map<bigint, SelectedTable>();
  for (const t of tables) {
    t.files = [];
    byId.set(BigInt(t.table.id), t);
    for (const p of t.table.partition?.definitions ?? []) byId.set(BigInt(p.id), t);
  }
  if (byId.size === 0) return;
  for await (const f of reader.dataFiles()) {
    const id = decodeTableId(f.startKey);
    const t = id === undefined ? undefined : byId.get(id);
    t?.files?.push(f);
  }
}

/** `db`.`table`, as messages name tables. */
export function tableName(t: { db: DBInfo; table: TableInfo }): string {
  return `${t.db.db_name.O}.${t.table.name.O}`;
}

/** The statement that creates a database (if missing). */
export function createDatabaseSql(db: DBInfo): string {
  return showCreateDatabase(db, { ifNotExists: true });
}

/** The statement that creates a table (if missing), from the backup's TableInfo. */
export function createTableSql(t: SelectedTable): string {
  const ddl = showCreateTable(t.table, { dbName: t.db.db_name.O });
  // SHOW CREATE TABLE starts with "CREATE TABLE `name`"; qualify it and make it idempotent.
  const head = /^CREATE TABLE /;
  if (!head.test(ddl)) throw new Error(`unexpected DDL for ${tableName(t)}: ${ddl.slice(0, 40)}`);
  return ddl.replace(head, `CREATE TABLE IF NOT EXISTS ${quoteIdent(t.db.db_name.O)}.`);
}

/**
 * The statements that move the new table's ID allocators past the restored rows (BR's rebase of
 * AUTO_INCREMENT and AUTO_RANDOM). A backup's `auto_inc_id` and `auto_rand_id` already hold the
 * next ID (the allocator's base plus one, as BR's backup writes them), so they are used as they are.
 */
export function rebaseSql(t: SelectedTable): string[] {
  const name = `${quoteIdent(t.db.db_name.O)}.${quoteIdent(t.table.name.O)}`;
  const out: string[] = [];
  if (t.table.auto_inc_id > 0) {
    out.push(`ALTER TABLE ${name} AUTO_INCREMENT = ${BigInt(t.table.auto_inc_id)}`);
  }
  if (t.table.auto_random_bits > 0 && t.table.auto_rand_id > 0) {
    out.push(`ALTER TABLE ${name} AUTO_RANDOM_BASE = ${BigInt(t.table.auto_rand_id)}`);
  }
  return out;
}

/** Files, KV bytes, KVs and stored size of a table's backup. */
export function tableTotals(
  t: SelectedTable,
): { files: number; bytes: bigint; kvs: bigint; size: bigint } {
  let bytes = 0n, kvs = 0n, size = 0n;
  for (const f of t.files ?? []) {
    size += f.size;
    bytes += f.totalBytes;
    kvs += f.totalKvs;
  }
  return { files: t.fileCount, bytes, kvs, size };
}

/** What `--dry-run` prints. */
export interface DryRunPlan {
  tables: {
    name: string;
    files: number;
    kvs: string;
    bytes: string;
    sql: string[];
    /** Column ID changes creating the table from SQL gives: its rows will be re-encoded. */
    reencode?: string;
  }[];
  databases: string[];
  notFresh: string;
  ranges: number;
  splitKeys: number;
  expectedRegions: number;
  stores: number;
  bytesPerStore: string;
  /** An incremental backup's DDL jobs, replayed in this order before its files. */
  ddlJobs?: string[];
}

/** The dry-run plan as text. */
export function dryRunText(p: DryRunPlan): string {
  const lines: string[] = ["Restore plan (dry run: nothing is written):"];
  lines.push(`  not-fresh check: ${p.notFresh}`);
  for (const db of p.databases) lines.push(`  database ${db}`);
  for (const q of p.ddlJobs ?? []) lines.push(`  replay DDL: ${q};`);
  for (const t of p.tables) {
    lines.push(
      `  table ${t.name}: ${t.files} files, ${t.kvs} kvs, ${formatBytes(BigInt(t.bytes))}`,
    );
    if (t.reencode) lines.push(`    re-encoded (column IDs ${t.reencode})`);
    for (const s of t.sql) lines.push(`    ${s.replace(/\n/g, "\n    ")};`);
  }
  lines.push(
    `  ranges ${p.ranges}, split keys ${p.splitKeys}, expected new regions ${p.expectedRegions}`,
  );
  lines.push(`  stores ${p.stores}, about ${formatBytes(BigInt(p.bytesPerStore))} per store`);
  return lines.join("\n") + "\n";
}
