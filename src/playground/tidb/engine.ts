/**
 * The storage side of the playground's TiDB: schema read from TiDB's meta in the playground's
 * MVCC engine, DDL jobs written as TiDB's DDL owner writes them (ids from the global id
 * allocator `NextGlobalID`, a schema version bump, a SchemaDiff and the finished job in the
 * DDL history, all in one committed transaction), auto-id allocators kept in meta as TiDB keeps
 * them (`TID`, `IID`, `TARID`, batches of 30000), and rows written and read in TiDB's record and
 * index encoding. Everything runs synchronously on the JS thread, so a DDL job or a statement's
 * transaction never interleaves with another.
 * @module
 */
import { prefixNext } from "../../codec/bytes.ts";
import { collationKey, type Datum } from "../../tidb/datum.ts";
import {
  autoIncrementIdKey,
  autoRandomIdKey,
  autoTableIdKey,
  dbKey,
  decodeHashDataKey,
  hashDataKey,
  hashDataPrefix,
  MetaKey,
  MetaWriter,
  stringDataKey,
} from "../../tidb/meta.ts";
import {
  ActionType,
  type ColumnInfo,
  type DBInfo,
  type IndexInfo,
  newDatabase,
  newJob,
  parseJson,
  physicalTableIds,
  type TableInfo,
} from "../../tidb/model.ts";
import { decodeRow } from "../../tidb/rowcodec.ts";
import { encodeTableRow } from "../../tidb/table.ts";
import {
  commonHandle,
  decodeRecordKey,
  encodeIndexKey,
  encodeIndexValue,
  encodeRecordKey,
  type Handle,
  indexRange,
  recordRange,
  tableRange,
} from "../../tidb/tablecodec.ts";
import {
  ColumnFlag,
  DEFAULT_CHARSET,
  DEFAULT_COLLATION,
  PartitionType,
  SchemaState,
} from "../../tidb/types.ts";
import type { Cluster } from "../cluster.ts";
import type { Mutation } from "../mvcc.ts";
import {
  datumToText,
  datumValue,
  decodeColumn,
  defaultDatum,
  evalExpr,
  toDatum,
  type Value,
} from "./values.ts";
import { parse } from "./parser.ts";
import { SqlError } from "./errors.ts";
import { analyzeRows, GLOBAL_STATS, type JsonTable, StatsStore } from "./stats.ts";

/** Extra action types beyond model.ts's list (`model.ActionType`). */
export const MoreActions = {
  RebaseAutoID: 13,
  ModifyTableAutoIDCache: 39,
  RebaseAutoRandomBase: 40,
} as const;

/** TiDB's auto-id batch (`autoid.step`). */
export const AUTO_ID_STEP = 30000n;

/** TiDB's bootstrap version this playground claims (`currentBootstrapVersion` of v8.5). */
export const BOOTSTRAP_VERSION = 218;

/** A database and its tables as read from meta. */
export interface SchemaDb {
  info: DBInfo;
  tables: TableInfo[];
}

/** The schema at one version. */
export interface InfoSchema {
  version: number;
  dbs: SchemaDb[];
}

/** One KV pair of a row: the record (no `index`) or an index entry. */
export interface RowKv {
  key: Uint8Array;
  value: Uint8Array;
  index?: IndexInfo;
  /** A unique index entry without NULLs: its key must not exist yet. */
  distinct?: boolean;
}

/** A stored row: its handle, its physical table and its datums by column offset. */
export interface StoredRow {
  physicalId: number;
  handle: Handle;
  datums: Datum[];
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

function toMutation(m: { key: Uint8Array; value: Uint8Array | null }): Mutation {
  return m.value === null
    ? { op: "delete", key: m.key }
    : { op: "put", key: m.key, value: m.value };
}

function keyStr(k: Uint8Array): string {
  let s = "";
  for (let i = 0; i < k.length; i++) s += String.fromCharCode(k[i]!);
  return s;
}

const WRITABLE: ReadonlySet<number> = new Set([
  SchemaState.WriteOnly,
  SchemaState.WriteReorganization,
  SchemaState.Public,
]);

/** The first byte of every meta key (`m`). */
const META_PREFIX = 0x6d;

/** Lookups over one cached schema, kept in step with it. */
interface _SchemaIndex {
  dbById: Map<number, SchemaDb>;
  dbByName: Map<string, SchemaDb>;
  tableByName: Map<SchemaDb, Map<string, TableInfo>>;
  tableById: Map<number, { db: SchemaDb; table: TableInfo }>;
}

function _indexSchema(dbs: SchemaDb[]): _SchemaIndex {
  const index: _SchemaIndex = {
    dbById: new Map(),
    dbByName: new Map(),
    tableByName: new Map(),
    tableById: new Map(),
  };
  for (const d of dbs) {
    index.dbById.set(d.info.id, d);
    // The first of equal names wins, as a linear search found it.
    if (!index.dbByName.has(d.info.db_name.L)) index.dbByName.set(d.info.db_name.L, d);
    const byName = new Map<string, TableInfo>();
    for (const t of d.tables) {
      if (!byName.has(t.name.L)) byName.set(t.name.L, t);
      index.tableById.set(t.id, { db: d, table: t });
    }
    index.tableByName.set(d, byName);
  }
  return index;
}

/**
 * `list` with `old` replaced by `item` (either may be absent), in the order a reload gives: meta
 * hash fields in byte order of their names (`Table:100` before `Table:99`).
 */
function _replaceSorted<T>(
  list: T[],
  old: T | undefined,
  item: T | undefined,
  field: (x: T) => string,
): T[] {
  const out = old === undefined ? list.slice() : list.filter((x) => x !== old);
  if (item === undefined) return out;
  const f = field(item);
  let lo = 0;
  let hi = out.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (field(out[mid]!) < f) lo = mid + 1;
    else hi = mid;
  }
  out.splice(lo, 0, item);
  return out;
}

