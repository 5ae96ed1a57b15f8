/**
 * A recursive-descent parser for the SQL the playground's TiDB runs, following TiDB's grammar
 * (`pkg/parser/parser.y`) for those statements: DDL in the dialect `SHOW CREATE TABLE` prints,
 * simple DML, SHOW, USE, SET and ADMIN CHECKSUM TABLE. Anything else is a 1235 error naming
 * the statement or clause, never a silently dropped clause.
 * @module
 */
import type {
  AlterSpec,
  ColumnDef,
  Expr,
  IndexDef,
  KeyPart,
  PartitionBy,
  PartitionDef,
  SelectField,
  Stmt,
  TableName,
  TableOptions,
  TypeDef,
} from "./ast.ts";
import { notSupported } from "./errors.ts";
import { syntaxErrorAt, type Token, tokenize } from "./lexer.ts";

/** Parses a query (one or more `;`-separated statements). */
export function parse(sql: string): Stmt[] {
  return new _Parser(sql).statements();
}

const TYPE_NAMES = new Set([
  "bit",
  "tinyint",
  "smallint",
  "mediumint",
  "int",
  "integer",
  "bigint",
  "bool",
  "boolean",
  "decimal",
  "numeric",
  "dec",
  "fixed",
  "float",
  "double",
  "real",
  "date",
  "datetime",
  "timestamp",
  "time",
  "year",
  "char",
  "varchar",
  "binary",
  "varbinary",
  "tinytext",
  "text",
  "mediumtext",
  "longtext",
  "tinyblob",
  "blob",
  "mediumblob",
  "longblob",
  "enum",
  "set",
  "json",
  "national",
  "nchar",
  "nvarchar",
  "long",
]);

// Reserved words that never start an alias or a bare identifier in the places we accept one.
const RESERVED = new Set([
  "from",
  "where",
  "limit",
  "order",
  "group",
  "having",
  "values",
  "value",
  "set",
  "on",
  "select",
  "into",
  "partition",
  "union",
  "for",
]);

// Statements MySQL/TiDB have that the playground does not run: answered with 1235, while an
// unknown first word is a syntax error (1064), as TiDB's parser reports it.
const KNOWN_STATEMENTS = new Set([
  "begin",
  "start",
  "commit",
  "rollback",
  "savepoint",
  "release",
  "grant",
  "revoke",
  "rename",
  "replace",
  "load",
  "explain",
  "describe",
  "desc",
  "analyze",
  "flush",
  "kill",
  "lock",
  "unlock",
  "prepare",
  "execute",
  "deallocate",
  "do",
  "handler",
  "call",
  "with",
  "table",
  "values",
  "import",
  "backup",
  "restore",
  "split",
  "recover",
  "flashback",
  "optimize",
  "repair",
  "check",
  "checksum",
  "shutdown",
  "restart",
  "trace",
  "plan",
  "calibrate",
  "query",
  "batch",
  "cancel",
  "pause",
  "resume",
  "help",
  "binlog",
  "purge",
  "reset",
  "change",
  "stop",
  "cache",
  "uncache",
  "signal",
  "resignal",
  "get",
  "xa",
  "install",
  "uninstall",
  "clone",
  "create",
  "drop",
  "alter",
]);

class _Parser {
  readonly toks: Token[];
  i = 0;

  constructor(readonly sql: string) {
    this.toks = tokenize(sql);
  }

  // ---- token helpers ----

  get t(): Token {
    return this.toks[this.i]!;
  }

  peek(n = 1): Token {
    return this.toks[Math.min(this.i + n, this.toks.length - 1)]!;
  }

  atEnd(): boolean {
    return this.t.kind === "eof";
  }

  fail(): never {
    throw syntaxErrorAt(this.sql, this.t.pos);
  }

  isKw(w: string, tok: Token = this.t): boolean {
    return tok.kind === "ident" && tok.text.toLowerCase() === w;
  }

  isOp(o: string, tok: Token = this.t): boolean {
    return tok.kind === "op" && tok.text === o;
  }

  acceptKw(...words: string[]): boolean {
    for (let k = 0; k < words.length; k++) {
      if (!this.isKw(words[k]!, this.peek(k))) return false;
    }
    this.i += words.length;
    return true;
  }

  kw(...words: string[]): void {
    for (const w of words) {
      if (!this.isKw(w)) this.fail();
      this.i++;
    }
  }

  acceptOp(o: string): boolean {
    if (!this.isOp(o)) return false;
    this.i++;
    return true;
  }

  op(o: string): void {
    if (!this.acceptOp(o)) this.fail();
  }

  ident(): string {
    const t = this.t;
    if (t.kind === "qident" || t.kind === "ident") {
      this.i++;
      return t.text;
    }
    return this.fail();
  }

  stringLit(): string {
    const t = this.t;
    if (t.kind !== "string") this.fail();
    this.i++;
    return t.text;
  }

  /** A name or a string (charsets, engines, collations). */
  nameOrString(): string {
    if (this.t.kind === "string") return this.stringLit();
    return this.ident();
  }

  int(): number {
    const t = this.t;
    if (t.kind !== "number" || ![...t.text].every((c) => c >= "0" && c <= "9")) this.fail();
    this.i++;
    return Number(t.text);
  }

