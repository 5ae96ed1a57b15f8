/**
 * The statements the playground's TiDB parses (see parser.ts), and `restoreExpr`, which prints an
 * expression back the way TiDB's `Restore` does for what it stores as text (generated columns,
 * partition expressions and bounds).
 * @module
 */

/** An expression. */
export type Expr =
  | { k: "num"; text: string }
  | { k: "str"; value: string; charset?: string }
  | { k: "hex"; text: string; bytes: Uint8Array }
  | { k: "bit"; text: string; bytes: Uint8Array }
  | { k: "null" }
  | { k: "bool"; value: boolean }
  | { k: "col"; name: string; table?: string; db?: string }
  | { k: "func"; name: string; args: Expr[]; star?: boolean }
  | { k: "unary"; op: string; e: Expr }
  | { k: "binary"; op: string; l: Expr; r: Expr }
  | { k: "in"; e: Expr; list: Expr[]; not: boolean }
  | { k: "isnull"; e: Expr; not: boolean }
  | { k: "var"; name: string; system: boolean }
  | { k: "maxvalue" }
  | { k: "default" };

/** A column type as written. */
export interface TypeDef {
  /** Lower-case type name (`int`, `varchar`, `double`, ...). */
  name: string;
  flen?: number;
  decimal?: number;
  unsigned: boolean;
  zerofill: boolean;
  charset?: string;
  collate?: string;
  /** ENUM / SET members. */
  elems?: string[];
  /** `BINARY` attribute of a character type (binary collation of its charset). */
  binaryAttr?: boolean;
}

/** A column definition. */
export interface ColumnDef {
  name: string;
  type: TypeDef;
  notNull?: boolean;
  defaultValue?: Expr;
  onUpdate?: Expr;
  autoIncrement: boolean;
  autoRandom?: { shardBits: number; rangeBits?: number };
  primary: boolean;
  /** `CLUSTERED` / `NONCLUSTERED` after an inline PRIMARY KEY. */
  clustered?: boolean;
  unique: boolean;
  comment?: string;
  generated?: { expr: Expr; stored: boolean };
  collate?: string;
}

/** An index key part. */
export interface KeyPart {
  name: string;
  length?: number;
  desc?: boolean;
}

/** PRIMARY KEY, UNIQUE or INDEX. */
export interface IndexDef {
  kind: "primary" | "unique" | "index";
  name?: string;
  parts: KeyPart[];
  clustered?: boolean;
  invisible: boolean;
  comment?: string;
  indexType?: string;
}

/** One PARTITION definition. */
export interface PartitionDef {
  name: string;
  lessThan?: Expr[];
  inValues?: Expr[][];
  comment?: string;
}

/** PARTITION BY. */
export interface PartitionBy {
  type: "range" | "list" | "hash" | "key";
  /** RANGE COLUMNS / LIST COLUMNS / KEY columns. */
  columns?: string[];
  expr?: Expr;
  linear: boolean;
  num?: number;
  defs: PartitionDef[];
}

/** Table options. */
export interface TableOptions {
  engine?: string;
  charset?: string;
  collate?: string;
  autoIncrement?: bigint;
  /** `FORCE AUTO_INCREMENT` / `FORCE AUTO_RANDOM_BASE`: rebase even below the current base. */
  force?: boolean;
  autoIdCache?: bigint;
  autoRandomBase?: bigint;
  shardRowIdBits?: number;
  preSplitRegions?: number;
  comment?: string;
}

/** `db.table` as written. */
export interface TableName {
  db?: string;
  name: string;
}

/** An ALTER TABLE specification. */
export type AlterSpec =
  | { k: "options"; options: TableOptions }
  | { k: "addColumn"; columns: ColumnDef[]; first: boolean; after?: string }
  | { k: "dropColumn"; name: string; ifExists: boolean }
  | { k: "addIndex"; index: IndexDef; ifNotExists: boolean }
  | { k: "dropIndex"; name: string; ifExists: boolean; primary: boolean };

