/**
 * TiDB's `SHOW CREATE TABLE` and `SHOW CREATE DATABASE` text, rendered from the schema JSON
 * (`TableInfo`, `DBInfo`) alone. This is the ONE place tibr turns a schema into DDL: the
 * playground's TiDB server answers `SHOW CREATE TABLE` with it, restore creates tables from it
 * through a TiDB SQL port, and export writes it into Dumpling's `*-schema.sql` files.
 *
 * The text follows TiDB's `ConstructResultOfShowCreateTable` (pkg/executor/show.go) and
 * `AppendPartitionInfo` (pkg/ddl/partition.go) character for character: column types as
 * `ColumnInfo.GetTypeDesc` / `FieldType.CompactStr` print them (`int(11)`, `varbinary(10)`,
 * `bigint(20) unsigned zerofill`), `CHARACTER SET` / `COLLATE` only where they differ from the
 * table's or the charset's default, defaults quoted and escaped as `format.OutputFormat` does,
 * `b'...'` for BIT defaults, `(expr)` for expression defaults, TiDB's executable comments
 * (`/*T![clustered_index] CLUSTERED *\/`, `/*T![auto_rand] AUTO_RANDOM(5) *\/`,
 * `/*T![auto_id_cache] ...*\/`, `/*T! SHARD_ROW_ID_BITS=4 PRE_SPLIT_REGIONS=2 *\/`), only public
 * columns and indexes, and the partition layout of RANGE, RANGE COLUMNS, LIST, LIST COLUMNS,
 * HASH and KEY tables.
 *
 * Two values TiDB prints come from its ID allocators, not from the TableInfo: the next
 * AUTO_INCREMENT value and the next AUTO_RANDOM base. Callers pass them in
 * {@linkcode ShowCreateTableOptions} (the allocator's `NextGlobalAutoID`: the stored base + 1);
 * without them the clauses are left out, as TiDB leaves them out for a fresh table. A live
 * cluster has the bases under `DB:{db}` (`TID:{id}`, or `IID:{id}` with AUTO_ID_CACHE=1;
 * `TARID:{id}` for AUTO_RANDOM); a BR backup's TableInfo carries the next values themselves in
 * `auto_inc_id` and `auto_rand_id` (BR writes base + 1 there).
 *
 * Timestamp defaults are printed as stored (UTC), which is what TiDB prints in a UTC session.
 * Views and sequences (TableInfos with `view` or `sequence`) print as TiDB's `SHOW CREATE TABLE`
 * prints them: `CREATE ALGORITHM=... VIEW ...` and `CREATE SEQUENCE ...`. Newer TiDB
 * features tibr's model does not carry are not rendered: vector, full-text and columnar indexes,
 * partial-index conditions, SPLIT region policies and AFFINITY.
 *
 * @example
 * ```ts
 * import { showCreateTable } from "./show_create.ts";
 *
 * const ddl = showCreateTable(tableInfo, { autoIncrement: 24_001n });
 * // CREATE TABLE `users` (
 * //   `id` bigint(20) NOT NULL AUTO_INCREMENT,
 * //   ...
 * // ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin AUTO_INCREMENT=24001
 * ```
 * @module
 */
import type {
  ColumnInfo,
  DBInfo,
  FieldType,
  IndexInfo,
  PartitionInfo,
  TableInfo,
  TTLInfo,
} from "./model.ts";
import { ColumnFlag, MysqlType, PartitionType, SchemaState } from "./types.ts";

/** Values TiDB takes from outside the TableInfo when it renders `SHOW CREATE TABLE`. */
export interface ShowCreateTableOptions {
  /**
   * The next AUTO_INCREMENT value (TiDB's auto-increment allocator `NextGlobalAutoID`: the
   * stored base + 1). Printed as `AUTO_INCREMENT=n` when the table has an AUTO_INCREMENT column
   * and n > 1; left out when undefined.
   */
  autoIncrement?: bigint | number;
  /**
   * The next AUTO_RANDOM base (the auto-random allocator's `NextGlobalAutoID`). Printed as
   * `/*T![auto_rand_base] AUTO_RANDOM_BASE=n *\/` for AUTO_RANDOM tables when n > 1.
   */
  autoRandomBase?: bigint | number;
  /**
   * The database the table is in: a foreign key to a table of another database names that
   * database (`REFERENCES \`db\`.\`t\``); without it TiDB's exported
   * `ConstructResultOfShowCreateTable` never names the schema, and neither does this.
   */
  dbName?: string;
  /** Quote names with `"` as TiDB does in the ANSI_QUOTES SQL mode (backquotes otherwise). */
  ansiQuotes?: boolean;
  /**
   * TiDB's `TiDBStrictIntegerDisplayWidth` (off by default): integer types lose their display
   * width (`int`, not `int(11)`) except with ZEROFILL and for `tinyint(1)`, as in MySQL 8.0.
   */
  strictIntegerDisplayWidth?: boolean;
}