  bigint(): bigint {
    const t = this.t;
    if (t.kind !== "number" || ![...t.text].every((c) => c >= "0" && c <= "9")) this.fail();
    this.i++;
    return BigInt(t.text);
  }

  acceptEq(): void {
    this.acceptOp("=");
  }

  tableName(): TableName {
    const a = this.ident();
    if (this.acceptOp(".")) return { db: a, name: this.ident() };
    return { name: a };
  }

  // ---- statements ----

  statements(): Stmt[] {
    const out: Stmt[] = [];
    for (;;) {
      while (this.acceptOp(";"));
      if (this.atEnd()) break;
      out.push(this.statement());
      if (!this.atEnd() && !this.isOp(";")) this.fail();
    }
    if (out.length === 0) out.push({ k: "empty" });
    return out;
  }

  statement(): Stmt {
    const t = this.t;
    if (t.kind !== "ident") return this.fail();
    const w = t.text.toLowerCase();
    switch (w) {
      case "create":
        return this.create();
      case "drop":
        return this.drop();
      case "truncate":
        this.i++;
        this.acceptKw("table");
        return { k: "truncate", table: this.tableName() };
      case "alter":
        return this.alter();
      case "insert":
        return this.insert();
      case "update":
        return this.update();
      case "delete":
        return this.delete();
      case "select":
        return this.select();
      case "show":
        return this.show();
      case "desc":
      case "describe":
      case "explain": {
        this.i++;
        if (
          this.isKw("select") || this.isKw("insert") || this.isKw("update") ||
          this.isKw("delete") || this.isKw("analyze") || this.isKw("format")
        ) {
          throw notSupported("EXPLAIN");
        }
        return { k: "showColumns", table: this.tableName(), full: false };
      }
      case "use":
        this.i++;
        return { k: "use", db: this.ident() };
      case "set":
        return this.set();
      case "admin":
        return this.admin();
      case "analyze": {
        // ANALYZE TABLE t[, ...]; its options (BUCKETS, TOPN, partitions, columns) are not
        // modelled: the defaults of statistics version 2 apply.
        this.i++;
        this.kw("table");
        const tables: TableName[] = [];
        do tables.push(this.tableName()); while (this.acceptOp(","));
        if (!this.atEnd() && !this.isOp(";")) throw notSupported(`ANALYZE ... ${this.t.text}`);
        return { k: "analyze", tables };
      }
      case "load":
        this.i++;
        if (this.acceptKw("stats")) {
          if (this.t.kind !== "string") this.fail();
          return { k: "loadStats", file: this.stringLit() };
        }
        throw notSupported(`LOAD ${this.t.text.toUpperCase()}`);
      default:
        if (KNOWN_STATEMENTS.has(w)) throw notSupported(w.toUpperCase());
        return this.fail();
    }
  }

  create(): Stmt {
    this.kw("create");
    if (this.acceptKw("database") || this.acceptKw("schema")) return this.createDatabase();
    if (this.acceptKw("table")) return this.createTable();
    if (this.isKw("temporary") || this.isKw("global")) throw notSupported("CREATE TEMPORARY TABLE");
    const what = this.t.text.toUpperCase();
    throw notSupported(`CREATE ${what}`);
  }

  ifNotExists(): boolean {
    return this.acceptKw("if", "not", "exists");
  }

  createDatabase(): Stmt {
    const ifNotExists = this.ifNotExists();
    const name = this.ident();
    const s: Stmt & { k: "createDatabase" } = { k: "createDatabase", name, ifNotExists };
    for (;;) {
      this.acceptKw("default");
      if (this.acceptKw("character", "set") || this.acceptKw("charset")) {
        this.acceptEq();
        s.charset = this.nameOrString().toLowerCase();
      } else if (this.acceptKw("collate")) {
        this.acceptEq();
        s.collate = this.nameOrString().toLowerCase();
      } else if (this.isKw("placement") || this.isKw("encryption")) {
        throw notSupported(`CREATE DATABASE ... ${this.t.text.toUpperCase()}`);
      } else break;
    }
    return s;
  }

  createTable(): Stmt {
    const ifNotExists = this.ifNotExists();
    const table = this.tableName();
    if (this.isKw("like")) throw notSupported("CREATE TABLE ... LIKE");
    const columns: ColumnDef[] = [];
    const indexes: IndexDef[] = [];
    this.op("(");
    do {
      if (this.isIndexStart()) indexes.push(this.indexDef());
      else columns.push(this.columnDef());
    } while (this.acceptOp(","));
    this.op(")");
    const options = this.tableOptions();
    let partition: PartitionBy | undefined;
    if (this.acceptKw("partition", "by")) partition = this.partitionBy();
    if (this.isKw("as") || this.isKw("select")) throw notSupported("CREATE TABLE ... SELECT");
    return { k: "createTable", table, ifNotExists, columns, indexes, options, partition };
  }

