/**
 * Private: `SHOW CREATE TABLE` / `SHOW CREATE DATABASE` text for the export's schema files,
 * used until the shared module (src/tidb/show_create.ts) is on this branch. Renders what a
 * MySQL-compatible server needs to load the data: columns with types, charsets, defaults and
 * generated expressions, public indexes, and partitioning.
 * @module
 */
import type { ColumnInfo, DBInfo, TableInfo } from "../tidb/model.ts";
import { ColumnFlag, MysqlType, PartitionType, SchemaState } from "../tidb/types.ts";
import { quoteIdent } from "./format.ts";

function _str(s: string): string {
  return "'" + s.replaceAll("\\", "\\\\").replaceAll("'", "''") + "'";
}

function _typeText(c: ColumnInfo): string {
  const ft = c.type;
  const unsigned = (ft.Flag & ColumnFlag.Unsigned) !== 0 ? " unsigned" : "";
  const bin = ft.Charset === "binary";
  const fsp = ft.Decimal > 0 ? `(${ft.Decimal})` : "";
  const n = (d: number) => (ft.Flen > 0 ? ft.Flen : d);
  switch (ft.Tp) {
    case MysqlType.Tiny:
      return `tinyint(${n(4)})${unsigned}`;
    case MysqlType.Short:
      return `smallint(${n(6)})${unsigned}`;
    case MysqlType.Int24:
      return `mediumint(${n(9)})${unsigned}`;
    case MysqlType.Long:
      return `int(${n(11)})${unsigned}`;
    case MysqlType.Longlong:
      return `bigint(${n(20)})${unsigned}`;
    case MysqlType.Float:
      return `float${unsigned}`;
    case MysqlType.Double:
      return `double${unsigned}`;
    case MysqlType.NewDecimal:
    case MysqlType.Decimal:
      return `decimal(${n(10)},${Math.max(0, ft.Decimal)})${unsigned}`;
    case MysqlType.String:
      return bin ? `binary(${n(1)})` : `char(${n(1)})`;
    case MysqlType.Varchar:
    case MysqlType.VarString:
      return bin ? `varbinary(${n(255)})` : `varchar(${n(255)})`;
    case MysqlType.TinyBlob:
      return bin ? "tinyblob" : "tinytext";
    case MysqlType.Blob:
      return bin ? "blob" : "text";
    case MysqlType.MediumBlob:
      return bin ? "mediumblob" : "mediumtext";
    case MysqlType.LongBlob:
      return bin ? "longblob" : "longtext";
    case MysqlType.Enum:
      return `enum(${(ft.Elems ?? []).map(_str).join(",")})`;
    case MysqlType.Set:
      return `set(${(ft.Elems ?? []).map(_str).join(",")})`;
    case MysqlType.Bit:
      return `bit(${n(1)})`;
    case MysqlType.JSON:
      return "json";
    case MysqlType.Date:
    case MysqlType.NewDate:
      return "date";
    case MysqlType.Datetime:
      return `datetime${fsp}`;
    case MysqlType.Timestamp:
      return `timestamp${fsp}`;
    case MysqlType.Duration:
      return `time${fsp}`;
    case MysqlType.Year:
      return "year(4)";
  }
  throw new Error(`column ${c.name.O} has type ${ft.Tp}, which the schema writer does not know`);
}

const STRINGY: ReadonlySet<number> = new Set([
  MysqlType.String,
  MysqlType.Varchar,
  MysqlType.VarString,
  MysqlType.TinyBlob,
  MysqlType.Blob,
  MysqlType.MediumBlob,
  MysqlType.LongBlob,
  MysqlType.Enum,
  MysqlType.Set,
]);

