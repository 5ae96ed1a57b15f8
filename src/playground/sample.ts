/**
 * Sample data for the playground: TiDB databases, tables and rows written as TiDB writes them
 * (meta, DDL history, records and index entries, through committed MVCC transactions with TSO
 * timestamps), plus a raw-KV dataset, then regions split per table and by size.
 *
 * ## Spec format (JSON)
 *
 * ```json
 * {
 *   "seed": 1,
 *   "scale": 1.0,
 *   "databases": [
 *     { "name": "shop", "tables": [
 *       { "name": "users", "kind": "int", "rows": 20000, "payload": 120 },
 *       { "name": "orders", "kind": "clustered", "rows": 5000 },
 *       { "name": "events", "kind": "partitioned", "rows": 8000, "partitions": 4 },
 *       { "name": "audit", "kind": "rowid", "rows": 3000 },
 *       { "name": "items", "kind": "nonpublic-index", "rows": 2000 }
 *     ] },
 *     { "name": "empty_db" }
 *   ],
 *   "rawKv": { "keys": 5000, "valueBytes": 64, "prefix": "raw_", "cf": "default" },
 *   "regions": { "maxBytes": 196608, "maxKeys": 0, "splitTables": true }
 * }
 * ```
 *
 * - `seed` makes the data repeatable; `scale` multiplies every row count.
 * - Table kinds: `int` (BIGINT primary key as the handle, a unique and a plain index),
 *   `rowid` (no primary key: `_tidb_rowid` handle), `clustered` (composite clustered primary
 *   key, common handle), `partitioned` (hash-partitioned int table), `nonpublic-index` (like
 *   `int` plus an index in write-reorganization state: its entries exist but BR skips them),
 *   `history` (a table altered after half its rows were written: columns added FIRST and
 *   AFTER, a column and an index dropped, an index added, so its column IDs have a gap and are
 *   out of order; see `buildHistoryTable` and docs/PLAYGROUND.md).
 * - `payload` is the mean length of each row's text column (bytes).
 * - `rawKv: null` (or keys 0) writes no raw KV.
 * - Regions are split at every table (`splitTables`) and wherever a region holds more than
 *   `maxBytes` / `maxKeys`; leaders are then spread over the stores.
 *
 * `default` is a few databases with 21 tables of every kind (about 50 MB of rows and indexes
 * over a few hundred regions) and some raw KV; `empty` is nothing at all.
 * @module
 */
import {
  type Datum,
  decimalDatum,
  intDatum,
  NULL_DATUM,
  stringDatum,
  timeDatum,
} from "../tidb/datum.ts";
import { MetaWriter } from "../tidb/meta.ts";
import {
  ActionType,
  type ColumnInfo,
  type DBInfo,
  type IndexInfo,
  newColumn,
  newDatabase,
  newIndex,
  newJob,
  newPartitionInfo,
  newTable,
  parseJson,
  physicalTableIds,
  type TableInfo,
  toJson,
} from "../tidb/model.ts";
import { encodeTableRow, type RowKv, rowKvs } from "../tidb/table.ts";
import {
  ColumnFlag,
  DEFAULT_COLLATION,
  MysqlType,
  PartitionType,
  SchemaState,
} from "../tidb/types.ts";
import { log } from "../log.ts";
import type { Checksum, Cluster } from "./cluster.ts";
import { mulberry32 } from "../random.ts";
import type { Mutation, RawCf } from "./mvcc.ts";

/** The shapes of sample tables. */
export const TABLE_KINDS = [
  "int",
  "rowid",
  "clustered",
  "partitioned",
  "nonpublic-index",
  "history",
] as const;
/** One of `TABLE_KINDS`. */
export type TableKind = (typeof TABLE_KINDS)[number];

/** A table of the spec. */
export interface TableSpec {
  name: string;
  kind?: TableKind;
  rows: number;
  /** Mean bytes of the text column (100 by default). */
  payload?: number;
  /** Partitions of a `partitioned` table (4 by default). */
  partitions?: number;
}

/** A database of the spec. */
export interface DatabaseSpec {
  name: string;
  tables?: TableSpec[];
}

/** The raw-KV dataset of the spec. */
export interface RawKvSpec {
  keys: number;
  valueBytes?: number;
  prefix?: string;
  cf?: RawCf;
}

/** How to cut regions after loading. */
export interface RegionSpec {
  /** Split a region above this many bytes (192 KiB by default). */
  maxBytes?: number;
  /** Split a region above this many keys (0 = no limit). */
  maxKeys?: number;
  /** Start a region at every table (true by default). */
  splitTables?: boolean;
}

/** A sample-data spec (see the module doc for the JSON format). */
export interface SampleSpec {
  seed?: number;
  scale?: number;
  databases?: DatabaseSpec[];
  rawKv?: RawKvSpec | null;
  regions?: RegionSpec;
}

/** No user data at all. */
export const EMPTY_SAMPLE: SampleSpec = { databases: [], rawKv: null };

