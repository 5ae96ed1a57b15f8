/**
 * TiDB's meta data as it lies in TiKV (`pkg/meta` on the `structure` layer), and a reader that
 * lists schemas at a ts through any KV reader (the backup client's KvGet/KvScan, or the
 * playground's engine).
 *
 * Structure keys, all under the prefix `m`:
 * - string: `m + EncodeBytes(key) + EncodeUint('s')` -> value (integers as decimal text);
 * - hash field: `m + EncodeBytes(key) + EncodeUint('h') + EncodeBytes(field)` -> value;
 * - list item: `m + EncodeBytes(key) + EncodeUint('l') + EncodeInt(index)` -> value.
 *
 * Meta layout: string `NextGlobalID` (largest id handed out), string `SchemaVersionKey`,
 * hash `DBs` with field `DB:{id}` -> DBInfo JSON, hash `DB:{dbID}` with fields `Table:{id}` ->
 * TableInfo JSON and the auto-id counters `TID:{id}` (row id), `IID:{id}` (separate
 * auto_increment), `TARID:{id}` (auto_random), `SID:{id}` (sequence); hash `DDLJobHistory` with
 * the 8-byte big-endian job id as field -> Job JSON; lists `DDLJobList` and `DDLJobAddIdxList`
 * (queued jobs); string `Diff:{version}` -> SchemaDiff JSON.
 * @module
 */
import {
  concatBytes,
  decodeBytes,
  decodeUint,
  encodeBytes,
  encodeInt,
  encodeUint,
  prefixNext,
} from "../codec/bytes.ts";
import {
  type DBInfo,
  type Job,
  parseJson,
  type SchemaDiff,
  type TableInfo,
  toJson,
} from "./model.ts";

const META = Uint8Array.of(0x6d); // 'm'
const STRING_DATA = BigInt("s".charCodeAt(0));
const HASH_DATA = BigInt("h".charCodeAt(0));
const LIST_DATA = BigInt("l".charCodeAt(0));

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** Meta key names (`pkg/meta`). */
export const MetaKey = {
  NextGlobalID: "NextGlobalID",
  SchemaVersion: "SchemaVersionKey",
  DBs: "DBs",
  DDLJobHistory: "DDLJobHistory",
  DDLJobList: "DDLJobList",
  DDLJobAddIdxList: "DDLJobAddIdxList",
  BootstrapKey: "BootstrapKey",
} as const;

function bytesOf(s: string | Uint8Array): Uint8Array {
  return typeof s === "string" ? utf8.encode(s) : s;
}

/** `DB:{id}`: a database's field in `DBs` and the name of its own hash. */
export function dbKey(dbId: number | bigint): string {
  return `DB:${dbId}`;
}

/** `Table:{id}`: a table's field in its database's hash. */
export function tableKey(tableId: number | bigint): string {
  return `Table:${tableId}`;
}

/** `TID:{id}`: the row-id allocator's counter of a table. */
export function autoTableIdKey(tableId: number | bigint | string): string {
  return `TID:${tableId}`;
}

/** `IID:{id}`: the separate auto_increment counter (AUTO_ID_CACHE 1 tables). */
export function autoIncrementIdKey(tableId: number | bigint): string {
  return `IID:${tableId}`;
}

/** `TARID:{id}`: the auto_random counter of a table. */
export function autoRandomIdKey(tableId: number | bigint): string {
  return `TARID:${tableId}`;
}

/** `SID:{id}`: a sequence's current value. */
export function sequenceKey(tableId: number | bigint): string {
  return `SID:${tableId}`;
}

/** `Diff:{version}`: the SchemaDiff of one schema version. */
export function schemaDiffKey(version: number | bigint): string {
  return `Diff:${version}`;
}

/** A DDL job's field in `DDLJobHistory`: its id as 8 big-endian bytes. */
export function jobIdField(jobId: number | bigint): Uint8Array {
  return encodeUint(BigInt(jobId));
}

/** `m + EncodeBytes(key) + EncodeUint('s')`. */
export function stringDataKey(key: string | Uint8Array): Uint8Array {
  return concatBytes(META, encodeBytes(bytesOf(key)), encodeUint(STRING_DATA));
}

/** `m + EncodeBytes(key) + EncodeUint('h')`: the prefix of every field of a hash. */
export function hashDataPrefix(key: string | Uint8Array): Uint8Array {
  return concatBytes(META, encodeBytes(bytesOf(key)), encodeUint(HASH_DATA));
}

