/**
 * TiDB's schema models as JSON, with field names exactly as TiDB marshals them (`DBInfo`,
 * `TableInfo`, `ColumnInfo`, `IndexInfo`, `PartitionInfo`, DDL `Job`, `SchemaDiff`), so that
 * BR, TiDB and tibr can read what the playground writes and the other way round.
 *
 * IDs are JSON numbers (TiDB keeps them below 2^48). TSO-valued fields exceed 2^53, so JSON goes
 * through `toJson`/`parseJson`, which keep them exact as `bigint`.
 * @module
 */
import {
  ColumnFlag,
  DEFAULT_CHARSET,
  DEFAULT_COLLATION,
  IndexType,
  MysqlType,
  PartitionType,
  SchemaState,
  UNSPECIFIED_LENGTH,
} from "./types.ts";

/** A case-insensitive name: original and lower case. */
export interface CIStr {
  O: string;
  L: string;
}

/** A column's type (`types.FieldType` JSON). */
export interface FieldType {
  Tp: number;
  Flag: number;
  Flen: number;
  Decimal: number;
  Charset: string;
  Collate: string;
  Elems: string[] | null;
  ElemsIsBinaryLit: boolean[] | null;
  Array: boolean;
}

/** A table column (`model.ColumnInfo` JSON). */
export interface ColumnInfo {
  id: number;
  name: CIStr;
  offset: number;
  origin_default: unknown;
  origin_default_bit: string | null;
  default: unknown;
  default_bit: string | null;
  default_is_expr: boolean;
  generated_expr_string: string;
  generated_stored: boolean;
  dependences: Record<string, unknown> | null;
  type: FieldType;
  state: number;
  comment: string;
  hidden: boolean;
  change_state_info: { relative_col_offset: number } | null;
  version: number;
}

/** One column of an index (`model.IndexColumn` JSON); length -1 = the whole value. */
export interface IndexColumn {
  name: CIStr;
  offset: number;
  length: number;
}

/** An index (`model.IndexInfo` JSON). */
export interface IndexInfo {
  id: number;
  idx_name: CIStr;
  tbl_name: CIStr;
  idx_cols: IndexColumn[];
  state: number;
  backfill_state: number;
  comment: string;
  index_type: number;
  is_unique: boolean;
  is_primary: boolean;
  is_invisible: boolean;
  is_global: boolean;
  mv_index: boolean;
}

/** One partition (`model.PartitionDefinition` JSON). */
export interface PartitionDefinition {
  id: number;
  name: CIStr;
  less_than: string[] | null;
  in_values: string[][] | null;
  policy_ref_info: PolicyRefInfo | null;
  /** Absent in JSON TiDB wrote without a comment (`omitempty`). */
  comment?: string;
}

/** A reference to a placement policy (`model.PolicyRefInfo` JSON). */
export interface PolicyRefInfo {
  id: number;
  name: CIStr;
}

/** A foreign key (`model.FKInfo` JSON); `on_delete`/`on_update` are `ast.ReferOptionType`. */
export interface FKInfo {
  id: number;
  fk_name: CIStr;
  ref_schema: CIStr;
  ref_table: CIStr;
  ref_cols: CIStr[];
  cols: CIStr[];
  on_delete: number;
  on_update: number;
  state: number;
  version: number;
}

/** A CHECK constraint (`model.ConstraintInfo` JSON). */
export interface ConstraintInfo {
  id: number;
  constraint_name: CIStr;
  tbl_name: CIStr;
  constraint_cols: CIStr[];
  enforced: boolean;
  in_column: boolean;
  expr_string: string;
  state: number;
}

/** A user as TiDB records it (`auth.UserIdentity` JSON; Go field names, no tags). */
export interface UserIdentity {
  Username: string;
  Hostname: string;
  CurrentUser: boolean;
  AuthUsername: string;
  AuthHostname: string;
  AuthPlugin?: string;
}

/**
 * A view (`model.ViewInfo` JSON): algorithm 0 UNDEFINED, 1 MERGE, 2 TEMPTABLE; security 0
 * DEFINER, 1 INVOKER; check option 0 LOCAL, 1 CASCADED.
 */
export interface ViewInfo {
  view_algorithm: number;
  view_definer: UserIdentity | null;
  view_security: number;
  view_select: string;
  view_checkoption: number;
  view_cols: CIStr[] | null;
}