  isIndexStart(): boolean {
    const t = this.t;
    if (t.kind !== "ident") return false;
    const w = t.text.toLowerCase();
    if (["primary", "unique", "index", "key", "constraint"].includes(w)) return true;
    if (["foreign", "check", "fulltext", "spatial", "vector", "columnar"].includes(w)) {
      // A column may be named like these only when backquoted; these start constraints here.
      throw notSupported(`${w.toUpperCase()} constraint`);
    }
    return false;
  }

  indexDef(): IndexDef {
    let name: string | undefined;
    if (this.acceptKw("constraint")) {
      if (!this.isKw("primary") && !this.isKw("unique")) name = this.ident();
      if (this.isKw("foreign") || this.isKw("check")) {
        throw notSupported(`${this.t.text.toUpperCase()} constraint`);
      }
    }
    let kind: IndexDef["kind"];
    if (this.acceptKw("primary")) {
      this.kw("key");
      kind = "primary";
    } else if (this.acceptKw("unique")) {
      if (!this.acceptKw("index")) this.acceptKw("key");
      kind = "unique";
    } else if (this.acceptKw("index") || this.acceptKw("key")) {
      kind = "index";
    } else return this.fail();
    const idx: IndexDef = { kind, parts: [], invisible: false };
    if (name !== undefined && kind !== "primary") idx.name = name;
    if (!this.isOp("(") && !this.isKw("using")) idx.name = this.ident();
    if (this.acceptKw("using") || this.acceptKw("type")) idx.indexType = this.ident().toLowerCase();
    this.keyParts(idx);
    this.indexOptions(idx);
    return idx;
  }

  keyParts(idx: IndexDef): void {
    this.op("(");
    do {
      if (this.isOp("(")) throw notSupported("expression index");
      const p: KeyPart = { name: this.ident() };
      if (this.acceptOp("(")) {
        p.length = this.int();
        this.op(")");
      }
      if (this.acceptKw("desc")) p.desc = true;
      else this.acceptKw("asc");
      idx.parts.push(p);
    } while (this.acceptOp(","));
    this.op(")");
  }

  indexOptions(idx: IndexDef): void {
    for (;;) {
      if (this.acceptKw("using") || this.acceptKw("type")) {
        idx.indexType = this.ident().toLowerCase();
      } else if (this.acceptKw("comment")) {
        idx.comment = this.stringLit();
      } else if (this.acceptKw("invisible")) {
        idx.invisible = true;
      } else if (this.acceptKw("visible")) {
        idx.invisible = false;
      } else if (this.acceptKw("clustered")) {
        idx.clustered = true;
      } else if (this.acceptKw("nonclustered")) {
        idx.clustered = false;
      } else if (this.acceptKw("key_block_size")) {
        this.acceptEq();
        this.int();
      } else if (this.isKw("global") || this.isKw("with") || this.isKw("visible")) {
        throw notSupported(`index option ${this.t.text.toUpperCase()}`);
      } else return;
    }
  }

  typeDef(): TypeDef {
    const t = this.t;
    if (t.kind !== "ident" || !TYPE_NAMES.has(t.text.toLowerCase())) {
      if (t.kind === "ident") throw notSupported(`column type ${t.text.toUpperCase()}`);
      this.fail();
    }
    this.i++;
    let name = t.text.toLowerCase();
    if (name === "national") {
      name = this.ident().toLowerCase() === "varchar" ? "varchar" : "char";
      if (name === "char") this.acceptKw("varying") && (name = "varchar");
    } else if (name === "nchar") name = this.acceptKw("varying") ? "varchar" : "char";
    else if (name === "nvarchar") name = "varchar";
    else if (name === "char" && this.acceptKw("varying")) name = "varchar";
    else if (name === "long") {
      name = this.acceptKw("varchar")
        ? "mediumtext"
        : (this.acceptKw("varbinary") ? "mediumblob" : "mediumtext");
    } else if (name === "double") this.acceptKw("precision");
    const td: TypeDef = { name, unsigned: false, zerofill: false };
    if (name === "enum" || name === "set") {
      td.elems = [];
      this.op("(");
      do td.elems.push(this.stringLit()); while (this.acceptOp(","));
      this.op(")");
    } else if (this.acceptOp("(")) {
      td.flen = this.int();
      if (this.acceptOp(",")) td.decimal = this.int();
      this.op(")");
    }
    for (;;) {
      if (this.acceptKw("unsigned")) td.unsigned = true;
      else if (this.acceptKw("signed")) td.unsigned = false;
      else if (this.acceptKw("zerofill")) {
        td.zerofill = true;
        td.unsigned = true;
      } else if (this.acceptKw("binary")) td.binaryAttr = true;
      else if (this.acceptKw("ascii")) td.charset = "latin1";
      else if (this.acceptKw("unicode")) td.charset = "ucs2";
      else if (this.acceptKw("character", "set") || this.acceptKw("charset")) {
        td.charset = this.nameOrString().toLowerCase();
      } else if (this.acceptKw("collate")) td.collate = this.nameOrString().toLowerCase();
      else break;
    }
    return td;
  }