/** The default sample: 6 databases (one empty), 21 tables of every kind, ~50 MB, raw KV. */
export const DEFAULT_SAMPLE: SampleSpec = {
  seed: 1,
  databases: [
    {
      name: "shop",
      tables: [
        { name: "users", kind: "int", rows: 24_000, payload: 120 },
        { name: "orders", kind: "clustered", rows: 24_000 },
        { name: "order_items", kind: "rowid", rows: 15_000 },
        { name: "events", kind: "partitioned", rows: 24_000, partitions: 4 },
        { name: "products", kind: "int", rows: 5_000, payload: 300 },
        { name: "inventory", kind: "nonpublic-index", rows: 8_000 },
      ],
    },
    {
      name: "analytics",
      tables: [
        { name: "page_views", kind: "partitioned", rows: 24_000, partitions: 8 },
        { name: "sessions", kind: "rowid", rows: 12_000 },
        { name: "metrics", kind: "int", rows: 10_000 },
        { name: "daily_stats", kind: "clustered", rows: 5_000 },
        { name: "funnels", kind: "int", rows: 3_000 },
      ],
    },
    {
      name: "hr",
      tables: [
        { name: "employees", kind: "int", rows: 3_000 },
        { name: "departments", kind: "int", rows: 100 },
        { name: "salaries", kind: "clustered", rows: 6_000 },
        { name: "reviews", kind: "rowid", rows: 2_000, payload: 400 },
      ],
    },
    {
      name: "logs",
      tables: [
        { name: "app_logs", kind: "rowid", rows: 18_000, payload: 200 },
        { name: "audit_trail", kind: "int", rows: 8_000 },
        { name: "errors", kind: "partitioned", rows: 3_000, partitions: 4 },
        { name: "tiny", kind: "int", rows: 10 },
        { name: "empty_table", kind: "int", rows: 0 },
      ],
    },
    { name: "empty_db", tables: [] },
    { name: "crm", tables: [{ name: "accounts", kind: "history", rows: 6_000 }] },
  ],
  rawKv: { keys: 5_000, valueBytes: 64, prefix: "raw_", cf: "default" },
  regions: { maxBytes: 192 * 1024, maxKeys: 0, splitTables: true },
};

/** Parses `--data`: `default`, `empty`, or a JSON spec. Throws one line saying what is wrong. */
export function parseSampleSpec(text: string): SampleSpec {
  const t = text.trim();
  if (t === "default") return DEFAULT_SAMPLE;
  if (t === "empty") return EMPTY_SAMPLE;
  let spec: unknown;
  try {
    spec = JSON.parse(t);
  } catch (err) {
    throw new Error(
      `sample spec is neither "default", "empty" nor JSON (${(err as Error).message}); ` +
        `see src/playground/sample.ts for the format`,
    );
  }
  validateSpec(spec);
  return spec;
}

function validateSpec(spec: unknown): asserts spec is SampleSpec {
  const fail = (what: string): never => {
    throw new Error(`invalid sample spec: ${what}`);
  };
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    fail("expected a JSON object");
  }
  const s = spec as Record<string, unknown>;
  const known = ["seed", "scale", "databases", "rawKv", "regions"];
  for (const k of Object.keys(s)) if (!known.includes(k)) fail(`unknown field "${k}"`);
  if (s.scale !== undefined && !(typeof s.scale === "number" && s.scale >= 0)) {
    fail("scale must be a number >= 0");
  }
  if (s.databases !== undefined && !Array.isArray(s.databases)) fail("databases must be an array");
  const dbNames = new Set<string>();
  for (const db of (s.databases ?? []) as Record<string, unknown>[]) {
    if (typeof db?.name !== "string" || db.name === "") fail("every database needs a name");
    const name = (db.name as string).toLowerCase();
    if (dbNames.has(name)) fail(`database ${db.name} appears twice`);
    dbNames.add(name);
    if (db.tables !== undefined && !Array.isArray(db.tables)) {
      fail(`tables of ${db.name} must be an array`);
    }
    const tNames = new Set<string>();
    for (const tb of (db.tables ?? []) as Record<string, unknown>[]) {
      if (typeof tb?.name !== "string" || tb.name === "") fail(`a table of ${db.name} has no name`);
      const tn = (tb.name as string).toLowerCase();
      if (tNames.has(tn)) fail(`table ${db.name}.${tb.name} appears twice`);
      tNames.add(tn);
      if (!(Number.isInteger(tb.rows) && (tb.rows as number) >= 0)) {
        fail(`rows of ${db.name}.${tb.name} must be an integer >= 0`);
      }
      if (tb.kind !== undefined && !(TABLE_KINDS as readonly unknown[]).includes(tb.kind)) {
        fail(`kind of ${db.name}.${tb.name} must be one of ${TABLE_KINDS.join(", ")}`);
      }
      if (
        tb.partitions !== undefined &&
        !(Number.isInteger(tb.partitions) && (tb.partitions as number) >= 1)
      ) {
        fail(`partitions of ${db.name}.${tb.name} must be an integer >= 1`);
      }
    }
  }
  if (s.rawKv !== undefined && s.rawKv !== null) {
    const r = s.rawKv as Record<string, unknown>;
    if (!(Number.isInteger(r.keys) && (r.keys as number) >= 0)) {
      fail("rawKv.keys must be an integer >= 0");
    }
    if (r.cf !== undefined && !["default", "write", "lock"].includes(r.cf as string)) {
      fail("rawKv.cf must be default, write or lock");
    }
  }
}

/** A table the catalog manages, with the state needed to regenerate any of its rows. */
export interface CatalogTable {
  db: DBInfo;
  info: TableInfo;
  kind: TableKind;
  payload: number;
  /** Largest row id used (ids start at 1). */
  maxId: bigint;
  /** Row ids deleted since. */
  deleted: Set<bigint>;
  /** Row ids rewritten since, with their version. */
  versions: Map<bigint, number>;
  /** The row-id counter stored in meta (`TID:{id}`). */
  autoIdBase: bigint;
  /** For a `history` table: its schema before the ALTERs and the rows written under it. */
  history?: HistoryState;
}

/**
 * A `history` table's past: rows `1..oldRows` were written under `before` (the CREATE TABLE
 * schema) and keep that encoding until rewritten; `pending` holds the ALTER jobs not yet run
 * (they run after the old rows are in, see `Catalog.insertRows`).
 */
