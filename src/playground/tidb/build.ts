/**
 * CREATE TABLE / ADD COLUMN / ADD INDEX to TiDB's TableInfo, ColumnInfo and IndexInfo as
 * TiDB's DDL builds them (`pkg/ddl/create_table.go`, `columnDefToCol`, `buildIndexInfo`):
 * default lengths per type, charset and collation inheritance, column flags from constraints,
 * clustered-index rules (an int primary key is the handle unless NONCLUSTERED; other keys are
 * clustered only when CLUSTERED), column and index ids counted from 1 in definition order.
 * @module
 */
import {
  type ColumnDef,
  type Expr,
  type IndexDef,
  type PartitionBy,
  restoreExpr,
  type TableOptions,
  type TypeDef,
} from "./ast.ts";
import { notSupported, SqlError } from "./errors.ts";
import {
  ciStr,
  type ColumnInfo,
  type IndexInfo,
  newColumn,
  newIndex,
  newTable,
  type PartitionInfo,
  type TableInfo,
} from "../../tidb/model.ts";
import { ColumnFlag, IndexType, MysqlType, PartitionType, SchemaState } from "../../tidb/types.ts";
import { defaultValueText, zeroValueText } from "./values.ts";

/** The charset's default collation in TiDB (`charset.GetDefaultCollation`). */
export function defaultCollation(charset: string): string {
  switch (charset) {
    case "utf8mb4":
      return "utf8mb4_bin";
    case "utf8":
      return "utf8_bin";
    case "latin1":
      return "latin1_bin";
    case "ascii":
      return "ascii_bin";
    case "binary":
      return "binary";
    case "gbk":
      return "gbk_chinese_ci";
    case "gb18030":
      return "gb18030_chinese_ci";
    default:
      throw new SqlError(1115, "42000", `Unknown character set: '${charset}'`);
  }
}

/** The charset of a collation name. */
export function charsetOfCollation(collation: string): string {
  if (collation === "binary") return "binary";
  const cs = collation.split("_")[0]!;
  defaultCollation(cs);
  return cs;
}

interface TypeSpec {
  tp: number;
  flen: number;
  /** Default length of the unsigned variant (integers). */
  uflen?: number;
  decimal: number;
  string?: boolean;
  binary?: boolean;
}

const TYPES: Record<string, TypeSpec> = {
  bit: { tp: MysqlType.Bit, flen: 1, decimal: 0 },
  tinyint: { tp: MysqlType.Tiny, flen: 4, uflen: 3, decimal: 0 },
  bool: { tp: MysqlType.Tiny, flen: 1, decimal: 0 },
  boolean: { tp: MysqlType.Tiny, flen: 1, decimal: 0 },
  smallint: { tp: MysqlType.Short, flen: 6, uflen: 5, decimal: 0 },
  mediumint: { tp: MysqlType.Int24, flen: 9, uflen: 8, decimal: 0 },
  int: { tp: MysqlType.Long, flen: 11, uflen: 10, decimal: 0 },
  integer: { tp: MysqlType.Long, flen: 11, uflen: 10, decimal: 0 },
  bigint: { tp: MysqlType.Longlong, flen: 20, uflen: 20, decimal: 0 },
  decimal: { tp: MysqlType.NewDecimal, flen: 10, decimal: 0 },
  numeric: { tp: MysqlType.NewDecimal, flen: 10, decimal: 0 },
  dec: { tp: MysqlType.NewDecimal, flen: 10, decimal: 0 },
  fixed: { tp: MysqlType.NewDecimal, flen: 10, decimal: 0 },
  float: { tp: MysqlType.Float, flen: 12, decimal: -1 },
  double: { tp: MysqlType.Double, flen: 22, decimal: -1 },
  real: { tp: MysqlType.Double, flen: 22, decimal: -1 },
  date: { tp: MysqlType.Date, flen: 10, decimal: 0 },
  datetime: { tp: MysqlType.Datetime, flen: 19, decimal: 0 },
  timestamp: { tp: MysqlType.Timestamp, flen: 19, decimal: 0 },
  time: { tp: MysqlType.Duration, flen: 10, decimal: 0 },
  year: { tp: MysqlType.Year, flen: 4, decimal: 0 },
  char: { tp: MysqlType.String, flen: 1, decimal: 0, string: true },
  varchar: { tp: MysqlType.Varchar, flen: -1, decimal: 0, string: true },
  binary: { tp: MysqlType.String, flen: 1, decimal: 0, string: true, binary: true },
  varbinary: { tp: MysqlType.Varchar, flen: -1, decimal: 0, string: true, binary: true },
  tinytext: { tp: MysqlType.TinyBlob, flen: 255, decimal: 0, string: true },
  text: { tp: MysqlType.Blob, flen: 65535, decimal: 0, string: true },
  mediumtext: { tp: MysqlType.MediumBlob, flen: 16777215, decimal: 0, string: true },
  longtext: { tp: MysqlType.LongBlob, flen: 4294967295, decimal: 0, string: true },
  tinyblob: { tp: MysqlType.TinyBlob, flen: 255, decimal: 0, string: true, binary: true },
  blob: { tp: MysqlType.Blob, flen: 65535, decimal: 0, string: true, binary: true },
  mediumblob: {
    tp: MysqlType.MediumBlob,
    flen: 16777215,
    decimal: -1,
    string: true,
    binary: true,
  },
  longblob: { tp: MysqlType.LongBlob, flen: 4294967295, decimal: 0, string: true, binary: true },
  enum: { tp: MysqlType.Enum, flen: -1, decimal: 0, string: true },
  set: { tp: MysqlType.Set, flen: -1, decimal: 0, string: true },
  json: { tp: MysqlType.JSON, flen: 4294967295, decimal: 0 },
};

