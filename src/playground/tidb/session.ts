/**
 * One client session of the playground's TiDB: runs parsed statements against the engine and
 * answers result sets or OK packets as TiDB would (column names, error codes and messages).
 * @module
 */
import type { AlterSpec, ColumnDef, Expr, SelectField, Stmt, TableName } from "./ast.ts";
import {
  buildColumn,
  buildIndex,
  buildTableInfo,
  charsetOfCollation,
  defaultCollation,
  flagIndexColumns,
  originDefault,
} from "./build.ts";
import {
  type InfoSchema,
  MoreActions,
  type SchemaDb,
  type StoredRow,
  type TidbEngine,
} from "./engine.ts";
import {
  noDatabaseSelected,
  noSuchTable,
  notSupported,
  SqlError,
  unknownDatabase,
} from "./errors.ts";
import { parse } from "./parser.ts";
import {
  datumToText,
  datumValue,
  defaultDatum,
  evalExpr,
  nowDatum,
  toDatum,
  type Value,
  valueText,
} from "./values.ts";
import {
  ActionType,
  type ColumnInfo,
  type DBInfo,
  parseJson,
  type TableInfo,
} from "../../tidb/model.ts";
import type { JsonTable } from "./stats.ts";
import type { Datum } from "../../tidb/datum.ts";
import type { Handle } from "../../tidb/tablecodec.ts";
import {
  ColumnFlag,
  DEFAULT_CHARSET,
  DEFAULT_COLLATION,
  MysqlType,
  PartitionType,
  SchemaState,
} from "../../tidb/types.ts";
import { columnTypeDesc, showCreateDatabase, showCreateTable } from "../../tidb/show_create.ts";
import type { Mutation } from "../mvcc.ts";

/** TiDB's release this playground answers as. */
export const TIDB_RELEASE = "v8.5.0";
/** `SELECT VERSION()`: MySQL's compatible version, then TiDB's. */
export const TIDB_SERVER_VERSION = `8.0.11-TiDB-${TIDB_RELEASE}`;

/** A result-set column as the MySQL protocol describes it. */
export interface ResultColumn {
  name: string;
  /** MySQL type code (253 VAR_STRING, 8 LONGLONG, ...). */
  type: number;
  flags: number;
  length: number;
  decimals: number;
  /** Collation id (63 binary, 46 utf8mb4_bin). */
  charset: number;
  table: string;
  db: string;
}

/** The answer to one statement. */
export type Result =
  | { kind: "ok"; affectedRows: number; insertId: bigint; info?: string }
  | { kind: "rows"; columns: ResultColumn[]; rows: (string | null)[][] }
  // The statement needs a file from the client (LOCAL INFILE): `load` runs it over the bytes.
  | { kind: "infile"; file: string; load: (data: Uint8Array) => Result };

const VAR_STRING = 253;
const LONGLONG = 8;

function strCol(name: string, table = "", db = ""): ResultColumn {
  return { name, type: VAR_STRING, flags: 0, length: 256, decimals: 31, charset: 46, table, db };
}

function intCol(name: string): ResultColumn {
  return {
    name,
    type: LONGLONG,
    flags: 0,
    length: 21,
    decimals: 0,
    charset: 63,
    table: "",
    db: "",
  };
}

function ok(affectedRows = 0, insertId = 0n): Result {
  return { kind: "ok", affectedRows, insertId };
}

/** System variables `SELECT @@x` answers, as TiDB's defaults. */
const SYSVARS: Record<string, string> = {
  version_comment: `TiDB Server (Apache License 2.0) Community Edition, MySQL 8.0 compatible`,
  version: TIDB_SERVER_VERSION,
  tidb_version: "",
  autocommit: "1",
  max_allowed_packet: "67108864",
  sql_mode:
    "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION",
  tx_isolation: "REPEATABLE-READ",
  transaction_isolation: "REPEATABLE-READ",
  character_set_client: "utf8mb4",
  character_set_connection: "utf8mb4",
  character_set_results: "utf8mb4",
  character_set_server: "utf8mb4",
  character_set_database: "utf8mb4",
  collation_connection: "utf8mb4_bin",
  collation_server: "utf8mb4_bin",
  collation_database: "utf8mb4_bin",
  time_zone: "SYSTEM",
  system_time_zone: "UTC",
  lower_case_table_names: "2",
  wait_timeout: "28800",
  interactive_timeout: "28800",
  net_write_timeout: "60",
  tidb_enable_clustered_index: "ON",
  tidb_row_format_version: "2",
  max_execution_time: "0",
  license: "Apache License 2.0",
  port: "4000",
};

/** `SELECT tidb_version()`. */
export function tidbVersionText(): string {
  return [
    `Release Version: ${TIDB_RELEASE}`,
    "Edition: Community",
    "Git Commit Hash: tibr-playground",
    "Git Branch: playground",
    "UTC Build Time: 2024-12-18 02:26:29",
    "GoVersion: go1.23.4",
    "Race Enabled: false",
    "Check Table Before Drop: false",
    "Store: tikv",
  ].join("\n");
}

function colResult(col: ColumnInfo, table: string, db: string): ResultColumn {
  const binary = col.type.Charset === "binary";
  let flags = col.type.Flag & 0xffff;
  if (binary) flags |= ColumnFlag.Binary;
  return {
    name: col.name.O,
    type: col.type.Tp === MysqlType.Varchar ? VAR_STRING : col.type.Tp,
    flags,
    length: col.type.Flen < 0 ? 0 : Math.min(col.type.Flen, 0xffffffff),
    decimals: col.type.Decimal < 0 ? 31 : col.type.Decimal,
    charset: binary ? 63 : 46,
    table,
    db,
  };
}

function isWriteable(c: ColumnInfo): boolean {
  return c.state === SchemaState.Public;
}

function publicCols(t: TableInfo): ColumnInfo[] {
  return t.cols.filter(isWriteable);
}

function isGenerated(c: ColumnInfo): boolean {
  return c.generated_expr_string !== "";
}

/** A client session: the current database and statement execution. */
export class Session {
  /** The current database (USE). */
  db: string | undefined;

  /** Runs statements on `engine`; `connectionId` answers CONNECTION_ID(). */
  constructor(
    readonly engine: TidbEngine,
    readonly connectionId = 1,
    readonly user = "root",
  ) {}

  /** Parses and runs `sql`; one result per statement. Throws SqlError on the first failure. */
  execute(sql: string): Result[] {
    const stmts = parse(sql);
    return stmts.map((s) => this.run(s, sql));
  }