export interface HistoryState {
  before: TableInfo;
  oldRows: bigint;
  pending: HistoryStep[];
}

const AUTO_ID_STEP = 1000n;
const BASE_TIME_S = Date.UTC(2024, 0, 1) / 1000;
const POOL_BYTES = 1 << 20;
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ";

/**
 * TiDB's schema and rows as the playground wrote them. Rows are not stored here: each is a
 * function of (seed, table, row id, version), so the loader and the workload can regenerate
 * any row to update or delete it (with its index entries).
 */
export class Catalog {
  /** `NextGlobalID`: the largest id handed out. */
  globalId = 0;
  schemaVersion = 0;
  readonly databases: DBInfo[] = [];
  readonly tables: CatalogTable[] = [];
  #pool: Uint8Array;

  /** Writes through `cluster`; `seed` fixes the data. */
  constructor(readonly cluster: Cluster, readonly seed = 1) {
    const rand = mulberry32(seed);
    this.#pool = new Uint8Array(POOL_BYTES);
    for (let i = 0; i < POOL_BYTES; i++) {
      this.#pool[i] = ALNUM.charCodeAt(Math.floor(rand() * ALNUM.length));
    }
  }

  #genId(): number {
    return ++this.globalId;
  }

  #ddl(w: MetaWriter, type: number, db: DBInfo, table?: TableInfo, query = ""): void {
    const jobId = this.#genId();
    const version = ++this.schemaVersion;
    const startTs = this.cluster.ts();
    w.addHistoryJob(newJob({
      id: jobId,
      type,
      schemaId: db.id,
      tableId: table?.id,
      schemaName: db.db_name.O,
      tableName: table?.name.O,
      query,
      schemaVersion: version,
      startTs,
      finishedTs: this.cluster.ts(),
      db: table ? undefined : db,
      table,
    }));
    w.setSchemaDiff({
      version,
      type,
      schema_id: db.id,
      table_id: table?.id ?? 0,
      old_table_id: 0,
      old_schema_id: 0,
      regenerate_schema_map: false,
      affected_options: null,
    });
    w.setSchemaVersion(version).setGlobalId(this.globalId);
    this.cluster.runTxn(w.mutations.map(toPut));
  }

  /** CREATE DATABASE: DBInfo, DDL job and schema version in one transaction. */
  createDatabase(name: string): DBInfo {
    const db = newDatabase(this.#genId(), name);
    this.#ddl(
      new MetaWriter().createDatabase(db),
      ActionType.CreateSchema,
      db,
      undefined,
      `CREATE DATABASE \`${name}\``,
    );
    this.databases.push(db);
    return db;
  }

  /** CREATE TABLE of a sample kind. */
  createTable(db: DBInfo, spec: TableSpec): CatalogTable {
    const kind = spec.kind ?? "int";
    if (kind === "history") return this.#createHistoryTable(db, spec);
    const info = buildTable(
      kind,
      spec.name,
      () => this.#genId(),
      spec.partitions ?? 4,
      this.cluster.ts(),
    );
    const w = new MetaWriter().createTable(db.id, info, { rowId: 0 });
    this.#ddl(w, ActionType.CreateTable, db, info, `CREATE TABLE \`${spec.name}\` (...)`);
    const t: CatalogTable = {
      db,
      info,
      kind,
      payload: spec.payload ?? 100,
      maxId: 0n,
      deleted: new Set(),
      versions: new Map(),
      autoIdBase: 0n,
    };
    this.tables.push(t);
    return t;
  }

  // CREATE TABLE of a `history` table: meta gets the CREATE-time schema now and its ALTERs
  // once the old rows are in; the catalog works with the final schema throughout.
  #createHistoryTable(db: DBInfo, spec: TableSpec): CatalogTable {
    const stages = buildHistoryTable(spec.name, () => this.#genId(), this.cluster.ts());
    const before = stages.create;
    const w = new MetaWriter().createTable(db.id, before, { rowId: 0 });
    this.#ddl(w, ActionType.CreateTable, db, before, stages.createQuery);
    const t: CatalogTable = {
      db,
      info: stages.steps[stages.steps.length - 1]!.info,
      kind: "history",
      payload: spec.payload ?? 100,
      maxId: 0n,
      deleted: new Set(),
      versions: new Map(),
      autoIdBase: 0n,
      history: { before, oldRows: 0n, pending: stages.steps },
    };
    this.tables.push(t);
    return t;
  }

  // Runs a history table's pending ALTERs (one DDL job and schema version each), then writes
  // the index entries ADD INDEX backfills for the rows already there.
  #runHistory(t: CatalogTable): void {
    const h = t.history;
    if (!h || h.pending.length === 0) return;
    const startTs = this.cluster.ts();
    for (const step of h.pending) {
      step.info.update_timestamp = startTs;
      const w = new MetaWriter().updateTable(t.db.id, step.info);
      this.#ddl(w, step.type, t.db, step.info, step.query);
    }
    h.pending = [];
    const existing = new Set((h.before.index_info ?? []).map((i) => i.id));
    let batch: Mutation[] = [];
    for (let id = 1n; id <= h.oldRows; id++) {
      for (const kv of this.rowKvsOf(t, id)) {
        if (kv.indexId === undefined || existing.has(kv.indexId)) continue;
        batch.push({ op: "put", key: kv.key, value: kv.value });
      }
      if (batch.length >= 4096) {
        this.cluster.runTxn(batch);
        batch = [];
      }
    }
    if (batch.length > 0) this.cluster.runTxn(batch);
  }

  // The KV pairs of a row: rows a `history` table got before its ALTERs keep the record value
  // of the CREATE-time schema (with the dropped column's value, without the added columns),
  // while their index entries are those of the final schema (the added columns read as their
  // origin default, which is what the row generator gives them).
  #rowKvs(t: CatalogTable, row: Datum[], id: bigint, version: number): RowKv[] {
    const kvs = rowKvs(t.info, row, id);
    const h = t.history;
    if (!h || version !== 0 || id > h.oldRows) return kvs;
    const old = historyOldRow(h.before, t.info, row, id);
    kvs[0] = { key: kvs[0]!.key, value: encodeTableRow(h.before, old) };
    return kvs;
  }

  /** The table `db.table` (case-insensitive), or undefined. */
  table(db: string, table: string): CatalogTable | undefined {
    const d = db.toLowerCase();
    const n = table.toLowerCase();
    return this.tables.find((t) => t.db.db_name.L === d && t.info.name.L === n);
  }

  /** The row with `id` as it is now (undefined when never inserted or deleted). */
  rowOf(t: CatalogTable, id: bigint): Datum[] | undefined {
    if (id < 1n || id > t.maxId || t.deleted.has(id)) return undefined;
    return this.#makeRow(t, id, t.versions.get(id) ?? 0);
  }

  #makeRow(t: CatalogTable, id: bigint, version: number): Datum[] {
    const rand = mulberry32(
      (this.seed * 0x9e3779b1) ^ (t.info.id * 0x85ebca6b) ^ Number(id & 0xffffffffn) ^
        (version * 0xc2b2ae35),
    );
    const payloadLen = Math.max(1, Math.floor(t.payload / 2 + rand() * t.payload));
    const off = Math.floor(rand() * (POOL_BYTES - payloadLen));
    const payload: Datum = {
      kind: "string",
      value: this.#pool.subarray(off, off + payloadLen),
      collation: DEFAULT_COLLATION,
    };
    const secs = BASE_TIME_S + Number(id) * 37 + version * 86_400;
    const created = timeDatum(timeParts(secs));
    switch (t.kind) {
      case "history": {
        const old = version === 0 && t.history !== undefined && id <= t.history.oldRows;
        const tier = intDatum(1 + Math.floor(rand() * 3));
        const note = rand() < 0.3 ? NULL_DATUM : stringDatum(`note ${id % 1000n}`);
        return [
          // Columns added after the old rows were written read as their origin defaults.
          old ? intDatum(1) : tier,
          intDatum(id),
          stringDatum(`${t.info.name.O}_${id}`),
          old ? stringDatum("n/a") : stringDatum(`user${id}@example.com`),
          decimalDatum((rand() * 1e6).toFixed(2), 12, 2),
          created,
          old ? NULL_DATUM : note,
        ];
      }
      case "rowid":
        return [
          stringDatum(`${t.info.name.O}_${id}`),
          intDatum(18 + Math.floor(rand() * 60)),
          created,
          payload,
        ];
      case "clustered":
        return [
          intDatum(id % 97n),
          stringDatum(`C${id.toString().padStart(9, "0")}`),
          decimalDatum((rand() * 1e6).toFixed(2), 12, 2),
          created,
          payload,
        ];
      default:
        return [
          intDatum(id),
          stringDatum(`${t.info.name.O}_${id}`),
          intDatum(18 + Math.floor(rand() * 60)),
          rand() < 0.05 ? NULL_DATUM : decimalDatum((rand() * 100_000).toFixed(2), 10, 2),
          created,
          payload,
        ];
    }
  }

  /** The KV pairs of row `id` as it is now (none when it does not exist). */
  rowKvsOf(t: CatalogTable, id: bigint): RowKv[] {
    const row = this.rowOf(t, id);
    return row === undefined ? [] : this.#rowKvs(t, row, id, t.versions.get(id) ?? 0);
  }

  /** The mutations inserting the next row, and its id; call `applyInsert` once committed. */
  insertMutations(t: CatalogTable): { id: bigint; mutations: Mutation[] } {
    this.#runHistory(t);
    const id = t.maxId + 1n;
    const row = this.#makeRow(t, id, 0);
    const mutations: Mutation[] = rowKvs(t.info, row, id).map((kv) => ({
      op: "put",
      key: kv.key,
      value: kv.value,
    }));
    if (id > t.autoIdBase) {
      const w = new MetaWriter().setAutoTableId(t.db.id, t.info.id, t.autoIdBase + AUTO_ID_STEP);
      mutations.push(...w.mutations.map(toPut));
    }
    return { id, mutations };
  }

  /** Records a committed insert. */
  applyInsert(t: CatalogTable, id: bigint): void {
    if (id > t.maxId) t.maxId = id;
    while (t.autoIdBase < id) t.autoIdBase += AUTO_ID_STEP;
  }

  /** The mutations rewriting row `id` (a new version, index entries moved); undefined if gone. */
  updateMutations(
    t: CatalogTable,
    id: bigint,
  ): { version: number; mutations: Mutation[] } | undefined {
    const old = this.rowOf(t, id);
    if (old === undefined) return undefined;
    const version = (t.versions.get(id) ?? 0) + 1;
    const next = rowKvs(t.info, this.#makeRow(t, id, version), id);
    const keep = new Set(next.map((kv) => byteStr(kv.key)));
    const mutations: Mutation[] = next.map((kv) => ({ op: "put", key: kv.key, value: kv.value }));
    for (const kv of this.rowKvsOf(t, id)) {
      if (!keep.has(byteStr(kv.key))) mutations.push({ op: "delete", key: kv.key });
    }
    return { version, mutations };
  }

  /** Records a committed update. */
  applyUpdate(t: CatalogTable, id: bigint, version: number): void {
    t.versions.set(id, version);
  }

  /** The mutations deleting row `id` and its index entries; undefined if gone. */
  deleteMutations(t: CatalogTable, id: bigint): Mutation[] | undefined {
    const kvs = this.rowKvsOf(t, id);
    if (kvs.length === 0) return undefined;
    return kvs.map((kv) => ({ op: "delete", key: kv.key }));
  }

  /** Records a committed delete. */
  applyDelete(t: CatalogTable, id: bigint): void {
    t.deleted.add(id);
    t.versions.delete(id);
  }

  /** Number of rows a table holds now. */
  liveRows(t: CatalogTable): number {
    return Number(t.maxId) - t.deleted.size;
  }

  /**
   * Inserts `count` rows in transactions of about `batchKeys` keys; returns KV pairs written.
   * A `history` table with ALTERs still to run gets the first half of the rows under its
   * CREATE-time schema, then its ALTERs, then the rest.
   */
  insertRows(t: CatalogTable, count: number, batchKeys = 4096): { kvs: number; bytes: number } {
    const h = t.history;
    if (h && h.pending.length > 0) {
      const old = Math.floor(count / 2);
      h.oldRows = t.maxId + BigInt(old);
      const existing = new Set((h.before.index_info ?? []).map((i) => i.id));
      const a = this.#insertRows(t, old, batchKeys, existing);
      this.#runHistory(t);
      const b = this.#insertRows(t, count - old, batchKeys);
      return { kvs: a.kvs + b.kvs, bytes: a.bytes + b.bytes };
    }
    return this.#insertRows(t, count, batchKeys);
  }

  // `onlyIndexes`: write only these index entries (the indexes a history table had then).
  #insertRows(
    t: CatalogTable,
    count: number,
    batchKeys: number,
    onlyIndexes?: ReadonlySet<number>,
  ): { kvs: number; bytes: number } {
    let kvs = 0;
    let bytes = 0;
    let batch: Mutation[] = [];
    const flush = () => {
      if (batch.length > 0) this.cluster.runTxn(batch);
      batch = [];
    };
    const first = t.maxId + 1n;
    const last = t.maxId + BigInt(count);
    for (let id = first; id <= last; id++) {
      for (const kv of this.#rowKvs(t, this.#makeRow(t, id, 0), id, 0)) {
        if (kv.indexId !== undefined && onlyIndexes && !onlyIndexes.has(kv.indexId)) continue;
        batch.push({ op: "put", key: kv.key, value: kv.value });
        kvs++;
        bytes += kv.key.length + kv.value.length;
      }
      if (batch.length >= batchKeys) flush();
    }
    if (count > 0) {
      t.maxId = last;
      t.autoIdBase = ((last + AUTO_ID_STEP - 1n) / AUTO_ID_STEP) * AUTO_ID_STEP;
      batch.push(
        ...new MetaWriter().setAutoTableId(t.db.id, t.info.id, t.autoIdBase).mutations.map(toPut),
      );
    }
    flush();
    return { kvs, bytes };
  }

  /** Ground truth of every table at `ts`, keyed `db.table`. */
  checksums(ts: bigint): Map<string, Checksum> {
    const out = new Map<string, Checksum>();
    for (const t of this.tables) {
      out.set(`${t.db.db_name.O}.${t.info.name.O}`, this.cluster.tableChecksum(t.info, ts));
    }
    return out;
  }

  /** The catalog as JSON text, to save with the cluster (`Cluster.save`'s extra). */
  serialize(): string {
    return new TextDecoder().decode(toJson({
      version: 1,
      seed: this.seed,
      globalId: this.globalId,
      schemaVersion: this.schemaVersion,
      databases: this.databases,
      tables: this.tables.map((t) => ({
        dbId: t.db.id,
        info: t.info,
        kind: t.kind,
        payload: t.payload,
        maxId: String(t.maxId),
        deleted: [...t.deleted].map(String),
        versions: [...t.versions].map(([id, v]) => [String(id), v]),
        autoIdBase: String(t.autoIdBase),
        history: t.history && {
          before: t.history.before,
          oldRows: String(t.history.oldRows),
          pending: t.history.pending,
        },
      })),
    }));
  }

  /** A catalog from `serialize`'s text, writing through `cluster`. */
  static deserialize(cluster: Cluster, text: string): Catalog {
    const j = parseJson<SavedCatalog>(text);
    if (j.version !== 1) throw new Error(`saved catalog has version ${j.version}; expected 1`);
    const c = new Catalog(cluster, j.seed);
    c.globalId = j.globalId;
    c.schemaVersion = j.schemaVersion;
    c.databases.push(...j.databases);
    for (const t of j.tables) {
      const db = c.databases.find((d) => d.id === t.dbId);
      if (!db) {
        throw new Error(`saved catalog lists table ${t.info.name.O} in unknown database ${t.dbId}`);
      }
      c.tables.push({
        db,
        info: t.info,
        kind: t.kind,
        payload: t.payload,
        maxId: BigInt(t.maxId),
        deleted: new Set(t.deleted.map((x) => BigInt(x))),
        versions: new Map(t.versions.map(([id, v]) => [BigInt(id), v])),
        autoIdBase: BigInt(t.autoIdBase),
        history: t.history && {
          before: t.history.before,
          oldRows: BigInt(t.history.oldRows),
          pending: t.history.pending,
        },
      });
    }
    return c;
  }

  /** Every physical table id (partitions included). */
  physicalIds(): number[] {
    return this.tables.flatMap((t) => physicalTableIds(t.info));
  }
}