const INT_TYPES: ReadonlySet<number> = new Set([
  MysqlType.Tiny,
  MysqlType.Short,
  MysqlType.Int24,
  MysqlType.Long,
  MysqlType.Longlong,
]);

/** Whether a column type is an integer type. */
export function isIntType(tp: number): boolean {
  return INT_TYPES.has(tp);
}

const TIME_TYPES: ReadonlySet<number> = new Set([
  MysqlType.Datetime,
  MysqlType.Timestamp,
  MysqlType.Duration,
]);

/** The column of a definition, without constraint flags; `id` and `offset` set by the caller. */
export function buildColumn(
  def: ColumnDef,
  id: number,
  offset: number,
  tableCharset: string,
  tableCollate: string,
): ColumnInfo {
  const td: TypeDef = def.type;
  const spec = TYPES[td.name];
  if (!spec) throw notSupported(`column type ${td.name.toUpperCase()}`);
  let flen = td.flen ?? (td.unsigned && spec.uflen !== undefined ? spec.uflen : spec.flen);
  let decimal = spec.decimal;
  if (spec.tp === MysqlType.NewDecimal) {
    decimal = td.decimal ?? 0;
    if (flen > 65 || decimal > 30 || decimal > flen) {
      throw new SqlError(1426, "42000", `Too-big precision ${flen} specified for '${def.name}'`);
    }
  } else if (spec.tp === MysqlType.Float || spec.tp === MysqlType.Double) {
    if (td.flen !== undefined && td.decimal === undefined && spec.tp === MysqlType.Float) {
      // FLOAT(p): p > 24 makes it a DOUBLE, as MySQL does.
      if (td.flen > 24) {
        return buildColumn(
          { ...def, type: { ...td, name: "double", flen: undefined } },
          id,
          offset,
          tableCharset,
          tableCollate,
        );
      }
      flen = 12;
    }
    decimal = td.decimal ?? -1;
  } else if (TIME_TYPES.has(spec.tp)) {
    const fsp = td.flen ?? 0;
    if (fsp > 6) {
      throw new SqlError(
        1426,
        "42000",
        `Too-big precision ${fsp} specified for '${def.name}'. Maximum is 6.`,
      );
    }
    decimal = fsp;
    flen = spec.flen + (fsp > 0 ? 1 + fsp : 0);
  } else if (spec.tp === MysqlType.Date || spec.tp === MysqlType.Year) {
    flen = spec.flen;
  } else if (td.name === "varchar" || td.name === "varbinary") {
    if (td.flen === undefined) {
      throw new SqlError(1064, "42000", `varchar column ${def.name} needs a length`);
    }
  }
  let flag = 0;
  if (td.unsigned || spec.tp === MysqlType.Year) flag |= ColumnFlag.Unsigned;
  if (td.zerofill || spec.tp === MysqlType.Year) flag |= ColumnFlag.Zerofill;
  let charset = "binary";
  let collate = "binary";
  if (spec.string && !spec.binary) {
    const colCollate = def.collate ?? td.collate;
    charset = td.charset ?? (colCollate ? charsetOfCollation(colCollate) : tableCharset);
    collate = colCollate ??
      (td.charset ? defaultCollation(charset) : tableCollate);
    if (td.binaryAttr) collate = defaultCollation(charset);
    if (charset === "binary") flag |= ColumnFlag.Binary;
  } else if (spec.binary) {
    flag |= ColumnFlag.Binary;
  }
  const col = newColumn({
    id,
    name: def.name,
    offset,
    tp: spec.tp,
    flag,
    flen,
    decimal,
    charset,
    collate,
  });
  if (td.elems) {
    col.type.Elems = td.elems;
    col.type.ElemsIsBinaryLit = null;
  }
  if (def.notNull) col.type.Flag |= ColumnFlag.NotNull;
  if (def.autoIncrement) col.type.Flag |= ColumnFlag.AutoIncrement;
  if (def.onUpdate) {
    if (!(spec.tp === MysqlType.Datetime || spec.tp === MysqlType.Timestamp)) {
      throw new SqlError(1294, "HY000", `Invalid ON UPDATE clause for '${def.name}' column`);
    }
    col.type.Flag |= ColumnFlag.OnUpdateNow;
  }
  if (def.comment !== undefined) col.comment = def.comment;
  if (def.generated) {
    col.generated_expr_string = restoreExpr(def.generated.expr, false);
    col.generated_stored = def.generated.stored;
    const deps: Record<string, Record<string, never>> = {};
    const walk = (e: Expr) => {
      if (e.k === "col") deps[e.name.toLowerCase()] = {};
      if (e.k === "func") e.args.forEach(walk);
      if (e.k === "unary" || e.k === "isnull") walk(e.e);
      if (e.k === "binary") {
        walk(e.l);
        walk(e.r);
      }
      if (e.k === "in") [e.e, ...e.list].forEach(walk);
    };
    walk(def.generated.expr);
    col.dependences = deps;
  }
  if (def.defaultValue !== undefined) {
    if (def.generated) {
      throw new SqlError(
        3105,
        "HY000",
        `The default value specified for generated column '${def.name}' is not allowed.`,
      );
    }
    const d = defaultValueText(col, def.defaultValue);
    col.default = d.value;
    col.default_is_expr = d.isExpr;
    if (d.bit !== undefined) col.default_bit = d.bit;
    if (d.value === null && def.notNull) {
      throw new SqlError(1067, "42000", `Invalid default value for '${def.name}'`);
    }
  }
  return col;
}