function _columnText(t: TableInfo, c: ColumnInfo): string {
  const ft = c.type;
  let s = `  ${quoteIdent(c.name.O)} ${_typeText(c)}`;
  if (STRINGY.has(ft.Tp) && ft.Charset !== "binary") {
    if (ft.Charset !== t.charset) s += ` CHARACTER SET ${ft.Charset}`;
    if (ft.Collate !== t.collate || ft.Charset !== t.charset) s += ` COLLATE ${ft.Collate}`;
  }
  if (c.generated_expr_string !== "") {
    s += ` GENERATED ALWAYS AS (${c.generated_expr_string}) ${
      c.generated_stored ? "STORED" : "VIRTUAL"
    }`;
    return s;
  }
  const notNull = (ft.Flag & ColumnFlag.NotNull) !== 0;
  if (notNull) s += " NOT NULL";
  if ((ft.Flag & ColumnFlag.AutoIncrement) !== 0) s += " AUTO_INCREMENT";
  else if (c.default !== null && c.default !== undefined) {
    const d = String(c.default);
    s += ft.Tp === MysqlType.Bit ? ` DEFAULT b'${d}'` : ` DEFAULT ${_str(d)}`;
  } else if (!notNull && ft.Tp !== MysqlType.JSON && !_isBlob(ft.Tp)) {
    s += " DEFAULT NULL";
  }
  if (c.comment) s += ` COMMENT ${_str(c.comment)}`;
  return s;
}

function _isBlob(tp: number): boolean {
  return tp === MysqlType.TinyBlob || tp === MysqlType.Blob || tp === MysqlType.MediumBlob ||
    tp === MysqlType.LongBlob;
}

/** `CREATE TABLE` text of a table as TiDB shows it (public columns and indexes). */
export function createTableText(t: TableInfo): string {
  const cols = t.cols.filter((c) => c.state === SchemaState.Public && !c.hidden)
    .sort((a, b) => a.offset - b.offset);
  const lines = cols.map((c) => _columnText(t, c));
  if (t.pk_is_handle) {
    const pk = cols.find((c) => (c.type.Flag & ColumnFlag.PriKey) !== 0);
    if (pk) {
      lines.push(`  PRIMARY KEY (${quoteIdent(pk.name.O)}) /*T![clustered_index] CLUSTERED */`);
    }
  }
  for (const idx of t.index_info ?? []) {
    if (idx.state !== SchemaState.Public) continue;
    const parts = idx.idx_cols.map((ic) =>
      quoteIdent(ic.name.O) + (ic.length > 0 ? `(${ic.length})` : "")
    ).join(",");
    if (idx.is_primary) {
      const kind = t.is_common_handle ? "CLUSTERED" : "NONCLUSTERED";
      lines.push(`  PRIMARY KEY (${parts}) /*T![clustered_index] ${kind} */`);
    } else {
      lines.push(
        `  ${idx.is_unique ? "UNIQUE KEY" : "KEY"} ${quoteIdent(idx.idx_name.O)} (${parts})`,
      );
    }
  }
  let s = `CREATE TABLE ${quoteIdent(t.name.O)} (\n${lines.join(",\n")}\n)`;
  s += ` ENGINE=InnoDB DEFAULT CHARSET=${t.charset} COLLATE=${t.collate}`;
  if (t.comment) s += ` COMMENT=${_str(t.comment)}`;
  const pi = t.partition;
  if (pi?.enable) {
    if (pi.type === PartitionType.Hash) {
      s += `\nPARTITION BY HASH (${pi.expr}) PARTITIONS ${pi.definitions.length}`;
    } else if (pi.type === PartitionType.Range) {
      const defs = pi.definitions.map((d) =>
        ` PARTITION ${quoteIdent(d.name.O)} VALUES LESS THAN (${(d.less_than ?? []).join(",")})`
      );
      s += `\nPARTITION BY RANGE (${pi.expr})\n(${defs.join(",\n")})`;
    } else if (pi.type === PartitionType.List) {
      const defs = pi.definitions.map((d) =>
        ` PARTITION ${quoteIdent(d.name.O)} VALUES IN (${
          (d.in_values ?? []).map((v) => v.join(",")).join(",")
        })`
      );
      s += `\nPARTITION BY LIST (${pi.expr})\n(${defs.join(",\n")})`;
    } else if (pi.type === PartitionType.Key) {
      s += `\nPARTITION BY KEY (${
        (pi.columns ?? []).map((c) => quoteIdent(c.O)).join(",")
      }) PARTITIONS ${pi.definitions.length}`;
    }
  }
  return s;
}

/** `CREATE DATABASE` text as TiDB shows it. */
export function createDatabaseText(db: DBInfo): string {
  return `CREATE DATABASE ${
    quoteIdent(db.db_name.O)
  } /*!40100 DEFAULT CHARACTER SET ${db.charset} ` +
    `COLLATE ${db.collate} */`;
}