/** `m + EncodeBytes(key) + EncodeUint('h') + EncodeBytes(field)`. */
export function hashDataKey(key: string | Uint8Array, field: string | Uint8Array): Uint8Array {
  return concatBytes(hashDataPrefix(key), encodeBytes(bytesOf(field)));
}

/** `m + EncodeBytes(key) + EncodeUint('l') + EncodeInt(index)`. */
export function listDataKey(key: string | Uint8Array, index: bigint): Uint8Array {
  return concatBytes(META, encodeBytes(bytesOf(key)), encodeUint(LIST_DATA), encodeInt(index));
}

/** Splits a hash data key into hash key and field; throws for other keys. */
export function decodeHashDataKey(k: Uint8Array): { key: Uint8Array; field: Uint8Array } {
  if (k[0] !== META[0]) throw new Error("key is not a meta key (no 'm' prefix)");
  const h = decodeBytes(k, 1);
  if (decodeUint(k, h.next) !== HASH_DATA) throw new Error("meta key is not a hash data key");
  const f = decodeBytes(k, h.next + 8);
  return { key: h.value, field: f.value };
}

/** A put (value) or delete (null) of one key. */
export interface KvMutation {
  key: Uint8Array;
  value: Uint8Array | null;
}

/** Auto-id counters to store with a new table. */
export interface AutoIds {
  rowId?: number | bigint;
  incrementId?: number | bigint;
  randomId?: number | bigint;
}

/**
 * Collects the meta mutations of DDL as TiDB's meta mutator would write them; the caller commits
 * them in one transaction. Keeps no state of its own: ids and versions come from the caller.
 */
export class MetaWriter {
  /** The mutations so far, in call order. */
  readonly mutations: KvMutation[] = [];

  #put(key: Uint8Array, value: Uint8Array): void {
    this.mutations.push({ key, value });
  }

  /** `NextGlobalID` = id (the largest id handed out so far). */
  setGlobalId(id: number | bigint): this {
    this.#put(stringDataKey(MetaKey.NextGlobalID), utf8.encode(String(id)));
    return this;
  }

  /** `SchemaVersionKey` = version. */
  setSchemaVersion(version: number | bigint): this {
    this.#put(stringDataKey(MetaKey.SchemaVersion), utf8.encode(String(version)));
    return this;
  }

  /** `Diff:{version}` = the SchemaDiff JSON. */
  setSchemaDiff(diff: SchemaDiff): this {
    this.#put(stringDataKey(schemaDiffKey(diff.version)), toJson(diff));
    return this;
  }

  /** `DBs`.`DB:{id}` = DBInfo JSON. */
  createDatabase(db: DBInfo): this {
    this.#put(hashDataKey(MetaKey.DBs, dbKey(db.id)), toJson(db));
    return this;
  }

  /** `DB:{dbId}`.`Table:{id}` = TableInfo JSON, plus the auto-id counters given. */
  createTable(dbId: number, table: TableInfo, autoIds: AutoIds = {}): this {
    const h = dbKey(dbId);
    this.#put(hashDataKey(h, tableKey(table.id)), toJson(table));
    if (autoIds.rowId !== undefined) {
      this.#put(hashDataKey(h, autoTableIdKey(table.id)), utf8.encode(String(autoIds.rowId)));
    }
    if (autoIds.incrementId !== undefined) {
      this.#put(
        hashDataKey(h, autoIncrementIdKey(table.id)),
        utf8.encode(String(autoIds.incrementId)),
      );
    }
    if (autoIds.randomId !== undefined) {
      this.#put(hashDataKey(h, autoRandomIdKey(table.id)), utf8.encode(String(autoIds.randomId)));
    }
    return this;
  }

  /** Rewrites a table's TableInfo (e.g. an index changing state). */
  updateTable(dbId: number, table: TableInfo): this {
    this.#put(hashDataKey(dbKey(dbId), tableKey(table.id)), toJson(table));
    return this;
  }

  /** Removes `DB:{dbId}`.`Table:{id}` (the counters stay, as TiDB leaves them). */
  dropTable(dbId: number, tableId: number): this {
    this.mutations.push({ key: hashDataKey(dbKey(dbId), tableKey(tableId)), value: null });
    return this;
  }

  /** `DB:{dbId}`.`TID:{id}` = row id counter. */
  setAutoTableId(dbId: number, tableId: number, value: number | bigint): this {
    this.#put(hashDataKey(dbKey(dbId), autoTableIdKey(tableId)), utf8.encode(String(value)));
    return this;
  }

  /** `DDLJobHistory`.`{jobId}` = Job JSON. */
  addHistoryJob(job: Job): this {
    this.#put(hashDataKey(MetaKey.DDLJobHistory, jobIdField(job.id)), toJson(job));
    return this;
  }
}