  #dbName(name?: string): string {
    const n = name ?? this.db;
    if (n === undefined) throw noDatabaseSelected();
    return n;
  }

  #schemaDb(name?: string): SchemaDb {
    const n = this.#dbName(name);
    const db = this.engine.db(n);
    if (!db) throw unknownDatabase(n);
    return db;
  }

  #table(t: TableName): { db: SchemaDb; table: TableInfo } {
    const dbName = this.#dbName(t.db);
    if (dbName.toLowerCase() === "information_schema") {
      throw notSupported(`writing to information_schema.${t.name}`);
    }
    const db = this.#schemaDb(dbName);
    const hit = this.engine.table(db.info.db_name.O, t.name);
    if (!hit) throw noSuchTable(dbName, t.name);
    return { db, table: hit.table };
  }

  /** Counts a DML statement's rows in the table's stats meta (count and modify_count). */
  #dml(t: TableName, sign: number, r: Result): Result {
    if (r.kind === "ok" && r.affectedRows > 0) {
      const { table } = this.#table(t);
      this.engine.settleStats(table);
      this.engine.stats.noteDml(table.id, sign * r.affectedRows, r.affectedRows);
    }
    return r;
  }

  /** Runs one statement. */
  run(s: Stmt, sql: string): Result {
    switch (s.k) {
      case "empty":
        return ok();
      case "set":
        return ok();
      case "use": {
        const db = this.#schemaDb(s.db);
        this.db = db.info.db_name.O;
        return ok();
      }
      case "createDatabase":
        return this.#createDatabase(s, sql);
      case "dropDatabase": {
        const db = this.engine.db(s.name);
        if (!db) {
          if (s.ifExists) return ok();
          throw new SqlError(
            1008,
            "HY000",
            `Can't drop database '${s.name}'; database doesn't exist`,
          );
        }
        if (db.info.db_name.L === "mysql") throw notSupported("DROP DATABASE mysql");
        this.engine.dropDatabase(db, sql);
        if (this.db?.toLowerCase() === db.info.db_name.L) this.db = undefined;
        return ok(db.tables.length);
      }
      case "createTable":
        return this.#createTable(s, sql);
      case "dropTable": {
        const missing: string[] = [];
        const found: { db: SchemaDb; table: TableInfo }[] = [];
        for (const t of s.tables) {
          const dbName = this.#dbName(t.db);
          const hit = this.engine.table(dbName, t.name);
          if (hit) found.push(hit);
          else missing.push(`${dbName}.${t.name}`);
        }
        if (missing.length && !s.ifExists) {
          throw new SqlError(1051, "42S02", `Unknown table '${missing.join(",")}'`);
        }
        for (const f of found) this.engine.dropTable(f.db.info, f.table, sql);
        return ok();
      }
      case "truncate": {
        const { db, table } = this.#table(s.table);
        this.engine.truncateTable(db.info, table, sql);
        return ok();
      }
      case "alterTable":
        return this.#alter(s.table, s.specs, sql);
      case "insert":
        return this.#dml(s.table, 1, this.#insert(s));
      case "update":
        return this.#dml(s.table, 0, this.#update(s));
      case "delete":
        return this.#dml(s.table, -1, this.#delete(s));
      case "analyze":
        for (const t of s.tables) this.engine.analyze(this.#table(t).table);
        return ok();
      case "loadStats":
        return {
          kind: "infile",
          file: s.file,
          load: (data) => {
            let json: JsonTable;
            try {
              json = parseJson<JsonTable>(data);
            } catch (err) {
              throw new SqlError(
                1105,
                "HY000",
                `invalid statistics JSON: ${(err as Error).message}`,
              );
            }
            this.engine.loadStats(json);
            return ok();
          },
        };
      case "select":
        return this.#select(s);
      case "showDatabases": {
        const names = [
          "INFORMATION_SCHEMA",
          ...this.engine.schema().dbs.map((d) => d.info.db_name.O),
        ]
          .sort();
        return { kind: "rows", columns: [strCol("Database")], rows: names.map((n) => [n]) };
      }
      case "showVariables": {
        const all = Object.entries({ ...SYSVARS, tidb_version: tidbVersionText() }).sort();
        const hits = all.filter(([name, value]) => {
          if (s.like !== undefined) return likeMatch(name, s.like.toLowerCase());
          if (s.where) {
            const v = evalExpr(s.where, (n) => {
              if (n === "variable_name") return { t: "str", v: name };
              if (n === "value") return { t: "str", v: value };
              throw new SqlError(1054, "42S22", `Unknown column '${n}' in 'where clause'`);
            });
            return v !== null && v.t === "int" && v.v !== 0n;
          }
          return true;
        });
        return {
          kind: "rows",
          columns: [strCol("Variable_name"), strCol("Value")],
          rows: hits.map(([n, v]) => [n, v]),
        };
      }
      case "showTables": {
        const db = this.#schemaDb(s.db);
        const names = db.tables.map((t) => t.name.O).sort();
        const cols = [strCol(`Tables_in_${db.info.db_name.O}`)];
        if (s.full) cols.push(strCol("Table_type"));
        return {
          kind: "rows",
          columns: cols,
          rows: names.map((n) => (s.full ? [n, "BASE TABLE"] : [n])),
        };
      }
      case "showColumns": {
        const { table } = this.#table(s.table);
        const cols = [
          strCol("Field"),
          strCol("Type"),
          ...(s.full ? [strCol("Collation")] : []),
          strCol("Null"),
          strCol("Key"),
          strCol("Default"),
          strCol("Extra"),
          ...(s.full ? [strCol("Privileges"), strCol("Comment")] : []),
        ];
        return {
          kind: "rows",
          columns: cols,
          rows: publicCols(table).map((c) => {
            const f = c.type.Flag;
            const key = columnKey(c);
            const extra = columnExtra(table, c);
            const collation = c.type.Collate && c.type.Charset !== "binary" ? c.type.Collate : null;
            return [
              c.name.O,
              columnTypeDesc(c.type),
              ...(s.full ? [collation] : []),
              f & ColumnFlag.NotNull ? "NO" : "YES",
              key,
              c.default === null || c.default === undefined ? null : String(c.default),
              extra,
              ...(s.full ? ["select,insert,update,references", c.comment] : []),
            ];
          }),
        };
      }
      case "showCreateTable": {
        const { db, table } = this.#table(s.table);
        return {
          kind: "rows",
          columns: [strCol("Table"), strCol("Create Table")],
          rows: [[table.name.O, this.showCreate(db.info, table)]],
        };
      }
      case "showCreateDatabase": {
        const db = this.#schemaDb(s.name);
        return {
          kind: "rows",
          columns: [strCol("Database"), strCol("Create Database")],
          rows: [[db.info.db_name.O, showCreateDatabase(db.info, { ifNotExists: s.ifNotExists })]],
        };
      }
      case "adminChecksum": {
        const rows = s.tables.map((t) => {
          const { db, table } = this.#table(t);
          const c = this.engine.checksum(table);
          return [
            db.info.db_name.O,
            table.name.O,
            c.crc64xor.toString(),
            c.totalKvs.toString(),
            c.totalBytes.toString(),
          ];
        });
        return {
          kind: "rows",
          columns: [
            strCol("Db_name"),
            strCol("Table_name"),
            intCol("Checksum_crc64_xor"),
            intCol("Total_kvs"),
            intCol("Total_bytes"),
          ],
          rows,
        };
      }
    }
  }

  /** SHOW CREATE TABLE text with the allocators' next values, as TiDB prints it. */
  showCreate(db: DBInfo, table: TableInfo): string {
    const hasAutoInc = table.cols.some((c) => c.type.Flag & ColumnFlag.AutoIncrement);
    const o: { autoIncrement?: bigint; autoRandomBase?: bigint } = {};
    if (hasAutoInc) {
      o.autoIncrement =
        this.engine.autoIdBase(db.id, table.id, table.auto_id_cache === 1 ? "inc" : "row") + 1n;
    }
    if (table.auto_random_bits > 0) {
      o.autoRandomBase = this.engine.autoIdBase(db.id, table.id, "random") + 1n;
    }
    return showCreateTable(table, o);
  }

  #createDatabase(s: Stmt & { k: "createDatabase" }, sql: string): Result {
    if (this.engine.db(s.name)) {
      if (s.ifNotExists) return ok();
      throw new SqlError(1007, "HY000", `Can't create database '${s.name}'; database exists`);
    }
    if (s.name.toLowerCase() === "information_schema") {
      throw new SqlError(1007, "HY000", `Can't create database '${s.name}'; database exists`);
    }
    const charset = s.charset ?? (s.collate ? charsetOfCollation(s.collate) : DEFAULT_CHARSET);
    const collate = s.collate ?? (s.charset ? defaultCollation(s.charset) : DEFAULT_COLLATION);
    this.engine.createDatabase(s.name, charset, collate, sql);
    return ok(1);
  }

  #createTable(s: Stmt & { k: "createTable" }, sql: string): Result {
    const db = this.#schemaDb(s.table.db);
    if (this.engine.table(db.info.db_name.O, s.table.name)) {
      if (s.ifNotExists) return ok();
      throw new SqlError(
        1050,
        "42S01",
        `Table '${db.info.db_name.O}.${s.table.name}' already exists`,
      );
    }
    this.engine.createTable(
      db.info,
      (genId) =>
        buildTableInfo(s.table.name, s.columns, s.indexes, s.options, s.partition, {
          genId,
          dbCharset: db.info.charset || DEFAULT_CHARSET,
          dbCollate: db.info.collate || DEFAULT_COLLATION,
          updateTs: 0n,
        }),
      sql,
    );
    return ok();
  }

  #alter(name: TableName, specs: AlterSpec[], sql: string): Result {
    for (const spec of specs) {
      // Each clause is its own job (TiDB runs them as one multi-schema change; ids match).
      const { db, table } = this.#table(name);
      this.#alterOne(db, table, spec, sql);
    }
    return ok();
  }

  #alterOne(db: SchemaDb, table: TableInfo, spec: AlterSpec, sql: string): void {
    const e = this.engine;
    switch (spec.k) {
      case "options": {
        const o = spec.options;
        if (o.autoIncrement !== undefined) {
          const kind = table.auto_id_cache === 1 ? "inc" : "row";
          const cur = e.autoIdBase(db.info.id, table.id, kind);
          const want = o.autoIncrement - 1n;
          e.alterTable(db.info, table, MoreActions.RebaseAutoID, sql, (t, _d, w) => {
            t.auto_inc_id = Number(o.autoIncrement);
            e.forceBase(w, db.info.id, t, kind, o.force || want > cur ? want : cur);
          });
        }
        if (o.autoRandomBase !== undefined) {
          if (table.auto_random_bits === 0) {
            throw new SqlError(
              8216,
              "HY000",
              "Invalid auto random: alter auto_random_base of a non auto_random table",
            );
          }
          const cur = e.autoIdBase(db.info.id, table.id, "random");
          const want = o.autoRandomBase - 1n;
          e.alterTable(db.info, table, MoreActions.RebaseAutoRandomBase, sql, (t, _d, w) => {
            e.forceBase(w, db.info.id, t, "random", o.force || want > cur ? want : cur);
          });
        }
        if (o.autoIdCache !== undefined) {
          e.alterTable(db.info, table, MoreActions.ModifyTableAutoIDCache, sql, (t) => {
            t.auto_id_cache = Number(o.autoIdCache);
          });
        }
        if (o.comment !== undefined) {
          e.alterTable(db.info, table, 17, sql, (t) => {
            t.comment = o.comment!;
          });
        }
        if (o.shardRowIdBits !== undefined) {
          if (table.pk_is_handle || table.is_common_handle) {
            throw new SqlError(
              8200,
              "HY000",
              "Unsupported shard_row_id_bits for table with primary key as row id",
            );
          }
          e.alterTable(db.info, table, 16, sql, (t) => {
            t.ShardRowIDBits = o.shardRowIdBits!;
            t.max_shard_row_id_bits = Math.max(t.max_shard_row_id_bits, o.shardRowIdBits!);
          });
        }
        for (const k of ["engine", "charset", "collate", "preSplitRegions"] as const) {
          if (o[k] !== undefined) throw notSupported(`ALTER TABLE ${k.toUpperCase()}`);
        }
        return;
      }
      case "addColumn":
        for (const def of spec.columns) {
          this.#addColumn(
            db,
            this.#table({ db: db.info.db_name.O, name: table.name.O }).table,
            def,
            spec.first,
            spec.after,
            sql,
          );
        }
        return;
      case "dropColumn": {
        const col = table.cols.find((c) => c.name.L === spec.name.toLowerCase());
        if (!col) {
          if (spec.ifExists) return;
          throw new SqlError(
            1091,
            "42000",
            `Can't DROP '${spec.name}'; check that column/key exists`,
          );
        }
        if (publicCols(table).length === 1) {
          throw new SqlError(
            1090,
            "42000",
            "You can't delete all columns with ALTER TABLE; use DROP TABLE instead",
          );
        }
        if ((col.type.Flag & ColumnFlag.PriKey) && (table.pk_is_handle || table.is_common_handle)) {
          throw notSupported("drop column with primary key covered now");
        }
        const covering = (table.index_info ?? []).filter((i) =>
          i.idx_cols.some((c) => c.name.L === col.name.L)
        );
        if (covering.some((i) => i.idx_cols.length > 1 || i.is_primary)) {
          throw notSupported(
            `drop column ${col.name.O} with composite index covered or Primary Key covered now`,
          );
        }
        if (table.cols.some((c) => c.dependences && col.name.L in c.dependences)) {
          throw new SqlError(
            3108,
            "HY000",
            `Column '${col.name.O}' has a generated column dependency.`,
          );
        }
        if (
          table.partition?.columns?.some((c) => c.L === col.name.L) ||
          table.partition?.expr.toLowerCase().includes("`" + col.name.L + "`")
        ) {
          throw notSupported(`drop column ${col.name.O} used in the partitioning`);
        }
        e.alterTable(db.info, table, ActionType.DropColumn, sql, (t, data) => {
          // TiDB drops the single-column indexes on the column with it (and their entries).
          for (const idx of covering) data.push(...e.indexDeletes(t, idx));
          t.index_info = (t.index_info ?? []).filter((i) => !covering.some((c) => c.id === i.id));
          t.cols = t.cols.filter((c) => c.id !== col.id);
          renumber(t);
        });
        return;
      }
      case "addIndex": {
        if (spec.index.kind === "primary") throw notSupported("ALTER TABLE ADD PRIMARY KEY");
        if (spec.index.clustered !== undefined) {
          throw notSupported("CLUSTERED on a secondary index");
        }
        e.alterTable(db.info, table, ActionType.AddIndex, sql, (t, data) => {
          const idx = buildIndex(t, spec.index, ++t.max_idx_id);
          t.index_info = [...(t.index_info ?? []), idx];
          flagIndexColumns(t, idx);
          data.push(...e.backfillIndex(t, idx));
        });
        return;
      }
      case "dropIndex": {
        const idx = (table.index_info ?? []).find((i) =>
          spec.primary ? i.is_primary : i.idx_name.L === spec.name.toLowerCase()
        );
        if (!idx) {
          if (spec.primary && (table.pk_is_handle)) {
            throw notSupported("drop primary key of a clustered table");
          }
          if (spec.ifExists) return;
          throw new SqlError(
            1091,
            "42000",
            `Can't DROP '${spec.name}'; check that column/key exists`,
          );
        }
        if (idx.is_primary) throw notSupported("ALTER TABLE DROP PRIMARY KEY");
        e.alterTable(db.info, table, ActionType.DropIndex, sql, (t, data) => {
          data.push(...e.indexDeletes(t, idx));
          t.index_info = (t.index_info ?? []).filter((i) => i.id !== idx.id);
          // Clear the key flags the index set, then re-apply those of the remaining indexes.
          for (const c of t.cols) c.type.Flag &= ~(ColumnFlag.UniqueKey | ColumnFlag.MultipleKey);
          for (const i of t.index_info) if (!i.is_primary) flagIndexColumns(t, i);
        });
        return;
      }
    }
  }

  #addColumn(
    db: SchemaDb,
    table: TableInfo,
    def: ColumnDef,
    first: boolean,
    after: string | undefined,
    sql: string,
  ): void {
    if (table.cols.some((c) => c.name.L === def.name.toLowerCase())) {
      throw new SqlError(1060, "42S21", `Duplicate column name '${def.name}'`);
    }
    if (def.primary) throw notSupported("ADD COLUMN with PRIMARY KEY");
    if (def.unique) throw notSupported("ADD COLUMN with UNIQUE");
    if (def.autoIncrement) throw notSupported("ADD COLUMN with AUTO_INCREMENT");
    if (def.autoRandom) throw notSupported("ADD COLUMN with AUTO_RANDOM");
    if (def.generated?.stored) throw notSupported("ADD COLUMN of a STORED generated column");
    let pos = table.cols.length;
    if (first) pos = 0;
    else if (after !== undefined) {
      const a = table.cols.findIndex((c) => c.name.L === after.toLowerCase());
      if (a < 0) {
        throw new SqlError(1054, "42S22", `Unknown column '${after}' in '${table.name.O}'`);
      }
      pos = a + 1;
    }
    this.engine.alterTable(db.info, table, ActionType.AddColumn, sql, (t) => {
      // A new column takes the next column id wherever it goes (TiDB's allocateColumnID).
      const col = buildColumn(def, ++t.max_col_id, pos, t.charset, t.collate);
      if (
        def.defaultValue === undefined && (col.type.Flag & ColumnFlag.NotNull) &&
        col.type.Tp !== MysqlType.Timestamp
      ) {
        col.type.Flag |= ColumnFlag.NoDefaultValue;
      }
      col.origin_default = originDefault(col, new Date());
      if (col.default_bit !== null) col.origin_default_bit = col.default_bit;
      t.cols.splice(pos, 0, col);
      renumber(t);
    });
  }

  // ---- DML ----

  #insert(s: Stmt & { k: "insert" }): Result {
    const { db, table } = this.#table(s.table);
    const e = this.engine;
    const cols = publicCols(table);
    let targets: ColumnInfo[];
    if (s.columns) {
      targets = s.columns.map((n) => {
        const c = cols.find((x) => x.name.L === n.toLowerCase());
        if (!c) throw new SqlError(1054, "42S22", `Unknown column '${n}' in 'field list'`);
        return c;
      });
    } else targets = cols;
    const now = new Date();
    const mutations: Mutation[] = [];
    const written = new Set<string>();
    let firstAutoId = 0n;
    s.rows.forEach((row, rowIdx) => {
      if (row.length !== targets.length) {
        throw new SqlError(
          1136,
          "21S01",
          `Column count doesn't match value count at row ${rowIdx + 1}`,
        );
      }
      const datums: Datum[] = table.cols.map(() => ({ kind: "null" }));
      const given = new Set<number>();
      row.forEach((expr, i) => {
        const c = targets[i]!;
        if (expr.k === "default") return;
        if (isGenerated(c)) {
          throw new SqlError(
            3105,
            "HY000",
            `The value specified for generated column '${c.name.O}' in table '${table.name.O}' is not allowed.`,
          );
        }
        given.add(c.offset);
        const v = evalExpr(expr);
        const auto = (c.type.Flag & ColumnFlag.AutoIncrement) !== 0 ||
          (table.auto_random_bits > 0 && (c.type.Flag & ColumnFlag.PriKey) !== 0);
        // NULL into an AUTO_INCREMENT / AUTO_RANDOM column asks for the next id.
        if (v === null && auto) return;
        datums[c.offset] = this.#datum(c, v, rowIdx);
      });
      let autoId: bigint | undefined;
      for (const c of cols) {
        if (isGenerated(c)) continue;
        const d = datums[c.offset]!;
        const isAuto = (c.type.Flag & ColumnFlag.AutoIncrement) !== 0;
        const isRandom = table.auto_random_bits > 0 && (c.type.Flag & ColumnFlag.PriKey) !== 0;
        if (isAuto || isRandom) {
          const v = d.kind === "int" || d.kind === "uint" ? d.value : undefined;
          if (v === undefined || v === 0n) {
            if (isRandom) {
              const inc = e.allocId(db.info.id, table, "random");
              autoId = this.#autoRandom(table, inc);
            } else autoId = e.allocId(db.info.id, table, "inc");
            datums[c.offset] = (c.type.Flag & ColumnFlag.Unsigned)
              ? { kind: "uint", value: autoId }
              : { kind: "int", value: autoId };
            if (firstAutoId === 0n) firstAutoId = autoId;
          } else if (isAuto) {
            e.rebase(db.info.id, table, "inc", v);
          } else {
            const incBits = BigInt(table.auto_random_range_bits - 1 - table.auto_random_bits);
            e.rebase(db.info.id, table, "random", v & ((1n << incBits) - 1n));
          }
          continue;
        }
        if (given.has(c.offset)) continue;
        if (c.default === null || c.default === undefined) {
          if (c.type.Flag & ColumnFlag.NotNull) {
            if (c.type.Tp === MysqlType.Timestamp) {
              datums[c.offset] = nowDatum(c, now);
              continue;
            }
            throw new SqlError(1364, "HY000", `Field '${c.name.O}' doesn't have a default value`);
          }
          continue;
        }
        datums[c.offset] = defaultDatum(c, c.default, now);
      }
      for (const c of cols) {
        if (isGenerated(c)) datums[c.offset] = e.evalGenerated(table, c, datums);
      }
      let rowId: bigint | undefined;
      if (!table.pk_is_handle && !table.is_common_handle) {
        rowId = this.#rowId(db.info.id, table);
      }
      const handle = e.handleOf(table, datums, rowId);
      const pid = e.partitionOf(table, datums);
      const kvs = e.rowKvs(table, datums, handle, pid);
      for (const [i, kv] of kvs.entries()) {
        const isRecord = i === 0;
        const unique = isRecord
          ? (table.pk_is_handle || table.is_common_handle)
          : kv.distinct === true;
        if (unique) {
          const k = keyString(kv.key);
          if (written.has(k) || e.exists(kv.key)) {
            const name = isRecord ? "PRIMARY" : kv.index!.idx_name.O;
            throw new SqlError(
              1062,
              "23000",
              `Duplicate entry '${
                this.#entryText(
                  table,
                  datums,
                  isRecord ? undefined : kv.index!.idx_cols.map((c) => c.offset),
                )
              }' for key '${table.name.O}.${name}'`,
            );
          }
          written.add(k);
        }
        mutations.push({ op: "put", key: kv.key, value: kv.value });
      }
    });
    if (mutations.length) e.cluster.runTxn(mutations);
    return ok(s.rows.length, firstAutoId);
  }

  #entryText(table: TableInfo, datums: Datum[], offsets?: number[]): string {
    const offs = offsets ??
      (table.pk_is_handle
        ? [table.cols.find((c) => c.type.Flag & ColumnFlag.PriKey)!.offset]
        : (table.index_info ?? []).find((i) => i.is_primary)!.idx_cols.map((c) => c.offset));
    return offs.map((o) => datumToText(table.cols[o]!, datums[o]!) ?? "NULL").join("-");
  }

  #datum(c: ColumnInfo, v: Value, _row: number): Datum {
    return toDatum(c, v);
  }

  #autoRandom(table: TableInfo, inc: bigint): bigint {
    const shardBits = BigInt(table.auto_random_bits);
    const incBits = BigInt(table.auto_random_range_bits) - 1n - shardBits;
    // TiDB takes the shard from a hash of the transaction's start ts.
    const ts = this.engine.cluster.ts();
    const shard = (ts * 0x9e3779b97f4a7c15n >> 32n) & ((1n << shardBits) - 1n);
    return (shard << incBits) | (inc & ((1n << incBits) - 1n));
  }

  #rowId(dbId: number, table: TableInfo): bigint {
    const id = this.engine.allocId(dbId, table, "row");
    if (table.ShardRowIDBits > 0) {
      const bits = BigInt(table.ShardRowIDBits);
      const shard = (this.engine.cluster.ts() * 0x9e3779b97f4a7c15n >> 32n) & ((1n << bits) - 1n);
      return (shard << (63n - bits)) | id;
    }
    return id;
  }

  /**
   * The handles a WHERE pins down through the clustered key (`pk = v`, `pk IN (...)`, ANDed
   * with anything), or undefined when it needs a scan.
   */
  #pointHandles(table: TableInfo, where: Expr | undefined): Handle[] | undefined {
    if (!where || (!table.pk_is_handle && !table.is_common_handle)) return undefined;
    const eq = new Map<string, Expr[]>();
    const walk = (e: Expr) => {
      if (e.k === "binary" && e.op === "and") {
        walk(e.l);
        walk(e.r);
      } else if (e.k === "binary" && e.op === "=") {
        const [c, v] = e.l.k === "col" ? [e.l, e.r] : [e.r, e.l];
        if (c.k === "col" && isLiteral(v)) eq.set(c.name.toLowerCase(), [v]);
      } else if (e.k === "in" && !e.not && e.e.k === "col" && e.list.every(isLiteral)) {
        eq.set(e.e.name.toLowerCase(), e.list);
      }
    };
    walk(where);
    const convert = (c: ColumnInfo, v: Expr): Datum | undefined => {
      try {
        return toDatum(c, evalExpr(v));
      } catch {
        return undefined; // a value the column cannot hold matches no row
      }
    };
    if (table.pk_is_handle) {
      const c = table.cols.find((x) => x.type.Flag & ColumnFlag.PriKey)!;
      const vals = eq.get(c.name.L);
      if (!vals) return undefined;
      const out: Handle[] = [];
      for (const v of vals) {
        const d = convert(c, v);
        if (d && (d.kind === "int" || d.kind === "uint")) {
          const datums: Datum[] = table.cols.map(() => ({ kind: "null" }));
          datums[c.offset] = d;
          out.push(this.engine.handleOf(table, datums));
        }
      }
      return out;
    }
    const pk = (table.index_info ?? []).find((i) => i.is_primary)!;
    if (!pk.idx_cols.every((ic) => eq.get(ic.name.L)?.length === 1)) return undefined;
    const datums: Datum[] = table.cols.map(() => ({ kind: "null" }));
    for (const ic of pk.idx_cols) {
      const c = table.cols[ic.offset]!;
      const d = convert(c, eq.get(ic.name.L)![0]!);
      if (!d) return [];
      datums[c.offset] = d;
    }
    return [this.engine.handleOf(table, datums)];
  }

  #matching(table: TableInfo, where: Expr | undefined, max = 0): StoredRow[] {
    const handles = this.#pointHandles(table, where);
    // Without WHERE, LIMIT bounds the scan.
    const rows = handles
      ? this.engine.getRows(table, handles)
      : this.engine.scanRows(table, where ? 0 : max);
    return rows.filter((r) => {
      this.engine.fillVirtual(table, r.datums);
      if (!where) return true;
      const v = evalExpr(where, scopeOf(table, r.datums));
      return v !== null && (v.t === "int" ? v.v !== 0n : Number(valueText(v)) !== 0);
    });
  }

  #update(s: Stmt & { k: "update" }): Result {
    const { table } = this.#table(s.table);
    const e = this.engine;
    const sets = s.sets.map((x) => {
      const c = publicCols(table).find((y) => y.name.L === x.column.toLowerCase());
      if (!c) throw new SqlError(1054, "42S22", `Unknown column '${x.column}' in 'field list'`);
      if (isGenerated(c)) {
        throw new SqlError(
          3105,
          "HY000",
          `The value specified for generated column '${c.name.O}' in table '${table.name.O}' is not allowed.`,
        );
      }
      return { c, expr: x.value };
    });
    const now = new Date();
    const mutations: Mutation[] = [];
    let changed = 0;
    for (const r of this.#matching(table, s.where)) {
      const next = [...r.datums];
      const scope = scopeOf(table, r.datums);
      for (const { c, expr } of sets) {
        next[c.offset] = expr.k === "default"
          ? defaultDatum(c, c.default, now)
          : toDatum(c, evalExpr(expr, scope));
      }
      for (const c of table.cols) {
        if ((c.type.Flag & ColumnFlag.OnUpdateNow) && !sets.some((x) => x.c.id === c.id)) {
          next[c.offset] = nowDatum(c, now);
        }
        if (isGenerated(c)) next[c.offset] = e.evalGenerated(table, c, next);
      }
      const rowId = typeof r.handle === "bigint" && !table.pk_is_handle ? r.handle : undefined;
      const handle = e.handleOf(table, next, rowId);
      const pid = e.partitionOf(table, next);
      const oldKvs = e.rowKvs(table, r.datums, r.handle, r.physicalId);
      const newKvs = e.rowKvs(table, next, handle, pid);
      const newKeys = new Set(newKvs.map((k) => keyString(k.key)));
      const oldKeys = new Set(oldKvs.map((k) => keyString(k.key)));
      for (const kv of oldKvs) {
        if (!newKeys.has(keyString(kv.key))) mutations.push({ op: "delete", key: kv.key });
      }
      for (const [i, kv] of newKvs.entries()) {
        const unique = i === 0
          ? (table.pk_is_handle || table.is_common_handle)
          : kv.distinct === true;
        if (unique && !oldKeys.has(keyString(kv.key)) && e.exists(kv.key)) {
          throw new SqlError(
            1062,
            "23000",
            `Duplicate entry '${
              this.#entryText(
                table,
                next,
                i === 0 ? undefined : kv.index!.idx_cols.map((c) => c.offset),
              )
            }' for key '${table.name.O}.${i === 0 ? "PRIMARY" : kv.index!.idx_name.O}'`,
          );
        }
        mutations.push({ op: "put", key: kv.key, value: kv.value });
      }
      changed++;
    }
    if (mutations.length) e.cluster.runTxn(mutations);
    return ok(changed);
  }

  #delete(s: Stmt & { k: "delete" }): Result {
    const { table } = this.#table(s.table);
    const e = this.engine;
    const mutations: Mutation[] = [];
    const rows = this.#matching(table, s.where);
    for (const r of rows) {
      for (const kv of e.rowKvs(table, r.datums, r.handle, r.physicalId)) {
        mutations.push({ op: "delete", key: kv.key });
      }
    }
    if (mutations.length) e.cluster.runTxn(mutations);
    return ok(rows.length);
  }

  // ---- SELECT ----

  #select(s: Stmt & { k: "select" }): Result {
    if (!s.from) {
      const row = s.fields.map((f) => {
        if (f.star) throw new SqlError(1096, "HY000", "No tables used");
        return this.#constant(f.expr!);
      });
      return {
        kind: "rows",
        columns: s.fields.map((f, i) => {
          const v = row[i];
          const name = f.alias ?? f.text;
          return v !== null && v !== undefined && v.t === "int" ? intCol(name) : strCol(name);
        }),
        rows: [row.map((v) => (v === null ? null : valueText(v)))],
      };
    }
    const dbName = this.#dbName(s.from.db);
    if (dbName.toLowerCase() === "information_schema") return this.#infoSchema(s, s.from.name);
    const { db, table } = this.#table(s.from);
    const cols = publicCols(table);
    const count = s.fields.length === 1 && s.fields[0]!.expr?.k === "func" &&
      s.fields[0]!.expr.name === "count";
    const star = count && (s.fields[0]!.expr as Expr & { k: "func" }).star;
    if (count && star && !s.where) {
      const f = s.fields[0]!;
      const n = this.engine.countRows(table);
      return { kind: "rows", columns: [intCol(f.alias ?? f.text)], rows: [[String(n)]] };
    }
    const max = !count && s.limit !== undefined ? (s.offset ?? 0) + s.limit : 0;
    let rows = this.#matching(table, s.where, max);
    if (count) {
      const f = s.fields[0]!;
      const fe = f.expr as Expr & { k: "func" };
      let n = rows.length;
      if (!fe.star) {
        if (fe.args.length !== 1) throw notSupported("COUNT with several arguments");
        n = rows.filter((r) => evalExpr(fe.args[0]!, scopeOf(table, r.datums)) !== null).length;
      }
      return { kind: "rows", columns: [intCol(f.alias ?? f.text)], rows: [[String(n)]] };
    }
    rows = rows.slice(s.offset ?? 0, s.limit === undefined ? undefined : (s.offset ?? 0) + s.limit);
    const out: { col: ResultColumn; get: (r: StoredRow) => string | null }[] = [];
    for (const f of s.fields) {
      if (f.star) {
        for (const c of cols) {
          out.push({
            col: colResult(c, table.name.O, db.info.db_name.O),
            get: (r) => datumToText(c, r.datums[c.offset]!),
          });
        }
        continue;
      }
      const ex = f.expr!;
      if (ex.k === "col") {
        const c = cols.find((x) => x.name.L === ex.name.toLowerCase());
        if (!c) throw new SqlError(1054, "42S22", `Unknown column '${ex.name}' in 'field list'`);
        const rc = colResult(c, table.name.O, db.info.db_name.O);
        if (f.alias) rc.name = f.alias;
        out.push({ col: rc, get: (r) => datumToText(c, r.datums[c.offset]!) });
        continue;
      }
      if (ex.k === "func" && ["count", "sum", "min", "max", "avg"].includes(ex.name)) {
        throw notSupported(`aggregate ${ex.name.toUpperCase()} with other fields`);
      }
      out.push({
        col: strCol(f.alias ?? f.text),
        get: (r) => {
          const v = evalExpr(ex, scopeOf(table, r.datums));
          return v === null ? null : valueText(v);
        },
      });
    }
    return {
      kind: "rows",
      columns: out.map((o) => o.col),
      rows: rows.map((r) => out.map((o) => o.get(r))),
    };
  }

  #constant(e: Expr): Value {
    if (e.k === "var") {
      if (!e.system) return null;
      const name = e.name.toLowerCase();
      if (name === "tidb_version") return { t: "str", v: tidbVersionText() };
      const v = SYSVARS[name];
      if (v === undefined) throw new SqlError(1193, "HY000", `Unknown system variable '${e.name}'`);
      return /^\d+$/.test(v) ? { t: "int", v: BigInt(v) } : { t: "str", v };
    }
    if (e.k === "func") {
      switch (e.name) {
        case "version":
          return { t: "str", v: TIDB_SERVER_VERSION };
        case "tidb_version":
          return { t: "str", v: tidbVersionText() };
        case "database":
        case "schema":
          return this.db === undefined ? null : { t: "str", v: this.db };
        case "user":
        case "current_user":
        case "session_user":
        case "system_user":
          return { t: "str", v: `${this.user}@127.0.0.1` };
        case "connection_id":
          return { t: "int", v: BigInt(this.connectionId) };
        case "now":
        case "current_timestamp":
        case "sysdate": {
          const d = new Date().toISOString();
          return { t: "str", v: `${d.slice(0, 10)} ${d.slice(11, 19)}` };
        }
        case "count":
        case "sum":
        case "min":
        case "max":
          throw notSupported(`${e.name.toUpperCase()} without FROM`);
      }
      return evalExpr({ ...e, args: e.args }, undefined);
    }
    if (e.k === "col") {
      throw new SqlError(1054, "42S22", `Unknown column '${e.name}' in 'field list'`);
    }
    return evalExpr(e);
  }

  #infoSchema(s: Stmt & { k: "select" }, name: string): Result {
    const schema = this.engine.schema();
    const vt = virtualTable(name.toLowerCase(), schema, this, s.where);
    if (!vt) throw noSuchTable("information_schema", name);
    let rows = vt.rows.filter((r) => {
      if (!s.where) return true;
      const v = evalExpr(s.where, (n) => {
        const i = vt.columns.indexOf(n.toUpperCase());
        if (i < 0) throw new SqlError(1054, "42S22", `Unknown column '${n}' in 'where clause'`);
        return r[i] ?? null;
      });
      return v !== null && v.t === "int" && v.v !== 0n;
    });
    const isCount = s.fields.length === 1 && s.fields[0]!.expr?.k === "func" &&
      s.fields[0]!.expr.name === "count";
    if (isCount) {
      return {
        kind: "rows",
        columns: [intCol(s.fields[0]!.alias ?? s.fields[0]!.text)],
        rows: [[String(rows.length)]],
      };
    }
    rows = rows.slice(s.offset ?? 0, s.limit === undefined ? undefined : (s.offset ?? 0) + s.limit);
    const outCols: { col: ResultColumn; idx?: number; expr?: Expr }[] = [];
    for (const f of s.fields) {
      if (f.star) {
        vt.columns.forEach((c, i) =>
          outCols.push({ col: vt.intCols.has(c) ? intCol(c) : strCol(c), idx: i })
        );
        continue;
      }
      const ex = f.expr!;
      if (ex.k === "col") {
        const i = vt.columns.indexOf(ex.name.toUpperCase());
        if (i < 0) throw new SqlError(1054, "42S22", `Unknown column '${ex.name}' in 'field list'`);
        const label = f.alias ?? ex.name;
        outCols.push({
          col: vt.intCols.has(vt.columns[i]!) ? intCol(label) : strCol(label),
          idx: i,
        });
      } else outCols.push({ col: strCol(f.alias ?? f.text), expr: ex });
    }
    return {
      kind: "rows",
      columns: outCols.map((o) => o.col),
      rows: rows.map((r) =>
        outCols.map((o) => {
          const v = o.idx !== undefined
            ? r[o.idx]!
            : evalExpr(o.expr!, (n) => r[vt.columns.indexOf(n.toUpperCase())] ?? null);
          return v === null ? null : valueText(v);
        })
      ),
    };
  }
}