/** TiDB's `setNoDefaultValueFlag`: NOT NULL without a default, unless auto or a timestamp. */
function setNoDefaultFlag(col: ColumnInfo, hasDefault: boolean): void {
  if (hasDefault || (col.type.Flag & ColumnFlag.NotNull) === 0) return;
  if (col.type.Flag & ColumnFlag.AutoIncrement) return;
  if (col.type.Tp === MysqlType.Timestamp) return;
  col.type.Flag |= ColumnFlag.NoDefaultValue;
}

/** What CREATE TABLE needs from the catalog. */
export interface BuildContext {
  genId(): number;
  dbCharset: string;
  dbCollate: string;
  updateTs: bigint;
}

/** The index of `def` over the table's current columns; flags the key columns as TiDB does. */
export function buildIndex(
  table: TableInfo,
  def: IndexDef,
  id: number,
): IndexInfo {
  const parts = def.parts.map((p) => {
    const col = table.cols.find((c) => c.name.L === p.name.toLowerCase());
    if (!col) throw new SqlError(1072, "42000", `Key column '${p.name}' doesn't exist in table`);
    if (p.length !== undefined) {
      const stringTypes: number[] = [
        MysqlType.Varchar,
        MysqlType.String,
        MysqlType.VarString,
        MysqlType.TinyBlob,
        MysqlType.Blob,
        MysqlType.MediumBlob,
        MysqlType.LongBlob,
      ];
      if (!stringTypes.includes(col.type.Tp) || (col.type.Flen >= 0 && p.length > col.type.Flen)) {
        throw new SqlError(
          1089,
          "HY000",
          "Incorrect prefix key; the used key part isn't a string, the used length is longer than the key part, or the storage engine doesn't support unique prefix keys",
        );
      }
    }
    if (col.type.Tp === MysqlType.JSON) throw notSupported("index on a JSON column");
    const blob = col.type.Tp >= MysqlType.TinyBlob && col.type.Tp <= MysqlType.Blob;
    if (blob && p.length === undefined) {
      throw new SqlError(
        1170,
        "42000",
        `BLOB/TEXT column '${col.name.O}' used in key specification without a key length`,
      );
    }
    return { name: col.name.O, offset: col.offset, length: p.length };
  });
  const idx = newIndex({
    id,
    name: def.kind === "primary" ? "PRIMARY" : def.name ?? "",
    table: table.name.O,
    columns: parts,
    unique: def.kind !== "index",
    primary: def.kind === "primary",
  });
  if (!def.name && def.kind !== "primary") {
    // An unnamed index takes its first column's name, then name_2, name_3... (TiDB's rule).
    const taken = new Set((table.index_info ?? []).map((i) => i.idx_name.L));
    let n = parts[0]!.name;
    for (let k = 2; taken.has(n.toLowerCase()); k++) n = `${parts[0]!.name}_${k}`;
    idx.idx_name = ciStr(n);
  }
  if ((table.index_info ?? []).some((i) => i.idx_name.L === idx.idx_name.L)) {
    throw new SqlError(1061, "42000", `Duplicate key name '${idx.idx_name.O}'`);
  }
  idx.is_invisible = def.invisible;
  if (def.invisible && def.kind === "primary") {
    throw new SqlError(3522, "HY000", "A primary key index cannot be invisible");
  }
  if (def.comment !== undefined) idx.comment = def.comment;
  if (def.indexType === "hash") idx.index_type = IndexType.Hash;
  else if (def.indexType === "rtree") idx.index_type = IndexType.Rtree;
  return idx;
}