interface SavedCatalog {
  version: number;
  seed: number;
  globalId: number;
  schemaVersion: number;
  databases: DBInfo[];
  tables: {
    dbId: number;
    info: TableInfo;
    kind: TableKind;
    payload: number;
    maxId: string;
    deleted: string[];
    versions: [string, number][];
    autoIdBase: string;
    history?: { before: TableInfo; oldRows: string; pending: HistoryStep[] };
  }[];
}

function toPut(m: { key: Uint8Array; value: Uint8Array | null }): Mutation {
  return m.value === null
    ? { op: "delete", key: m.key }
    : { op: "put", key: m.key, value: m.value };
}

function byteStr(k: Uint8Array): string {
  let s = "";
  for (let i = 0; i < k.length; i++) s += String.fromCharCode(k[i]!);
  return s;
}

function timeParts(secs: number) {
  const d = new Date(secs * 1000);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    microsecond: 0,
  };
}

const NN = ColumnFlag.NotNull;

/** The TableInfo of a sample table kind; ids (table, partitions) come from `genId`. */
export function buildTable(
  kind: TableKind,
  name: string,
  genId: () => number,
  partitions: number,
  updateTs: bigint,
): TableInfo {
  if (kind === "history") {
    const stages = buildHistoryTable(name, genId, updateTs);
    return stages.steps[stages.steps.length - 1]!.info;
  }
  const id = genId();
  const idx = (iid: number, iname: string, cols: ColumnInfo[], o: Partial<IndexInfo> = {}) =>
    newIndex({
      id: iid,
      name: iname,
      table: name,
      columns: cols.map((c) => ({ name: c.name.O, offset: c.offset })),
      unique: o.is_unique,
      primary: o.is_primary,
      state: o.state,
    });
  const varchar = (cid: number, cname: string, offset: number, flen: number, flag = 0) =>
    newColumn({ id: cid, name: cname, offset, tp: MysqlType.Varchar, flen, flag });
  const datetime = (cid: number, offset: number) =>
    newColumn({ id: cid, name: "created", offset, tp: MysqlType.Datetime, flen: 19, decimal: 0 });
  if (kind === "rowid") {
    const cols = [
      varchar(1, "name", 0, 64, NN),
      newColumn({ id: 2, name: "age", offset: 1, tp: MysqlType.Long, flen: 11 }),
      datetime(3, 2),
      varchar(4, "payload", 3, 1024),
    ];
    return withDdlFlags(newTable({
      id,
      name,
      columns: cols,
      indexes: [idx(1, "idx_name", [cols[0]!])],
      updateTs,
    }));
  }
  if (kind === "clustered") {
    const cols = [
      newColumn({
        id: 1,
        name: "tenant",
        offset: 0,
        tp: MysqlType.Long,
        flen: 11,
        flag: NN | ColumnFlag.PriKey,
      }),
      varchar(2, "code", 1, 32, NN | ColumnFlag.PriKey),
      newColumn({
        id: 3,
        name: "amount",
        offset: 2,
        tp: MysqlType.NewDecimal,
        flen: 12,
        decimal: 2,
      }),
      datetime(4, 3),
      varchar(5, "payload", 4, 1024),
    ];
    return withDdlFlags(newTable({
      id,
      name,
      columns: cols,
      isCommonHandle: true,
      indexes: [
        idx(1, "PRIMARY", [cols[0]!, cols[1]!], { is_unique: true, is_primary: true }),
        idx(2, "idx_amount", [cols[2]!]),
      ],
      updateTs,
    }));
  }
  const cols = [
    newColumn({
      id: 1,
      name: "id",
      offset: 0,
      tp: MysqlType.Longlong,
      flen: 20,
      flag: NN | ColumnFlag.PriKey | ColumnFlag.AutoIncrement,
    }),
    varchar(2, "name", 1, 64, NN),
    newColumn({ id: 3, name: "age", offset: 2, tp: MysqlType.Long, flen: 11 }),
    newColumn({ id: 4, name: "score", offset: 3, tp: MysqlType.NewDecimal, flen: 10, decimal: 2 }),
    datetime(5, 4),
    varchar(6, "payload", 5, 1024),
  ];
  const indexes: IndexInfo[] = [];
  if (kind !== "partitioned") indexes.push(idx(1, "uk_name", [cols[1]!], { is_unique: true }));
  indexes.push(idx(2, "idx_age", [cols[2]!]));
  if (kind === "nonpublic-index") {
    indexes.push(idx(3, "idx_score", [cols[3]!], { state: SchemaState.WriteReorganization }));
  }
  const partition = kind === "partitioned"
    ? newPartitionInfo(
      PartitionType.Hash,
      "`id`",
      Array.from({ length: partitions }, (_, i) => ({ id: genId(), name: `p${i}` })),
    )
    : null;
  return withDdlFlags(
    newTable({ id, name, columns: cols, indexes, pkIsHandle: true, partition, updateTs }),
  );
}