/** SQL LIKE with `%` and `_` (and `\` escapes), case-insensitive on lower-case input. */
export function likeMatch(s: string, pattern: string): boolean {
  const p: { ch: string; wild?: "%" | "_" }[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\" && i + 1 < pattern.length) p.push({ ch: pattern[++i]! });
    else if (c === "%" || c === "_") p.push({ ch: c, wild: c });
    else p.push({ ch: c });
  }
  // can[j]: the first i characters of s match the first j pattern items.
  let can = new Array<boolean>(p.length + 1).fill(false);
  can[0] = true;
  for (let j = 1; j <= p.length; j++) can[j] = can[j - 1]! && p[j - 1]!.wild === "%";
  for (const ch of s) {
    const next = new Array<boolean>(p.length + 1).fill(false);
    for (let j = 1; j <= p.length; j++) {
      const item = p[j - 1]!;
      if (item.wild === "%") next[j] = next[j - 1]! || can[j]!;
      else next[j] = can[j - 1]! && (item.wild === "_" || item.ch === ch);
    }
    can = next;
  }
  return can[p.length]!;
}

/** PRI, UNI or MUL as SHOW COLUMNS and information_schema.columns print a column's key. */
function columnKey(c: ColumnInfo): string {
  const f = c.type.Flag;
  if (f & ColumnFlag.PriKey) return "PRI";
  if (f & ColumnFlag.UniqueKey) return "UNI";
  return f & ColumnFlag.MultipleKey ? "MUL" : "";
}