/** TiDB's column flags for an index: PRI, UNI on a single-column unique key, MUL otherwise. */
export function flagIndexColumns(table: TableInfo, idx: IndexInfo): void {
  const first = table.cols[idx.idx_cols[0]!.offset]!;
  if (idx.is_primary) {
    for (const ic of idx.idx_cols) {
      const c = table.cols[ic.offset]!;
      c.type.Flag |= ColumnFlag.PriKey | ColumnFlag.NotNull;
    }
  } else if (idx.is_unique && idx.idx_cols.length === 1) {
    first.type.Flag |= ColumnFlag.UniqueKey;
  } else {
    first.type.Flag |= ColumnFlag.MultipleKey;
  }
}

/** The TableInfo of a CREATE TABLE; ids from `ctx.genId` (table, then partitions). */
export function buildTableInfo(
  name: string,
  columns: ColumnDef[],
  indexDefs: IndexDef[],
  options: TableOptions,
  partition: PartitionBy | undefined,
  ctx: BuildContext,
): TableInfo {
  let charset = options.charset ?? ctx.dbCharset;
  let collate = options.collate ??
    (options.charset ? defaultCollation(options.charset) : ctx.dbCollate);
  if (options.collate && !options.charset) charset = charsetOfCollation(options.collate);
  if (options.charset) defaultCollation(options.charset);
  if (
    options.engine && !["innodb", "tidb", "myisam", "memory"].includes(options.engine.toLowerCase())
  ) {
    // TiDB accepts any engine name and ignores it; keep that.
  }
  collate = collate.toLowerCase();
  const id = ctx.genId();
  const seen = new Set<string>();
  const cols = columns.map((def, i) => {
    const l = def.name.toLowerCase();
    if (seen.has(l)) throw new SqlError(1060, "42S21", `Duplicate column name '${def.name}'`);
    seen.add(l);
    return buildColumn(def, i + 1, i, charset, collate);
  });
  const table = newTable({ id, name, columns: cols, updateTs: ctx.updateTs });
  table.charset = charset;
  table.collate = collate;
  // Inline PRIMARY KEY / UNIQUE become index definitions, in column order before the others.
  const defs: IndexDef[] = [];
  columns.forEach((c) => {
    if (c.primary) {
      defs.push({
        kind: "primary",
        parts: [{ name: c.name }],
        invisible: false,
        clustered: c.clustered,
      });
    }
    if (c.unique) defs.push({ kind: "unique", parts: [{ name: c.name }], invisible: false });
  });
  const all = [...defs, ...indexDefs];
  if (all.filter((d) => d.kind === "primary").length > 1) {
    throw new SqlError(1068, "42000", "Multiple primary key defined");
  }
  const pkDef = all.find((d) => d.kind === "primary");
  let pkIsHandle = false;
  let commonHandle = false;
  if (pkDef) {
    const pkCols = pkDef.parts.map((p) => cols.find((c) => c.name.L === p.name.toLowerCase()));
    const single = pkCols.length === 1 && pkCols[0] && pkDef.parts[0]!.length === undefined;
    const intPk = single && isIntType(pkCols[0]!.type.Tp);
    // tidb_enable_clustered_index = INT_ONLY: int keys clustered unless NONCLUSTERED.
    if (intPk && pkDef.clustered !== false) pkIsHandle = true;
    else if (!intPk && pkDef.clustered === true) commonHandle = true;
  }
  table.pk_is_handle = pkIsHandle;
  table.is_common_handle = commonHandle;
  table.common_handle_version = commonHandle ? 1 : 0;
  const indexes: IndexInfo[] = [];
  table.index_info = indexes;
  for (const def of all) {
    if (def.kind === "primary" && pkIsHandle) {
      const col = cols.find((c) => c.name.L === def.parts[0]!.name.toLowerCase())!;
      col.type.Flag |= ColumnFlag.PriKey | ColumnFlag.NotNull;
      continue;
    }
    const idx = buildIndex(table, def, ++table.max_idx_id);
    indexes.push(idx);
    flagIndexColumns(table, idx);
  }
  columns.forEach((def, i) => {
    setNoDefaultFlag(cols[i]!, def.defaultValue !== undefined);
  });
  // AUTO_INCREMENT / AUTO_RANDOM.
  const autoCols = cols.filter((c) => c.type.Flag & ColumnFlag.AutoIncrement);
  if (autoCols.length > 1) {
    throw new SqlError(
      1075,
      "42000",
      "Incorrect table definition; there can be only one auto column and it must be defined as a key",
    );
  }
  const randomDefs = columns.filter((c) => c.autoRandom);
  if (randomDefs.length > 0) {
    const def = randomDefs[0]!;
    const col = cols.find((c) => c.name.L === def.name.toLowerCase())!;
    if (
      !pkIsHandle || (col.type.Flag & ColumnFlag.PriKey) === 0 || col.type.Tp !== MysqlType.Longlong
    ) {
      throw new SqlError(
        8216,
        "HY000",
        "Invalid auto random: auto_random is only supported on the clustered bigint primary key",
      );
    }
    if (autoCols.length > 0) {
      throw new SqlError(
        8216,
        "HY000",
        "Invalid auto random: auto_random is incompatible with auto_increment",
      );
    }
    table.auto_random_bits = def.autoRandom!.shardBits;
    table.auto_random_range_bits = def.autoRandom!.rangeBits ?? 64;
    if (table.auto_random_bits < 1 || table.auto_random_bits > 15) {
      throw new SqlError(
        8216,
        "HY000",
        "Invalid auto random: auto_random shard bits must be from 1 to 15",
      );
    }
  }
  if (options.comment !== undefined) table.comment = options.comment;
  if (options.autoIncrement !== undefined) table.auto_inc_id = Number(options.autoIncrement);
  if (options.autoIdCache !== undefined) table.auto_id_cache = Number(options.autoIdCache);
  if (options.autoRandomBase !== undefined) {
    if (randomDefs.length === 0) {
      throw new SqlError(
        8216,
        "HY000",
        "Invalid auto random: AUTO_RANDOM_BASE needs an auto_random column",
      );
    }
    table.auto_rand_id = Number(options.autoRandomBase);
  }
  if (options.shardRowIdBits !== undefined) {
    if (pkIsHandle || commonHandle) {
      throw new SqlError(
        8200,
        "HY000",
        "Unsupported shard_row_id_bits for table with primary key as row id",
      );
    }
    table.ShardRowIDBits = options.shardRowIdBits;
    table.max_shard_row_id_bits = options.shardRowIdBits;
  }
  if (options.preSplitRegions !== undefined) table.pre_split_regions = options.preSplitRegions;
  if (partition) table.partition = buildPartition(table, partition, ctx.genId);
  return table;
}