/**
 * The column flags TiDB's CREATE TABLE adds beyond the column definition: NO_DEFAULT_VALUE on a
 * NOT NULL column without a default (not AUTO_INCREMENT or TIMESTAMP), BINARY on date and time
 * types, and the key flags of public indexes (PRI_KEY on primary-key columns; on an index's first
 * column UNIQUE_KEY for a one-column unique index, MULTIPLE_KEY otherwise). They change no row
 * encoding, but a table created from its SHOW CREATE TABLE text gets them, so the sample has
 * them too.
 */
function withDdlFlags(t: TableInfo): TableInfo {
  for (const c of t.cols) {
    const ft = c.type;
    if (
      (ft.Flag & NN) && c.default === null &&
      !(ft.Flag & ColumnFlag.AutoIncrement) && ft.Tp !== MysqlType.Timestamp
    ) {
      ft.Flag |= ColumnFlag.NoDefaultValue;
    }
    if (DATE_TIME_TYPES.has(ft.Tp)) ft.Flag |= ColumnFlag.Binary;
  }
  for (const ix of t.index_info ?? []) {
    if (ix.state !== SchemaState.Public) continue;
    if (ix.is_primary) {
      for (const ic of ix.idx_cols) t.cols[ic.offset]!.type.Flag |= ColumnFlag.PriKey;
      continue;
    }
    const first = t.cols[ix.idx_cols[0]!.offset]!;
    first.type.Flag |= ix.is_unique && ix.idx_cols.length === 1
      ? ColumnFlag.UniqueKey
      : ColumnFlag.MultipleKey;
  }
  return t;
}