/** Options of {@linkcode showCreateDatabase}. */
export interface ShowCreateDatabaseOptions {
  /** `SHOW CREATE DATABASE IF NOT EXISTS`: `CREATE DATABASE IF NOT EXISTS ...`. */
  ifNotExists?: boolean;
  /** Quote names with `"` (ANSI_QUOTES). */
  ansiQuotes?: boolean;
}

// TiDB's mysql.DefaultCharset and the default collation of each charset TiDB supports
// (pkg/parser/charset: charsetInfos); a charset not listed has no default and prints none.
const DEFAULT_CHARSET = "utf8mb4";
const CHARSET_DEFAULT_COLLATION: Readonly<Record<string, string>> = {
  utf8mb4: "utf8mb4_bin",
  utf8: "utf8_bin",
  ascii: "ascii_bin",
  latin1: "latin1_bin",
  binary: "binary",
  gbk: "gbk_chinese_ci",
  gb18030: "gb18030_chinese_ci",
};

// Collations TiDB knows, with their charset (pkg/util/collate: GetSupportedCollations).
const COLLATION_CHARSET: Readonly<Record<string, string>> = {
  ascii_bin: "ascii",
  binary: "binary",
  gbk_bin: "gbk",
  gbk_chinese_ci: "gbk",
  gb18030_bin: "gb18030",
  gb18030_chinese_ci: "gb18030",
  latin1_bin: "latin1",
  utf8_bin: "utf8",
  utf8_general_ci: "utf8",
  utf8_unicode_ci: "utf8",
  utf8mb4_0900_ai_ci: "utf8mb4",
  utf8mb4_0900_bin: "utf8mb4",
  utf8mb4_bin: "utf8mb4",
  utf8mb4_general_ci: "utf8mb4",
  utf8mb4_unicode_ci: "utf8mb4",
};

// mysql.TypeTiDBVectorFloat32: not in types.ts as the rest of tibr has no use for it.
const TYPE_VECTOR_FLOAT32 = 0xe1;

// types.type2Str (pkg/parser/types/etc.go).
const TYPE_NAME: Readonly<Record<number, string>> = {
  [MysqlType.Bit]: "bit",
  [MysqlType.Blob]: "text",
  [MysqlType.Date]: "date",
  [MysqlType.Datetime]: "datetime",
  [MysqlType.Decimal]: "unspecified",
  [MysqlType.NewDecimal]: "decimal",
  [MysqlType.Double]: "double",
  [MysqlType.Enum]: "enum",
  [MysqlType.Float]: "float",
  [MysqlType.Geometry]: "geometry",
  [TYPE_VECTOR_FLOAT32]: "vector",
  [MysqlType.Int24]: "mediumint",
  [MysqlType.JSON]: "json",
  [MysqlType.Long]: "int",
  [MysqlType.Longlong]: "bigint",
  [MysqlType.LongBlob]: "longtext",
  [MysqlType.MediumBlob]: "mediumtext",
  [MysqlType.Null]: "null",
  [MysqlType.Set]: "set",
  [MysqlType.Short]: "smallint",
  [MysqlType.String]: "char",
  [MysqlType.Duration]: "time",
  [MysqlType.Timestamp]: "timestamp",
  [MysqlType.Tiny]: "tinyint",
  [MysqlType.TinyBlob]: "tinytext",
  [MysqlType.Varchar]: "varchar",
  [MysqlType.VarString]: "var_string",
  [MysqlType.Year]: "year",
};

// mysql.defaultLengthAndDecimal (pkg/parser/mysql/type.go): [flen, decimal].
const DEFAULT_LENGTH_DECIMAL: Readonly<Record<number, readonly [number, number]>> = {
  [MysqlType.Bit]: [1, 0],
  [MysqlType.Tiny]: [4, 0],
  [MysqlType.Short]: [6, 0],
  [MysqlType.Int24]: [9, 0],
  [MysqlType.Long]: [11, 0],
  [MysqlType.Longlong]: [20, 0],
  [MysqlType.Double]: [22, -1],
  [MysqlType.Float]: [12, -1],
  [MysqlType.NewDecimal]: [10, 0],
  [MysqlType.Duration]: [10, 0],
  [MysqlType.Date]: [10, 0],
  [MysqlType.Timestamp]: [19, 0],
  [MysqlType.Datetime]: [19, 0],
  [MysqlType.Year]: [4, 0],
  [MysqlType.String]: [1, 0],
  [MysqlType.Varchar]: [5, 0],
  [MysqlType.VarString]: [5, 0],
  [MysqlType.TinyBlob]: [255, 0],
  [MysqlType.Blob]: [65535, 0],
  [MysqlType.MediumBlob]: [16777215, 0],
  [MysqlType.LongBlob]: [4294967295, 0],
  [MysqlType.JSON]: [4294967295, 0],
  [MysqlType.Null]: [0, 0],
  [MysqlType.Set]: [-1, 0],
  [MysqlType.Enum]: [-1, 0],
};