  columnDef(): ColumnDef {
    const name = this.ident();
    const type = this.typeDef();
    const c: ColumnDef = { name, type, autoIncrement: false, primary: false, unique: false };
    for (;;) {
      if (this.acceptKw("not", "null")) c.notNull = true;
      else if (this.acceptKw("null")) c.notNull = false;
      else if (this.acceptKw("default")) c.defaultValue = this.defaultValue();
      else if (this.acceptKw("on", "update")) c.onUpdate = this.defaultValue();
      else if (this.acceptKw("auto_increment")) c.autoIncrement = true;
      else if (this.acceptKw("auto_random")) {
        c.autoRandom = { shardBits: 5 };
        if (this.acceptOp("(")) {
          c.autoRandom.shardBits = this.int();
          if (this.acceptOp(",")) c.autoRandom.rangeBits = this.int();
          this.op(")");
        }
      } else if (this.acceptKw("primary", "key") || this.acceptKw("key")) {
        c.primary = true;
        if (this.acceptKw("clustered")) c.clustered = true;
        else if (this.acceptKw("nonclustered")) c.clustered = false;
      } else if (this.acceptKw("unique")) {
        this.acceptKw("key");
        c.unique = true;
      } else if (this.acceptKw("comment")) c.comment = this.stringLit();
      else if (this.acceptKw("collate")) c.collate = this.nameOrString().toLowerCase();
      else if (this.acceptKw("generated", "always", "as") || this.acceptKw("as")) {
        this.op("(");
        const expr = this.expr();
        this.op(")");
        let stored = false;
        if (this.acceptKw("stored")) stored = true;
        else this.acceptKw("virtual");
        c.generated = { expr, stored };
      } else if (this.acceptKw("serial", "default", "value")) {
        c.notNull = true;
        c.autoIncrement = true;
        c.unique = true;
      } else if (
        this.isKw("references") || this.isKw("check") || this.isKw("column_format") ||
        this.isKw("storage") || this.isKw("constraint")
      ) {
        throw notSupported(`column option ${this.t.text.toUpperCase()}`);
      } else break;
    }
    return c;
  }

  defaultValue(): Expr {
    if (this.isOp("(")) {
      this.op("(");
      const e = this.expr();
      this.op(")");
      return e;
    }
    if (
      this.isKw("current_timestamp") || this.isKw("now") || this.isKw("localtime") ||
      this.isKw("localtimestamp")
    ) {
      const name = this.ident().toLowerCase();
      const args: Expr[] = [];
      if (this.acceptOp("(")) {
        if (!this.isOp(")")) args.push(this.primary());
        this.op(")");
      }
      return { k: "func", name: name === "now" ? "current_timestamp" : name, args };
    }
    return this.unaryOperand();
  }

  unaryOperand(): Expr {
    if (this.acceptOp("-")) return { k: "unary", op: "-", e: this.unaryOperand() };
    if (this.acceptOp("+")) return this.unaryOperand();
    return this.primary();
  }

  tableOptions(): TableOptions {
    const o: TableOptions = {};
    for (;;) {
      this.acceptOp(",");
      this.acceptKw("default");
      if (this.acceptKw("engine")) {
        this.acceptEq();
        o.engine = this.nameOrString();
      } else if (this.acceptKw("character", "set") || this.acceptKw("charset")) {
        this.acceptEq();
        o.charset = this.nameOrString().toLowerCase();
      } else if (this.acceptKw("collate")) {
        this.acceptEq();
        o.collate = this.nameOrString().toLowerCase();
      } else if (this.acceptKw("force")) {
        if (!this.isKw("auto_increment") && !this.isKw("auto_random_base")) this.fail();
        o.force = true;
      } else if (this.acceptKw("auto_increment")) {
        this.acceptEq();
        o.autoIncrement = this.bigint();
      } else if (this.acceptKw("auto_id_cache")) {
        this.acceptEq();
        o.autoIdCache = this.bigint();
      } else if (this.acceptKw("auto_random_base")) {
        this.acceptEq();
        o.autoRandomBase = this.bigint();
      } else if (this.acceptKw("shard_row_id_bits")) {
        this.acceptEq();
        o.shardRowIdBits = this.int();
      } else if (this.acceptKw("pre_split_regions")) {
        this.acceptEq();
        o.preSplitRegions = this.int();
      } else if (this.acceptKw("comment")) {
        this.acceptEq();
        o.comment = this.stringLit();
      } else if (this.acceptKw("row_format")) {
        // TiDB accepts and ignores ROW_FORMAT.
        this.acceptEq();
        this.ident();
      } else if (
        this.t.kind === "ident" && !this.isKw("partition") && !this.isKw("as") &&
        !this.isKw("select")
      ) {
        throw notSupported(`table option ${this.t.text.toUpperCase()}`);
      } else return o;
    }
  }