/** A sequence (`model.SequenceInfo` JSON); values beyond 2^53 parse as bigint. */
export interface SequenceInfo {
  sequence_start: number | bigint;
  sequence_cache: boolean;
  sequence_cycle: boolean;
  sequence_min_value: number | bigint;
  sequence_max_value: number | bigint;
  sequence_increment: number | bigint;
  sequence_cache_value: number | bigint;
  sequence_comment: string;
}

/** A table's TTL (`model.TTLInfo` JSON); `interval_time_unit` is `ast.TimeUnitType`. */
export interface TTLInfo {
  column_name: CIStr;
  interval_expr: string;
  interval_time_unit: number;
  enable: boolean;
  job_interval: string;
}

/** Partitioning of a table (`model.PartitionInfo` JSON). */
export interface PartitionInfo {
  type: number;
  expr: string;
  columns: CIStr[] | null;
  enable: boolean;
  is_empty_columns: boolean;
  definitions: PartitionDefinition[];
  adding_definitions: PartitionDefinition[] | null;
  dropping_definitions: PartitionDefinition[] | null;
  NewPartitionIDs: number[] | null;
  states: { id: number; state: number }[] | null;
  num: number;
  ddl_state: number;
  new_table_id: number;
  ddl_type: number;
  ddl_expr: string;
  ddl_columns: CIStr[] | null;
  ddl_update_indexes: unknown;
}

/** A table (`model.TableInfo` JSON). */
export interface TableInfo {
  id: number;
  name: CIStr;
  charset: string;
  collate: string;
  cols: ColumnInfo[];
  index_info: IndexInfo[] | null;
  constraint_info: ConstraintInfo[] | null;
  fk_info: FKInfo[] | null;
  state: number;
  pk_is_handle: boolean;
  is_common_handle: boolean;
  common_handle_version: number;
  comment: string;
  auto_inc_id: number;
  auto_id_cache: number;
  auto_rand_id: number;
  max_col_id: number;
  max_idx_id: number;
  max_fk_id: number;
  max_cst_id: number;
  /** TSO of the last schema change. */
  update_timestamp: bigint;
  ShardRowIDBits: number;
  max_shard_row_id_bits: number;
  auto_random_bits: number;
  auto_random_range_bits: number;
  pre_split_regions: number;
  partition: PartitionInfo | null;
  compression: string;
  view: ViewInfo | null;
  sequence: SequenceInfo | null;
  Lock: unknown;
  version: number;
  tiflash_replica: unknown;
  is_columnar: boolean;
  temp_table_type: number;
  cache_table_status: number;
  policy_ref_info: PolicyRefInfo | null;
  stats_options: unknown;
  exchange_partition_info: unknown;
  ttl_info: TTLInfo | null;
  revision: number;
}

/** A database (`model.DBInfo` JSON). */
export interface DBInfo {
  id: number;
  db_name: CIStr;
  charset: string;
  collate: string;
  Deprecated: Record<string, never>;
  state: number;
  policy_ref_info: PolicyRefInfo | null;
}

/** The result a finished DDL job records (`model.HistoryInfo`; Go field names, no tags). */
export interface HistoryInfo {
  SchemaVersion: number;
  DBInfo: DBInfo | null;
  TableInfo: TableInfo | null;
  FinishedTS: bigint;
  MultipleTableInfos: TableInfo[] | null;
}

/** A DDL job (`model.Job` JSON), as kept in the DDL history that incremental backups read. */
export interface Job {
  id: number;
  type: number;
  schema_id: number;
  table_id: number;
  schema_name: string;
  table_name: string;
  state: number;
  warning: unknown;
  err: unknown;
  err_count: number;
  row_count: number;
  raw_args: unknown;
  schema_state: number;
  snapshot_ver: bigint;
  real_start_ts: bigint;
  start_ts: bigint;
  dependency_id: number;
  query: string;
  binlog: HistoryInfo | null;
  version: number;
  reorg_meta: unknown;
  multi_schema_info: unknown;
  priority: number;
  seq_num: bigint;
  charset: string;
  collate: string;
  admin_operator: number;
  trace_info: unknown;
  bdr_role: string;
  cdc_write_source: bigint;
  local_mode: boolean;
  sql_mode: number;
}

/** The change at one schema version (`model.SchemaDiff` JSON). */
export interface SchemaDiff {
  version: number;
  type: number;
  schema_id: number;
  table_id: number;
  old_table_id: number;
  old_schema_id: number;
  regenerate_schema_map: boolean;
  affected_options: unknown;
}