/** Reads keys at a snapshot ts: the interface the schema reader needs from KV. */
export interface KvReader {
  /** The value of `key` at `ts`, or null when absent. */
  get(key: Uint8Array, ts: bigint): Promise<Uint8Array | null>;
  /** Up to `limit` pairs in `[start, end)` at `ts`, in key order (empty end = unbounded). */
  scan(
    start: Uint8Array,
    end: Uint8Array,
    ts: bigint,
    limit: number,
  ): Promise<{ key: Uint8Array; value: Uint8Array }[]>;
}

/** A schema object with the exact JSON bytes it was stored as (BR stores those bytes as-is). */
export interface WithRaw<T> {
  info: T;
  raw: Uint8Array;
}

const PAGE = 256;

/** Reads TiDB's meta at one snapshot ts. */
export class SchemaReader {
  /** Reads through `kv` at `ts`. */
  constructor(readonly kv: KvReader, readonly ts: bigint) {}

  /** Every field of a hash, in field order. */
  async hashGetAll(key: string | Uint8Array): Promise<{ field: Uint8Array; value: Uint8Array }[]> {
    const prefix = hashDataPrefix(key);
    const end = prefixNext(prefix);
    const out: { field: Uint8Array; value: Uint8Array }[] = [];
    let start = prefix;
    for (;;) {
      const page = await this.kv.scan(start, end, this.ts, PAGE);
      for (const p of page) out.push({ field: decodeHashDataKey(p.key).field, value: p.value });
      if (page.length < PAGE) return out;
      start = concatBytes(page[page.length - 1]!.key, Uint8Array.of(0));
    }
  }

  /** One hash field, or null. */
  hashGet(key: string | Uint8Array, field: string | Uint8Array): Promise<Uint8Array | null> {
    return this.kv.get(hashDataKey(key, field), this.ts);
  }

  /** A string key's value, or null. */
  getString(key: string | Uint8Array): Promise<Uint8Array | null> {
    return this.kv.get(stringDataKey(key), this.ts);
  }

