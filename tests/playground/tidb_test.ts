/**
 * The playground's TiDB server end to end, on one empty playground: the real `mysql` client
 * (Debian's mariadb-client), mysql2 as a client for the rest, TiDB's ID rules, the status API,
 * the SHOW CREATE TABLE round trip of every default-sample table, and a backup of tables filled
 * through SQL read back with tibr's SST reader.
 * @module
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import mysql from "mysql2/promise";
import { runBackup } from "../../src/backup/task.ts";
import { Cluster } from "../../src/playground/cluster.ts";
import { DEFAULT_SAMPLE, loadSample } from "../../src/playground/sample.ts";
import type { Playground } from "../../src/playground/server/mod.ts";
import { startPlayground } from "../../src/playground/server/mod.ts";
import { TidbEngine } from "../../src/playground/tidb/engine.ts";
import { Session } from "../../src/playground/tidb/session.ts";
import { datumToText } from "../../src/playground/tidb/values.ts";
import { decodeBackupFile, openBackupSst } from "../../src/sst/backup.ts";
import { ActionType, type TableInfo } from "../../src/tidb/model.ts";
import { decodeTableId, isRecordKey } from "../../src/tidb/tablecodec.ts";
import { ColumnFlag, SchemaState } from "../../src/tidb/types.ts";
import { ensureDebianPackages } from "../_support/debian.ts";
import { ROOT, tibrCommand } from "../_support/tibr.ts";
import { dataFilesOf, openLocal, pairFiles, tempDir } from "./_helpers.ts";

type Conn = mysql.Connection;

function mysqlCli(port: number, sql: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      "mysql",
      ["-h", "127.0.0.1", "-P", String(port), "-u", "root", "--batch", "-e", sql],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, out: stdout, err: stderr });
      },
    );
  });
}

async function rows(c: Conn, sql: string): Promise<Record<string, unknown>[]> {
  const [r] = await c.query(sql);
  return r as Record<string, unknown>[];
}

async function sqlError(
  c: Conn,
  sql: string,
): Promise<{ errno: number; sqlState: string; message: string }> {
  try {
    await c.query(sql);
  } catch (err) {
    const e = err as { errno: number; sqlState: string; sqlMessage: string };
    return { errno: e.errno, sqlState: e.sqlState, message: e.sqlMessage };
  }
  throw new Error(`expected ${sql} to fail`);
}

// Key-column flags the sample's TableInfos leave unset, while TiDB's DDL sets them.
const KEY_FLAGS = ColumnFlag.UniqueKey | ColumnFlag.MultipleKey | ColumnFlag.NoDefaultValue;

/** A TableInfo without what a new table always differs in: ids, timestamps, allocator values. */
function comparable(t: TableInfo): unknown {
  const c: TableInfo = structuredClone(t);
  c.id = 0;
  c.update_timestamp = 0n;
  c.auto_inc_id = 0;
  for (const col of c.cols) col.type.Flag &= ~KEY_FLAGS;
  // SHOW CREATE TABLE prints public indexes only (the sample has one in write-reorganization).
  c.index_info = (c.index_info ?? []).filter((i) => i.state === SchemaState.Public);
  // Index ids are new ids too (the sample numbers its indexes with gaps TiDB would not leave).
  c.index_info.forEach((i) => (i.id = 0));
  c.max_idx_id = 0;
  if (c.partition) { for (const d of c.partition.definitions) d.id = 0; }
  return c;
}