interface IdCache {
  next: bigint;
  end: bigint;
}

/** TiDB's storage and DDL over a playground cluster. */
export class TidbEngine {
  #cache: InfoSchema | undefined;
  #index: _SchemaIndex | undefined;
  #ids = new Map<string, IdCache>();

  /** Table statistics (ANALYZE, LOAD STATS, `/stats/dump`); kept in memory. */
  readonly stats = new StatsStore();

  /** Works on `cluster`'s MVCC engine. */
  constructor(readonly cluster: Cluster) {}

  /** Tables analyzed as of a load (table ID -> ts), computed when first needed. */
  readonly #pendingAnalyze = new Map<number, bigint>();

  /**
   * Every user table gets the statistics of its rows as of now, as if analyzed after a load.
   * They are computed when first read (dump, DML), from the rows at this ts, so starting a
   * playground over a large data set does not wait for them.
   */
  analyzeAllAtLoad(): number {
    const ts = this.cluster.ts();
    let n = 0;
    for (const db of this.schema().dbs) {
      if (db.info.db_name.L === "mysql") continue;
      for (const t of db.tables) {
        this.#pendingAnalyze.set(t.id, ts);
        n++;
      }
    }
    return n;
  }

  /** Computes a table's pending load-time statistics, if any. */
  settleStats(table: TableInfo): void {
    const ts = this.#pendingAnalyze.get(table.id);
    if (ts === undefined) return;
    this.#pendingAnalyze.delete(table.id);
    this.analyze(table, ts);
  }

  /** `/stats/dump/{db}/{table}`: the table's statistics as TiDB dumps them. */
  dumpStats(db: SchemaDb, table: TableInfo): JsonTable {
    this.settleStats(table);
    return this.stats.dump(db.info.db_name.O, table);
  }

  /** ANALYZE TABLE: statistics of every partition and of the table from its rows at `ts`. */
  analyze(table: TableInfo, ts = this.cluster.ts()): void {
    this.#pendingAnalyze.delete(table.id);
    const version = ts;
    const rows = this.scanRows(table, 0, ts);
    for (const r of rows) this.fillVirtual(table, r.datums);
    for (const d of table.partition?.definitions ?? []) {
      const part = rows.filter((r) => r.physicalId === d.id);
      this.stats.set(d.id, analyzeRows(table, part, version), false);
    }
    this.stats.set(table.id, analyzeRows(table, rows, version), true);
  }

  /**
   * LOAD STATS: the statistics of a JSONTable for the table its `database_name` and
   * `table_name` name, by partition name (and `global`) for a partitioned one; columns and
   * indexes are matched by name, the ones the table lacks are left out (as TiDB does).
   */
  loadStats(json: JsonTable): void {
    const hit = this.table(json.database_name ?? "", json.table_name ?? "");
    if (!hit) {
      throw new SqlError(
        1146,
        "42S02",
        `Table '${json.database_name}.${json.table_name}' doesn't exist`,
      );
    }
    const table = hit.table;
    this.#pendingAnalyze.delete(table.id);
    const version = this.cluster.ts();
    const fit = (j: JsonTable): JsonTable => {
      const pick = (m: Record<string, unknown> | null | undefined, names: Set<string>) =>
        Object.fromEntries(
          Object.entries(m ?? {}).filter(([k]) => names.has(k)).map(([k, v]) => [k, {
            ...(v as object),
            last_update_version: version,
          }]),
        );
      return {
        ...j,
        database_name: "",
        table_name: "",
        columns: pick(j.columns, new Set(table.cols.map((c) => c.name.O))) as JsonTable["columns"],
        indices: pick(
          j.indices,
          new Set((table.index_info ?? []).map((i) => i.idx_name.O)),
        ) as JsonTable["indices"],
        partitions: null,
        version,
      };
    };
    const defs = table.partition?.definitions ?? [];
    if (defs.length === 0) {
      this.stats.set(table.id, fit(json), true);
      return;
    }
    for (const [name, part] of Object.entries(json.partitions ?? {})) {
      if (name === GLOBAL_STATS) {
        this.stats.set(table.id, fit(part), true);
        continue;
      }
      const d = defs.find((x) => x.name.L === name.toLowerCase());
      if (d) this.stats.set(d.id, fit(part), false);
    }
  }