/** The Extra column of SHOW COLUMNS. */
function columnExtra(table: TableInfo, c: ColumnInfo): string {
  const f = c.type.Flag;
  return [
    f & ColumnFlag.AutoIncrement ? "auto_increment" : "",
    table.auto_random_bits > 0 && f & ColumnFlag.PriKey && table.pk_is_handle ? "auto_random" : "",
    String(c.default ?? "").startsWith("CURRENT_TIMESTAMP") ? "DEFAULT_GENERATED" : "",
    f & ColumnFlag.OnUpdateNow ? "on update CURRENT_TIMESTAMP" : "",
    isGenerated(c) ? (c.generated_stored ? "STORED GENERATED" : "VIRTUAL GENERATED") : "",
  ].filter((x) => x !== "").join(" ");
}

function renumber(t: TableInfo): void {
  t.cols.forEach((c, i) => (c.offset = i));
  for (const idx of t.index_info ?? []) {
    for (const ic of idx.idx_cols) ic.offset = t.cols.findIndex((c) => c.name.L === ic.name.L);
  }
}

function isLiteral(e: Expr): boolean {
  if (e.k === "unary" && e.op === "-") return isLiteral(e.e);
  return e.k === "num" || e.k === "str" || e.k === "hex" || e.k === "bit" || e.k === "bool";
}