const UNSPECIFIED = -1;
// autoid.AutoRandomRangeBitsDefault
const AUTO_RANDOM_RANGE_BITS_DEFAULT = 64;

/** `model.PartitionType.String()`. */
const PARTITION_TYPE_NAME: Readonly<Record<number, string>> = {
  [PartitionType.Range]: "RANGE",
  [PartitionType.Hash]: "HASH",
  [PartitionType.List]: "LIST",
  [PartitionType.Key]: "KEY",
  5: "SYSTEM_TIME",
};

/** `ast.ReferOptionType.String()` of foreign-key actions. */
const REFER_OPTION: Readonly<Record<number, string>> = {
  1: "RESTRICT",
  2: "CASCADE",
  3: "SET NULL",
  4: "NO ACTION",
  5: "SET DEFAULT",
};

/** `ast.TimeUnitType` names, for TTL intervals. */
const TIME_UNIT = [
  "",
  "MICROSECOND",
  "SECOND",
  "MINUTE",
  "HOUR",
  "DAY",
  "WEEK",
  "MONTH",
  "QUARTER",
  "YEAR",
  "SECOND_MICROSECOND",
  "MINUTE_MICROSECOND",
  "MINUTE_SECOND",
  "HOUR_MICROSECOND",
  "HOUR_SECOND",
  "HOUR_MINUTE",
  "DAY_MICROSECOND",
  "DAY_SECOND",
  "DAY_MINUTE",
  "DAY_HOUR",
  "YEAR_MONTH",
];

/**
 * The `Create Table` column of TiDB's `SHOW CREATE TABLE` for `table`, exactly as TiDB prints it
 * (see the module doc for what comes from `options`).
 */