  // ---- meta reads (synchronous, at a fresh ts) ----

  #get(key: Uint8Array): Uint8Array | null {
    const r = this.cluster.mvcc.get(key, this.cluster.ts());
    if (r.error) throw new SqlError(9007, "HY000", "Write conflict: a lock blocks reading meta");
    return r.value;
  }

  #scan(start: Uint8Array, end: Uint8Array): { key: Uint8Array; value: Uint8Array }[] {
    const pairs = this.cluster.mvcc.scan(start, end, this.cluster.ts(), 0);
    if (pairs.some((p) => p.error)) {
      throw new SqlError(9007, "HY000", "Write conflict: a lock blocks the scan");
    }
    return pairs.map((p) => ({ key: p.key, value: p.value }));
  }

  #int(key: Uint8Array): bigint {
    const v = this.#get(key);
    return v === null || v.length === 0 ? 0n : BigInt(text.decode(v));
  }

  /** The schema version in meta. */
  schemaVersion(): number {
    return Number(this.#int(stringDataKey(MetaKey.SchemaVersion)));
  }

  /** The schema now (re-read when the version in meta moved). */
  schema(): InfoSchema {
    const version = this.schemaVersion();
    if (this.#cache?.version === version && version > 0) return this.#cache;
    const dbs: SchemaDb[] = [];
    const prefix = hashDataPrefix(MetaKey.DBs);
    for (const p of this.#scan(prefix, prefixNext(prefix))) {
      const info = parseJson<DBInfo>(p.value);
      const tables: TableInfo[] = [];
      const tp = hashDataPrefix(dbKey(info.id));
      for (const t of this.#scan(tp, prefixNext(tp))) {
        const field = text.decode(decodeHashDataKey(t.key).field);
        if (field.startsWith("Table:")) tables.push(parseJson<TableInfo>(t.value));
      }
      dbs.push({ info, tables });
    }
    this.#cache = { version, dbs };
    this.#index = _indexSchema(dbs);
    return this.#cache;
  }

  /**
   * Moves the cached schema from `version - 1` to `version` by the meta mutations of one DDL job,
   * as TiDB's domain applies a SchemaDiff instead of reloading every table: a DDL costs the size
   * of its change, not of the schema. Without a cache at `version - 1` the next read reloads.
   */
  #applyDiff(version: number, mutations: { key: Uint8Array; value: Uint8Array | null }[]): void {
    const cache = this.#cache;
    const index = this.#index;
    this.#cache = undefined;
    if (!cache || !index || cache.version !== version - 1) return;
    const dbsKey = keyStr(utf8.encode(MetaKey.DBs));
    let dbs = cache.dbs;
    for (const m of mutations) {
      if (m.key[0] !== META_PREFIX) continue;
      let hash: { key: Uint8Array; field: Uint8Array };
      try {
        hash = decodeHashDataKey(m.key);
      } catch {
        continue; // string and list keys (version, global id, diffs) hold no schema
      }
      const key = keyStr(hash.key);
      const field = text.decode(hash.field);
      if (key === dbsKey && field.startsWith("DB:")) {
        const id = Number(field.slice(3));
        const old = index.dbById.get(id);
        const byName = old ? index.tableByName.get(old)! : new Map<string, TableInfo>();
        if (old) {
          index.dbById.delete(id);
          if (index.dbByName.get(old.info.db_name.L) === old) {
            index.dbByName.delete(old.info.db_name.L);
          }
          index.tableByName.delete(old);
          for (const t of old.tables) index.tableById.delete(t.id);
        }
        const d: SchemaDb | undefined = m.value === null
          ? undefined
          : { info: parseJson<DBInfo>(m.value), tables: old?.tables ?? [] };
        dbs = _replaceSorted(dbs, old, d, (x) => `DB:${x.info.id}`);
        if (d) {
          index.dbById.set(id, d);
          if (!index.dbByName.has(d.info.db_name.L)) index.dbByName.set(d.info.db_name.L, d);
          index.tableByName.set(d, byName);
          for (const t of d.tables) index.tableById.set(t.id, { db: d, table: t });
        }
        continue;
      }
      if (!key.startsWith("DB:") || !field.startsWith("Table:")) continue;
      const d = index.dbById.get(Number(key.slice(3)));
      if (!d) continue; // its database is gone in the same job
      const id = Number(field.slice(6));
      const byName = index.tableByName.get(d)!;
      // A table moved to another database is deleted from one and put in the other.
      const prev = index.tableById.get(id);
      const old = prev?.db === d ? prev.table : d.tables.find((x) => x.id === id);
      if (old) {
        if (prev?.db === d) index.tableById.delete(id);
        if (byName.get(old.name.L) === old) byName.delete(old.name.L);
      }
      const t = m.value === null ? undefined : parseJson<TableInfo>(m.value);
      // A new array, never an edit of the old one: a caller may be iterating it.
      d.tables = _replaceSorted(d.tables, old, t, (x) => `Table:${x.id}`);
      if (t) {
        index.tableById.set(id, { db: d, table: t });
        if (!byName.has(t.name.L)) byName.set(t.name.L, t);
      }
    }
    this.#cache = { version, dbs };
  }

  /** A database by name (case-insensitive). */
  db(name: string): SchemaDb | undefined {
    this.schema();
    return this.#index!.dbByName.get(name.toLowerCase());
  }

  /** A table by names (case-insensitive). */
  table(db: string, name: string): { db: SchemaDb; table: TableInfo } | undefined {
    const d = this.db(db);
    const t = d ? this.#index!.tableByName.get(d)!.get(name.toLowerCase()) : undefined;
    return d && t ? { db: d, table: t } : undefined;
  }

  /** A table by its id (not a partition's), as TiDB's `/schema?table_id=` finds it. */
  tableById(id: number): { db: SchemaDb; table: TableInfo } | undefined {
    this.schema();
    return this.#index!.tableById.get(id);
  }

  /**
   * TiDB's bootstrap of a fresh store: the `mysql` and `test` databases created by DDL jobs,
   * then `BootstrapKey`. Skipped when meta already has a schema (a sample or a saved cluster).
   */
  bootstrapIfEmpty(): boolean {
    if (this.#get(stringDataKey(MetaKey.BootstrapKey)) !== null) return false;
    if (this.schemaVersion() > 0 || this.schema().dbs.length > 0) return false;
    for (const name of ["mysql", "test"]) {
      this.createDatabase(
        name,
        DEFAULT_CHARSET,
        DEFAULT_COLLATION,
        `CREATE DATABASE IF NOT EXISTS ${name}`,
      );
    }
    this.cluster.runTxn([{
      op: "put",
      key: stringDataKey(MetaKey.BootstrapKey),
      value: utf8.encode(String(BOOTSTRAP_VERSION)),
    }]);
    return true;
  }

  // ---- DDL ----

  /**
   * Runs one DDL job: `build` gets an id allocator (the job id is taken after it, as TiDB
   * assigns table ids before it queues the job) and adds its meta and data mutations.
   */
  #job(
    o: {
      type: number;
      db: DBInfo;
      query: string;
      oldTableId?: number;
    },
    build: (genId: () => number, w: MetaWriter, data: Mutation[]) => TableInfo | undefined,
  ): TableInfo | undefined {
    let globalId = Number(this.#int(stringDataKey(MetaKey.NextGlobalID)));
    const genId = () => ++globalId;
    const w = new MetaWriter();
    const data: Mutation[] = [];
    const table = build(genId, w, data);
    const jobId = genId();
    const version = this.schemaVersion() + 1;
    const startTs = this.cluster.ts();
    if (table) table.update_timestamp = startTs;
    // CREATE / TRUNCATE wrote the TableInfo themselves; DROP removed it.
    const written: number[] = [
      ActionType.DropTable,
      ActionType.CreateTable,
      ActionType.TruncateTable,
    ];
    if (table && !written.includes(o.type)) w.updateTable(o.db.id, table);
    w.addHistoryJob(newJob({
      id: jobId,
      type: o.type,
      schemaId: o.db.id,
      tableId: table?.id,
      schemaName: o.db.db_name.O,
      tableName: table?.name.O,
      query: o.query,
      schemaVersion: version,
      startTs,
      finishedTs: this.cluster.ts(),
      db: table ? undefined : o.db,
      table,
    }));
    w.setSchemaDiff({
      version,
      type: o.type,
      schema_id: o.db.id,
      table_id: table?.id ?? 0,
      old_table_id: o.oldTableId ?? 0,
      old_schema_id: 0,
      regenerate_schema_map: false,
      affected_options: null,
    });
    w.setSchemaVersion(version).setGlobalId(globalId);
    this.cluster.runTxn([...w.mutations.map(toMutation), ...data]);
    this.#applyDiff(version, w.mutations);
    return table;
  }

  /** CREATE DATABASE. */
  createDatabase(name: string, charset: string, collate: string, query: string): DBInfo {
    let db: DBInfo | undefined;
    const placeholder = newDatabase(0, name);
    this.#job({ type: ActionType.CreateSchema, db: placeholder, query }, (genId, w) => {
      db = newDatabase(genId(), name);
      db.charset = charset;
      db.collate = collate;
      Object.assign(placeholder, db);
      w.createDatabase(db);
      return undefined;
    });
    return db!;
  }

  /** DROP DATABASE: the database, its tables and their data. */
  dropDatabase(db: SchemaDb, query: string): void {
    this.#job({ type: ActionType.DropSchema, db: db.info, query }, (_g, w, data) => {
      w.mutations.push({ key: hashDataKey(MetaKey.DBs, dbKey(db.info.id)), value: null });
      const hp = hashDataPrefix(dbKey(db.info.id));
      for (const p of this.#scan(hp, prefixNext(hp))) w.mutations.push({ key: p.key, value: null });
      for (const t of db.tables) data.push(...this.#deleteData(t));
      for (const t of db.tables) {
        this.stats.drop(t);
        this.#pendingAnalyze.delete(t.id);
      }
      return undefined;
    });
  }

  /** CREATE TABLE of a built TableInfo (ids from `build`'s allocator). */
  createTable(db: DBInfo, build: (genId: () => number) => TableInfo, query: string): TableInfo {
    return this.#job({ type: ActionType.CreateTable, db, query }, (genId, w) => {
      const t = build(genId);
      w.createTable(db.id, t, {
        rowId: t.auto_inc_id > 1 && t.auto_id_cache !== 1 ? t.auto_inc_id - 1 : 0,
        ...(t.auto_id_cache === 1 ? { incrementId: Math.max(0, t.auto_inc_id - 1) } : {}),
        ...(t.auto_random_bits > 0 ? { randomId: Math.max(0, t.auto_rand_id - 1) } : {}),
      });
      return t;
    })!;
  }

  /** DROP TABLE: meta entry and data (TiDB's delete-range, done at once). */
  dropTable(db: DBInfo, table: TableInfo, query: string): void {
    this.#job({ type: ActionType.DropTable, db, query }, (_g, w, data) => {
      w.dropTable(db.id, table.id);
      data.push(...this.#deleteData(table));
      this.stats.drop(table);
      this.#pendingAnalyze.delete(table.id);
      return table;
    });
  }

  /** TRUNCATE TABLE: a new table id (and partition ids), the old data removed. */
  truncateTable(db: DBInfo, table: TableInfo, query: string): TableInfo {
    return this.#job(
      { type: ActionType.TruncateTable, db, query, oldTableId: table.id },
      (genId, w, data) => {
        data.push(...this.#deleteData(table));
        this.stats.drop(table);
        this.#pendingAnalyze.delete(table.id);
        w.dropTable(db.id, table.id);
        const t: TableInfo = structuredClone(table);
        t.id = genId();
        if (t.partition) { for (const d of t.partition.definitions) d.id = genId(); }
        w.createTable(db.id, t, {
          rowId: 0,
          ...(t.auto_random_bits > 0 ? { randomId: 0 } : {}),
        });
        return t;
      },
    )!;
  }

  /** A schema change of one table (ALTER TABLE); `change` edits a copy and adds data mutations. */
  alterTable(
    db: DBInfo,
    table: TableInfo,
    type: number,
    query: string,
    change: (t: TableInfo, data: Mutation[], w: MetaWriter) => void,
  ): TableInfo {
    return this.#job({ type, db, query }, (_g, w, data) => {
      const t: TableInfo = structuredClone(table);
      change(t, data, w);
      return t;
    })!;
  }

  #deleteData(table: TableInfo): Mutation[] {
    const out: Mutation[] = [];
    for (const id of physicalTableIds(table)) {
      const r = tableRange(BigInt(id));
      for (
        const p of this.cluster.mvcc.scan(r.start, r.end, this.cluster.ts(), 0, { keyOnly: true })
      ) {
        out.push({ op: "delete", key: p.key });
      }
    }
    return out;
  }

  // ---- auto ids ----

  /** The stored base of an allocator (`TID`, `IID` or `TARID`). */
  autoIdBase(dbId: number, tableId: number, kind: "row" | "inc" | "random"): bigint {
    const field = kind === "row"
      ? autoTableIdKey(tableId)
      : kind === "inc"
      ? autoIncrementIdKey(tableId)
      : autoRandomIdKey(tableId);
    return this.#int(hashDataKey(dbKey(dbId), field));
  }

  #allocKind(t: TableInfo, kind: "row" | "inc" | "random"): "row" | "inc" | "random" {
    // Without AUTO_ID_CACHE 1, AUTO_INCREMENT shares the row-id allocator (TiDB's default).
    return kind === "inc" && t.auto_id_cache !== 1 ? "row" : kind;
  }

  /** The next id of an allocator; takes a batch (`AUTO_ID_STEP`, or 1 with AUTO_ID_CACHE 1). */
  allocId(dbId: number, t: TableInfo, kind: "row" | "inc" | "random"): bigint {
    const k = this.#allocKind(t, kind);
    const cacheKey = `${t.id}:${k}`;
    let c = this.#ids.get(cacheKey);
    if (!c || c.next > c.end) {
      const base = this.autoIdBase(dbId, t.id, k);
      const step = t.auto_id_cache > 0 ? BigInt(t.auto_id_cache) : AUTO_ID_STEP;
      const end = base + step;
      this.#setBase(dbId, t.id, k, end);
      c = { next: base + 1n, end };
      this.#ids.set(cacheKey, c);
    }
    return c.next++;
  }

  /** Moves an allocator past `value` (an explicit id), as TiDB's Rebase does. */
  rebase(dbId: number, t: TableInfo, kind: "row" | "inc" | "random", value: bigint): void {
    const k = this.#allocKind(t, kind);
    const cacheKey = `${t.id}:${k}`;
    const c = this.#ids.get(cacheKey);
    if (c && value < c.next) return;
    if (c && value <= c.end) {
      c.next = value + 1n;
      return;
    }
    const base = this.autoIdBase(dbId, t.id, k);
    if (value <= base) return;
    const step = t.auto_id_cache > 0 ? BigInt(t.auto_id_cache) : AUTO_ID_STEP;
    this.#setBase(dbId, t.id, k, value + step);
    this.#ids.set(cacheKey, { next: value + 1n, end: value + step });
  }

  /** Sets an allocator's stored base (ALTER TABLE ... AUTO_INCREMENT / AUTO_RANDOM_BASE). */
  forceBase(
    w: MetaWriter,
    dbId: number,
    t: TableInfo,
    kind: "row" | "inc" | "random",
    base: bigint,
  ): void {
    const k = this.#allocKind(t, kind);
    const field = k === "row"
      ? autoTableIdKey(t.id)
      : k === "inc"
      ? autoIncrementIdKey(t.id)
      : autoRandomIdKey(t.id);
    w.mutations.push({ key: hashDataKey(dbKey(dbId), field), value: utf8.encode(String(base)) });
    this.#ids.delete(`${t.id}:${k}`);
  }

  #setBase(dbId: number, tableId: number, kind: "row" | "inc" | "random", v: bigint): void {
    const field = kind === "row"
      ? autoTableIdKey(tableId)
      : kind === "inc"
      ? autoIncrementIdKey(tableId)
      : autoRandomIdKey(tableId);
    this.cluster.runTxn([{
      op: "put",
      key: hashDataKey(dbKey(dbId), field),
      value: utf8.encode(String(v)),
    }]);
  }

  // ---- rows ----

  /** Every row of a table at a fresh ts, in key order per partition. */
  scanRows(table: TableInfo, max = 0, ts = this.cluster.ts()): StoredRow[] {
    const out: StoredRow[] = [];
    const now = new Date();
    for (const pid of physicalTableIds(table)) {
      if (max > 0 && out.length >= max) break;
      const r = recordRange(BigInt(pid));
      const pairs = this.cluster.mvcc.scan(
        r.start,
        r.end,
        ts,
        max > 0 ? max - out.length : 0,
      );
      if (pairs.some((p) => p.error)) {
        throw new SqlError(9007, "HY000", "Write conflict: a lock blocks the scan");
      }
      for (const p of pairs) {
        out.push({
          physicalId: pid,
          handle: table.is_common_handle ? p.key.slice(11) : decodeRecordKey(p.key).handle,
          datums: this.decodeRecord(table, p.key, p.value, now),
        });
      }
    }
    return out;
  }

  /** The datums of a record by column offset: old rows read a newer column's origin default. */
  decodeRecord(table: TableInfo, key: Uint8Array, value: Uint8Array, now: Date): Datum[] {
    const row = decodeRow(value);
    return table.cols.map((c) => {
      if (table.pk_is_handle && (c.type.Flag & ColumnFlag.PriKey)) {
        const h = decodeRecordKey(key).handle;
        return (c.type.Flag & ColumnFlag.Unsigned)
          ? { kind: "uint", value: BigInt.asUintN(64, h) }
          : { kind: "int", value: h };
      }
      if (c.generated_expr_string !== "" && !c.generated_stored) return { kind: "null" };
      if (row.has(c.id)) return decodeColumn(c, row.get(c.id)!);
      return defaultDatum(c, c.origin_default, now);
    });
  }

  /** Fills virtual generated columns of a decoded row. */
  fillVirtual(table: TableInfo, datums: Datum[]): void {
    for (const c of table.cols) {
      if (c.generated_expr_string === "" || c.generated_stored) continue;
      datums[c.offset] = this.evalGenerated(table, c, datums);
    }
  }

  /** The value of a generated column over a row. */
  evalGenerated(table: TableInfo, col: ColumnInfo, datums: Datum[]): Datum {
    const stmt = parse(`SELECT ${col.generated_expr_string}`)[0]!;
    if (stmt.k !== "select" || !stmt.fields[0]?.expr) {
      throw new SqlError(1105, "HY000", "bad generated column");
    }
    const v = evalExpr(stmt.fields[0].expr, (name) => {
      const c = table.cols.find((x) => x.name.L === name);
      if (!c) throw new SqlError(1054, "42S22", `Unknown column '${name}'`);
      return datumValue(c, datums[c.offset]!);
    });
    return valueDatum(col, v);
  }

  /** The handle of a row (int pk, common handle, or the given row id). */
  handleOf(table: TableInfo, datums: Datum[], rowId?: bigint): Handle {
    if (table.pk_is_handle) {
      const c = table.cols.find((x) => x.type.Flag & ColumnFlag.PriKey)!;
      const d = datums[c.offset]!;
      if (d.kind !== "int" && d.kind !== "uint") {
        throw new SqlError(1105, "HY000", "handle is not an integer");
      }
      return d.kind === "uint" ? BigInt.asIntN(64, d.value) : d.value;
    }
    if (table.is_common_handle) {
      const pk = (table.index_info ?? []).find((i) => i.is_primary)!;
      try {
        return commonHandle(
          pk.idx_cols.map((ic) =>
            indexDatum(table.cols[ic.offset]!, datums[ic.offset]!, ic.length)
          ),
        );
      } catch (err) {
        throw new SqlError(
          1235,
          "42000",
          `This version of TiDB doesn't yet support 'clustered key: ${(err as Error).message}'`,
        );
      }
    }
    if (rowId === undefined) throw new SqlError(1105, "HY000", "row id missing");
    return rowId;
  }

  /** The partition (physical table id) a row goes to. */
  partitionOf(table: TableInfo, datums: Datum[]): number {
    const pi = table.partition;
    if (!pi?.enable) return table.id;
    const scope = (name: string): Value => {
      const c = table.cols.find((x) => x.name.L === name);
      if (!c) throw new SqlError(1054, "42S22", `Unknown column '${name}'`);
      return datumValue(c, datums[c.offset]!);
    };
    const cols = pi.columns?.map((c) => scope(c.L));
    const exprValue = (): Value => {
      const s = parse(`SELECT ${pi.expr}`)[0]!;
      if (s.k !== "select" || !s.fields[0]?.expr) {
        throw new SqlError(1105, "HY000", "bad partition expression");
      }
      return evalExpr(s.fields[0].expr, scope);
    };
    const literal = (t: string): Value => {
      const s = parse(`SELECT ${t}`)[0]!;
      return s.k === "select" && s.fields[0]?.expr ? evalExpr(s.fields[0].expr) : null;
    };
    const cmp = (a: Value, b: Value): number => {
      if (a === null) return b === null ? 0 : -1;
      if (b === null) return 1;
      const lt = evalExpr({ k: "binary", op: "<", l: lit(a), r: lit(b) });
      const eq = evalExpr({ k: "binary", op: "=", l: lit(a), r: lit(b) });
      return eq && eq.t === "int" && eq.v === 1n ? 0 : lt && lt.t === "int" && lt.v === 1n ? -1 : 1;
    };
    const noPartition = (): never => {
      throw new SqlError(
        1526,
        "HY000",
        "Table has no partition for value " +
          JSON.stringify(cols ?? exprValue(), (_k, v) => typeof v === "bigint" ? String(v) : v),
      );
    };
    switch (pi.type) {
      case PartitionType.Hash: {
        const v = exprValue();
        const n = v === null
          ? 0n
          : v.t === "int"
          ? v.v
          : BigInt(Math.trunc(Number(v.t === "bytes" ? 0 : v.v)));
        const r = n % BigInt(pi.definitions.length);
        return pi.definitions[Number(r < 0n ? -r : r)]!.id;
      }
      case PartitionType.Range: {
        const vals = cols ?? [exprValue()];
        for (const d of pi.definitions) {
          const bounds = d.less_than ?? [];
          let less = false;
          for (let i = 0; i < bounds.length; i++) {
            if (bounds[i]!.toUpperCase() === "MAXVALUE") {
              less = true;
              break;
            }
            const c = cmp(vals[i] ?? null, literal(bounds[i]!));
            if (c < 0) {
              less = true;
              break;
            }
            if (c > 0) break;
          }
          if (less) return d.id;
        }
        return noPartition();
      }
      case PartitionType.List: {
        const vals = cols ?? [exprValue()];
        for (const d of pi.definitions) {
          for (const tuple of d.in_values ?? []) {
            if (tuple.every((t, i) => cmp(vals[i] ?? null, literal(t)) === 0)) return d.id;
          }
        }
        return noPartition();
      }
    }
    if (pi.type === PartitionType.Key) {
      // TiDB's LocateKeyPartition: crc32 (IEEE) over each column's hash key (a 0 byte for NULL,
      // else the collation key of the value's string form), modulo the partition count.
      let crc = 0xffffffff;
      for (const name of pi.columns ?? []) {
        const c = table.cols.find((x) => x.name.L === name.L)!;
        const d = datums[c.offset]!;
        let bytes: Uint8Array;
        if (d.kind === "null") bytes = Uint8Array.of(0);
        else if (d.kind === "string") bytes = collationKey(d.value, d.collation);
        else if (d.kind === "bytes") bytes = d.value;
        else bytes = utf8.encode(datumToText(c, d) ?? "");
        crc = crc32Update(crc, bytes);
      }
      const sum = (crc ^ 0xffffffff) >>> 0;
      return pi.definitions[sum % pi.definitions.length]!.id;
    }
    throw new SqlError(
      1235,
      "42000",
      `This version of TiDB doesn't yet support 'partition type ${pi.type}'`,
    );
  }

  /** Every KV pair TiDB writes for a row (record, then each writable index). */
  rowKvs(
    table: TableInfo,
    datums: Datum[],
    handle: Handle,
    physicalId: number,
  ): RowKv[] {
    const pid = BigInt(physicalId);
    const out: RowKv[] = [
      { key: encodeRecordKey(pid, handle), value: encodeTableRow(table, datums) },
    ];
    for (const idx of table.index_info ?? []) {
      if (!WRITABLE.has(idx.state)) continue;
      if (idx.is_primary && (table.pk_is_handle || table.is_common_handle)) continue;
      const values = idx.idx_cols.map((ic) =>
        indexDatum(table.cols[ic.offset]!, datums[ic.offset]!, ic.length)
      );
      const distinct = idx.is_unique && values.every((v) => v.kind !== "null");
      let key: Uint8Array;
      try {
        key = encodeIndexKey(pid, BigInt(idx.id), values, distinct ? undefined : handle);
      } catch (err) {
        // Sort keys of the _ci collations are not modelled (src/tidb/datum.ts collationKey).
        throw new SqlError(
          1235,
          "42000",
          `This version of TiDB doesn't yet support 'index ${idx.idx_name.O}: ${
            (err as Error).message
          }'`,
        );
      }
      out.push({
        key,
        value: encodeIndexValue(handle, distinct),
        index: idx,
        distinct,
      });
    }
    return out;
  }

  /** The rows stored under the given handles (point reads in every partition). */
  getRows(table: TableInfo, handles: Handle[]): StoredRow[] {
    const out: StoredRow[] = [];
    const now = new Date();
    const seen = new Set<string>();
    for (const pid of physicalTableIds(table)) {
      for (const h of handles) {
        const key = encodeRecordKey(BigInt(pid), h);
        const k = keyStr(key);
        if (seen.has(k)) continue;
        seen.add(k);
        const value = this.#get(key);
        if (value === null) continue;
        out.push({ physicalId: pid, handle: h, datums: this.decodeRecord(table, key, value, now) });
      }
    }
    return out;
  }

  /** How many rows a table holds (its record keys, not decoded). */
  countRows(table: TableInfo): number {
    let n = 0;
    for (const pid of physicalTableIds(table)) {
      const r = recordRange(BigInt(pid));
      n += this.cluster.mvcc.scan(r.start, r.end, this.cluster.ts(), 0, { keyOnly: true }).length;
    }
    return n;
  }

  /** Whether a key exists now. */
  exists(key: Uint8Array): boolean {
    return this.#get(key) !== null;
  }

  /** Index entries for every existing row (ADD INDEX's backfill). */
  backfillIndex(table: TableInfo, idx: IndexInfo): Mutation[] {
    const out: Mutation[] = [];
    const seen = new Set<string>();
    for (const row of this.scanRows(table)) {
      this.fillVirtual(table, row.datums);
      const kv =
        this.rowKvs({ ...table, index_info: [idx] }, row.datums, row.handle, row.physicalId)[1];
      if (!kv) continue;
      const k = keyStr(kv.key);
      if (idx.is_unique && seen.has(k)) {
        throw new SqlError(
          1062,
          "23000",
          `Duplicate entry for key '${table.name.O}.${idx.idx_name.O}'`,
        );
      }
      seen.add(k);
      out.push({ op: "put", key: kv.key, value: kv.value });
    }
    return out;
  }

  /** Deletes of every entry of an index (DROP INDEX's delete-range). */
  indexDeletes(table: TableInfo, idx: IndexInfo): Mutation[] {
    const out: Mutation[] = [];
    for (const pid of physicalTableIds(table)) {
      const r = indexRange(BigInt(pid), BigInt(idx.id));
      for (
        const p of this.cluster.mvcc.scan(r.start, r.end, this.cluster.ts(), 0, { keyOnly: true })
      ) {
        out.push({ op: "delete", key: p.key });
      }
    }
    return out;
  }

  /** Ground truth of a table's checksum now (ADMIN CHECKSUM TABLE). */
  checksum(table: TableInfo) {
    return this.cluster.tableChecksum(table, this.cluster.ts());
  }
}