/** DDL action types (`model.ActionType`) the playground records. */
export const ActionType = {
  CreateSchema: 1,
  DropSchema: 2,
  CreateTable: 3,
  DropTable: 4,
  AddColumn: 5,
  DropColumn: 6,
  AddIndex: 7,
  DropIndex: 8,
  TruncateTable: 11,
  RenameTable: 14,
  AddTablePartition: 19,
  DropTablePartition: 20,
} as const;

/** DDL job states (`model.JobState`). */
export const JobState = {
  None: 0,
  Running: 1,
  Rollingback: 2,
  RollbackDone: 3,
  Done: 4,
  Cancelled: 5,
  Synced: 6,
  Cancelling: 7,
  Queueing: 8,
} as const;

// Fields holding TSO values or other u64s: always parsed as bigint so their type is stable.
const U64_FIELDS = new Set([
  "update_timestamp",
  "snapshot_ver",
  "real_start_ts",
  "start_ts",
  "FinishedTS",
  "seq_num",
  "cdc_write_source",
]);

type RawJson = { rawJSON(text: string): unknown };

/** JSON of a model, bigints written as plain numbers like Go's encoder does. */
export function toJson(value: unknown): Uint8Array {
  const text = JSON.stringify(
    value,
    (_k, v) => (typeof v === "bigint" ? (JSON as unknown as RawJson).rawJSON(v.toString()) : v),
  );
  return new TextEncoder().encode(text);
}

/**
 * Parses model JSON, keeping integers beyond 2^53 and the TSO fields exact as bigint.
 *
 * A reviver that reads each number's source text makes JSON.parse about 7 times slower, and a
 * restore of 100k tables parses 100k TableInfos more than once; so the TSO fields' values are
 * first turned into marked strings (they are object members, `{` or `,` then `"name":`, which
 * cannot occur unescaped inside a JSON string), the text is parsed plainly, and the marked
 * strings become bigints. Only when some other integer is beyond 2^53 (rare: its exact digits
 * are gone after a plain parse) is the text parsed again with the reviver.
 */
export function parseJson<T>(bytes: Uint8Array | string): T {
  const text = typeof bytes === "string" ? bytes : new TextDecoder().decode(bytes);
  // A NUL in the input's own strings would read as a mark: such text takes the slow way.
  if (text.includes("\\u0000")) return _parseSlow(text) as T;
  const marked = text.replace(_U64_MEMBER, `$1"${_U64_MARK}$2"`);
  const fast = _unmark(JSON.parse(marked));
  return (fast === _UNSAFE ? _parseSlow(text) : fast) as T;
}

const _U64_MEMBER = new RegExp(
  `([{,]\\s*"(?:${[...U64_FIELDS].join("|")})"\\s*:\\s*)(-?\\d+)(?=\\s*[,}])`,
  "g",
);
// NUL cannot appear raw in JSON text; escaped, it sends the text the slow way.
const _U64_MARK = "\\u0000u64:";
const _UNSAFE = Symbol("unsafe integer");
const _MARKED = /^\0u64:-?\d+$/;

/** Marked strings to bigint, in place; `_UNSAFE` when a number lost digits. */
function _unmark(v: unknown): unknown {
  if (typeof v === "number") {
    return Number.isInteger(v) && !Number.isSafeInteger(v) ? _UNSAFE : v;
  }
  if (typeof v === "string") {
    return v.charCodeAt(0) === 0 && _MARKED.test(v) ? BigInt(v.slice(5)) : v;
  }
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = _unmark(v[i]);
      if (x === _UNSAFE) return _UNSAFE;
      v[i] = x;
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    const x = _unmark(o[k]);
    if (x === _UNSAFE) return _UNSAFE;
    // A TSO field written other than as a plain integer (1e3, say) is still a bigint.
    o[k] = typeof x === "number" && U64_FIELDS.has(k) ? BigInt(Math.trunc(x)) : x;
  }
  return o;
}

function _parseSlow(text: string): unknown {
  return JSON.parse(
    text,
    function (this: unknown, key: string, v: unknown, ctx?: { source?: string }) {
      if (typeof v !== "number") return v;
      if (U64_FIELDS.has(key)) return ctx?.source ? BigInt(ctx.source) : BigInt(Math.trunc(v));
      if (!Number.isSafeInteger(v) && Number.isInteger(v) && ctx?.source) {
        return BigInt(ctx.source);
      }
      return v;
    } as (key: string, value: unknown) => unknown,
  );
}