const DATE_TIME_TYPES: ReadonlySet<number> = new Set([
  MysqlType.Date,
  MysqlType.Datetime,
  MysqlType.Timestamp,
  MysqlType.Duration,
]);

/** One ALTER of a `history` table: the DDL job type, its query and the TableInfo after it. */
export interface HistoryStep {
  type: number;
  query: string;
  info: TableInfo;
}

/** A `history` table's CREATE TABLE schema and the ALTERs that lead to its final schema. */
export interface HistoryTable {
  createQuery: string;
  create: TableInfo;
  steps: HistoryStep[];
}

/**
 * The schemas of a `history` table as TiDB's DDL leaves them, step by step (TiDB's ID rules:
 * a new column takes `max_col_id + 1` wherever it is placed, a new index `max_idx_id + 1`,
 * dropped IDs are never reused; column flags follow the indexes):
 *
 * ```sql
 * CREATE TABLE t (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(64) NOT NULL,
 *   legacy_code varchar(16), balance decimal(12,2), created datetime,
 *   KEY idx_legacy (legacy_code), KEY idx_created (created));  -- columns 1..5, indexes 1, 2
 * ALTER TABLE t ADD COLUMN email varchar(128) NOT NULL DEFAULT 'n/a' AFTER name; -- column 6
 * ALTER TABLE t DROP INDEX idx_legacy;                                         -- index 1 gone
 * ALTER TABLE t DROP COLUMN legacy_code;                                      -- column 3 gone
 * ALTER TABLE t ADD COLUMN tier tinyint NOT NULL DEFAULT 1 FIRST;             -- column 7
 * ALTER TABLE t ADD INDEX idx_email (email);                                  -- index 3
 * ALTER TABLE t ADD COLUMN note varchar(32) DEFAULT NULL;                     -- column 8
 * ```
 *
 * The final column IDs in column order are 7, 1, 2, 6, 4, 5, 8, where the same table created
 * from its `SHOW CREATE TABLE` text numbers them 1..7.
 */