  partitionBy(): PartitionBy {
    const linear = this.acceptKw("linear");
    let p: PartitionBy;
    if (this.acceptKw("range")) p = { type: "range", linear, defs: [] };
    else if (this.acceptKw("list")) p = { type: "list", linear, defs: [] };
    else if (this.acceptKw("hash")) p = { type: "hash", linear, defs: [] };
    else if (this.acceptKw("key")) p = { type: "key", linear, defs: [] };
    else if (this.isKw("system_time")) throw notSupported("PARTITION BY SYSTEM_TIME");
    else return this.fail();
    if (linear) throw notSupported(`PARTITION BY LINEAR ${p.type.toUpperCase()}`);
    if (p.type === "key") {
      if (this.acceptKw("algorithm")) {
        this.op("=");
        this.int();
      }
      p.columns = this.nameList();
    } else if ((p.type === "range" || p.type === "list") && this.acceptKw("columns")) {
      p.columns = this.nameList();
    } else {
      this.op("(");
      p.expr = this.expr();
      this.op(")");
    }
    if (this.acceptKw("partitions")) p.num = this.int();
    if (this.isKw("subpartition")) throw notSupported("SUBPARTITION");
    if (this.isKw("interval")) throw notSupported("INTERVAL partitioning");
    if (this.acceptOp("(")) {
      do p.defs.push(this.partitionDef(p)); while (this.acceptOp(","));
      this.op(")");
    }
    return p;
  }

  nameList(): string[] {
    const out: string[] = [];
    this.op("(");
    if (this.isOp(")")) {
      this.i++;
      return out;
    }
    do out.push(this.ident()); while (this.acceptOp(","));
    this.op(")");
    return out;
  }

  partitionDef(p: PartitionBy): PartitionDef {
    this.kw("partition");
    const d: PartitionDef = { name: this.ident() };
    if (this.acceptKw("values")) {
      if (this.acceptKw("less", "than")) {
        if (p.type !== "range") this.fail();
        if (this.acceptKw("maxvalue")) d.lessThan = [{ k: "maxvalue" }];
        else {
          this.op("(");
          d.lessThan = [];
          do d.lessThan.push(
            this.isKw("maxvalue") ? (this.i++, { k: "maxvalue" }) : this.expr(),
          ); while (this.acceptOp(","));
          this.op(")");
        }
      } else if (this.acceptKw("in")) {
        if (p.type !== "list") this.fail();
        this.op("(");
        d.inValues = [];
        do {
          if (this.isOp("(")) {
            this.i++;
            const tuple: Expr[] = [];
            do tuple.push(this.expr()); while (this.acceptOp(","));
            this.op(")");
            d.inValues.push(tuple);
          } else if (this.acceptKw("default")) {
            throw notSupported("LIST partition DEFAULT");
          } else d.inValues.push([this.expr()]);
        } while (this.acceptOp(","));
        this.op(")");
      } else this.fail();
    }
    for (;;) {
      if (this.acceptKw("comment")) {
        this.acceptEq();
        d.comment = this.stringLit();
      } else if (this.acceptKw("engine")) {
        this.acceptEq();
        this.nameOrString();
      } else if (this.t.kind === "ident" && !this.isOp(",") && !this.isOp(")")) {
        throw notSupported(`partition option ${this.t.text.toUpperCase()}`);
      } else break;
    }
    return d;
  }

  drop(): Stmt {
    this.kw("drop");
    if (this.acceptKw("database") || this.acceptKw("schema")) {
      const ifExists = this.acceptKw("if", "exists");
      return { k: "dropDatabase", name: this.ident(), ifExists };
    }
    if (this.acceptKw("table")) {
      const ifExists = this.acceptKw("if", "exists");
      const tables: TableName[] = [];
      do tables.push(this.tableName()); while (this.acceptOp(","));
      this.acceptKw("restrict") || this.acceptKw("cascade");
      return { k: "dropTable", tables, ifExists };
    }
    throw notSupported(`DROP ${this.t.text.toUpperCase()}`);
  }

  alter(): Stmt {
    this.kw("alter");
    if (!this.acceptKw("table")) throw notSupported(`ALTER ${this.t.text.toUpperCase()}`);
    const table = this.tableName();
    const specs: AlterSpec[] = [];
    do specs.push(this.alterSpec()); while (this.acceptOp(","));
    return { k: "alterTable", table, specs };
  }

  alterSpec(): AlterSpec {
    if (this.acceptKw("add")) {
      if (this.isIndexStart()) {
        const ifNotExists = false;
        return { k: "addIndex", index: this.indexDef(), ifNotExists };
      }
      if (this.isKw("partition")) throw notSupported("ALTER TABLE ADD PARTITION");
      this.acceptKw("column");
      if (this.acceptOp("(")) {
        const columns: ColumnDef[] = [];
        do columns.push(this.columnDef()); while (this.acceptOp(","));
        this.op(")");
        return { k: "addColumn", columns, first: false };
      }
      const col = this.columnDef();
      if (this.acceptKw("first")) return { k: "addColumn", columns: [col], first: true };
      if (this.acceptKw("after")) {
        return { k: "addColumn", columns: [col], first: false, after: this.ident() };
      }
      return { k: "addColumn", columns: [col], first: false };
    }
    if (this.acceptKw("drop")) {
      if (this.acceptKw("primary", "key")) {
        return { k: "dropIndex", name: "primary", ifExists: false, primary: true };
      }
      if (this.acceptKw("index") || this.acceptKw("key")) {
        const ifExists = this.acceptKw("if", "exists");
        return { k: "dropIndex", name: this.ident(), ifExists, primary: false };
      }
      if (this.isKw("partition") || this.isKw("foreign") || this.isKw("check")) {
        throw notSupported(`ALTER TABLE DROP ${this.t.text.toUpperCase()}`);
      }
      this.acceptKw("column");
      const ifExists = this.acceptKw("if", "exists");
      const name = this.ident();
      this.acceptKw("restrict") || this.acceptKw("cascade");
      return { k: "dropColumn", name, ifExists };
    }
    const t = this.t;
    if (
      this.isKw("auto_increment") || this.isKw("auto_random_base") || this.isKw("comment") ||
      this.isKw("shard_row_id_bits") || this.isKw("auto_id_cache") || this.isKw("engine") ||
      this.isKw("charset") || this.isKw("character") || this.isKw("default") ||
      this.isKw("pre_split_regions") || this.isKw("force")
    ) {
      return { k: "options", options: this.tableOptions() };
    }
    if (t.kind === "ident") {
      const words = [t.text, this.peek().kind === "ident" ? this.peek().text : ""].join(" ").trim();
      throw notSupported(`ALTER TABLE ${words.toUpperCase()}`);
    }
    return this.fail();
  }