function keyString(k: Uint8Array): string {
  let s = "";
  for (let i = 0; i < k.length; i++) s += String.fromCharCode(k[i]!);
  return s;
}

function scopeOf(table: TableInfo, datums: Datum[]) {
  return (name: string): Value => {
    const c = table.cols.find((x) => x.name.L === name);
    if (!c) throw new SqlError(1054, "42S22", `Unknown column '${name}' in 'where clause'`);
    return datumValue(c, datums[c.offset]!);
  };
}

interface VirtualTable {
  columns: string[];
  intCols: Set<string>;
  rows: Value[][];
}

const PARTITION_METHOD: Record<number, string> = {
  [PartitionType.Range]: "RANGE",
  [PartitionType.Hash]: "HASH",
  [PartitionType.List]: "LIST",
  [PartitionType.Key]: "KEY",
};

/**
 * The lower-cased values a WHERE clause allows `column` to take when it says so plainly
 * (`col = 'x'` or `col IN ('x', ...)`, alone or ANDed), else undefined. TiDB's memtable
 * extractors push the same predicates down, so information_schema.tables for a few names does
 * not build a row for every table.
 */
export function _allowedNames(where: Expr | undefined, column: string): Set<string> | undefined {
  if (!where) return undefined;
  const isCol = (e: Expr) => e.k === "col" && e.name.toUpperCase() === column;
  const strs = (list: Expr[]) =>
    list.every((x) => x.k === "str")
      ? new Set(list.map((x) => (x as { value: string }).value.toLowerCase()))
      : undefined;
  if (where.k === "binary" && where.op.toLowerCase() === "and") {
    const l = _allowedNames(where.l, column);
    const r = _allowedNames(where.r, column);
    if (!l) return r;
    if (!r) return l;
    return new Set([...l].filter((x) => r.has(x)));
  }
  if (where.k === "binary" && where.op === "=") {
    if (isCol(where.l)) return strs([where.r]);
    if (isCol(where.r)) return strs([where.l]);
  }
  if (where.k === "in" && !where.not && isCol(where.e)) return strs(where.list);
  return undefined;
}