describe("the playground's TiDB server", () => {
  let pg: Playground;
  let conn: Conn;
  let port = 0;
  const tmp = tempDir("tidb");

  before(async () => {
    ensureDebianPackages(["mysql"], ["mariadb-client"]);
    pg = await startPlayground({ data: "empty", tidbPort: 0, tidbStatusPort: 0, sstWorkers: 0 });
    port = pg.tidb!.port;
    conn = await mysql.createConnection({
      host: "127.0.0.1",
      port,
      user: "root",
      multipleStatements: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
    });
  });
  after(async () => {
    await conn?.end();
    await pg?.stop();
    tmp.cleanup();
  });

  test("the mysql client creates a database and a table, inserts rows and reads them back", async () => {
    const create = await mysqlCli(
      port,
      "CREATE DATABASE cli; USE cli; " +
        "CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(32) NOT NULL, born DATE); " +
        "INSERT INTO people VALUES (1, 'Ada', '1815-12-10'), (2, 'Alan', NULL), (3, 'Grace', '1906-12-09');",
    );
    assert.equal(create.code, 0, create.err);
    const read = await mysqlCli(port, "SELECT * FROM cli.people; SELECT COUNT(*) FROM cli.people");
    assert.equal(read.code, 0, read.err);
    assert.equal(
      read.out,
      "id\tname\tborn\n1\tAda\t1815-12-10\n2\tAlan\tNULL\n3\tGrace\t1906-12-09\nCOUNT(*)\n3\n",
    );
    const bad = await mysqlCli(port, "SELECT * FROM cli.people ORDER BY id");
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /ERROR 1235 \(42000\).*doesn't yet support 'SELECT \.\.\. ORDER'/);
  });

  test("SHOW, USE, SET, VERSION() and tidb_version() answer as TiDB does", async () => {
    await conn.query("SET NAMES utf8mb4; SET @@session.sql_mode = 'STRICT_TRANS_TABLES'");
    assert.deepEqual(await rows(conn, "SELECT VERSION() AS v"), [{ v: "8.0.11-TiDB-v8.5.0" }]);
    const tv = await rows(conn, "SELECT tidb_version() AS v");
    assert.match(String(tv[0]!.v), /^Release Version: v8\.5\.0\n/);
    const dbs = (await rows(conn, "SHOW DATABASES")).map((r) => r.Database);
    assert.deepEqual(dbs, ["INFORMATION_SCHEMA", "cli", "mysql", "test"]);
    await conn.query("USE cli");
    assert.deepEqual(await rows(conn, "SHOW TABLES"), [{ Tables_in_cli: "people" }]);
    assert.deepEqual(await rows(conn, "DESC people"), [
      { Field: "id", Type: "int(11)", Null: "NO", Key: "PRI", Default: null, Extra: "" },
      { Field: "name", Type: "varchar(32)", Null: "NO", Key: "", Default: null, Extra: "" },
      { Field: "born", Type: "date", Null: "YES", Key: "", Default: null, Extra: "" },
    ]);
    assert.deepEqual(await rows(conn, "SELECT DATABASE() AS d"), [{ d: "cli" }]);
  });

  test("unsupported statements and clauses answer 1235 naming them; bad SQL answers 1064", async () => {
    const cases: [string, RegExp][] = [
      ["BEGIN", /'BEGIN'/],
      ["CREATE VIEW v AS SELECT 1", /'CREATE VIEW'/],
      [
        "CREATE TABLE cli.f (a INT, FOREIGN KEY (a) REFERENCES people (id))",
        /'FOREIGN constraint'/,
      ],
      ["ALTER TABLE cli.people RENAME TO p2", /'ALTER TABLE RENAME TO'/],
      [
        "CREATE TABLE cli.x (a INT) PARTITION BY RANGE (a) SUBPARTITION BY HASH (a) (PARTITION p VALUES LESS THAN (1))",
        /'SUBPARTITION'/,
      ],
      ["INSERT INTO cli.people SELECT * FROM cli.people", /'INSERT \.\.\. SELECT'/],
      ["SELECT a FROM cli.people GROUP BY a", /'SELECT \.\.\. GROUP'/],
      ["CREATE TABLE cli.y (a INT) TTL = `a` + INTERVAL 1 DAY", /'table option TTL'/],
    ];
    for (const [sql, want] of cases) {
      const e = await sqlError(conn, sql);
      assert.equal(e.errno, 1235, sql);
      assert.equal(e.sqlState, "42000", sql);
      assert.match(e.message, want, sql);
    }
    // Prepared statements and commands mysql2's server does not dispatch answer errors too.
    await assert.rejects(
      conn.execute("SELECT ?", [1]),
      (e: { errno?: number }) => e.errno === 1235,
    );
    await assert.rejects(
      conn.changeUser({ user: "root" }),
      (e: { errno?: number; sqlMessage?: string }) =>
        e.errno === 1235 && /command 0x11/.test(e.sqlMessage ?? ""),
    );
    await conn.ping();
    const syntax = await sqlError(conn, "CREATE TABLE cli.z (a INT");
    assert.equal(syntax.errno, 1064);
    assert.equal((await sqlError(conn, "SELECT * FROM cli.nope")).errno, 1146);
    assert.deepEqual(await sqlError(conn, "INSERT INTO cli.people VALUES (1, 'dup', NULL)"), {
      errno: 1062,
      sqlState: "23000",
      message: "Duplicate entry '1' for key 'people.PRIMARY'",
    });
    // NULLs in a unique key never collide; equal values do, within one statement too.
    await conn.query(
      "CREATE TABLE cli.u (a VARCHAR(5), b INT, u INT, PRIMARY KEY (a, b) CLUSTERED, UNIQUE KEY (u)); " +
        "INSERT INTO cli.u VALUES ('x', 1, NULL), ('y', 2, NULL)",
    );
    assert.equal(
      (await sqlError(conn, "INSERT INTO cli.u VALUES ('z', 3, 5), ('w', 4, 5)")).message,
      "Duplicate entry '5' for key 'u.u'",
    );
    assert.equal(
      (await sqlError(conn, "INSERT INTO cli.u VALUES ('x', 1, 7)")).message,
      "Duplicate entry 'x-1' for key 'u.PRIMARY'",
    );
    assert.deepEqual(await rows(conn, "SELECT COUNT(*) AS n FROM cli.u"), [{ n: "2" }]);
    // Statements before a failing one ran and stay; none after it runs.
    await sqlError(
      conn,
      "INSERT INTO cli.u VALUES ('v', 9, 9); INSERT INTO cli.u VALUES ('x', 1, 0); INSERT INTO cli.u VALUES ('q', 8, 8)",
    );
    assert.deepEqual(await rows(conn, "SELECT a FROM cli.u WHERE b > 5"), [{ a: "v" }]);
  });

  test("DDL writes TiDB's meta: global ids, a schema version and SchemaDiff per job, the job history", async () => {
    const reader = () => pg.cluster.schemaReader();
    const before = await reader().getSchemaVersion();
    const idBefore = await reader().getGlobalId();
    await conn.query(
      "CREATE DATABASE meta_db; CREATE TABLE meta_db.t (id BIGINT PRIMARY KEY, v INT) " +
        "PARTITION BY HASH (id) PARTITIONS 2",
    );
    const r = reader();
    assert.equal(await r.getSchemaVersion(), before + 2n);
    // db id, job; table id, 2 partition ids, job
    assert.equal(await r.getGlobalId(), idBefore + 6n);
    const db = (await r.listDatabases()).find((d) => d.info.db_name.L === "meta_db")!.info;
    assert.equal(BigInt(db.id), idBefore + 1n);
    const t = (await r.listTables(db.id))[0]!.info;
    assert.equal(BigInt(t.id), idBefore + 3n);
    assert.deepEqual(t.partition!.definitions.map((d) => BigInt(d.id)), [
      idBefore + 4n,
      idBefore + 5n,
    ]);
    const diff = await r.getSchemaDiff(before + 2n);
    assert.equal(diff?.type, ActionType.CreateTable);
    assert.equal(diff?.table_id, t.id);
    const jobs = (await r.listHistoryJobs()).map((j) => j.info);
    const last = jobs[jobs.length - 1]!;
    assert.equal(BigInt(last.id), idBefore + 6n);
    assert.equal(last.type, ActionType.CreateTable);
    assert.equal(last.binlog?.SchemaVersion, Number(before + 2n));
    assert.equal(last.binlog?.TableInfo?.name.O, "t");
    await conn.query("TRUNCATE TABLE meta_db.t");
    const truncated = (await reader().listTables(db.id))[0]!.info;
    assert.equal(BigInt(truncated.id), idBefore + 7n);
    const tdiff = await reader().getSchemaDiff(before + 3n);
    assert.equal(tdiff?.type, ActionType.TruncateTable);
    assert.equal(tdiff?.old_table_id, t.id);
  });

  test("ADD COLUMN FIRST, DROP COLUMN and DROP INDEX give TiDB's ids; old rows read back right", async () => {
    await conn.query(
      "CREATE DATABASE ids; USE ids; " +
        "CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10), c INT, KEY ia (a), KEY ib (b), KEY ic (c, a)); " +
        "INSERT INTO t VALUES (1, 10, 'x', 100), (2, 20, 'y', 200)",
    );
    await conn.query("ALTER TABLE t ADD COLUMN d INT NOT NULL DEFAULT 7 FIRST");
    await conn.query("ALTER TABLE t DROP COLUMN b");
    await conn.query("ALTER TABLE t DROP INDEX ia");
    await conn.query("ALTER TABLE t ADD COLUMN e VARCHAR(5) DEFAULT 'new' AFTER a");
    await conn.query("ALTER TABLE t ADD INDEX ie (e)");
    await conn.query("INSERT INTO t (id, a, c, d, e) VALUES (3, 30, 300, 8, 'z')");
    const t = pg.tidb!.engine.table("ids", "t")!.table;
    // id 1, a 2, b 3 (dropped, never reused), c 4, d 5, e 6.
    assert.deepEqual(t.cols.map((c) => [c.name.O, c.id, c.offset]), [
      ["d", 5, 0],
      ["id", 1, 1],
      ["a", 2, 2],
      ["e", 6, 3],
      ["c", 4, 4],
    ]);
    assert.equal(t.max_col_id, 6);
    // ia 1 (dropped), ib 2 (dropped with b), ic 3, ie 4.
    assert.deepEqual(
      t.index_info!.map((i) => [i.idx_name.O, i.id, i.idx_cols.map((c) => c.offset)]),
      [
        ["ic", 3, [4, 2]],
        ["ie", 4, [3]],
      ],
    );
    assert.equal(t.max_idx_id, 4);
    assert.equal(t.cols[0]!.origin_default, "7");
    assert.deepEqual(await rows(conn, "SELECT * FROM t"), [
      { d: 7, id: 1, a: 10, e: "new", c: 100 },
      { d: 7, id: 2, a: 20, e: "new", c: 200 },
      { d: 8, id: 3, a: 30, e: "z", c: 300 },
    ]);
    // Changing the default later does not change what old rows read (origin default).
    assert.deepEqual(await rows(conn, "SELECT id FROM t WHERE e = 'new'"), [{ id: 1 }, { id: 2 }]);
    await conn.query("UPDATE t SET e = 'upd' WHERE id = 2; DELETE FROM t WHERE id = 1");
    assert.deepEqual(await rows(conn, "SELECT id, e FROM t"), [{ id: 2, e: "upd" }, {
      id: 3,
      e: "z",
    }]);
    const check = await rows(conn, "ADMIN CHECKSUM TABLE t");
    const truth = pg.cluster.tableChecksum(
      pg.tidb!.engine.table("ids", "t")!.table,
      pg.cluster.ts(),
    );
    assert.deepEqual(check, [{
      Db_name: "ids",
      Table_name: "t",
      Checksum_crc64_xor: truth.crc64xor.toString(),
      Total_kvs: truth.totalKvs.toString(),
      Total_bytes: truth.totalBytes.toString(),
    }]);
  });

  test("information_schema.tables and partitions carry TIDB_TABLE_ID and TIDB_PARTITION_ID", async () => {
    const t = pg.tidb!.engine.table("meta_db", "t")!.table;
    assert.deepEqual(
      await rows(
        conn,
        "SELECT TABLE_NAME, TIDB_TABLE_ID FROM information_schema.tables WHERE TABLE_SCHEMA = 'meta_db'",
      ),
      [{ TABLE_NAME: "t", TIDB_TABLE_ID: String(t.id) }],
    );
    assert.deepEqual(
      await rows(
        conn,
        "SELECT PARTITION_NAME, TIDB_PARTITION_ID FROM information_schema.partitions WHERE TABLE_SCHEMA = 'meta_db' AND TABLE_NAME = 't'",
      ),
      t.partition!.definitions.map((d) => ({
        PARTITION_NAME: d.name.O,
        TIDB_PARTITION_ID: String(d.id),
      })),
    );
  });

  test("information_schema.columns describes every column", async () => {
    assert.deepEqual(
      await rows(
        conn,
        "SELECT COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, COLUMN_KEY, IS_NULLABLE, COLUMN_DEFAULT " +
          "FROM information_schema.columns WHERE TABLE_SCHEMA = 'ids' AND TABLE_NAME = 't'",
      ),
      [
        ["d", 1, "int(11)", "", "NO", "7"],
        ["id", 2, "int(11)", "PRI", "NO", null],
        ["a", 3, "int(11)", "", "YES", null],
        ["e", 4, "varchar(5)", "MUL", "YES", "new"],
        ["c", 5, "int(11)", "MUL", "YES", null],
      ].map(([n, p, t, k, nl, df]) => ({
        COLUMN_NAME: n,
        ORDINAL_POSITION: String(p),
        COLUMN_TYPE: t,
        COLUMN_KEY: k,
        IS_NULLABLE: nl,
        COLUMN_DEFAULT: df,
      })),
    );
  });

  test("the status API serves /status and the schema as TiDB's JSON", async () => {
    const base = `http://${pg.tidbStatusAddress}`;
    const status = await (await fetch(`${base}/status`)).json();
    assert.equal(status.version, "8.0.11-TiDB-v8.5.0");
    const dbs = await (await fetch(`${base}/schema`)).json() as { db_name: { L: string } }[];
    assert.ok(dbs.some((d) => d.db_name.L === "ids"));
    const tables = await (await fetch(`${base}/schema/ids`)).json() as { name: { O: string } }[];
    assert.deepEqual(tables.map((t) => t.name.O), ["t"]);
    const t = await (await fetch(`${base}/schema/ids/t`)).json() as { id: number; cols: unknown[] };
    assert.equal(t.id, pg.tidb!.engine.table("ids", "t")!.table.id);
    assert.equal(t.cols.length, 5);
    const byId = await (await fetch(`${base}/schema?table_id=${t.id}`)).json() as {
      name: { O: string };
    };
    assert.equal(byId.name.O, "t");
    assert.deepEqual(await (await fetch(`${base}/schema/ids?id_name_only=true`)).json(), [
      { id: t.id, name: { O: "t", L: "t" } },
    ]);
    const missing = await fetch(`${base}/schema/ids/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });

  test("TiDB registers in PD's etcd as TiDB does, readable with an etcd v3 KV.Range client", async () => {
    const { stdout } = await promisify(execFile)("node", [
      join(ROOT, "tests/playground/grpcjs_etcd_client.mjs"),
      pg.pdAddress,
      "/topology/tidb/",
    ], { timeout: 60_000 });
    const out = JSON.parse(stdout) as {
      clusterId: string;
      count: string;
      kvs: { key: string; value: string; lease: string }[];
    };
    assert.equal(out.clusterId, String(pg.cluster.clusterId));
    const at = `/topology/tidb/127.0.0.1:${port}`;
    assert.deepEqual(out.kvs.map((k) => k.key), [`${at}/info`, `${at}/ttl`]);
    const info = JSON.parse(out.kvs[0]!.value);
    assert.equal(info.version, "v8.5.0");
    assert.equal(info.ip, "127.0.0.1");
    assert.equal(info.status_port, pg.tidb!.statusPort);
    assert.ok(/^\d{19}$/.test(out.kvs[1]!.value), out.kvs[1]!.value);
    assert.notEqual(out.kvs[0]!.lease, "0");
  });

  test("a table with every TiDB column type, option and partitioning round-trips through SHOW CREATE TABLE", async () => {
    await conn.query("CREATE DATABASE types; USE types");
    const ddls = [
      "CREATE TABLE every_type (" +
      "i8 TINYINT, u8 TINYINT UNSIGNED NOT NULL DEFAULT 3, i16 SMALLINT ZEROFILL, i24 MEDIUMINT, " +
      "i32 INT(8) UNSIGNED, i64 BIGINT NOT NULL AUTO_INCREMENT, b BOOL DEFAULT 1, " +
      "d DECIMAL(12,3) DEFAULT '-1.5', f FLOAT, f2 FLOAT(7,3), db DOUBLE DEFAULT 2.5, " +
      "c CHAR(4) CHARACTER SET latin1, vc VARCHAR(300) COLLATE utf8mb4_general_ci COMMENT 'a ''quoted'' comment', " +
      "bn BINARY(3), vb VARBINARY(9), tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT, tb TINYBLOB, bb BLOB, " +
      "mb MEDIUMBLOB, lb LONGBLOB, e ENUM('x','y','z') DEFAULT 'y', st SET('p','q') DEFAULT 'p,q', " +
      "bt BIT(10) DEFAULT b'101', j JSON, dt DATE DEFAULT '2024-02-29', dtm DATETIME(6) DEFAULT '2024-01-01 10:11:12.5', " +
      "ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), tm TIME(2), yr YEAR, " +
      "gv INT AS (i32 + 1) VIRTUAL, gs VARCHAR(20) GENERATED ALWAYS AS (lower(vc)) STORED, " +
      "PRIMARY KEY (i64) /*T![clustered_index] NONCLUSTERED */, UNIQUE KEY uk (vb(4), c), KEY k_inv (d) INVISIBLE, " +
      "KEY (i8) COMMENT 'ix') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin AUTO_INCREMENT=500 " +
      "/*T![auto_id_cache] AUTO_ID_CACHE=1 */ COMMENT='every type'",
      "CREATE TABLE rnd (id BIGINT PRIMARY KEY /*T![auto_rand] AUTO_RANDOM(4, 40) */, v INT) " +
      "/*T![auto_rand_base] AUTO_RANDOM_BASE=1000 */",
      "CREATE TABLE sharded (a INT, b VARCHAR(10)) /*T! SHARD_ROW_ID_BITS=4 PRE_SPLIT_REGIONS=2 */",
      "CREATE TABLE r (a INT NOT NULL, b DATE) PARTITION BY RANGE (a) " +
      "(PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN (MAXVALUE))",
      "CREATE TABLE rc (a INT, b VARCHAR(5)) PARTITION BY RANGE COLUMNS (a, b) " +
      "(PARTITION p0 VALUES LESS THAN (10, 'm'), PARTITION p1 VALUES LESS THAN (MAXVALUE, MAXVALUE))",
      "CREATE TABLE l (a INT) PARTITION BY LIST (a) (PARTITION p0 VALUES IN (1, 2), PARTITION p1 VALUES IN (3))",
      "CREATE TABLE lc (a VARCHAR(4)) PARTITION BY LIST COLUMNS (a) " +
      "(PARTITION p0 VALUES IN ('x', 'y'), PARTITION p1 VALUES IN ('z'))",
      "CREATE TABLE h (a INT, b INT) PARTITION BY HASH (a) PARTITIONS 3",
      "CREATE TABLE k (a INT PRIMARY KEY, b INT) PARTITION BY KEY (a) PARTITIONS 2",
      "CREATE TABLE ck (a VARCHAR(10), b INT, PRIMARY KEY (a, b) CLUSTERED)",
    ];
    for (const ddl of ddls) {
      await conn.query(ddl);
      const name = /CREATE TABLE (\w+)/.exec(ddl)![1]!;
      const shown = String((await rows(conn, `SHOW CREATE TABLE ${name}`))[0]!["Create Table"]);
      await conn.query(shown.replace(`CREATE TABLE \`${name}\``, `CREATE TABLE \`${name}_copy\``));
      const a = pg.tidb!.engine.table("types", name)!.table;
      const b = pg.tidb!.engine.table("types", `${name}_copy`)!.table;
      const strip = (t: TableInfo) => {
        const c = comparable(t) as TableInfo;
        c.name = { O: "", L: "" };
        for (const i of c.index_info ?? []) i.tbl_name = { O: "", L: "" };
        return c;
      };
      assert.deepEqual(strip(b), strip(a), name);
      const again = String(
        (await rows(conn, `SHOW CREATE TABLE ${name}_copy`))[0]!["Create Table"],
      );
      assert.equal(
        again,
        shown.replace(`CREATE TABLE \`${name}\``, `CREATE TABLE \`${name}_copy\``),
      );
    }
    const every = pg.tidb!.engine.table("types", "every_type")!.table;
    assert.equal(every.cols.find((c) => c.name.L === "bt")!.default_bit, btoa("\x00\x05"));
    await conn.query(
      `INSERT INTO every_type (i64, vc, c, i32, j) VALUES (NULL, 'ABC', 'x', 41, '{"k": [1, 2.5]}')`,
    );
    const got = await rows(conn, "SELECT i64, u8, d, e, st, dt, gv, gs, j FROM every_type");
    assert.deepEqual(got, [{
      i64: "500",
      u8: 3,
      d: "-1.500",
      e: "y",
      st: "p,q",
      dt: "2024-02-29",
      gv: 42,
      gs: "abc",
      j: { k: [1, 2.5] },
    }]);
    // KEY partitioning places rows by crc32 (IEEE) of the value's text, as TiDB's
    // LocateKeyPartition does; the expected split was computed with Python's zlib.crc32.
    await conn.query(
      "INSERT INTO k (a, b) VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0)",
    );
    const kt = pg.tidb!.engine.table("types", "k")!.table;
    const placed = pg.tidb!.engine.scanRows(kt).map((r) => [
      kt.partition!.definitions.findIndex((d) => d.id === r.physicalId),
      Number(r.handle),
    ]);
    assert.deepEqual(
      placed.sort((x, y) => x[1]! - y[1]!).map((x) => x[0]),
      [1, 1, 1, 0, 0, 0, 0, 1],
    );
    await conn.query(
      "ALTER TABLE rnd FORCE AUTO_RANDOM_BASE = 10; ALTER TABLE every_type FORCE AUTO_INCREMENT = 2",
    );
    assert.match(
      String((await rows(conn, "SHOW CREATE TABLE every_type"))[0]!["Create Table"]),
      /AUTO_INCREMENT=2 /,
    );
    assert.deepEqual(await rows(conn, "SHOW VARIABLES LIKE 'version\\_%'"), [
      {
        Variable_name: "version_comment",
        Value: "TiDB Server (Apache License 2.0) Community Edition, MySQL 8.0 compatible",
      },
    ]);
  });

  test("SHOW CREATE TABLE of every default-sample table recreates an equivalent table", async () => {
    const sample = new Cluster({ stores: 1 });
    loadSample(sample, { ...DEFAULT_SAMPLE, scale: 0.001, rawKv: null });
    const src = new Session(new TidbEngine(sample));
    const srcEngine = src.engine;
    let n = 0;
    for (const db of srcEngine.schema().dbs) {
      await conn.query(`CREATE DATABASE \`${db.info.db_name.O}\``);
      for (const t of db.tables) {
        const ddl = src.showCreate(db.info, t);
        await conn.query(`USE \`${db.info.db_name.O}\`; ${ddl}`);
        const copy = pg.tidb!.engine.table(db.info.db_name.O, t.name.O)!;
        assert.notEqual(copy.table.id, t.id);
        assert.deepEqual(comparable(copy.table), comparable(t), `${db.info.db_name.O}.${t.name.O}`);
        const again = await rows(conn, `SHOW CREATE TABLE \`${t.name.O}\``);
        assert.equal(again[0]!["Create Table"], ddl);
        n++;
      }
    }
    assert.equal(n, 20);
  });

  test("a backup of tables created and filled through SQL holds exactly the rows inserted", async () => {
    await conn.query(
      "CREATE DATABASE bk; USE bk; " +
        "CREATE TABLE ints (id BIGINT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(20), amount DECIMAL(8,2), UNIQUE KEY (name)); " +
        "CREATE TABLE keyed (tenant INT, code VARCHAR(8), at DATETIME(3), PRIMARY KEY (tenant, code) CLUSTERED); " +
        "CREATE TABLE plain (note TEXT, n SMALLINT UNSIGNED); " +
        "CREATE TABLE parts (id INT PRIMARY KEY, v DOUBLE) PARTITION BY RANGE (id) " +
        "(PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN (MAXVALUE)); " +
        "INSERT INTO ints (name, amount) VALUES ('a', 1.5), ('b', -2.25), ('c', NULL); " +
        "INSERT INTO keyed VALUES (1, 'x', '2024-01-02 03:04:05.678'), (2, 'y', NULL); " +
        "INSERT INTO plain VALUES ('hello', 1), ('world', 65535), (NULL, NULL); " +
        "INSERT INTO parts VALUES (1, 0.5), (50, 2.5)",
    );
    const expected = new Map<string, string[]>();
    for (const name of ["ints", "keyed", "plain", "parts"]) {
      const r = await conn.query({ sql: `SELECT * FROM bk.${name}`, rowsAsArray: true });
      expected.set(
        name,
        (r[0] as unknown[][]).map((x) =>
          JSON.stringify(x.map((v) => v === null ? null : String(v)))
        ).sort(),
      );
    }
    const dir = join(tmp.path, "bk");
    await runBackup({
      mode: "db",
      db: "bk",
      pd: [pg.pdAddress],
      storage: `local://${dir}`,
      sendCredentials: true,
      concurrency: 2,
      checksum: true,
      compression: "zstd",
      progress: "quiet",
    });
    const engine = pg.tidb!.engine;
    const byPhysical = new Map<bigint, TableInfo>();
    for (const t of engine.db("bk")!.tables) {
      for (const id of t.partition ? t.partition.definitions.map((d) => d.id) : [t.id]) {
        byPhysical.set(BigInt(id), t);
      }
    }
    const got = new Map<string, string[]>();
    const storage = await openLocal(dir);
    try {
      for (const pair of pairFiles(await dataFilesOf(dir))) {
        const open = (f: { name: string; size: bigint; cipherIv: Uint8Array }) =>
          openBackupSst(storage, { name: f.name, size: Number(f.size), cipherIv: f.cipherIv });
        const write = await open(pair.write!);
        const dflt = pair.default ? await open(pair.default) : undefined;
        for await (const kv of decodeBackupFile({ write, ...(dflt ? { default: dflt } : {}) })) {
          if (!isRecordKey(kv.rawKey)) continue;
          const t = byPhysical.get(decodeTableId(kv.rawKey)!)!;
          const datums = engine.decodeRecord(t, kv.rawKey, kv.value, new Date());
          const row = t.cols.map((c) => datumToText(c, datums[c.offset]!));
          const list = got.get(t.name.O) ?? [];
          list.push(JSON.stringify(row));
          got.set(t.name.O, list);
        }
      }
    } finally {
      await storage.close();
    }
    for (const [name, want] of expected) assert.deepEqual(got.get(name)?.sort(), want, name);
    assert.equal(expected.get("plain")!.length, 3);
  });

  test("tibr playground --data empty starts an empty, bootstrapped cluster with TiDB on it", async () => {
    const child = spawn(
      tibrCommand()[0]!,
      [
        ...tibrCommand().slice(1),
        "playground",
        "--data",
        "empty",
        "--pd-port",
        "0",
        "--tidb-port",
        "0",
        "--tidb-status-port",
        "0",
        "--admin-port",
        "0",
        "--tidb-password",
        "s3cret",
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } },
    );
    try {
      let out = "";
      const address = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no TiDB line in: ${out}`)), 60_000);
        child.stdout!.on("data", (d) => {
          out += d;
          const m = /^TiDB:\s+(\S+)/m.exec(out);
          if (m && out.includes("Press Ctrl+C")) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.on("exit", (code) => reject(new Error(`playground exited ${code}: ${out}`)));
      });
      assert.match(out, /Data:\s+empty/);
      assert.ok(!out.includes("s3cret"), "the password is never printed");
      const tidbPort = Number(address.split(":")[1]);
      await assert.rejects(
        mysql.createConnection({
          host: "127.0.0.1",
          port: tidbPort,
          user: "root",
          password: "wrong",
        }),
        (err: { errno?: number; sqlMessage?: string }) =>
          err.errno === 1045 && /Access denied for user 'root'/.test(err.sqlMessage ?? ""),
      );
      const c = await mysql.createConnection({
        host: "127.0.0.1",
        port: tidbPort,
        user: "root",
        password: "s3cret",
      });
      try {
        assert.deepEqual(
          (await rows(c, "SHOW DATABASES")).map((r) => r.Database),
          ["INFORMATION_SCHEMA", "mysql", "test"],
        );
        await c.query("CREATE TABLE test.t (a INT)");
        assert.deepEqual(await rows(c, "SHOW TABLES FROM test"), [{ Tables_in_test: "t" }]);
      } finally {
        await c.end();
      }
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("close", r));
    }
  });
});