export function buildHistoryTable(
  name: string,
  genId: () => number,
  updateTs: bigint,
): HistoryTable {
  const id = genId();
  const q = (sql: string) => sql.replaceAll("{t}", `\`${name}\``);
  const col = (
    cid: number,
    cname: string,
    offset: number,
    tp: number,
    o: { flen: number; decimal?: number; flag?: number; default?: string | null } = { flen: -1 },
  ): ColumnInfo => {
    const c = newColumn({
      id: cid,
      name: cname,
      offset,
      tp,
      flen: o.flen,
      decimal: o.decimal ?? 0,
      flag: o.flag ?? 0,
    });
    if (o.default !== undefined) {
      // An added column's origin default is what rows written before it read.
      c.default = o.default;
      c.origin_default = o.default;
    }
    return c;
  };
  const index = (iid: number, iname: string, c: ColumnInfo) =>
    newIndex({
      id: iid,
      name: iname,
      table: name,
      columns: [{ name: c.name.O, offset: c.offset }],
    });
  const create = newTable({
    id,
    name,
    columns: [
      col(1, "id", 0, MysqlType.Longlong, {
        flen: 20,
        flag: NN | ColumnFlag.PriKey | ColumnFlag.AutoIncrement,
      }),
      col(2, "name", 1, MysqlType.Varchar, { flen: 64, flag: NN | ColumnFlag.NoDefaultValue }),
      col(3, "legacy_code", 2, MysqlType.Varchar, { flen: 16, flag: ColumnFlag.MultipleKey }),
      col(4, "balance", 3, MysqlType.NewDecimal, { flen: 12, decimal: 2 }),
      col(5, "created", 4, MysqlType.Datetime, {
        flen: 19,
        flag: ColumnFlag.Binary | ColumnFlag.MultipleKey,
      }),
    ],
    pkIsHandle: true,
    updateTs,
  });
  create.index_info = [
    index(1, "idx_legacy", create.cols[2]!),
    index(2, "idx_created", create.cols[4]!),
  ];
  create.max_idx_id = 2;

  const steps: HistoryStep[] = [];
  let cur = create;
  const step = (type: number, query: string, change: (t: TableInfo) => void) => {
    const next = structuredClone(cur);
    change(next);
    next.cols.forEach((c, i) => (c.offset = i));
    for (const ix of next.index_info ?? []) {
      for (const ic of ix.idx_cols) ic.offset = next.cols.findIndex((c) => c.name.L === ic.name.L);
    }
    steps.push({ type, query: q(query), info: next });
    cur = next;
  };
  const addColumn = (t: TableInfo, c: ColumnInfo, at: number) => {
    t.max_col_id += 1;
    c.id = t.max_col_id;
    t.cols.splice(at, 0, c);
  };
  step(
    ActionType.AddColumn,
    "ALTER TABLE {t} ADD COLUMN `email` varchar(128) NOT NULL DEFAULT 'n/a' AFTER `name`",
    (t) =>
      addColumn(
        t,
        col(0, "email", 0, MysqlType.Varchar, { flen: 128, flag: NN, default: "n/a" }),
        2,
      ),
  );
  step(ActionType.DropIndex, "ALTER TABLE {t} DROP INDEX `idx_legacy`", (t) => {
    t.index_info = t.index_info!.filter((i) => i.idx_name.L !== "idx_legacy");
    t.cols.find((c) => c.name.L === "legacy_code")!.type.Flag &= ~ColumnFlag.MultipleKey;
  });
  step(ActionType.DropColumn, "ALTER TABLE {t} DROP COLUMN `legacy_code`", (t) => {
    t.cols = t.cols.filter((c) => c.name.L !== "legacy_code");
  });
  step(
    ActionType.AddColumn,
    "ALTER TABLE {t} ADD COLUMN `tier` tinyint NOT NULL DEFAULT 1 FIRST",
    (t) => addColumn(t, col(0, "tier", 0, MysqlType.Tiny, { flen: 4, flag: NN, default: "1" }), 0),
  );
  step(ActionType.AddIndex, "ALTER TABLE {t} ADD INDEX `idx_email` (`email`)", (t) => {
    t.max_idx_id += 1;
    const email = t.cols.find((c) => c.name.L === "email")!;
    email.type.Flag |= ColumnFlag.MultipleKey;
    t.index_info!.push(index(t.max_idx_id, "idx_email", email));
  });
  step(
    ActionType.AddColumn,
    "ALTER TABLE {t} ADD COLUMN `note` varchar(32) DEFAULT NULL",
    (t) =>
      addColumn(
        t,
        col(0, "note", 0, MysqlType.Varchar, { flen: 32, default: null }),
        t.cols.length,
      ),
  );
  return {
    createQuery: q(
      "CREATE TABLE {t} (`id` bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, " +
        "`name` varchar(64) NOT NULL, `legacy_code` varchar(16), `balance` decimal(12,2), " +
        "`created` datetime, KEY `idx_legacy` (`legacy_code`), KEY `idx_created` (`created`))",
    ),
    create,
    steps,
  };
}