/** A CIStr from a name. */
export function ciStr(name: string): CIStr {
  return { O: name, L: name.toLowerCase() };
}

/** Options of `newColumn`. */
export interface ColumnOptions {
  id: number;
  name: string;
  offset: number;
  tp: number;
  flag?: number;
  flen?: number;
  decimal?: number;
  charset?: string;
  collate?: string;
  state?: number;
  defaultValue?: unknown;
}

// TiDB's typesNeedCharset: the types that take the table's charset and collation.
const STRING_TYPES: ReadonlySet<number> = new Set([
  MysqlType.Varchar,
  MysqlType.String,
  MysqlType.VarString,
  MysqlType.Blob,
  MysqlType.TinyBlob,
  MysqlType.MediumBlob,
  MysqlType.LongBlob,
  MysqlType.Enum,
  MysqlType.Set,
]);

/** A column with TiDB's defaults: strings in utf8mb4_bin, other types in binary. */
export function newColumn(o: ColumnOptions): ColumnInfo {
  const isString = STRING_TYPES.has(o.tp);
  return {
    id: o.id,
    name: ciStr(o.name),
    offset: o.offset,
    origin_default: null,
    origin_default_bit: null,
    default: o.defaultValue ?? null,
    default_bit: null,
    default_is_expr: false,
    generated_expr_string: "",
    generated_stored: false,
    dependences: null,
    type: {
      Tp: o.tp,
      Flag: o.flag ?? 0,
      Flen: o.flen ?? -1,
      Decimal: o.decimal ?? 0,
      Charset: o.charset ?? (isString ? DEFAULT_CHARSET : "binary"),
      Collate: o.collate ?? (isString ? DEFAULT_COLLATION : "binary"),
      Elems: null,
      ElemsIsBinaryLit: null,
      Array: false,
    },
    state: o.state ?? SchemaState.Public,
    comment: "",
    hidden: false,
    change_state_info: null,
    version: 2,
  };
}

/** Options of `newIndex`. */
export interface IndexOptions {
  id: number;
  name: string;
  table: string;
  columns: { name: string; offset: number; length?: number }[];
  unique?: boolean;
  primary?: boolean;
  state?: number;
}

/** A B-tree index. */
export function newIndex(o: IndexOptions): IndexInfo {
  return {
    id: o.id,
    idx_name: ciStr(o.name),
    tbl_name: ciStr(o.table),
    idx_cols: o.columns.map((c) => ({
      name: ciStr(c.name),
      offset: c.offset,
      length: c.length ?? UNSPECIFIED_LENGTH,
    })),
    state: o.state ?? SchemaState.Public,
    backfill_state: 0,
    comment: "",
    index_type: IndexType.Btree,
    is_unique: o.unique ?? false,
    is_primary: o.primary ?? false,
    is_invisible: false,
    is_global: false,
    mv_index: false,
  };
}

/** Options of `newTable`. */
export interface TableOptions {
  id: number;
  name: string;
  columns: ColumnInfo[];
  indexes?: IndexInfo[];
  pkIsHandle?: boolean;
  isCommonHandle?: boolean;
  partition?: PartitionInfo | null;
  autoIncId?: number;
  updateTs?: bigint;
}

/** A table with TiDB's current defaults (TableInfo version 5, clustered-index version 1). */
export function newTable(o: TableOptions): TableInfo {
  const indexes = o.indexes ?? [];
  return {
    id: o.id,
    name: ciStr(o.name),
    charset: DEFAULT_CHARSET,
    collate: DEFAULT_COLLATION,
    cols: o.columns,
    index_info: indexes,
    constraint_info: null,
    fk_info: null,
    state: SchemaState.Public,
    pk_is_handle: o.pkIsHandle ?? false,
    is_common_handle: o.isCommonHandle ?? false,
    common_handle_version: o.isCommonHandle ? 1 : 0,
    comment: "",
    auto_inc_id: o.autoIncId ?? 0,
    auto_id_cache: 0,
    auto_rand_id: 0,
    max_col_id: o.columns.reduce((m, c) => Math.max(m, c.id), 0),
    max_idx_id: indexes.reduce((m, i) => Math.max(m, i.id), 0),
    max_fk_id: 0,
    max_cst_id: 0,
    update_timestamp: o.updateTs ?? 0n,
    ShardRowIDBits: 0,
    max_shard_row_id_bits: 0,
    auto_random_bits: 0,
    auto_random_range_bits: 0,
    pre_split_regions: 0,
    partition: o.partition ?? null,
    compression: "",
    view: null,
    sequence: null,
    Lock: null,
    version: 5,
    tiflash_replica: null,
    is_columnar: false,
    temp_table_type: 0,
    cache_table_status: 0,
    policy_ref_info: null,
    stats_options: null,
    exchange_partition_info: null,
    ttl_info: null,
    revision: 0,
  };
}