  insert(): Stmt {
    this.kw("insert");
    if (
      this.isKw("ignore") || this.isKw("low_priority") || this.isKw("high_priority") ||
      this.isKw("delayed")
    ) {
      throw notSupported(`INSERT ${this.t.text.toUpperCase()}`);
    }
    this.acceptKw("into");
    const table = this.tableName();
    let columns: string[] | undefined;
    if (this.isOp("(")) columns = this.nameList();
    if (this.isKw("select")) throw notSupported("INSERT ... SELECT");
    if (this.isKw("set")) throw notSupported("INSERT ... SET");
    if (!this.acceptKw("values") && !this.acceptKw("value")) this.fail();
    const rows: Expr[][] = [];
    do {
      this.op("(");
      const row: Expr[] = [];
      if (!this.isOp(")")) {
        do row.push(this.isKw("default") ? (this.i++, { k: "default" }) : this.expr()); while (
          this.acceptOp(",")
        );
      }
      this.op(")");
      rows.push(row);
    } while (this.acceptOp(","));
    if (this.isKw("on")) throw notSupported("INSERT ... ON DUPLICATE KEY UPDATE");
    return { k: "insert", table, columns, rows };
  }

  where(): Expr | undefined {
    return this.acceptKw("where") ? this.expr() : undefined;
  }

  noTrailingClauses(stmt: string): void {
    for (const w of ["order", "limit", "group", "having", "join", "for", "union"]) {
      if (this.isKw(w)) throw notSupported(`${stmt} ... ${w.toUpperCase()}`);
    }
  }

  update(): Stmt {
    this.kw("update");
    const table = this.tableName();
    if (this.isOp(",") || this.isKw("join")) throw notSupported("multi-table UPDATE");
    this.kw("set");
    const sets: { column: string; value: Expr }[] = [];
    do {
      let column = this.ident();
      if (this.acceptOp(".")) column = this.ident();
      this.op("=");
      sets.push({
        column,
        value: this.isKw("default") ? (this.i++, { k: "default" }) : this.expr(),
      });
    } while (this.acceptOp(","));
    const where = this.where();
    this.noTrailingClauses("UPDATE");
    return { k: "update", table, sets, where };
  }

  delete(): Stmt {
    this.kw("delete");
    this.kw("from");
    const table = this.tableName();
    if (this.isOp(",") || this.isKw("using")) throw notSupported("multi-table DELETE");
    const where = this.where();
    this.noTrailingClauses("DELETE");
    return { k: "delete", table, where };
  }

  select(): Stmt {
    this.kw("select");
    if (this.isKw("distinct")) throw notSupported("SELECT DISTINCT");
    const fields: SelectField[] = [];
    do {
      const start = this.t.pos;
      if (this.acceptOp("*")) {
        fields.push({ star: true, text: "*" });
        continue;
      }
      const expr = this.expr();
      const text = this.sql.slice(start, this.toks[this.i - 1]!.pos + this.tokLen(this.i - 1));
      const f: SelectField = { expr, text };
      if (this.acceptKw("as")) f.alias = this.nameOrString();
      else if (
        (this.t.kind === "qident" || this.t.kind === "string" ||
          (this.t.kind === "ident" && !RESERVED.has(this.t.text.toLowerCase())))
      ) f.alias = this.nameOrString();
      fields.push(f);
    } while (this.acceptOp(","));
    const s: Stmt & { k: "select" } = { k: "select", fields };
    if (this.acceptKw("from")) {
      s.from = this.tableName();
      if (
        this.acceptKw("as") ||
        (this.t.kind === "ident" && !RESERVED.has(this.t.text.toLowerCase()) && !this.isKw("join"))
      ) {
        throw notSupported("table alias");
      }
      if (this.isOp(",") || this.isKw("join") || this.isKw("left") || this.isKw("inner")) {
        throw notSupported("JOIN");
      }
      s.where = this.where();
    }
    for (const w of ["group", "having", "order", "union", "for"]) {
      if (this.isKw(w)) throw notSupported(`SELECT ... ${w.toUpperCase()}`);
    }
    if (this.acceptKw("limit")) {
      const a = this.int();
      if (this.acceptOp(",")) {
        s.offset = a;
        s.limit = this.int();
      } else {
        s.limit = a;
        if (this.acceptKw("offset")) s.offset = this.int();
      }
    }
    return s;
  }