export function showCreateTable(table: TableInfo, options: ShowCreateTableOptions = {}): string {
  const q = (name: string) => _escapeName(name, options.ansiQuotes ?? false);
  if (table.view) return _showCreateView(table, q);
  if (table.sequence) return _showCreateSequence(table, q);
  const tblCharset = table.charset || DEFAULT_CHARSET;
  const tblCollate = table.collate || (CHARSET_DEFAULT_COLLATION[tblCharset] ?? "utf8mb4_bin");
  const out: string[] = [];
  const create = table.temp_table_type === 1
    ? "CREATE GLOBAL TEMPORARY TABLE"
    : table.temp_table_type === 2
    ? "CREATE TEMPORARY TABLE"
    : "CREATE TABLE";
  out.push(`${create} ${q(table.name.O)} (\n`);

  const cols = publicColumns(table);
  let pkCol: ColumnInfo | undefined;
  let hasAutoIncId = false;
  let needComma = false;
  for (let i = 0; i < cols.length; i++) {
    const col = cols[i];
    if (col === undefined || col.hidden) continue;
    if (needComma) out.push(",\n");
    out.push(
      `  ${q(col.name.O)} ${columnTypeDesc(col.type, options.strictIntegerDisplayWidth)}`,
    );
    const ft = col.type;
    if (_hasCharset(ft)) {
      if (ft.Charset !== tblCharset) out.push(` CHARACTER SET ${ft.Charset}`);
      if (ft.Collate !== tblCollate) {
        out.push(` COLLATE ${ft.Collate}`);
      } else {
        const def = CHARSET_DEFAULT_COLLATION[ft.Charset];
        if (def !== undefined && def !== ft.Collate) out.push(` COLLATE ${ft.Collate}`);
      }
    }
    const generated = (col.generated_expr_string ?? "") !== "";
    if (generated) {
      out.push(` GENERATED ALWAYS AS (${col.generated_expr_string})`);
      out.push(col.generated_stored ? " STORED" : " VIRTUAL");
    }
    if (ft.Flag & ColumnFlag.AutoIncrement) {
      hasAutoIncId = true;
      out.push(" NOT NULL AUTO_INCREMENT");
    } else {
      const notNull = (ft.Flag & ColumnFlag.NotNull) !== 0;
      if (notNull) out.push(" NOT NULL");
      if (!(ft.Flag & ColumnFlag.NoDefaultValue) && !generated) {
        out.push(_defaultClause(col, notNull));
      }
      if (ft.Flag & ColumnFlag.OnUpdateNow) {
        out.push(" ON UPDATE CURRENT_TIMESTAMP");
        if (ft.Decimal !== 0) out.push(`(${ft.Decimal})`);
      }
    }
    if (_isAutoRandomColumn(table, col)) {
      const s = table.auto_random_bits;
      const r = table.auto_random_range_bits ?? 0;
      out.push(
        r === 0 || r === AUTO_RANDOM_RANGE_BITS_DEFAULT
          ? ` /*T![auto_rand] AUTO_RANDOM(${s}) */`
          : ` /*T![auto_rand] AUTO_RANDOM(${s}, ${r}) */`,
      );
    }
    if (col.comment) out.push(` COMMENT '${outputFormat(col.comment)}'`);
    if (i !== cols.length - 1) needComma = true;
    if (table.pk_is_handle && (ft.Flag & ColumnFlag.PriKey)) pkCol = col;
  }

  if (pkCol !== undefined) {
    out.push(",\n");
    out.push(`  PRIMARY KEY (${q(pkCol.name.O)}) /*T![clustered_index] CLUSTERED */`);
  }

  const indexes = (table.index_info ?? []).filter((i) => i.state === SchemaState.Public);
  if (indexes.length > 0) out.push(",\n");
  indexes.forEach((idx, n) => {
    out.push(_indexClause(table, idx, q));
    if (n !== indexes.length - 1) out.push(",\n");
  });

  for (const fk of table.fk_info ?? []) {
    out.push(`,\n  CONSTRAINT ${q(fk.fk_name.O)} FOREIGN KEY `);
    out.push(`(${fk.cols.map((c) => q(c.O)).join(",")})`);
    if (
      fk.ref_schema.L !== "" && options.dbName !== undefined &&
      fk.ref_schema.L !== options.dbName.toLowerCase()
    ) {
      out.push(` REFERENCES ${q(fk.ref_schema.O)}.${q(fk.ref_table.O)} `);
    } else {
      out.push(` REFERENCES ${q(fk.ref_table.O)} `);
    }
    out.push(`(${fk.ref_cols.map((c) => q(c.O)).join(",")})`);
    const onDelete = REFER_OPTION[fk.on_delete];
    if (onDelete !== undefined) out.push(` ON DELETE ${onDelete}`);
    const onUpdate = REFER_OPTION[fk.on_update];
    if (onUpdate !== undefined) out.push(` ON UPDATE ${onUpdate}`);
    if (fk.version < 1) out.push(" /* FOREIGN KEY INVALID */");
  }

  const checks = (table.constraint_info ?? []).filter((c) => c.state === SchemaState.Public);
  if (checks.length > 0) out.push(",\n");
  checks.forEach((c, n) => {
    out.push(`  CONSTRAINT ${q(c.constraint_name.O)} CHECK ((${c.expr_string}))`);
    if (!c.enforced) out.push(" /*!80016 NOT ENFORCED */");
    if (n !== checks.length - 1) out.push(",\n");
  });

  out.push("\n) ENGINE=InnoDB");
  // TiDB leaves COLLATE out for the binary collation (MySQL 5.7 compatibility, tidb#15633).
  if (tblCollate === "" || tblCollate === "binary") {
    out.push(` DEFAULT CHARSET=${tblCharset}`);
  } else {
    out.push(` DEFAULT CHARSET=${tblCharset} COLLATE=${tblCollate}`);
  }
  if (table.compression) out.push(` COMPRESSION='${table.compression}'`);
  if (hasAutoIncId && options.autoIncrement !== undefined && BigInt(options.autoIncrement) > 1n) {
    out.push(` AUTO_INCREMENT=${BigInt(options.autoIncrement)}`);
  }
  if (table.auto_id_cache) {
    out.push(` /*T![auto_id_cache] AUTO_ID_CACHE=${table.auto_id_cache} */`);
  }
  if (
    (table.auto_random_bits ?? 0) > 0 && options.autoRandomBase !== undefined &&
    BigInt(options.autoRandomBase) > 1n
  ) {
    out.push(` /*T![auto_rand_base] AUTO_RANDOM_BASE=${BigInt(options.autoRandomBase)} */`);
  }
  if ((table.ShardRowIDBits ?? 0) > 0) {
    out.push(` /*T! SHARD_ROW_ID_BITS=${table.ShardRowIDBits} `);
    if ((table.pre_split_regions ?? 0) > 0) {
      out.push(`PRE_SPLIT_REGIONS=${table.pre_split_regions} `);
    }
    out.push("*/");
  }
  if ((table.auto_random_bits ?? 0) > 0 && (table.pre_split_regions ?? 0) > 0) {
    out.push(` /*T! PRE_SPLIT_REGIONS=${table.pre_split_regions} */`);
  }
  if (table.comment) out.push(` COMMENT='${outputFormat(table.comment)}'`);
  if (table.temp_table_type === 1) out.push(" ON COMMIT DELETE ROWS");
  if (table.policy_ref_info) {
    out.push(` /*T![placement] PLACEMENT POLICY=${q(table.policy_ref_info.name.O)} */`);
  }
  if (table.cache_table_status === 1) out.push(" /* CACHED ON */");
  if (table.ttl_info) out.push(_ttlClause(table.ttl_info, q));
  if (table.partition) out.push(partitionClause(table.partition, options.ansiQuotes ?? false));
  return out.join("");
}