function lit(v: Exclude<Value, null>): import("./ast.ts").Expr {
  switch (v.t) {
    case "int":
      return { k: "num", text: v.v.toString() };
    case "float":
      return { k: "num", text: String(v.v) };
    case "dec":
      return { k: "num", text: v.v };
    case "str":
      return { k: "str", value: v.v };
    case "bytes":
      return { k: "hex", text: "", bytes: v.v };
  }
}

const CRC32_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Feeds bytes into a running CRC-32 (IEEE, reflected; start at 0xffffffff, xor at the end). */
function crc32Update(crc: number, bytes: Uint8Array): number {
  for (const b of bytes) crc = CRC32_TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return crc >>> 0;
}

/** A column value as an index key holds it: string prefixes cut to `length` characters. */
export function indexDatum(col: ColumnInfo, d: Datum, length: number): Datum {
  if (length < 0 || (d.kind !== "string" && d.kind !== "bytes")) return d;
  if (d.kind === "bytes") {
    return d.value.length > length ? { kind: "bytes", value: d.value.slice(0, length) } : d;
  }
  const s = text.decode(d.value);
  const chars = [...s];
  if (chars.length <= length) return d;
  return {
    kind: "string",
    value: utf8.encode(chars.slice(0, length).join("")),
    collation: col.type.Collate,
  };
}

/** A value converted to a column's datum. */
export function valueDatum(col: ColumnInfo, v: Value): Datum {
  return toDatum(col, v);
}