// A history table's row (final schema, by offset) as it was written under `before`: columns
// of both schemas keep their values, the dropped `legacy_code` gets the value it had.
function historyOldRow(before: TableInfo, final: TableInfo, row: Datum[], id: bigint): Datum[] {
  return before.cols.map((c) => {
    const now = final.cols.find((f) => f.id === c.id);
    if (now) return row[now.offset] ?? NULL_DATUM;
    return id % 5n === 0n ? NULL_DATUM : stringDatum(`L-${id % 997n}`);
  });
}

/** What `loadSample` wrote. */
export interface SampleResult {
  catalog: Catalog;
  databases: number;
  tables: number;
  rows: number;
  /** Table KV pairs (records and index entries). */
  kvs: number;
  /** Key plus value bytes of those pairs. */
  bytes: number;
  rawKeys: number;
  regions: number;
  ms: number;
}

/** Loads `spec` into `cluster`: schema and rows in committed transactions, raw KV, regions. */
export function loadSample(cluster: Cluster, spec: SampleSpec = DEFAULT_SAMPLE): SampleResult {
  const t0 = performance.now();
  const seed = spec.seed ?? 1;
  const scale = spec.scale ?? 1;
  const catalog = new Catalog(cluster, seed);
  let rows = 0;
  let kvs = 0;
  let bytes = 0;
  for (const dbSpec of spec.databases ?? []) {
    const db = catalog.createDatabase(dbSpec.name);
    for (const ts of dbSpec.tables ?? []) {
      const t = catalog.createTable(db, ts);
      const n = Math.round(ts.rows * scale);
      const w = catalog.insertRows(t, n);
      rows += n;
      kvs += w.kvs;
      bytes += w.bytes;
    }
  }
  let rawKeys = 0;
  const raw = spec.rawKv;
  if (raw && raw.keys > 0) {
    const rand = mulberry32(seed ^ 0x5bd1e995);
    const enc = new TextEncoder();
    const width = Math.max(8, String(raw.keys).length);
    const valueBytes = raw.valueBytes ?? 64;
    for (let i = 0; i < raw.keys; i++) {
      const key = enc.encode(`${raw.prefix ?? "raw_"}${String(i).padStart(width, "0")}`);
      const value = new Uint8Array(valueBytes);
      for (let j = 0; j < valueBytes; j++) value[j] = ALNUM.charCodeAt(Math.floor(rand() * 62));
      cluster.mvcc.rawPut(key, value, raw.cf ?? "default");
    }
    rawKeys = raw.keys;
  }
  const r = spec.regions ?? {};
  if (r.splitTables ?? true) cluster.splitTables(catalog.physicalIds());
  cluster.splitBySize(r.maxBytes ?? 192 * 1024, r.maxKeys ?? 0);
  cluster.regions.scatterLeaders();
  const result: SampleResult = {
    catalog,
    databases: catalog.databases.length,
    tables: catalog.tables.length,
    rows,
    kvs,
    bytes,
    rawKeys,
    regions: cluster.regions.size,
    ms: Math.round(performance.now() - t0),
  };
  log("playground", "sample").info(
    "loaded sample data: {tables} tables, {rows} rows, {bytes} bytes, {regions} regions ({ms} ms)",
    { ...result, catalog: undefined },
  );
  return result;
}