/**
 * The `Create Database` column of TiDB's `SHOW CREATE DATABASE` (`ConstructResultOfShowCreateDatabase`):
 * the charset always (in a MySQL versioned comment), the collation only when it is not the
 * charset's default.
 */
export function showCreateDatabase(db: DBInfo, options: ShowCreateDatabaseOptions = {}): string {
  const q = (name: string) => _escapeName(name, options.ansiQuotes ?? false);
  let s = `CREATE DATABASE ${options.ifNotExists ? "IF NOT EXISTS " : ""}${q(db.db_name.O)}`;
  if (db.charset) {
    const def = CHARSET_DEFAULT_COLLATION[db.charset];
    if (def === undefined) {
      throw new Error(
        `database ${db.db_name.O} has charset ${db.charset}, which TiDB does not know`,
      );
    }
    s += ` /*!40100 DEFAULT CHARACTER SET ${db.charset} `;
    if (db.collate && db.collate !== def) s += `COLLATE ${db.collate} `;
    s += "*/";
  } else if (db.collate) {
    const cs = COLLATION_CHARSET[db.collate];
    if (cs === undefined) {
      throw new Error(
        `database ${db.db_name.O} has collation ${db.collate}, which TiDB does not know`,
      );
    }
    s += ` /*!40100 DEFAULT CHARACTER SET ${cs} `;
    if (CHARSET_DEFAULT_COLLATION[cs] !== db.collate) s += `COLLATE ${db.collate} `;
    s += "*/";
  }
  if (db.policy_ref_info) {
    s += ` /*T![placement] PLACEMENT POLICY=${q(db.policy_ref_info.name.O)} */`;
  }
  return s;
}

/**
 * A column's type as `SHOW CREATE TABLE` prints it (`ColumnInfo.GetTypeDesc`):
 * `FieldType.CompactStr` plus ` unsigned` and ` zerofill` where they apply.
 */
export function columnTypeDesc(ft: FieldType, strictIntegerDisplayWidth = false): string {
  const tp = ft.Array ? MysqlType.JSON : ft.Tp;
  let desc = compactStr(ft, strictIntegerDisplayWidth);
  if ((ft.Flag & ColumnFlag.Unsigned) && tp !== MysqlType.Bit && tp !== MysqlType.Year) {
    desc += " unsigned";
  }
  if ((ft.Flag & ColumnFlag.Zerofill) && tp !== MysqlType.Year) desc += " zerofill";
  return desc;
}

/** `FieldType.CompactStr`: the type name with its length, decimals or elements. */
export function compactStr(ft: FieldType, strictIntegerDisplayWidth = false): string {
  const tp = ft.Array ? MysqlType.JSON : ft.Tp;
  const ts = _typeToStr(tp, ft.Charset);
  const [defFlen, defDecimal] = DEFAULT_LENGTH_DECIMAL[tp] ?? [UNSPECIFIED, UNSPECIFIED];
  const decimalNotDefault = ft.Decimal !== defDecimal && ft.Decimal !== 0 &&
    ft.Decimal !== UNSPECIFIED;
  const flen = ft.Flen === UNSPECIFIED ? defFlen : ft.Flen;
  const decimal = ft.Decimal === UNSPECIFIED ? defDecimal : ft.Decimal;
  switch (tp) {
    case MysqlType.Enum:
    case MysqlType.Set:
      return `${ts}('${(ft.Elems ?? []).map(_parserOutputFormat).join("','")}')`;
    case MysqlType.Timestamp:
    case MysqlType.Datetime:
    case MysqlType.Duration:
      return decimalNotDefault ? `${ts}(${decimal})` : ts;
    case MysqlType.Double:
    case MysqlType.Float:
      return decimalNotDefault ? `${ts}(${flen},${decimal})` : ts;
    case MysqlType.NewDecimal:
      return `${ts}(${flen},${decimal})`;
    case MysqlType.Bit:
    case MysqlType.Varchar:
    case MysqlType.String:
    case MysqlType.VarString:
      return `${ts}(${flen})`;
    case MysqlType.Tiny:
      // tinyint(1) keeps its width even in the strict mode: connectors read it as BOOL.
      return !strictIntegerDisplayWidth || (ft.Flag & ColumnFlag.Zerofill) || flen === 1
        ? `${ts}(${flen})`
        : ts;
    case MysqlType.Short:
    case MysqlType.Int24:
    case MysqlType.Long:
    case MysqlType.Longlong:
      return !strictIntegerDisplayWidth || (ft.Flag & ColumnFlag.Zerofill) ? `${ts}(${flen})` : ts;
    case MysqlType.Year:
      return `${ts}(${ft.Flen})`;
    case TYPE_VECTOR_FLOAT32:
      return ft.Flen !== UNSPECIFIED ? `${ts}(${ft.Flen})` : ts;
    case MysqlType.Null:
      return `${ts}(0)`;
    default:
      return ts;
  }
}