/** A SELECT field. */
export interface SelectField {
  star?: boolean;
  expr?: Expr;
  alias?: string;
  /** The field's text as written (MySQL names unaliased columns with it). */
  text: string;
}

/** Every statement the parser knows. */
export type Stmt =
  | { k: "createDatabase"; name: string; ifNotExists: boolean; charset?: string; collate?: string }
  | {
    k: "createTable";
    table: TableName;
    ifNotExists: boolean;
    columns: ColumnDef[];
    indexes: IndexDef[];
    options: TableOptions;
    partition?: PartitionBy;
  }
  | { k: "dropTable"; tables: TableName[]; ifExists: boolean }
  | { k: "dropDatabase"; name: string; ifExists: boolean }
  | { k: "truncate"; table: TableName }
  | { k: "alterTable"; table: TableName; specs: AlterSpec[] }
  | { k: "insert"; table: TableName; columns?: string[]; rows: Expr[][] }
  | { k: "update"; table: TableName; sets: { column: string; value: Expr }[]; where?: Expr }
  | { k: "delete"; table: TableName; where?: Expr }
  | {
    k: "select";
    fields: SelectField[];
    from?: TableName;
    where?: Expr;
    limit?: number;
    offset?: number;
  }
  | { k: "showDatabases" }
  | { k: "showColumns"; table: TableName; full: boolean }
  | { k: "showVariables"; like?: string; where?: Expr }
  | { k: "showTables"; db?: string; full: boolean }
  | { k: "showCreateTable"; table: TableName }
  | { k: "showCreateDatabase"; name: string; ifNotExists: boolean }
  | { k: "use"; db: string }
  | { k: "set" }
  | { k: "adminChecksum"; tables: TableName[] }
  | { k: "analyze"; tables: TableName[] }
  | { k: "loadStats"; file: string }
  | { k: "empty" };

function quoteName(s: string): string {
  return "`" + s.replaceAll("`", "``") + "`";
}

function quoteString(s: string): string {
  return "'" + s.replaceAll("\\", "\\\\").replaceAll("'", "''") + "'";
}

/**
 * TiDB's `Restore` of an expression: names in backquotes, strings in single quotes, function
 * names in upper case (`keywordsUpper`, partition expressions) or lower case (generated
 * columns).
 */
export function restoreExpr(e: Expr, keywordsUpper = true): string {
  const r = (x: Expr) => restoreExpr(x, keywordsUpper);
  const kw = (s: string) => (keywordsUpper ? s.toUpperCase() : s.toLowerCase());
  switch (e.k) {
    case "num":
      return e.text;
    case "str":
      return (e.charset ? `_${e.charset}` : "") + quoteString(e.value);
    case "hex":
    case "bit":
      return e.text;
    case "null":
      return kw("null");
    case "bool":
      return kw(e.value ? "true" : "false");
    case "col":
      return [e.db, e.table, e.name].filter((x) => x !== undefined).map((x) => quoteName(x!))
        .join(".");
    case "func":
      return `${kw(e.name)}(${e.star ? "*" : e.args.map(r).join(", ")})`;
    case "unary":
      return e.op === "not" ? `${kw("not")} ${r(e.e)}` : `${e.op}${r(e.e)}`;
    case "binary": {
      const op = /^[a-z]/i.test(e.op) ? kw(e.op) : e.op;
      return `${r(e.l)}${op === "," ? ", " : ` ${op} `}${r(e.r)}`;
    }
    case "in":
      return `${r(e.e)} ${e.not ? kw("not in") : kw("in")} (${e.list.map(r).join(", ")})`;
    case "isnull":
      return `${r(e.e)} ${kw(e.not ? "is not null" : "is null")}`;
    case "var":
      return (e.system ? "@@" : "@") + e.name;
    case "maxvalue":
      return "MAXVALUE";
    case "default":
      return kw("default");
  }
}