/** The TableInfo's PartitionInfo of PARTITION BY; partition ids from `genId`. */
export function buildPartition(
  table: TableInfo,
  p: PartitionBy,
  genId: () => number,
): PartitionInfo {
  const type = {
    range: PartitionType.Range,
    hash: PartitionType.Hash,
    list: PartitionType.List,
    key: PartitionType.Key,
  }[p.type];
  let columns = p.columns?.map((c) => {
    const col = table.cols.find((x) => x.name.L === c.toLowerCase());
    if (!col) throw new SqlError(1054, "42S22", `Unknown column '${c}' in 'partition function'`);
    return ciStr(col.name.O);
  }) ?? null;
  if (p.type === "key" && columns?.length === 0) {
    const pk = (table.index_info ?? []).find((i) => i.is_primary);
    const handle = table.cols.find((c) => table.pk_is_handle && (c.type.Flag & ColumnFlag.PriKey));
    if (handle) columns = [ciStr(handle.name.O)];
    else if (pk) columns = pk.idx_cols.map((c) => ciStr(c.name.O));
    else {throw new SqlError(
        1488,
        "HY000",
        "Field in list of fields for partition function not found in table",
      );}
  }
  if (p.expr) {
    const walk = (e: Expr) => {
      if (e.k === "col" && !table.cols.some((c) => c.name.L === e.name.toLowerCase())) {
        throw new SqlError(1054, "42S22", `Unknown column '${e.name}' in 'partition function'`);
      }
      if (e.k === "func") e.args.forEach(walk);
      if (e.k === "binary") [e.l, e.r].forEach(walk);
      if (e.k === "unary") walk(e.e);
    };
    walk(p.expr);
  }
  let defs = p.defs;
  if (defs.length === 0) {
    if (p.type === "range" || p.type === "list") {
      throw new SqlError(
        1492,
        "HY000",
        `For ${p.type.toUpperCase()} partitions each partition must be defined`,
      );
    }
    defs = Array.from({ length: p.num ?? 1 }, (_, i) => ({ name: `p${i}` }));
  } else if (p.num !== undefined && p.num !== defs.length) {
    throw new SqlError(
      1064,
      "42000",
      "Wrong number of partitions defined, mismatch with previous setting",
    );
  }
  const names = new Set<string>();
  for (const d of defs) {
    if (names.has(d.name.toLowerCase())) {
      throw new SqlError(1517, "HY000", `Duplicate partition name ${d.name}`);
    }
    names.add(d.name.toLowerCase());
  }
  const ids = defs.map(() => genId());
  return {
    type,
    expr: p.expr ? restoreExpr(p.expr, true) : "",
    columns,
    enable: true,
    is_empty_columns: false,
    definitions: defs.map((d, i) => ({
      id: ids[i]!,
      name: ciStr(d.name),
      less_than: d.lessThan?.map((e) => restoreExpr(e, true)) ?? null,
      in_values: d.inValues?.map((t) => t.map((e) => restoreExpr(e, true))) ?? null,
      policy_ref_info: null,
      ...(d.comment !== undefined ? { comment: d.comment } : {}),
    })),
    adding_definitions: null,
    dropping_definitions: null,
    NewPartitionIDs: null,
    states: null,
    num: p.type === "hash" || p.type === "key" ? defs.length : 0,
    ddl_state: 0,
    new_table_id: 0,
    ddl_type: 0,
    ddl_expr: "",
    ddl_columns: null,
    ddl_update_indexes: null,
  };
}

/** The origin default TiDB gives a column added to a table with rows (`generateOriginDefaultValue`). */
export function originDefault(col: ColumnInfo, now: Date): unknown {
  if (col.default !== null && col.default !== undefined) {
    const d = String(col.default);
    if (d.toUpperCase().startsWith("CURRENT_TIMESTAMP")) {
      return zeroValueText(col, now);
    }
    return col.default;
  }
  if (col.type.Flag & ColumnFlag.NotNull) return zeroValueText(col);
  return null;
}

/** Marks a new column public (ADD COLUMN's end state). */
export function publicState(): number {
  return SchemaState.Public;
}