/** The partition clause TiDB appends (`ddl.AppendPartitionInfo`), starting with a newline. */
export function partitionClause(pi: PartitionInfo, ansiQuotes = false): string {
  const q = (name: string) => _escapeName(name, ansiQuotes);
  const typeName = PARTITION_TYPE_NAME[pi.type] ?? String(pi.type);
  const columnList = () =>
    pi.is_empty_columns ? "" : (pi.columns ?? []).map((c) => q(c.O)).join(",");
  if (pi.type === PartitionType.Hash || pi.type === PartitionType.Key) {
    const plain = pi.definitions.every((d, i) =>
      d.name.O === `p${i}` && !d.comment && !d.policy_ref_info
    );
    if (plain) {
      // TiDB always sets num for HASH and KEY; a TableInfo built without it still has its
      // partitions listed.
      const num = pi.num || pi.definitions.length;
      return pi.type === PartitionType.Hash
        ? `\nPARTITION BY HASH (${pi.expr}) PARTITIONS ${num}`
        : `\nPARTITION BY KEY (${columnList()}) PARTITIONS ${num}`;
    }
  }
  let s: string;
  if ((pi.columns ?? []).length > 0) {
    s = pi.type === PartitionType.Key
      ? `\nPARTITION BY ${typeName} (${columnList()})\n(`
      : `\nPARTITION BY ${typeName} COLUMNS(${columnList()})\n(`;
  } else {
    s = `\nPARTITION BY ${typeName} (${pi.expr})\n(`;
  }
  pi.definitions.forEach((def, i) => {
    if (i > 0) s += ",\n ";
    s += `PARTITION ${q(def.name.O)}`;
    if (pi.type === PartitionType.Range) {
      s += ` VALUES LESS THAN (${(def.less_than ?? []).map(_hexIfNonPrint).join(",")})`;
    } else if (pi.type === PartitionType.List) {
      const inValues = def.in_values ?? [];
      if (
        inValues.length === 0 ||
        (inValues.length === 1 && inValues[0]!.length === 1 &&
          inValues[0]![0]!.toUpperCase() === "DEFAULT")
      ) {
        s += " DEFAULT";
      } else {
        const vals = inValues.map((row) =>
          row.length > 1
            ? `(${row.map(_hexIfNonPrint).join(",")})`
            : row.length === 1
            ? _hexIfNonPrint(row[0]!)
            : ""
        );
        s += ` VALUES IN (${vals.join(",")})`;
      }
    }
    if (def.comment) s += ` COMMENT '${outputFormat(def.comment)}'`;
    if (def.policy_ref_info) {
      s += ` /*T![placement] PLACEMENT POLICY=${q(def.policy_ref_info.name.O)} */`;
    }
  });
  return s + ")";
}

/**
 * TiDB's `format.OutputFormat` (pkg/util/format): what goes between single quotes in a
 * COMMENT or DEFAULT. Quotes are doubled, backslash, NUL, CR and LF are escaped.
 */
