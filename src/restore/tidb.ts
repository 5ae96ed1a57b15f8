/**
 * The TiDB server restore creates schemas through. BR embeds a TiDB session; tibr cannot, so,
 * like TiDB Lightning, it speaks SQL to a TiDB server (mysql2 as the MySQL client) and reads the
 * created tables back from TiDB's status API (`/schema/{db}/{table}`), which serves the
 * TableInfo with every new table, partition, index and column ID.
 *
 * The password is never logged nor put in an error message.
 * @module
 */
import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import mysql from "mysql2/promise";
import { log } from "../log.ts";
import { parseJson, type TableInfo } from "../tidb/model.ts";
import { isMemorySchema, SYSTEM_SCHEMA } from "../filter/system.ts";

/** Where the TiDB server is and how to log in. */
export interface TidbEndpoint {
  host: string;
  port: number;
  user: string;
  /** Never logged. */
  password: string;
  /** The status (HTTP) port; TiDB's default is 10080. */
  statusPort: number;
}

/** TiDB cannot be reached, refused the login, or rejected a statement. */
export class TidbError extends Error {
  override name = "TidbError";
}

/** Schemas that are never user data (TiDB's system and memory schemas). */
export function isSystemSchema(name: string): boolean {
  const l = name.toLowerCase();
  return l === SYSTEM_SCHEMA || l === "sys" || isMemorySchema(l) ||
    l.startsWith("__tidb_br_temporary_");
}

/** Quotes an identifier with backquotes, as TiDB prints them. */
export function quoteIdent(name: string): string {
  return "`" + name.replaceAll("`", "``") + "`";
}

function addr(ep: TidbEndpoint): string {
  return `${ep.host}:${ep.port}`;
}

/** A connection to a TiDB server's SQL port and its status API. */
export class TidbClient {
  readonly endpoint: TidbEndpoint;
  readonly #conn: mysql.Connection;
  readonly #signal: AbortSignal | undefined;

  private constructor(endpoint: TidbEndpoint, conn: mysql.Connection, signal?: AbortSignal) {
    this.endpoint = endpoint;
    this.#conn = conn;
    this.#signal = signal;
  }