  async #int(v: Promise<Uint8Array | null>): Promise<bigint> {
    const b = await v;
    return b === null || b.length === 0 ? 0n : BigInt(text.decode(b));
  }

  /** `NextGlobalID`: the largest id handed out (0 when never set). */
  getGlobalId(): Promise<bigint> {
    return this.#int(this.getString(MetaKey.NextGlobalID));
  }

  /** The schema version (0 when never set). */
  getSchemaVersion(): Promise<bigint> {
    return this.#int(this.getString(MetaKey.SchemaVersion));
  }

  /** Every database, with its JSON bytes. */
  async listDatabases(): Promise<WithRaw<DBInfo>[]> {
    const fields = await this.hashGetAll(MetaKey.DBs);
    return fields.map((f) => ({ info: parseJson<DBInfo>(f.value), raw: f.value }));
  }

  /** Every table (and view/sequence) of a database, with its JSON bytes. */
  async listTables(dbId: number | bigint): Promise<WithRaw<TableInfo>[]> {
    const fields = await this.hashGetAll(dbKey(dbId));
    const out: WithRaw<TableInfo>[] = [];
    for (const f of fields) {
      if (!text.decode(f.field).startsWith("Table:")) continue;
      out.push({ info: parseJson<TableInfo>(f.value), raw: f.value });
    }
    return out;
  }

  /**
   * The tables (and views/sequences) of a database in field order, up to `limit` at a time:
   * only the `Table:` fields are read, so a caller holds one page, not the database.
   */
  async *tablePages(dbId: number | bigint, limit = PAGE): AsyncGenerator<WithRaw<TableInfo>[]> {
    const h = dbKey(dbId);
    // Every field starting with "Table:" sorts between "Table:" and "Table;" (':' + 1), and the
    // memcomparable encoding keeps that order.
    let start = hashDataKey(h, "Table:");
    const end = hashDataKey(h, "Table;");
    for (;;) {
      const page = await this.kv.scan(start, end, this.ts, limit);
      if (page.length > 0) {
        yield page.map((p) => ({ info: parseJson<TableInfo>(p.value), raw: p.value }));
      }
      if (page.length < limit) return;
      start = concatBytes(page[page.length - 1]!.key, Uint8Array.of(0));
    }
  }

  /** One table, or null. */
  async getTable(
    dbId: number | bigint,
    tableId: number | bigint,
  ): Promise<WithRaw<TableInfo> | null> {
    const raw = await this.hashGet(dbKey(dbId), tableKey(tableId));
    return raw === null ? null : { info: parseJson<TableInfo>(raw), raw };
  }

  /** The row-id counter `TID:{id}` (0 when absent). */
  getAutoTableId(dbId: number | bigint, tableId: number | bigint): Promise<bigint> {
    return this.#int(this.hashGet(dbKey(dbId), autoTableIdKey(tableId)));
  }

  /**
   * The row-id counters `TID:{id}` of a database whose fields lie, in field (text) order, from
   * `TID:{first}` to `TID:{last}`: for a page of `tablePages` (its first and last id as text),
   * every counter of its tables in one scan instead of a read per table. Absent counters are
   * absent from the map.
   */
  async autoTableIdsBetween(
    dbId: number | bigint,
    first: string,
    last: string,
  ): Promise<Map<number, bigint>> {
    const h = dbKey(dbId);
    let start = hashDataKey(h, autoTableIdKey(first));
    // Nothing sorts between a field and the field followed by a zero byte.
    const end = hashDataKey(h, `${autoTableIdKey(last)}\u0000`);
    const out = new Map<number, bigint>();
    for (;;) {
      const page = await this.kv.scan(start, end, this.ts, PAGE);
      for (const p of page) {
        const field = text.decode(decodeHashDataKey(p.key).field);
        out.set(Number(field.slice(4)), p.value.length === 0 ? 0n : BigInt(text.decode(p.value)));
      }
      if (page.length < PAGE) return out;
      start = concatBytes(page[page.length - 1]!.key, Uint8Array.of(0));
    }
  }

  /** The auto_increment counter `IID:{id}` (0 when absent). */
  getAutoIncrementId(dbId: number | bigint, tableId: number | bigint): Promise<bigint> {
    return this.#int(this.hashGet(dbKey(dbId), autoIncrementIdKey(tableId)));
  }

  /** The auto_random counter `TARID:{id}` (0 when absent). */
  getAutoRandomId(dbId: number | bigint, tableId: number | bigint): Promise<bigint> {
    return this.#int(this.hashGet(dbKey(dbId), autoRandomIdKey(tableId)));
  }

  /** A sequence's value `SID:{id}` (0 when absent). */
  getSequenceValue(dbId: number | bigint, tableId: number | bigint): Promise<bigint> {
    return this.#int(this.hashGet(dbKey(dbId), sequenceKey(tableId)));
  }

  /** The SchemaDiff of a version, or null. */
  async getSchemaDiff(version: number | bigint): Promise<SchemaDiff | null> {
    const raw = await this.getString(schemaDiffKey(version));
    return raw === null ? null : parseJson<SchemaDiff>(raw);
  }

  /** Every job in the DDL history, in job-id order, with its JSON bytes. */
  async listHistoryJobs(): Promise<WithRaw<Job>[]> {
    const fields = await this.hashGetAll(MetaKey.DDLJobHistory);
    return fields.map((f) => ({ info: parseJson<Job>(f.value), raw: f.value }));
  }

  /** Jobs still queued in a DDL job list (`DDLJobList` or `DDLJobAddIdxList`). */
  async listQueuedJobs(list: string = MetaKey.DDLJobList): Promise<WithRaw<Job>[]> {
    const prefix = concatBytes(META, encodeBytes(utf8.encode(list)), encodeUint(LIST_DATA));
    const end = prefixNext(prefix);
    const out: WithRaw<Job>[] = [];
    let start = prefix;
    for (;;) {
      const page = await this.kv.scan(start, end, this.ts, PAGE);
      for (const p of page) out.push({ info: parseJson<Job>(p.value), raw: p.value });
      if (page.length < PAGE) return out;
      start = concatBytes(page[page.length - 1]!.key, Uint8Array.of(0));
    }
  }
}