export function outputFormat(s: string): string {
  return s.replace(/[\0'\n\r\\]/g, (c) => OUTPUT_FORMAT_ESCAPES[c]!);
}

const OUTPUT_FORMAT_ESCAPES: Readonly<Record<string, string>> = {
  "\0": "\\0",
  "'": "''",
  "\n": "\\n",
  "\r": "\\r",
  "\\": "\\\\",
};

// fetchShowCreateTable4View: the definer is the authenticated user when TiDB recorded one.
function _showCreateView(table: TableInfo, q: (n: string) => string): string {
  const v = table.view!;
  const d = v.view_definer;
  const [user, host] = d && d.AuthUsername !== "" && d.AuthHostname !== ""
    ? [d.AuthUsername, d.AuthHostname]
    : [d?.Username ?? "", d?.Hostname ?? ""];
  const algorithm = ["UNDEFINED", "MERGE", "TEMPTABLE"][v.view_algorithm] ?? "UNDEFINED";
  const security = v.view_security === 1 ? "INVOKER" : "DEFINER";
  const cols = table.cols.map((c) => q(c.name.O)).join(", ");
  return `CREATE ALGORITHM=${algorithm} DEFINER=${q(user)}@${q(host)} SQL SECURITY ${security} ` +
    `VIEW ${q(table.name.O)} (${cols}) AS ${v.view_select}`;
}

// ConstructResultOfShowCreateSequence.
function _showCreateSequence(table: TableInfo, q: (n: string) => string): string {
  const s = table.sequence!;
  let out = `CREATE SEQUENCE ${q(table.name.O)} start with ${s.sequence_start} ` +
    `minvalue ${s.sequence_min_value} maxvalue ${s.sequence_max_value} ` +
    `increment by ${s.sequence_increment} ` +
    (s.sequence_cache ? `cache ${s.sequence_cache_value} ` : "nocache ") +
    (s.sequence_cycle ? "cycle " : "nocycle ") + "ENGINE=InnoDB";
  if (s.sequence_comment) out += ` COMMENT='${outputFormat(s.sequence_comment)}'`;
  return out;
}

/** Public columns by offset, as `TableInfo.Cols()` returns them (holes left undefined). */
function publicColumns(table: TableInfo): (ColumnInfo | undefined)[] {
  const out: (ColumnInfo | undefined)[] = [];
  let max = -1;
  for (const c of table.cols) {
    if (c.state !== SchemaState.Public) continue;
    out[c.offset] = c;
    if (c.offset > max) max = c.offset;
  }
  out.length = max + 1;
  return out;
}

// The parser's OutputFormat (pkg/parser/format), used for ENUM/SET elements: unlike the util
// one it leaves backslashes alone.
function _parserOutputFormat(s: string): string {
  return s.replace(/[\0'\n\r]/g, (c) => OUTPUT_FORMAT_ESCAPES[c]!);
}

// stringutil.Escape: quote a name, doubling the quote character inside it.
function _escapeName(name: string, ansiQuotes: boolean): string {
  const quote = ansiQuotes ? '"' : "`";
  return quote + name.replaceAll(quote, quote + quote) + quote;
}

// types.TypeToStr: text becomes blob and char becomes binary in the binary charset.
function _typeToStr(tp: number, charset: string): string {
  const ts = TYPE_NAME[tp] ?? "";
  if (charset !== "binary") return ts;
  if (
    tp === MysqlType.TinyBlob || tp === MysqlType.Blob || tp === MysqlType.MediumBlob ||
    tp === MysqlType.LongBlob
  ) {
    return ts.replace("text", "blob");
  }
  if (tp === MysqlType.String || tp === MysqlType.Varchar) return ts.replace("char", "binary");
  if (tp === MysqlType.Null) return "binary";
  return ts;
}

// types.HasCharset: string types print their charset unless binary; ENUM and SET always do.
function _hasCharset(ft: FieldType): boolean {
  const tp = ft.Array ? MysqlType.JSON : ft.Tp;
  switch (tp) {
    case MysqlType.Varchar:
    case MysqlType.String:
    case MysqlType.VarString:
    case MysqlType.Blob:
    case MysqlType.TinyBlob:
    case MysqlType.MediumBlob:
    case MysqlType.LongBlob:
      return (ft.Flag & ColumnFlag.Binary) === 0;
    case MysqlType.Enum:
    case MysqlType.Set:
      return true;
    default:
      return false;
  }
}

// The DEFAULT part of a column (empty when TiDB prints none).
function _defaultClause(col: ColumnInfo, notNull: boolean): string {
  const ft = col.type;
  const value = _defaultValue(col);
  if (value === null || value === undefined) {
    if (notNull) return "";
    return ft.Tp === MysqlType.Timestamp ? " NULL DEFAULT NULL" : " DEFAULT NULL";
  }
  if (value === "CURRENT_TIMESTAMP") {
    return ft.Decimal > 0
      ? ` DEFAULT CURRENT_TIMESTAMP(${ft.Decimal})`
      : " DEFAULT CURRENT_TIMESTAMP";
  }
  if (value === "CURRENT_DATE") {
    return ft.Decimal > 0 ? ` DEFAULT (CURRENT_DATE(${ft.Decimal}))` : " DEFAULT (CURRENT_DATE)";
  }
  const text = _goValueString(value);
  if (col.default_is_expr) return ` DEFAULT (${text})`;
  if (ft.Tp === MysqlType.Bit) return ` DEFAULT ${_bitLiteral(_stringBytes(value))}`;
  return ` DEFAULT '${outputFormat(text)}'`;
}

// ColumnInfo.GetDefaultValue: a BIT column's default lives in default_bit (base64 bytes).
function _defaultValue(col: ColumnInfo): unknown {
  if (col.type.Tp === MysqlType.Bit && col.default_bit) {
    return { bytes: _base64Bytes(col.default_bit) };
  }
  return col.default;
}

function _stringBytes(value: unknown): Uint8Array {
  if (typeof value === "object" && value !== null && "bytes" in value) {
    return (value as { bytes: Uint8Array }).bytes;
  }
  return new TextEncoder().encode(_goValueString(value));
}

// fmt.Sprintf("%v") of a JSON-decoded Go value.
function _goValueString(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") return _goFloat(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "object" && value !== null && "bytes" in value) {
    return new TextDecoder().decode((value as { bytes: Uint8Array }).bytes);
  }
  return String(value);
}

// %v of a float64 (%g, shortest): exponent form when the exponent is < -4 or >= 6.
function _goFloat(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? "+Inf" : x < 0 ? "-Inf" : "NaN";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const [mant, expStr] = x.toExponential().split("e") as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? "-" : "+";
    const abs = Math.abs(exp);
    return `${mant}e${sign}${abs < 10 ? "0" : ""}${abs}`;
  }
  return x.toFixed(Math.max(0, mant.replace(/^-?\d\.?/, "").length - exp));
}

function _base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// types.BinaryLiteral.ToBitLiteralString(true): b'...' with leading zeros trimmed.
function _bitLiteral(bytes: Uint8Array): string {
  if (bytes.length === 0) return "b''";
  let bits = "";
  for (const b of bytes) bits += b.toString(2).padStart(8, "0");
  bits = bits.replace(/^0+/, "");
  return `b'${bits === "" ? "0" : bits}'`;
}

// ddl.IsAutoRandomColumnID: the (first) primary-key column of a table with shard bits.
function _isAutoRandomColumn(table: TableInfo, col: ColumnInfo): boolean {
  if (!((table.auto_random_bits ?? 0) > 0)) return false;
  if (table.pk_is_handle) {
    return (col.type.Flag & ColumnFlag.PriKey) !== 0;
  }
  if (table.is_common_handle) {
    const pk = (table.index_info ?? []).find((i) => i.is_primary);
    const first = pk?.idx_cols[0];
    return first !== undefined && table.cols[first.offset]?.id === col.id;
  }
  return false;
}

function _indexClause(table: TableInfo, idx: IndexInfo, q: (n: string) => string): string {
  let s: string;
  if (idx.is_primary) s = "  PRIMARY KEY ";
  else if (idx.is_unique) s = `  UNIQUE KEY ${q(idx.idx_name.O)} `;
  else s = `  KEY ${q(idx.idx_name.O)} `;
  const cols = idx.idx_cols.map((c) => {
    const col = table.cols[c.offset];
    if (col?.hidden) return `(${col.generated_expr_string})`;
    return c.length !== UNSPECIFIED ? `${q(c.name.O)}(${c.length})` : q(c.name.O);
  });
  s += `(${cols.join(",")})`;
  if (idx.is_invisible) s += " /*!80000 INVISIBLE */";
  if (idx.comment) s += ` COMMENT '${outputFormat(idx.comment)}'`;
  if (idx.is_primary) {
    s += table.pk_is_handle || table.is_common_handle
      ? " /*T![clustered_index] CLUSTERED */"
      : " /*T![clustered_index] NONCLUSTERED */";
  }
  if (idx.is_global) s += " /*T![global_index] GLOBAL */";
  return s;
}

// The TTL options as TiDB's restore context writes them (each in its own /*T![ttl] */).
function _ttlClause(ttl: TTLInfo, q: (n: string) => string): string {
  const unit = TIME_UNIT[ttl.interval_time_unit] ?? "";
  const jobInterval = ttl.job_interval === "" ? "1h" : ttl.job_interval;
  return ` /*T![ttl] TTL=${q(ttl.column_name.O)} + INTERVAL ${ttl.interval_expr} ${unit} */` +
    ` /*T![ttl] TTL_ENABLE='${ttl.enable ? "ON" : "OFF"}' */` +
    ` /*T![ttl] TTL_JOB_INTERVAL='${jobInterval.replaceAll("'", "''")}' */`;
}

// ddl.hexIfNonPrint: partition bound values that are not printable become escapes or hex.
function _hexIfNonPrint(s: string): string {
  const printable = (ch: string) => /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch);
  const chars = [...s];
  if (chars.every(printable)) return s;
  const escapes: Record<string, string> = {
    "\0": "\\0",
    "\x07": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\r": "\\r",
    "\x1a": "\\Z",
  };
  let res = "";
  for (const ch of chars) {
    const e = escapes[ch];
    if (e !== undefined) res += e;
    else if (printable(ch)) res += ch;
    else {
      const raw = s.length >= 2 && s.startsWith("'") && s.endsWith("'") ? s.slice(1, -1) : s;
      let hex = "0x";
      for (const b of new TextEncoder().encode(raw)) hex += b.toString(16).padStart(2, "0");
      return hex;
    }
  }
  return res;
}