  /**
   * Connects and logs in; fails in one line naming the server, never the password. With
   * `multipleStatements`, `exec` may send several statements in one query (one round trip).
   */
  static async connect(
    ep: TidbEndpoint,
    signal?: AbortSignal,
    o: { multipleStatements?: boolean } = {},
  ): Promise<TidbClient> {
    let conn: mysql.Connection;
    try {
      conn = await mysql.createConnection({
        host: ep.host,
        port: ep.port,
        user: ep.user,
        password: ep.password,
        connectTimeout: 10_000,
        supportBigNumbers: true,
        bigNumberStrings: true,
        multipleStatements: o.multipleStatements ?? false,
      });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === "ER_ACCESS_DENIED_ERROR" || e.code === "ER_DBACCESS_DENIED_ERROR") {
        throw new TidbError(
          `TiDB at ${addr(ep)} refused the login of user '${ep.user}': check --tidb-user and ` +
            "--tidb-password (or TIBR_TIDB_PASSWORD)",
        );
      }
      throw new TidbError(
        `cannot connect to TiDB at ${addr(ep)} (${e.code ?? e.message ?? String(err)}): check ` +
          "--tidb-host/--tidb-port, or that a TiDB server of this cluster is up",
      );
    }
    // A connection error after connecting must not crash the process (mysql2 emits 'error').
    conn.on(
      "error",
      (err: Error) => log("restore").warn("TiDB connection: {e}", { e: err.message }),
    );
    // The extra sessions of the schema phase log at debug level: one info line per run.
    log("restore")[o.multipleStatements ? "debug" : "info"]("connected to TiDB {addr} as {user}", {
      addr: addr(ep),
      user: ep.user,
    });
    return new TidbClient(ep, conn, signal);
  }

  /** Runs one statement; a failure names the statement's first words and TiDB's message. */
  async exec(sql: string): Promise<void> {
    this.#signal?.throwIfAborted();
    try {
      await this.#conn.query(sql);
    } catch (err) {
      throw this.#sqlError(sql, err);
    }
  }

  /** Runs a query (`?` placeholders filled from `values`) and returns its rows as objects. */
  async rows(sql: string, values?: unknown[]): Promise<Record<string, unknown>[]> {
    this.#signal?.throwIfAborted();
    try {
      const [rows] = await this.#conn.query(sql, values);
      return rows as Record<string, unknown>[];
    } catch (err) {
      throw this.#sqlError(sql, err);
    }
  }

  #sqlError(sql: string, err: unknown): TidbError {
    const e = err as { errno?: number; sqlMessage?: string; message?: string };
    const head = sql.replace(/\s+/g, " ").slice(0, 80);
    return new TidbError(
      `TiDB at ${addr(this.endpoint)} failed "${head}${sql.length > 80 ? "..." : ""}": ` +
        `${e.errno ? `error ${e.errno}: ` : ""}${e.sqlMessage ?? e.message ?? String(err)}`,
    );
  }

  /** Database names (SHOW DATABASES). */
  async databases(): Promise<string[]> {
    return (await this.rows("SHOW DATABASES")).map((r) => String(Object.values(r)[0]));
  }

  /** Table names of a database (SHOW TABLES). */
  async tables(db: string): Promise<string[]> {
    return (await this.rows(`SHOW TABLES FROM ${quoteIdent(db)}`)).map((r) =>
      String(Object.values(r)[0])
    );
  }

  /** Every user table (system and memory schemas left out), as `db.table` pairs. */
  async userTables(): Promise<{ db: string; table: string }[]> {
    const out: { db: string; table: string }[] = [];
    for (const db of await this.databases()) {
      if (isSystemSchema(db)) continue;
      for (const table of await this.tables(db)) out.push({ db, table });
    }
    return out;
  }

  /** Whether the table holds at least one row. */
  async hasRows(db: string, table: string): Promise<boolean> {
    const rows = await this.rows(`SELECT * FROM ${quoteIdent(db)}.${quoteIdent(table)} LIMIT 1`);
    return rows.length > 0;
  }

  /**
   * The table IDs of `tables` in `db`, by lower-cased name, in one query on
   * information_schema.tables (TiDB pushes the schema and name predicates down).
   */
  async tableIds(db: string, tables: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (tables.length === 0) return out;
    const rows = await this.rows(
      "SELECT TABLE_NAME, TIDB_TABLE_ID FROM information_schema.tables " +
        "WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?)",
      [db, tables],
    );
    for (const r of rows) out.set(String(r.TABLE_NAME).toLowerCase(), Number(r.TIDB_TABLE_ID));
    return out;
  }

  /**
   * TableInfos by table ID in one request (`/schema?table_ids=1,2,3`: an object keyed by ID, IDs
   * not found left out). Undefined when the server does not know the
   * parameter (an older TiDB answers `/schema` with its databases, an array).
   */
  async tableInfosById(ids: number[]): Promise<Map<number, TableInfo> | undefined> {
    const body = await this.#status(`/schema?table_ids=${ids.join(",")}`);
    const parsed = parseJson<unknown>(body);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return undefined;
    const out = new Map<number, TableInfo>();
    for (const [k, v] of Object.entries(parsed as Record<string, TableInfo>)) out.set(Number(k), v);
    return out;
  }

  /** The TableInfo TiDB serves on its status port (`/schema/{db}/{table}`). */
  async tableInfo(db: string, table: string): Promise<TableInfo> {
    return parseJson<TableInfo>(
      await this.#status(`/schema/${encodeURIComponent(db)}/${encodeURIComponent(table)}`),
    );
  }

  /** The body of a GET on TiDB's status API; a failure names the URL. */
  async #status(path: string): Promise<string> {
    const url = `http://${this.endpoint.host}:${this.endpoint.statusPort}${path}`;
    let res: Response;
    try {
      res = await fetch(url, this.#signal ? { signal: this.#signal } : {});
    } catch (err) {
      throw new TidbError(
        `cannot read ${url} from TiDB's status API (${(err as Error).message}): check ` +
          "--tidb-status-port",
      );
    }
    const body = await res.text();
    if (!res.ok) {
      throw new TidbError(`TiDB's status API answered ${res.status} for ${url}: ${body.trim()}`);
    }
    return body;
  }

  /**
   * `LOAD STATS`: TiDB asks for the named file and the client sends `json` through the LOCAL
   * INFILE protocol (no file is written on either side).
   */
  async loadStats(json: Uint8Array): Promise<void> {
    this.#signal?.throwIfAborted();
    const sql = "LOAD STATS 'tibr-stats.json'";
    try {
      await this.#conn.query({
        sql,
        infileStreamFactory: () => Readable.from([Buffer.from(json)]),
      });
    } catch (err) {
      throw this.#sqlError(sql, err);
    }
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    try {
      await this.#conn.end();
    } catch {
      this.#conn.destroy();
    }
  }
}