function virtualTable(
  name: string,
  schema: InfoSchema,
  session: Session,
  where?: Expr,
): VirtualTable | undefined {
  const str = (
    v: string | null | undefined,
  ): Value => (v === null || v === undefined ? null : { t: "str", v });
  const int = (
    v: number | bigint | null,
  ): Value => (v === null ? null : { t: "int", v: BigInt(v) });
  switch (name) {
    case "schemata":
      return {
        columns: [
          "CATALOG_NAME",
          "SCHEMA_NAME",
          "DEFAULT_CHARACTER_SET_NAME",
          "DEFAULT_COLLATION_NAME",
          "SQL_PATH",
          "TIDB_PLACEMENT_POLICY_NAME",
        ],
        intCols: new Set(),
        rows: schema.dbs.map((
          d,
        ) => [
          str("def"),
          str(d.info.db_name.O),
          str(d.info.charset),
          str(d.info.collate),
          null,
          null,
        ]),
      };
    case "tables": {
      const columns = [
        "TABLE_CATALOG",
        "TABLE_SCHEMA",
        "TABLE_NAME",
        "TABLE_TYPE",
        "ENGINE",
        "VERSION",
        "ROW_FORMAT",
        "TABLE_ROWS",
        "AUTO_INCREMENT",
        "TABLE_COLLATION",
        "CREATE_OPTIONS",
        "TABLE_COMMENT",
        "TIDB_TABLE_ID",
        "TIDB_ROW_ID_SHARDING_INFO",
        "TIDB_PK_TYPE",
      ];
      const rows: Value[][] = [];
      const dbNames = _allowedNames(where, "TABLE_SCHEMA");
      const tableNames = _allowedNames(where, "TABLE_NAME");
      for (const d of schema.dbs) {
        if (dbNames && !dbNames.has(d.info.db_name.L)) continue;
        const tables = tableNames
          ? [...tableNames].flatMap((n) => {
            const hit = session.engine.table(d.info.db_name.O, n);
            return hit ? [hit.table] : [];
          })
          : d.tables;
        for (const t of tables) {
          const auto = t.cols.some((c) => c.type.Flag & ColumnFlag.AutoIncrement)
            ? session.engine.autoIdBase(d.info.id, t.id, t.auto_id_cache === 1 ? "inc" : "row") + 1n
            : null;
          rows.push([
            str("def"),
            str(d.info.db_name.O),
            str(t.name.O),
            str("BASE TABLE"),
            str("InnoDB"),
            int(10),
            str("Compact"),
            int(0),
            auto === null ? null : int(auto),
            str(t.collate),
            str(t.partition ? "partitioned" : ""),
            str(t.comment),
            int(t.id),
            str(
              t.pk_is_handle || t.is_common_handle
                ? "NOT_SHARDED(PK_IS_HANDLE)"
                : t.ShardRowIDBits > 0
                ? `SHARD_BITS=${t.ShardRowIDBits}`
                : "NOT_SHARDED",
            ),
            str(t.pk_is_handle || t.is_common_handle ? "CLUSTERED" : "NONCLUSTERED"),
          ]);
        }
      }
      return {
        columns,
        intCols: new Set(["VERSION", "TABLE_ROWS", "AUTO_INCREMENT", "TIDB_TABLE_ID"]),
        rows,
      };
    }
    case "columns": {
      const columns = [
        "TABLE_CATALOG",
        "TABLE_SCHEMA",
        "TABLE_NAME",
        "COLUMN_NAME",
        "ORDINAL_POSITION",
        "COLUMN_DEFAULT",
        "IS_NULLABLE",
        "DATA_TYPE",
        "CHARACTER_SET_NAME",
        "COLLATION_NAME",
        "COLUMN_TYPE",
        "COLUMN_KEY",
        "EXTRA",
        "COLUMN_COMMENT",
        "GENERATION_EXPRESSION",
      ];
      const rows: Value[][] = [];
      for (const d of schema.dbs) {
        for (const t of d.tables) {
          t.cols.filter((c) => c.state === SchemaState.Public).forEach((c, i) => {
            const type = columnTypeDesc(c.type);
            const binary = c.type.Charset === "binary";
            rows.push([
              str("def"),
              str(d.info.db_name.O),
              str(t.name.O),
              str(c.name.O),
              int(i + 1),
              c.default === null || c.default === undefined ? null : str(String(c.default)),
              str(c.type.Flag & ColumnFlag.NotNull ? "NO" : "YES"),
              str(type.split(/[(\s]/)[0]!),
              binary ? null : str(c.type.Charset),
              binary ? null : str(c.type.Collate),
              str(type),
              str(columnKey(c)),
              str(columnExtra(t, c)),
              str(c.comment),
              str(c.generated_expr_string),
            ]);
          });
        }
      }
      return { columns, intCols: new Set(["ORDINAL_POSITION"]), rows };
    }
    case "partitions": {
      const columns = [
        "TABLE_CATALOG",
        "TABLE_SCHEMA",
        "TABLE_NAME",
        "PARTITION_NAME",
        "SUBPARTITION_NAME",
        "PARTITION_ORDINAL_POSITION",
        "SUBPARTITION_ORDINAL_POSITION",
        "PARTITION_METHOD",
        "SUBPARTITION_METHOD",
        "PARTITION_EXPRESSION",
        "SUBPARTITION_EXPRESSION",
        "PARTITION_DESCRIPTION",
        "TABLE_ROWS",
        "PARTITION_COMMENT",
        "TIDB_PARTITION_ID",
      ];
      const rows: Value[][] = [];
      for (const d of schema.dbs) {
        for (const t of d.tables) {
          const pi = t.partition;
          if (!pi) {
            rows.push([
              str("def"),
              str(d.info.db_name.O),
              str(t.name.O),
              null,
              null,
              null,
              null,
              null,
              null,
              null,
              null,
              null,
              int(0),
              null,
              null,
            ]);
            continue;
          }
          const method = PARTITION_METHOD[pi.type] +
            (pi.columns?.length && pi.type !== PartitionType.Key ? " COLUMNS" : "");
          const expr = pi.columns?.length
            ? pi.columns.map((c) => "`" + c.O + "`").join(",")
            : pi.expr;
          pi.definitions.forEach((p, i) => {
            const desc = p.less_than?.join(",") ?? p.in_values?.map((v) =>
              v.length > 1 ? `(${v.join(",")})` : v[0]
            ).join(",") ?? "";
            rows.push([
              str("def"),
              str(d.info.db_name.O),
              str(t.name.O),
              str(p.name.O),
              null,
              int(i + 1),
              null,
              str(method),
              null,
              str(expr),
              null,
              str(desc),
              int(0),
              str((p as { comment?: string }).comment ?? ""),
              int(p.id),
            ]);
          });
        }
      }
      return {
        columns,
        intCols: new Set(["PARTITION_ORDINAL_POSITION", "TABLE_ROWS", "TIDB_PARTITION_ID"]),
        rows,
      };
    }
  }
  return undefined;
}

export type { SelectField };