  tokLen(idx: number): number {
    const next = this.toks[idx + 1];
    const t = this.toks[idx]!;
    // The raw extent of a token: up to the next token, trimmed.
    const end = next ? next.pos : this.sql.length;
    return this.sql.slice(t.pos, end).trimEnd().length;
  }

  show(): Stmt {
    this.kw("show");
    if (this.acceptKw("databases") || this.acceptKw("schemas")) {
      if (this.isKw("like") || this.isKw("where")) throw notSupported("SHOW DATABASES LIKE/WHERE");
      return { k: "showDatabases" };
    }
    this.acceptKw("global") || this.acceptKw("session");
    if (this.acceptKw("variables")) {
      if (this.acceptKw("like")) return { k: "showVariables", like: this.stringLit() };
      if (this.acceptKw("where")) return { k: "showVariables", where: this.expr() };
      return { k: "showVariables" };
    }
    const full = this.acceptKw("full");
    if (this.acceptKw("columns") || this.acceptKw("fields")) {
      if (!this.acceptKw("from")) this.kw("in");
      const table = this.tableName();
      if (this.acceptKw("from") || this.acceptKw("in")) table.db = this.ident();
      if (this.isKw("like") || this.isKw("where")) throw notSupported("SHOW COLUMNS LIKE/WHERE");
      return { k: "showColumns", table, full };
    }
    if (this.acceptKw("tables")) {
      let db: string | undefined;
      if (this.acceptKw("from") || this.acceptKw("in")) db = this.ident();
      if (this.isKw("like") || this.isKw("where")) throw notSupported("SHOW TABLES LIKE/WHERE");
      return { k: "showTables", db, full };
    }
    if (this.acceptKw("create", "table")) return { k: "showCreateTable", table: this.tableName() };
    if (this.acceptKw("create", "database") || this.acceptKw("create", "schema")) {
      const ifNotExists = this.ifNotExists();
      return { k: "showCreateDatabase", name: this.ident(), ifNotExists };
    }
    const words = [this.t.text, this.peek().text].join(" ").trim().toUpperCase();
    throw notSupported(`SHOW ${words}`);
  }

  set(): Stmt {
    this.kw("set");
    // SET is accepted and ignored; read it through to check the syntax.
    if (this.acceptKw("names") || this.acceptKw("character", "set") || this.acceptKw("charset")) {
      this.nameOrString();
      if (this.acceptKw("collate")) this.nameOrString();
      return { k: "set" };
    }
    if (this.isKw("password") || this.isKw("role") || this.isKw("transaction")) {
      throw notSupported(`SET ${this.t.text.toUpperCase()}`);
    }
    do {
      this.acceptKw("global") || this.acceptKw("session") || this.acceptKw("local");
      if (this.t.kind === "var" || this.t.kind === "sysvar") this.i++;
      else {
        this.ident();
        while (this.acceptOp(".")) this.ident();
      }
      if (!this.acceptOp("=")) this.op(":=");
      if (this.acceptKw("default") || this.acceptKw("on")) continue;
      this.expr();
    } while (this.acceptOp(","));
    return { k: "set" };
  }

  admin(): Stmt {
    this.kw("admin");
    if (this.acceptKw("checksum", "table")) {
      const tables: TableName[] = [];
      do tables.push(this.tableName()); while (this.acceptOp(","));
      return { k: "adminChecksum", tables };
    }
    throw notSupported(`ADMIN ${this.t.text.toUpperCase()}`);
  }

  // ---- expressions (MySQL precedence: OR < AND < NOT < comparison < | < & < +- < */ < unary) ----

  expr(): Expr {
    let l = this.andExpr();
    while (this.acceptKw("or") || this.acceptOp("||")) {
      l = { k: "binary", op: "or", l, r: this.andExpr() };
    }
    return l;
  }

  andExpr(): Expr {
    let l = this.notExpr();
    while (this.acceptKw("and") || this.acceptOp("&&")) {
      l = { k: "binary", op: "and", l, r: this.notExpr() };
    }
    return l;
  }

  notExpr(): Expr {
    if (this.acceptKw("not")) return { k: "unary", op: "not", e: this.notExpr() };
    return this.comparison();
  }

  comparison(): Expr {
    let l = this.bitExpr();
    for (;;) {
      const t = this.t;
      if (t.kind === "op" && ["=", "<", ">", "<=", ">=", "!=", "<>", "<=>"].includes(t.text)) {
        this.i++;
        l = { k: "binary", op: t.text === "<>" ? "!=" : t.text, l, r: this.bitExpr() };
      } else if (this.acceptKw("is")) {
        const not = this.acceptKw("not");
        if (this.acceptKw("null")) l = { k: "isnull", e: l, not };
        else throw notSupported("IS TRUE/FALSE");
      } else if (this.isKw("in") || (this.isKw("not") && this.isKw("in", this.peek()))) {
        const not = this.acceptKw("not");
        this.kw("in");
        this.op("(");
        const list: Expr[] = [];
        do list.push(this.expr()); while (this.acceptOp(","));
        this.op(")");
        l = { k: "in", e: l, list, not };
      } else if (this.isKw("between") || this.isKw("like") || this.isKw("regexp")) {
        throw notSupported(t.text.toUpperCase());
      } else return l;
    }
  }