/** Hash or range partitioning over the given partitions. */
export function newPartitionInfo(
  type: number,
  expr: string,
  definitions: { id: number; name: string; lessThan?: string[] }[],
): PartitionInfo {
  return {
    type,
    expr,
    columns: null,
    enable: true,
    is_empty_columns: false,
    definitions: definitions.map((d) => ({
      id: d.id,
      name: ciStr(d.name),
      less_than: type === PartitionType.Range ? (d.lessThan ?? null) : null,
      in_values: null,
      policy_ref_info: null,
    })),
    adding_definitions: null,
    dropping_definitions: null,
    NewPartitionIDs: null,
    states: null,
    num: type === PartitionType.Hash ? definitions.length : 0,
    ddl_state: 0,
    new_table_id: 0,
    ddl_type: 0,
    ddl_expr: "",
    ddl_columns: null,
    ddl_update_indexes: null,
  };
}

/** A public database in utf8mb4_bin. */
export function newDatabase(id: number, name: string): DBInfo {
  return {
    id,
    db_name: ciStr(name),
    charset: DEFAULT_CHARSET,
    collate: DEFAULT_COLLATION,
    Deprecated: {},
    state: SchemaState.Public,
    policy_ref_info: null,
  };
}

/** Options of `newJob`. */
export interface JobOptions {
  id: number;
  type: number;
  schemaId: number;
  tableId?: number;
  schemaName: string;
  tableName?: string;
  query: string;
  schemaVersion: number;
  startTs: bigint;
  finishedTs: bigint;
  db?: DBInfo;
  table?: TableInfo;
}

/** A finished (synced) DDL job as TiDB moves it to the history. */
export function newJob(o: JobOptions): Job {
  return {
    id: o.id,
    type: o.type,
    schema_id: o.schemaId,
    table_id: o.tableId ?? 0,
    schema_name: o.schemaName,
    table_name: o.tableName ?? "",
    state: JobState.Synced,
    warning: null,
    err: null,
    err_count: 0,
    row_count: 0,
    raw_args: null,
    schema_state: SchemaState.Public,
    snapshot_ver: 0n,
    real_start_ts: o.startTs,
    start_ts: o.startTs,
    dependency_id: 0,
    query: o.query,
    binlog: {
      SchemaVersion: o.schemaVersion,
      DBInfo: o.db ?? null,
      TableInfo: o.table ?? null,
      FinishedTS: o.finishedTs,
      MultipleTableInfos: null,
    },
    version: 1,
    reorg_meta: null,
    multi_schema_info: null,
    priority: 0,
    seq_num: BigInt(o.id),
    charset: DEFAULT_CHARSET,
    collate: DEFAULT_COLLATION,
    admin_operator: 0,
    trace_info: null,
    bdr_role: "",
    cdc_write_source: 0n,
    local_mode: false,
    sql_mode: 0,
  };
}

/** The ids that hold a table's data: its partitions' ids, or its own id when not partitioned. */
export function physicalTableIds(table: TableInfo): number[] {
  if (table.partition?.enable) return table.partition.definitions.map((d) => d.id);
  return [table.id];
}

/** The indexes BR backs up and checksums: public ones only. */
export function publicIndexes(table: TableInfo): IndexInfo[] {
  return (table.index_info ?? []).filter((i) => i.state === SchemaState.Public);
}

/** The primary-key index of a table, if any. */
export function primaryIndex(table: TableInfo): IndexInfo | undefined {
  return (table.index_info ?? []).find((i) => i.is_primary);
}

/** True when the column is the int handle of a pk-is-handle table. */
export function isPkHandleColumn(table: TableInfo, col: ColumnInfo): boolean {
  return table.pk_is_handle && (col.type.Flag & ColumnFlag.PriKey) !== 0;
}