  bitExpr(): Expr {
    let l = this.additive();
    while (this.t.kind === "op" && ["|", "&", "<<", ">>"].includes(this.t.text)) {
      const op = this.t.text;
      this.i++;
      l = { k: "binary", op, l, r: this.additive() };
    }
    return l;
  }

  additive(): Expr {
    let l = this.multiplicative();
    while (this.isOp("+") || this.isOp("-")) {
      const op = this.t.text;
      this.i++;
      l = { k: "binary", op, l, r: this.multiplicative() };
    }
    return l;
  }

  multiplicative(): Expr {
    let l = this.unary();
    for (;;) {
      let op: string | undefined;
      if (this.isOp("*") || this.isOp("/") || this.isOp("%")) op = this.t.text;
      else if (this.isKw("div") || this.isKw("mod")) op = this.t.text.toLowerCase();
      if (op === undefined) return l;
      this.i++;
      l = { k: "binary", op, l, r: this.unary() };
    }
  }

  unary(): Expr {
    if (this.acceptOp("-")) {
      const e = this.unary();
      if (e.k === "num") {
        return { k: "num", text: e.text.startsWith("-") ? e.text.slice(1) : "-" + e.text };
      }
      return { k: "unary", op: "-", e };
    }
    if (this.acceptOp("+")) return this.unary();
    if (this.acceptOp("~")) return { k: "unary", op: "~", e: this.unary() };
    if (this.acceptOp("!")) return { k: "unary", op: "not", e: this.unary() };
    return this.primary();
  }

  primary(): Expr {
    const t = this.t;
    switch (t.kind) {
      case "number":
        this.i++;
        return { k: "num", text: t.text };
      case "string":
        this.i++;
        return { k: "str", value: t.text };
      case "hex":
        this.i++;
        return { k: "hex", text: t.text, bytes: t.bytes! };
      case "bit":
        this.i++;
        return { k: "bit", text: t.text, bytes: t.bytes! };
      case "var":
      case "sysvar": {
        this.i++;
        let name = t.text;
        const scope = name.slice(0, name.indexOf(".")).toLowerCase();
        if (t.kind === "sysvar" && ["global", "session", "local"].includes(scope)) {
          name = name.slice(name.indexOf(".") + 1);
        }
        return { k: "var", name, system: t.kind === "sysvar" };
      }
      case "op":
        if (t.text === "(") {
          this.i++;
          if (this.isKw("select")) throw notSupported("subquery");
          const e = this.expr();
          if (this.isOp(",")) throw notSupported("row constructor");
          this.op(")");
          return e;
        }
        return this.fail();
      case "qident":
        return this.columnRef();
      case "ident": {
        const w = t.text.toLowerCase();
        if (w === "null") {
          this.i++;
          return { k: "null" };
        }
        if (w === "true" || w === "false") {
          this.i++;
          return { k: "bool", value: w === "true" };
        }
        if (w.startsWith("_") && this.peek().kind === "string") {
          this.i++;
          return { k: "str", value: this.stringLit(), charset: w.slice(1) };
        }
        if ((w === "date" || w === "time" || w === "timestamp") && this.peek().kind === "string") {
          this.i++;
          return { k: "func", name: w, args: [{ k: "str", value: this.stringLit() }] };
        }
        if (w === "exists" || w === "case" || w === "interval" || w === "cast" || w === "convert") {
          if (w !== "cast" && w !== "convert") throw notSupported(w.toUpperCase());
        }
        if (this.isOp("(", this.peek())) return this.funcCall();
        if (
          [
            "current_timestamp",
            "current_date",
            "current_time",
            "localtime",
            "localtimestamp",
            "current_user",
            "utc_timestamp",
          ].includes(w)
        ) {
          this.i++;
          return { k: "func", name: w, args: [] };
        }
        return this.columnRef();
      }
      default:
        return this.fail();
    }
  }

  columnRef(): Expr {
    const a = this.ident();
    if (!this.acceptOp(".")) return { k: "col", name: a };
    if (this.acceptOp("*")) throw notSupported("qualified *");
    const b = this.ident();
    if (!this.acceptOp(".")) return { k: "col", table: a, name: b };
    return { k: "col", db: a, table: b, name: this.ident() };
  }

  funcCall(): Expr {
    const name = this.ident().toLowerCase();
    this.op("(");
    if (name === "cast" || name === "convert") throw notSupported(name.toUpperCase());
    if (this.acceptOp("*")) {
      this.op(")");
      return { k: "func", name, args: [], star: true };
    }
    if (this.isKw("distinct")) throw notSupported(`${name.toUpperCase()}(DISTINCT ...)`);
    const args: Expr[] = [];
    if (!this.isOp(")")) {
      do args.push(this.expr()); while (this.acceptOp(","));
    }
    this.op(")");
    return { k: "func", name, args };
  }
}
